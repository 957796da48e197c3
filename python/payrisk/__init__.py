"""payrisk: payment-risk scoring for debt collections, in-process from Python.

The engine is payrisk-server's own (Rust, through PyO3): the same model artifacts, policy,
feature engine, decision path, experiment arms and reason codes, so a probability here is the
server's to the last bit.

    import payrisk
    scorer = payrisk.Scorer("models/uci-credit/2/model.json", "models/policy.toml")
    worklist = scorer.score(accounts, history)          # pandas, Polars or Arrow in, the same out
    scorer.evaluate(accounts, history, outcomes)["metrics"]["auc"]
    scorer.explain(accounts, history, "A-1001")["reasons"]

Tables are payrisk's canonical tables (``docs/training.md``): accounts, payment history (one row
per account and cycle) and outcomes. Bad rows raise :class:`DataError` with the same row-level
messages as ``payrisk-train``; a model or policy that does not load raises :class:`LoadError`.

``payrisk.grpc`` is a client for a running payrisk-server (``pip install payrisk[grpc]``).
"""

from ._payrisk import DataError, LoadError
from .scorer import Scorer

__all__ = ["Scorer", "DataError", "LoadError"]
