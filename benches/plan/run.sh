#!/usr/bin/env bash
# A day's plan at scale: ACCOUNTS synthetic accounts (default 1,000,000) planned with the
# treatment-effect model of benches/uplift/run.sh (run first when its model is missing) under
# CAPACITY (default phone=60000,letter=5000,agency=3000), with wall time and peak memory; the
# plan's value, bound and gap beside today's threshold policy are in its output.
#
#   bash benches/plan/run.sh
#   CAPACITY=phone=60000 bash benches/plan/run.sh      # one capped channel: the exact plan
#
# Results go to BENCHMARKS.md by hand.
set -euo pipefail
cd "$(dirname "$0")/../.."
ACCOUNTS=${ACCOUNTS:-1000000}
CAPACITY=${CAPACITY:-phone=60000,letter=5000,agency=3000}
OUT=${OUT:-target/plan-bench}
MODEL=target/uplift-bench/models/trial-uplift/1/model.json
[ -f "$MODEL" ] || bash benches/uplift/run.sh
cargo build --release --locked --features train --bin payrisk-train
BIN="${CARGO_TARGET_DIR:-target}/release/payrisk-train"
mkdir -p "$OUT"
export RUST_LOG=warn
[ -f "$OUT/tables/accounts.parquet" ] || "$BIN" generate --accounts "$ACCOUNTS" --seed 9 --out "$OUT/tables"
# The trial's policy without its experiment: candidates, ladder, caps and holds.
sed '/^\[experiment\]/,$d' target/uplift-bench/trial.toml > "$OUT/policy.toml"
lscpu | grep 'Model name'
/usr/bin/time -f 'plan: wall %e s, peak RSS %M KB' \
  "$BIN" plan --tables "$OUT/tables" --model "$MODEL" --policy "$OUT/policy.toml" \
    --capacity "$CAPACITY" --decision-time 2026-01-05T17:00:00Z \
    --output "$OUT/plan.parquet" --out "$OUT/report"
