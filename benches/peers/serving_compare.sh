#!/usr/bin/env bash
# payrisk-server against the Python grpcio + LightGBM peer (benches/peers/grpc_peer_server.py),
# measured by the same load generator in one run, alternating ROUNDS times so that both see the
# same machine (this VM's speed drifts). Prints one JSON line per server, round and phase.
#
#   scripts/python-env.sh
#   cargo run --features train --bin payrisk-train -- features     # data/uci/features.csv
#   benches/peers/serving_compare.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-2}
SECONDS_PER_PHASE=${SECONDS_PER_PHASE:-8}
cargo build --release --bin payrisk-server
cargo bench --bench loadgen --no-run
LOADGEN=$(ls -t target/release/deps/loadgen-* | grep -v '\.d$' | head -1)

.venv/bin/python benches/peers/grpc_peer_server.py --port 50090 > /dev/null 2>&1 &
PEER=$!
trap 'kill $PEER 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  "$LOADGEN" --bench --addr 127.0.0.1:50090 --phases ready > /dev/null 2>&1 && break
  sleep 1
done

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round: payrisk-server"
  "$LOADGEN" --bench --spawn target/release/payrisk-server --addr 127.0.0.1:50091 \
    --phases ready,max,stream --seconds "$SECONDS_PER_PHASE"
  echo "round $round: python grpcio + lightgbm peer (RSS $(grep VmRSS /proc/$PEER/status | awk '{print $2}') kB)"
  "$LOADGEN" --bench --addr 127.0.0.1:50090 --phases max,stream --seconds "$SECONDS_PER_PHASE"
done
