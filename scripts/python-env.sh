#!/usr/bin/env bash
# Creates .venv with the Python packages used to compare payrisk with its peers (scikit-uplift
# for the treatment-effect peer) and to make the import fixtures (LightGBM, XGBoost,
# scikit-learn, pandas), and the Python gRPC peer server (grpcio); .venv-optbinning with
# optbinning apart (its OR-Tools pins a protobuf older than grpcio-tools needs); and
# .venv-lleaves with lleaves (llvmlite below 0.45: newer releases dropped what lleaves 1.3
# needs) and TL2cgen; and .venv-python with the payrisk package itself (built from this repository in
# release) and what its tests and benchmarks import (python/requirements-test.txt). .ci/run makes
# its own fresh environment for the package's tests.
# Usage: scripts/python-env.sh   then   .venv/bin/python benches/peers/<script>.py
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet \
  "lightgbm==4.7.0" "xgboost==3.2.0" "scikit-learn==1.9.1" "pandas" "numpy" "scikit-uplift==0.5.1" \
  "grpcio==1.85.3" "grpcio-tools==1.85.1" "grpcio-health-checking==1.85.1"
.venv/bin/python -c "import lightgbm, xgboost, sklearn; print('lightgbm', lightgbm.__version__, 'xgboost', xgboost.__version__, 'scikit-learn', sklearn.__version__)"
python3 -m venv .venv-optbinning
.venv-optbinning/bin/pip install --quiet "optbinning==1.0.0" "scikit-learn==1.9.1" "pandas"
.venv-optbinning/bin/python -c "import optbinning; print('optbinning', optbinning.__version__)"
python3 -m venv .venv-lleaves
.venv-lleaves/bin/pip install --quiet "lleaves==1.3.0" "llvmlite<0.45" "lightgbm==4.7.0" "pandas" "numpy" \
  "tl2cgen==1.0.0" "treelite==4.8.1"
.venv-lleaves/bin/python -c "import lleaves, llvmlite; print('lleaves with llvmlite', llvmlite.__version__)"
python3 -m venv .venv-python
.venv-python/bin/pip install --quiet -r python/requirements-test.txt
.venv-python/bin/pip install --quiet .
.venv-python/bin/python -c "import payrisk; print('payrisk', payrisk.Scorer('models/uci-credit/2/model.json', 'models/policy.toml'))"
