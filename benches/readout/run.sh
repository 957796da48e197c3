#!/usr/bin/env bash
# The outcomes readout at scale: DECISIONS synthetic decisions (default 10,000,000, over six
# months, an experiment with a challenger and a control) and their simulated events, both
# Parquet, then `payrisk-train readout` over them with its wall time and peak memory.
#
#   bash benches/readout/run.sh
#   DECISIONS=1000000 WINDOW=30 bash benches/readout/run.sh
#
# Builds payrisk-train in release mode first. The data is generated once per size under $OUT
# (default target/readout-bench) and reused. Results go to BENCHMARKS.md by hand.
set -euo pipefail
cd "$(dirname "$0")/../.."
DECISIONS=${DECISIONS:-10000000}
WINDOW=${WINDOW:-90}
OUT=${OUT:-target/readout-bench}
DATA="$OUT/$DECISIONS"

cargo build --release --locked --features train --bin payrisk-train
BIN="${CARGO_TARGET_DIR:-target}/release/payrisk-train"
mkdir -p "$DATA"

if [ ! -f "$DATA/events.parquet" ]; then
  /usr/bin/time -f 'simulate: wall %e s, peak RSS %M KB' \
    "$BIN" simulate --synthetic "$DECISIONS" --seed 1 \
      --decisions "$DATA/decisions.parquet" --output "$DATA/events.parquet"
fi
du -sh "$DATA"/*.parquet | sed 's/^/input: /'
lscpu | grep 'Model name'
/usr/bin/time -f 'readout: wall %e s, peak RSS %M KB, user %U s, sys %S s' \
  "$BIN" readout --decisions "$DATA/decisions.parquet" --events "$DATA/events.parquet" \
    --window "$WINDOW" --out "$DATA/readout"
