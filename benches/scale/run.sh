#!/usr/bin/env bash
# The scale benchmark: a synthetic portfolio of ACCOUNTS accounts (about ten payment-history rows
# each: 1,000,000 accounts = about 10 million rows) from FORMAT tables (parquet or csv) to a
# trained, evaluated artifact, with the wall time and peak memory of the `fit` step.
#
#   bash benches/scale/run.sh                 # 1M accounts, Parquet, gradient-boosted trees
#   FORMAT=csv MODEL_CONFIG=logistic bash benches/scale/run.sh
#
# Builds payrisk-train in release mode first (a clean release build with Polars takes about 15
# minutes on 2 cores; later runs reuse it). The data is generated once per size and format under
# $OUT (default target/scale) and reused. Results go to BENCHMARKS.md by hand.
set -euo pipefail
cd "$(dirname "$0")/../.."
ACCOUNTS=${ACCOUNTS:-1000000}
FORMAT=${FORMAT:-parquet}
MODEL_CONFIG=${MODEL_CONFIG:-benches/scale/train.toml}
OUT=${OUT:-target/scale}
DATA="$OUT/data-$ACCOUNTS-$FORMAT"

cargo build --release --locked --features train --bin payrisk-train
BIN="${CARGO_TARGET_DIR:-target}/release/payrisk-train"

if [ ! -f "$DATA/outcomes.$FORMAT" ]; then
  "$BIN" generate --accounts "$ACCOUNTS" --format "$FORMAT" --seed 1 --out "$DATA"
fi
du -sh "$DATA"/* | sed 's/^/input: /'

if [ "$MODEL_CONFIG" = logistic ]; then
  set -- --model logistic --split time:2025-09-30 --name synthetic-scale --version logistic
else
  set -- --config "$MODEL_CONFIG"
fi
/usr/bin/time -f 'fit: wall %e s, peak RSS %M KB, user %U s, sys %S s' \
  "$BIN" fit --tables "$DATA" "$@" --models-dir "$OUT/models" --force
