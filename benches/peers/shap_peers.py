"""Exact TreeSHAP of the peers on the same trees as payrisk: LightGBM's pred_contrib on the
300-tree model of the inference comparison, and XGBoost's pred_contribs on a 300-tree depth-6
XGBoost model trained here (once) on the same UCI features, saved as JSON for `payrisk-train
import`. Writes both libraries' raw margins of every row and their contributions of the first
ROWS rows (payrisk must match them), and times each library's contributions of those rows on
one thread (best of five).

Usage: python shap_peers.py FEATURES_CSV OUT_DIR ROWS
"""

import pathlib
import sys
import time

import lightgbm as lgb
import numpy as np
import pandas as pd
import xgboost as xgb

features_csv, out, rows = sys.argv[1], pathlib.Path(sys.argv[2]), int(sys.argv[3])
table = pd.read_csv(features_csv)
names = [c for c in table.columns if c not in ("account_id", "split", "repaid")]
X = table[names].to_numpy(dtype=np.float64)
few = X[:rows]
model_file = out / "xgboost.json"
if not model_file.exists():
    train = (table.split == "train").values
    booster = xgb.train(
        {
            "objective": "binary:logistic",
            "max_depth": 6,
            "eta": 0.05,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "min_child_weight": 1,
            "tree_method": "hist",
            "seed": 7,
            "nthread": 1,
        },
        xgb.DMatrix(X[train], label=table.repaid[train].values, feature_names=names),
        num_boost_round=300,
    )
    booster.save_model(str(model_file))
booster = xgb.Booster(model_file=str(model_file))
booster.set_param({"nthread": 1})
everything = xgb.DMatrix(X, feature_names=names)
margins = booster.predict(everything, output_margin=True)
pd.DataFrame({"account_id": table.account_id, "margin": margins.astype(np.float64)}).to_csv(
    out / "xgboost_margins.csv", index=False, float_format="%.17g")
lightgbm = lgb.Booster(model_file=str(out / "model.txt"))


def best(f):
    times = []
    for _ in range(5):
        started = time.perf_counter()
        f()
        times.append(time.perf_counter() - started)
    return min(times) / len(few) * 1e6


def write(contributions, name):
    frame = pd.DataFrame(contributions[:, :len(names)], columns=names)
    frame.insert(0, "account_id", table.account_id[:rows].values)
    frame.to_csv(out / name, index=False, float_format="%.17g")


dmatrix = xgb.DMatrix(few, feature_names=names)
write(booster.predict(dmatrix, pred_contribs=True).astype(np.float64), "xgboost_contributions.csv")
write(lightgbm.predict(few, pred_contrib=True, num_threads=1), "lightgbm_contributions.csv")
xgb_us = best(lambda: booster.predict(dmatrix, pred_contribs=True))
lgb_us = best(lambda: lightgbm.predict(few, pred_contrib=True, num_threads=1))
print(f"XGBoost {xgb.__version__} pred_contribs (exact): {xgb_us:8.1f} us per row")
print(f"LightGBM {lgb.__version__} pred_contrib:          {lgb_us:8.1f} us per row")
