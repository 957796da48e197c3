#!/usr/bin/env bash
# payrisk's scorecard against optbinning's Scorecard on the UCI data, the same derived features
# and split (test = ID % 5 == 0): held-out AUC and fit time, alternating rounds so that both see
# the same machine. Prerequisites: ../shared/data/uci_credit_default.csv and
# scripts/python-env.sh (which makes .venv-optbinning).
# Usage: benches/peers/scorecard_compare.sh [ROUNDS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-3}"
out=target/peers/scorecard
cargo build --release --locked --features train --bin payrisk-train 2>/dev/null
bin="${CARGO_TARGET_DIR:-target}/release/payrisk-train"
mkdir -p "$out"
"$bin" convert-uci --out "$out/uci" >/dev/null 2>&1
"$bin" features --tables "$out/uci" --out "$out/uci/features.csv" >/dev/null 2>&1
lscpu | grep 'Model name'
for i in $(seq "$rounds"); do
  echo "round $i"
  "$bin" fit --tables "$out/uci" --model scorecard --name scorecard --models-dir "$out/models" \
    --force 2>&1 | awk '/step="fitting the scorecard"/ { match($0, /seconds=[0-9.]+/); fit = substr($0, RSTART + 8, RLENGTH - 8) }
      /^test / { auc = $2 } END { printf "payrisk: AUC %s, fit %.2f seconds\n", auc, fit }'
  .venv-optbinning/bin/python benches/peers/optbinning_scorecard.py "$out/uci/features.csv"
done
