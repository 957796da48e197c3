"""Makes the committed import fixtures in tests/fixtures/import/.

Trains a small LightGBM model (label = repaid) and a small XGBoost model (label = default, to
exercise the orientation flip) on synthetic rows whose columns are payrisk feature names, with
missing values, and writes the models, the inputs and each library's own predicted
probabilities. tests/it/import_models.rs checks payrisk reproduces them to 1e-6.

Run: scripts/python-env.sh && .venv/bin/python benches/peers/make_import_fixtures.py
"""
import json
import pathlib

import lightgbm as lgb
import numpy as np
import xgboost as xgb

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "import"
FEATURES = ["dpd_current", "utilisation", "pay_ratio_mean_3", "bureau_score"]

rng = np.random.default_rng(2026)
n = 2000
X = np.column_stack([
    rng.choice([0, 0, 0, 30, 60, 90, 120], size=n).astype(float),
    rng.uniform(0, 1.5, size=n),
    rng.uniform(0, 2, size=n),
    rng.uniform(300, 850, size=n),
])
X[rng.random(n) < 0.1, 1] = np.nan
X[rng.random(n) < 0.1, 2] = np.nan
X[rng.random(n) < 0.3, 3] = np.nan
# Values exactly representable in single precision, so XGBoost (which compares in float32)
# and payrisk (float64) see the same numbers.
X = X.astype(np.float32).astype(np.float64)
logit = (1.5 - 0.03 * X[:, 0] - 1.2 * np.nan_to_num(X[:, 1], nan=0.7)
         + 0.8 * np.nan_to_num(X[:, 2], nan=0.5) + 0.004 * (np.nan_to_num(X[:, 3], nan=600) - 600))
repaid = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)

OUT.mkdir(parents=True, exist_ok=True)
lgbm = lgb.train(
    {"objective": "binary", "num_leaves": 7, "learning_rate": 0.1, "min_data_in_leaf": 10,
     "verbose": -1, "seed": 1, "deterministic": True, "num_threads": 1},
    lgb.Dataset(X, label=repaid, feature_name=FEATURES), num_boost_round=20)
lgbm.save_model(str(OUT / "lightgbm.txt"))

xgbm = xgb.train(
    {"objective": "binary:logistic", "max_depth": 3, "eta": 0.2, "seed": 1, "nthread": 1},
    xgb.DMatrix(X, label=1 - repaid, feature_names=FEATURES, missing=np.nan), num_boost_round=20)
xgbm.save_model(str(OUT / "xgboost.json"))

# Inputs: held-out-like rows plus edge cases (all missing, extremes).
T = X[:200].copy()
T = np.vstack([T, [np.nan] * 4, [0, 0, 0, 300], [150, 3, 2, 850]])
p_lgb = lgbm.predict(T)
p_xgb = xgbm.predict(xgb.DMatrix(T, feature_names=FEATURES, missing=np.nan))
with open(OUT / "inputs.csv", "w") as f:
    f.write(",".join(FEATURES + ["lightgbm_repaid", "xgboost_default"]) + "\n")
    for row, a, b in zip(T, p_lgb, p_xgb):
        cells = ["" if np.isnan(v) else repr(float(v)) for v in row]
        f.write(",".join(cells + [repr(float(a)), repr(float(b))]) + "\n")
print(json.dumps({"rows": len(T), "out": str(OUT)}))
