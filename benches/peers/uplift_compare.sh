#!/usr/bin/env bash
# payrisk's treatment-effect model against scikit-uplift's T-learner with LightGBM, on the same
# randomised accounts and split (benches/uplift/run.sh, which writes both the accounts' inputs
# and payrisk's held-out predictions), scored by scikit-uplift's Qini and AUUC for both.
# Prerequisites: scripts/python-env.sh (which makes .venv with LightGBM and scikit-uplift).
# Usage: benches/peers/uplift_compare.sh   (ACCOUNTS and LEARNER as for benches/uplift/run.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-target/uplift-bench}
bash benches/uplift/run.sh 2>&1 | grep -v INFO
.venv/bin/python benches/peers/uplift_tlearner.py "$OUT/trial.csv" \
  "$OUT/models/trial-uplift/1/test_predictions.csv"
