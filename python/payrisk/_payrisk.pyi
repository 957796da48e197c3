"""The native module (Rust, PyO3). Use :class:`payrisk.Scorer`, which takes pandas, Polars or
Arrow and gives the same kind back."""

from typing import Any, Optional

import pyarrow as pa

class DataError(ValueError):
    """Input rows broke the tables' schema or rules."""

    errors: list[dict[str, Any]]
    """The first problems: ``{file, row, column, account_id, message}`` (row 1-based, 0 for a
    whole column)."""
    total: int
    """How many problems there were in all."""

class LoadError(ValueError):
    """A model artifact or policy could not be loaded, or they cannot serve together."""

class Scorer:
    def __init__(self, model: str, policy: str) -> None: ...
    def score(
        self,
        accounts: Any,
        history: Any,
        *,
        now: Optional[str] = None,
        reasons: int = 0,
        threads: Optional[int] = None,
        ignore_unknown_columns: bool = False,
        null_values: list[str] = ...,
        names: Optional[tuple[str, str]] = None,
    ) -> pa.RecordBatch: ...
    def evaluate(
        self,
        accounts: Any,
        history: Any,
        outcomes: Any,
        *,
        ignore_unknown_columns: bool = False,
        null_values: list[str] = ...,
        names: Optional[tuple[str, str, str]] = None,
    ) -> str: ...
    def explain(
        self,
        accounts: Any,
        history: Any,
        account_id: str,
        *,
        now: Optional[str] = None,
        ignore_unknown_columns: bool = False,
        null_values: list[str] = ...,
    ) -> str: ...
    @property
    def model_name(self) -> str: ...
    @property
    def model_version(self) -> str: ...
    @property
    def model_kind(self) -> str: ...
    @property
    def policy_version(self) -> str: ...
    @property
    def features(self) -> list[str]: ...
