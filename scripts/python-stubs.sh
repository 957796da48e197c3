#!/usr/bin/env bash
# Regenerates the Python gRPC stubs (python/payrisk/v1/) from proto/ with grpcio-tools 1.80.1,
# the version python/requirements-test.txt pins (its gencode loads on protobuf 6.31+ and 7, so on
# CPython 3.9 too); python/tests/test_grpc_client.py checks they are current.
# Usage: scripts/python-stubs.sh [PYTHON]   (a Python with grpcio-tools; default .venv-python)
set -euo pipefail
cd "$(dirname "$0")/.."
python="${1:-.venv-python/bin/python}"
"$python" -m grpc_tools.protoc -Iproto --python_out=python --pyi_out=python \
  --grpc_python_out=python proto/payrisk/v1/scoring.proto
