"""lleaves and LightGBM beside payrisk on one LightGBM model: trains (once) a 300-tree model of
at most 64 leaves and depth 6 on the UCI features `payrisk-train features` wrote, saves it for
`payrisk-train import`, writes LightGBM's raw margins of every row (payrisk must match them to
1e-12), compiles it with lleaves (raw scores, float64) and, where TL2cgen is installed, to C with
TL2cgen (thresholds quantized, branches annotated with the training rows, gcc), and times one
round of each engine's prediction of all 30,000 varied rows on one thread, model only (features
given; TL2cgen's DMatrix is built before the clock starts).

Usage: python lleaves_inference.py FEATURES_CSV OUT_DIR
"""

import pathlib
import sys
import time

import lightgbm as lgb
import lleaves
import numpy as np
import pandas as pd

features_csv, out = sys.argv[1], pathlib.Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
table = pd.read_csv(features_csv)
names = [c for c in table.columns if c not in ("account_id", "split", "repaid")]
X = table[names].to_numpy(dtype=np.float64)
model_file = out / "model.txt"
if not model_file.exists():
    train = table.split == "train"
    booster = lgb.train(
        {
            "objective": "binary",
            "num_leaves": 64,
            "max_depth": 6,
            "learning_rate": 0.05,
            "min_data_in_leaf": 20,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "seed": 7,
            "num_threads": 1,
            "verbose": -1,
        },
        lgb.Dataset(X[train.values], label=table.repaid[train].values, feature_name=names),
        num_boost_round=300,
    )
    booster.save_model(str(model_file))
    margins = booster.predict(X, raw_score=True, num_threads=1)
    pd.DataFrame({"account_id": table.account_id, "margin": margins}).to_csv(
        out / "lightgbm_margins.csv", index=False, float_format="%.17g"
    )
booster = lgb.Booster(model_file=str(model_file))
compiled = lleaves.Model(model_file=str(model_file))
compiled.compile(cache=str(out / "lleaves.o"), raw_score=True)
reference = booster.predict(X, raw_score=True, num_threads=1)
got = compiled.predict(X, n_jobs=1)
assert np.max(np.abs(got - reference)) < 1e-9, "lleaves agrees with LightGBM"

try:
    import tl2cgen
    import treelite
except ImportError:
    tl2cgen = None
if tl2cgen is not None:
    library = out / "tl2cgen.so"
    if not library.exists():
        parsed = treelite.frontend.load_lightgbm_model(str(model_file))
        training_rows = X[(table.split == "train").values]
        branches = out / "tl2cgen-branches.json"
        tl2cgen.annotate_branch(
            parsed, tl2cgen.DMatrix(training_rows, dtype="float64"), path=str(branches), nthread=1
        )
        tl2cgen.export_lib(
            parsed,
            toolchain="gcc",
            libpath=str(library),
            params={"parallel_comp": 8, "quantize": 1, "annotate_in": str(branches)},
            nthread=1,
        )
    tl2 = tl2cgen.Predictor(str(library), nthread=1)
    rows = tl2cgen.DMatrix(X, dtype="float64")
    got = np.asarray(tl2.predict(rows, pred_margin=True)).reshape(-1)
    assert np.max(np.abs(got - reference)) < 1e-9, "TL2cgen agrees with LightGBM"


def rate(f):
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - started)
    return len(X) / best


print(f"lleaves  model only: {rate(lambda: compiled.predict(X, n_jobs=1)) / 1e3:8.0f} K rows/s")
if tl2cgen is not None:
    tl2_rate = rate(lambda: tl2.predict(rows, pred_margin=True))
    print(f"TL2cgen  model only: {tl2_rate / 1e3:8.0f} K rows/s")
print(
    f"LightGBM model only: "
    f"{rate(lambda: booster.predict(X, raw_score=True, num_threads=1)) / 1e3:8.0f} K rows/s"
)
# Exact TreeSHAP: LightGBM's pred_contrib on the first 2,000 rows.
few = X[:2000]
best = float("inf")
for _ in range(3):
    started = time.perf_counter()
    booster.predict(few, pred_contrib=True, num_threads=1)
    best = min(best, time.perf_counter() - started)
print(f"LightGBM pred_contrib: {best / len(few) * 1e6:8.1f} us per row")
