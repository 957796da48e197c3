#!/usr/bin/env bash
# Treatment-effect models on the simulator, where the truth is known: a synthetic portfolio of
# ACCOUNTS accounts (default 400,000) decided by the shipped model and policy with a randomised
# control over three candidates (no contact, soft, firm; 60 % of the accounts), its audit
# records read back, outcomes simulated with the documented effect, then
# `fit --model uplift --simulated-truth`: the held-out Qini and AUUC per treatment and
# learner, and each policy's expected net recovery per account (reference, random, today's
# threshold, uplift, oracle).
#
#   bash benches/uplift/run.sh
#   ACCOUNTS=100000 LEARNER=t bash benches/uplift/run.sh
#
# Builds payrisk-train in release mode first; everything goes under $OUT (default
# target/uplift-bench). The held-out predictions are in $OUT/models/*/1/test_predictions.csv
# and every randomised account's inputs in $OUT/trial.csv, for the Python peer
# (benches/peers/uplift_compare.sh). Results go to BENCHMARKS.md by hand.
set -euo pipefail
cd "$(dirname "$0")/../.."
ACCOUNTS=${ACCOUNTS:-400000}
LEARNER=${LEARNER:-dr}
OUT=${OUT:-target/uplift-bench}
ROOT=$(pwd)

cargo build --release --locked --features train --bin payrisk-train
BIN="${CARGO_TARGET_DIR:-target}/release/payrisk-train"
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
rm -rf "$OUT" && mkdir -p "$OUT" && cd "$OUT"

cp "$ROOT/models/policy.toml" trial.toml
cat >> trial.toml <<TOML

[[candidates]]
name = "none"
treatment = "soft"
action = { action = "no_contact", channel = "none" }

[[candidates]]
name = "soft"
treatment = "soft"

[[candidates]]
name = "firm"
treatment = "firm"

[experiment]
name = "trial"
share = 0.05
mode = "split"
challenger_model = "$ROOT/models/uci-credit/2/model.json"

[experiment.control]
share = 0.6
candidates = ["none", "soft", "firm"]
TOML
cat > uplift.toml <<TOML
model = "uplift"
name = "trial-uplift"

[gbdt]
trees = 400
learning_rate = 0.05
early_stopping_rounds = 40

[uplift]
learner = "$LEARNER"
window_days = 90
costs = { none = 0.0, soft = 0.5, firm = 4.0 }
TOML

export RUST_LOG=warn
"$BIN" generate --accounts "$ACCOUNTS" --seed 8 --out tables
"$BIN" score --tables tables --model "$ROOT/models/uci-credit/2/model.json" --policy trial.toml \
  --decision-time 2026-01-05T17:00:00Z --output worklist.parquet --audit audit.jsonl
"$BIN" simulate --decisions audit.jsonl --output events.parquet
lscpu | grep 'Model name'
/usr/bin/time -f 'fit: wall %e s, peak RSS %M KB' \
  "$BIN" fit --config uplift.toml --tables tables --decisions audit.jsonl --events events.parquet \
    --policy trial.toml --simulated-truth --as-of 2026-06-01 --models-dir models \
    --matrix trial.csv
