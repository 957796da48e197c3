#!/usr/bin/env bash
# payrisk against lleaves (LLVM-compiled LightGBM), TL2cgen (LightGBM compiled to C; when
# installed) and LightGBM's own predict on one LightGBM
# model (300 trees, at most 64 leaves, depth 6) trained on the UCI features, imported into
# payrisk with `payrisk-train import`: every one of the 30,000 UCI rows scored on one thread,
# model only (features given) and, for payrisk, with features derived from the tables;
# alternating rounds so that all see the same machine. payrisk's margins are checked against
# LightGBM's to 1e-12 first.
# Prerequisites: ../shared/data/uci_credit_default.csv and a virtual environment with lleaves:
#   python3 -m venv .venv-lleaves && .venv-lleaves/bin/pip install "lleaves==1.3.0" \
#     "llvmlite<0.45" "lightgbm==4.7.0" pandas numpy "tl2cgen==1.0.0" "treelite==4.8.1"
#   (scripts/python-env.sh does it)
# Usage: benches/peers/inference_compare.sh [ROUNDS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-3}"
out=target/peers/inference
cargo build --release --locked --features train --bin payrisk-train --example inference_rounds 2>/dev/null
bin="${CARGO_TARGET_DIR:-target}/release"
mkdir -p "$out"
export RUST_LOG=warn
[ -d "$out/uci" ] || "$bin/payrisk-train" convert-uci --out "$out/uci" >/dev/null
"$bin/payrisk-train" features --tables "$out/uci" --out "$out/features.csv" >/dev/null
# Train and save the model once (its first round), then import it.
.venv-lleaves/bin/python benches/peers/lleaves_inference.py "$out/features.csv" "$out" >/dev/null
"$bin/payrisk-train" import --format lightgbm --input "$out/model.txt" --name lightgbm-300 \
  --tables "$out/uci" --models-dir "$out/models" --replace --version 1 >/dev/null
lscpu | grep 'Model name'
for i in $(seq "$rounds"); do
  echo "round $i"
  taskset -c 0 .venv-lleaves/bin/python benches/peers/lleaves_inference.py "$out/features.csv" "$out"
  taskset -c 0 "$bin/examples/inference_rounds" "$out/models/lightgbm-300/1/model.json" \
    "$out/features.csv" "$out/lightgbm_margins.csv" "$out/uci"
done
