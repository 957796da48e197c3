#!/usr/bin/env bash
# payrisk's gradient boosting against LightGBM on the same features and settings, timed
# alternately so that both see the same machine (this VM's speed drifts by up to 40 %).
# Prerequisites: data/uci/features.csv (see benches/gbdt_train.rs) and scripts/python-env.sh.
# Usage: benches/peers/train_time_compare.sh [ROUNDS]   (default 5; each round = 3 fits of each)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-5}"
cargo bench --features boost --bench gbdt_train --no-run 2>/dev/null
for i in $(seq "$rounds"); do
  echo "round $i"
  cargo bench -q --features boost --bench gbdt_train 2>/dev/null | grep '^payrisk'
  .venv/bin/python benches/peers/lightgbm_train_time.py | grep '^lightgbm'
done | tee /tmp/payrisk-train-compare.txt
python3 - <<'PY'
import re
best = {}
for line in open("/tmp/payrisk-train-compare.txt"):
    m = re.match(r"(\w+).*best of \d+ fits ([0-9.]+) s", line)
    if m:
        best.setdefault(m[1], []).append(float(m[2]))
for name, times in best.items():
    times.sort()
    print(f"{name}: best {times[0]:.3f} s, median {times[len(times) // 2]:.3f} s over {len(times)} rounds")
if {"payrisk", "lightgbm"} <= best.keys():
    ratios = sorted(p / l for p, l in zip(best["payrisk"], best["lightgbm"]))
    print(f"payrisk / lightgbm, same round: median {ratios[len(ratios) // 2]:.2f}, "
          f"range {ratios[0]:.2f}-{ratios[-1]:.2f}")
PY
