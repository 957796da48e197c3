#!/usr/bin/env bash
# Exact TreeSHAP side by side, one thread, on the same trees: LightGBM's pred_contrib and payrisk
# on the 300-tree LightGBM model of inference_compare.sh, XGBoost's pred_contribs and payrisk on
# a 300-tree depth-6 XGBoost model trained on the same UCI features; each model imported with
# `payrisk-train import`; the first 2,000 UCI rows; payrisk's values checked against each
# library's first (LightGBM to 1e-9; XGBoost, which computes in single precision, to 1e-4) and
# timed one row at a time and in blocks; alternating rounds.
# Prerequisites: ../shared/data/uci_credit_default.csv; .venv and .venv-lleaves from
# scripts/python-env.sh (LightGBM 4.7.0, XGBoost 3.2.0).
# Usage: benches/peers/shap_compare.sh [ROUNDS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-3}"
out=target/peers/inference
rows=2000
bin="${CARGO_TARGET_DIR:-target}/release"
# The LightGBM model, the features and the tables, as the inference comparison makes them.
[ -f "$out/model.txt" ] || bash benches/peers/inference_compare.sh 1 >/dev/null
export RUST_LOG=warn
.venv/bin/python benches/peers/shap_peers.py "$out/features.csv" "$out" "$rows" >/dev/null
"$bin/payrisk-train" import --format xgboost --input "$out/xgboost.json" --name xgboost-300 \
  --tables "$out/uci" --models-dir "$out/models" --replace --version 1 >/dev/null
lscpu | grep 'Model name'
for i in $(seq "$rounds"); do
  echo "round $i"
  taskset -c 0 .venv/bin/python benches/peers/shap_peers.py "$out/features.csv" "$out" "$rows"
  echo "payrisk on the LightGBM model:"
  taskset -c 0 "$bin/examples/inference_rounds" "$out/models/lightgbm-300/1/model.json" \
    "$out/features.csv" "$out/lightgbm_margins.csv" "$out/uci" \
    "$out/lightgbm_contributions.csv" 1e-9 | grep -E "SHAP|TreeSHAP"
  echo "payrisk on the XGBoost model:"
  taskset -c 0 "$bin/examples/inference_rounds" "$out/models/xgboost-300/1/model.json" \
    "$out/features.csv" "$out/xgboost_margins.csv" "$out/uci" \
    "$out/xgboost_contributions.csv" 1e-4 | grep -E "SHAP|TreeSHAP"
done
