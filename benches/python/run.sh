#!/usr/bin/env bash
# payrisk in-process from Python against `payrisk-train score` on one million synthetic accounts
# (whole commands, alternating rounds), then Spark local mode per core (BENCHMARKS.md).
# Usage: bash benches/python/run.sh [ACCOUNTS] [ROUNDS] [--spark]
# Needs .venv-python (scripts/python-env.sh: the package built in release, pyarrow, pyspark).
set -euo pipefail
cd "$(dirname "$0")/../.."
accounts="${1:-1000000}"; rounds="${2:-3}"; spark="${3:-}"
[ -x .venv-python/bin/python ] || { echo "run scripts/python-env.sh first" >&2; exit 1; }
cargo build --release --features train --bin payrisk-train
target="${CARGO_TARGET_DIR:-target}"
data="${TMPDIR:-/tmp}/payrisk-python-bench-$accounts"
[ -f "$data/accounts.parquet" ] || "$target/release/payrisk-train" generate --accounts "$accounts" --seed 7 --out "$data"
lscpu | grep "Model name"
.venv-python/bin/python benches/python/score_compare.py "$data" "$target/release/payrisk-train" "$rounds" $spark
