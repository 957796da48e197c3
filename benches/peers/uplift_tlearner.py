"""The Python peer of payrisk's treatment-effect model: scikit-uplift's T-learner (`TwoModels`,
vanilla) with LightGBM, fitted on the same randomised accounts and split that
`payrisk-train fit --model uplift --matrix` wrote, and scored with scikit-uplift's own
`qini_auc_score` and `uplift_auc_score` on the held-out accounts, for the peer's predictions and
for payrisk's (`test_predictions.csv`) alike: one metric implementation for both.

Usage: python uplift_tlearner.py TRIAL_CSV TEST_PREDICTIONS_CSV
"""

import sys
import time
import warnings

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklift.metrics import qini_auc_score, uplift_auc_score
from sklift.models import TwoModels

# scikit-uplift 0.5.1 calls a scikit-learn helper deprecated in 1.8.
warnings.filterwarnings("ignore", category=FutureWarning)

trial = pd.read_csv(sys.argv[1])
ours = pd.read_csv(sys.argv[2]).set_index("account_id")
features = [c for c in trial.columns if c not in ("account_id", "split", "treatment", "repaid")]
train = trial[trial.split == "train"]
test = trial[trial.split == "test"].set_index("account_id")
assert set(test.index) == set(ours.index), "the same held-out accounts"
names = [c[2:] for c in ours.columns if c.startswith("p_")]
reference = names[0]


def lightgbm():
    # Settings like payrisk's [gbdt] in benches/uplift/run.sh: 15 leaves, learning rate 0.05, up
    # to 400 trees, 80 % row and column samples, 20 rows a leaf.
    return lgb.LGBMClassifier(
        n_estimators=400,
        learning_rate=0.05,
        num_leaves=15,
        max_depth=6,
        min_child_samples=20,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        verbose=-1,
        n_jobs=2,
    )


print(f"{len(train)} training and {len(test)} held-out accounts, {len(features)} inputs")
print("treatment  learner                 qini     auuc    fit s")
for t in names[1:]:
    pair_train = train[train.treatment.isin([t, reference])]
    pair_test = test[test.treatment.isin([t, reference])]
    treated = (pair_test.treatment == t).astype(int).values
    y = pair_test.repaid.values
    started = time.perf_counter()
    # Early stopping as payrisk's: 40 rounds without a better log loss on a seeded tenth of the
    # training accounts of each model.
    valid = np.random.default_rng(42).random(len(pair_train)) < 0.1
    fit_rows, valid_rows = pair_train[~valid], pair_train[valid]

    def stopping(rows):
        return {
            "eval_set": [(rows[features], rows.repaid.values)],
            "callbacks": [lgb.early_stopping(40, verbose=False)],
        }

    model = TwoModels(estimator_trmnt=lightgbm(), estimator_ctrl=lightgbm(), method="vanilla")
    model.fit(
        fit_rows[features],
        fit_rows.repaid.values,
        (fit_rows.treatment == t).astype(int).values,
        estimator_trmnt_fit_params=stopping(valid_rows[valid_rows.treatment == t]),
        estimator_ctrl_fit_params=stopping(valid_rows[valid_rows.treatment == reference]),
    )
    seconds = time.perf_counter() - started
    peer = model.predict(pair_test[features])
    payrisk = (ours.loc[pair_test.index, f"p_{t}"] - ours.loc[pair_test.index, f"p_{reference}"]).values
    for name, uplift, fit in [("scikit-uplift+LightGBM", peer, f"{seconds:.1f}"), ("payrisk", payrisk, "")]:
        q = qini_auc_score(y, uplift, treated)
        a = uplift_auc_score(y, uplift, treated)
        print(f"{t:<10} {name:<22} {q:8.4f} {a:8.4f} {fit:>7}")
