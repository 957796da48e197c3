"""The in-process scorer: tables in as pandas, Polars or Arrow, decisions out as the same."""

from __future__ import annotations

import datetime as _dt
import json
import os
from typing import Any, Optional, Sequence, Union

import pyarrow as pa

from . import _payrisk

Table = Any
"""A pandas or Polars DataFrame, a pyarrow Table, RecordBatch or RecordBatchReader, or any
object with ``__arrow_c_stream__``."""


def _flavour(table: Table) -> str:
    module = type(table).__module__.split(".")[0]
    if module == "pandas":
        return "pandas"
    if module == "polars":
        return "polars"
    return "arrow"


def _arrow(table: Table, what: str) -> Any:
    """An Arrow stream of ``table``, without copying where its layout allows (pyarrow and
    Polars hand over their buffers; pandas converts column by column)."""
    if isinstance(table, (pa.Table, pa.RecordBatchReader)):
        return table
    if isinstance(table, pa.RecordBatch):
        return pa.Table.from_batches([table])
    if _flavour(table) == "pandas":
        return pa.Table.from_pandas(table, preserve_index=False)
    if _flavour(table) == "polars":
        # Through pyarrow (no copy of the buffers): Polars' own stream export of an all-null
        # column is refused by Arrow's C data checks.
        return table.to_arrow()
    if hasattr(table, "__arrow_c_stream__"):
        return table
    raise TypeError(
        f"{what}: expected a pandas or Polars DataFrame or an Arrow table, "
        f"got {type(table).__name__}"
    )


def _convert(result: pa.Table, flavour: str) -> Table:
    if flavour == "pandas":
        return result.to_pandas()
    if flavour == "polars":
        import polars as pl

        return pl.from_arrow(result)
    if flavour == "arrow":
        return result
    raise ValueError(f"output: expected 'pandas', 'polars' or 'arrow', got {flavour!r}")


def _now(now: Union[None, str, _dt.datetime]) -> Optional[str]:
    if now is None or isinstance(now, str):
        return now
    if isinstance(now, _dt.datetime):
        if now.tzinfo is None:
            raise ValueError("now: give a time zone (contact hours depend on it), e.g. "
                             "datetime.now(timezone.utc)")
        return now.astimezone(_dt.timezone.utc).isoformat()
    raise TypeError(f"now: expected a datetime or an RFC 3339 string, got {type(now).__name__}")


class Scorer:
    """A model artifact and a treatment policy, loaded and validated as payrisk-server loads
    them (an experiment in the policy runs here too, with the same arms).

    :param model: the model artifact (``models/uci-credit/2/model.json``).
    :param policy: the treatment policy (``models/policy.toml``).
    :raises LoadError: the artifact or policy does not validate, or they cannot serve together.
    """

    def __init__(self, model: Union[str, os.PathLike], policy: Union[str, os.PathLike]):
        self._native = _payrisk.Scorer(os.fspath(model), os.fspath(policy))

    @property
    def model_name(self) -> str:
        """The model's name."""
        return self._native.model_name

    @property
    def model_version(self) -> str:
        """The model's version."""
        return self._native.model_version

    @property
    def model_kind(self) -> str:
        """``gbdt``, ``logistic``, ``scorecard`` or ``uplift``."""
        return self._native.model_kind

    @property
    def policy_version(self) -> str:
        """The policy's version."""
        return self._native.policy_version

    @property
    def features(self) -> list:
        """The model's inputs, in its order."""
        return self._native.features

    def __repr__(self) -> str:
        return (f"Scorer(model={self.model_name!r} version {self.model_version!r} "
                f"({self.model_kind}), policy {self.policy_version!r})")

    def score(
        self,
        accounts: Table,
        history: Table,
        *,
        now: Union[None, str, _dt.datetime] = None,
        reasons: int = 0,
        threads: Optional[int] = None,
        output: Optional[str] = None,
        ignore_unknown_columns: bool = False,
        null_values: Sequence[str] = (),
        names: Optional[tuple] = None,
    ) -> Table:
        """Decides every account and returns the worklist, in the collectors' order (rank 1
        first: highest priority, then the riskier account, then the id read as a number).

        Columns are those of ``payrisk-train score``: ``rank, account_id, arm,
        repayment_probability, score, risk_band, treatment, action, channel, stage, rationale,
        priority, contact_guard, guard_rule, next_permitted_time, model_version`` and the
        ``shadow_*`` columns of a shadow experiment; with ``reasons=k`` also ``reasons``, a list
        of ``{code, contribution, value, text}``, strongest first.

        :param accounts: the accounts table.
        :param history: the payment-history table (one row per account and cycle).
        :param now: the decision time (contact hours, the ladder); the clock when ``None``.
        :param reasons: reason codes per account (0: none, the fastest path).
        :param threads: threads to decide on (default: one per core). The GIL is released.
        :param output: ``"pandas"``, ``"polars"`` or ``"arrow"``; default: the accounts'
            own kind (Arrow for Arrow inputs).
        :param ignore_unknown_columns: skip columns no table defines instead of refusing them.
        :param null_values: cell texts that mean missing, besides the empty cell.
        :param names: the tables' names in messages (default ``("accounts", "history")``).
        :raises DataError: rows break the tables' rules; ``errors`` lists them by table, row
            (1-based) and column.
        """
        batch = self._native.score(
            _arrow(accounts, "accounts"),
            _arrow(history, "history"),
            now=_now(now),
            reasons=reasons,
            threads=threads,
            ignore_unknown_columns=ignore_unknown_columns,
            null_values=list(null_values),
            names=names,
        )
        return _convert(pa.Table.from_batches([batch]), output or _flavour(accounts))

    def evaluate(
        self,
        accounts: Table,
        history: Table,
        outcomes: Table,
        *,
        ignore_unknown_columns: bool = False,
        null_values: Sequence[str] = (),
        names: Optional[tuple] = None,
    ) -> dict:
        """The model's metrics on every labelled account given, as ``payrisk-train evaluate``
        computes them: ``{"model": {...}, "metrics": {rows, repayment_rate, auc, gini, ks,
        brier, log_loss, ece}, "deciles": [...]}`` (deciles from the riskiest tenth). Choose
        the rows (a held-out split) before calling.

        :raises DataError: rows break the tables' rules, or an account has no outcome.
        """
        text = self._native.evaluate(
            _arrow(accounts, "accounts"),
            _arrow(history, "history"),
            _arrow(outcomes, "outcomes"),
            ignore_unknown_columns=ignore_unknown_columns,
            null_values=list(null_values),
            names=names,
        )
        return json.loads(text)

    def explain(
        self,
        accounts: Table,
        history: Table,
        account_id: str,
        *,
        now: Union[None, str, _dt.datetime] = None,
        ignore_unknown_columns: bool = False,
        null_values: Sequence[str] = (),
    ) -> dict:
        """One account's decision with every reason code (contributions to the log-odds of
        repayment, strongest first) and the champion model's inputs by name (``None`` where
        missing).

        :raises DataError: rows break the tables' rules.
        :raises ValueError: the account is not in the accounts table.
        """
        text = self._native.explain(
            _arrow(accounts, "accounts"),
            _arrow(history, "history"),
            str(account_id),
            now=_now(now),
            ignore_unknown_columns=ignore_unknown_columns,
            null_values=list(null_values),
        )
        return json.loads(text)
