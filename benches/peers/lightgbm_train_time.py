"""LightGBM training time on payrisk's UCI features, with the settings of benches/gbdt_train.rs.

Run: scripts/python-env.sh && .venv/bin/python benches/peers/lightgbm_train_time.py
(after `payrisk-train convert-uci` and `payrisk-train features`, see benches/gbdt_train.rs).
"""
import pathlib
import sys
import time

import lightgbm as lgb
import pandas as pd
from sklearn.metrics import roc_auc_score

path = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                    pathlib.Path(__file__).resolve().parents[2] / "data/uci/features.csv")
df = pd.read_csv(path)
features = [c for c in df.columns if c not in ("account_id", "split", "repaid")]
train, test = df[df.split == "train"], df[df.split == "test"]
X, y = train[features].to_numpy(), train.repaid.to_numpy()
params = dict(objective="binary", num_leaves=15, max_depth=6, learning_rate=0.03, lambda_l2=1.0,
              min_data_in_leaf=20, bagging_fraction=0.8, bagging_freq=1, feature_fraction=0.8,
              max_bin=255, num_threads=2, verbose=-1, seed=42)
best = float("inf")
for _ in range(3):
    started = time.perf_counter()
    # Dataset construction (binning) is part of training, as payrisk's time includes its binning.
    booster = lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=500)
    best = min(best, time.perf_counter() - started)
auc = roc_auc_score(test.repaid, booster.predict(test[features].to_numpy()))
print(f"lightgbm {lgb.__version__}: {len(X)} rows x {len(features)} features, 500 trees, "
      f"2 threads: best of 3 fits {best:.3f} s, test AUC {auc:.4f}")
