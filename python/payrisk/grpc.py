"""A client for payrisk-server: the generated stubs (``payrisk.v1``) behind a small class with
defaults a service wants.

- **Receive limit** 256 MiB (grpcio's default, 4 MiB, refuses a 10,000-account batch with
  reasons, about 12 MiB).
- **Deadlines** on every call (``timeout``, 10 s by default; a call past it ends with
  ``DEADLINE_EXCEEDED``, which the server also enforces).
- **Retries** of calls that end ``UNAVAILABLE`` (a restart, a connection refused), up to
  ``retries`` attempts in all with exponential backoff, by gRPC's own retry policy. Scoring is
  safe to retry: a decision depends only on the request (and ``decision_time`` when given).
- **Tokens** sent as ``authorization: Bearer <token>``; TLS with the system's roots or given
  PEM roots.

    from payrisk.grpc import Client, accounts_from_tables
    with Client("127.0.0.1:50051") as client:
        reply = client.score_batch(accounts_from_tables(accounts, history), max_reasons=4)

Needs ``grpcio`` and ``protobuf`` (``pip install payrisk[grpc]``).
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any, Iterable, Optional, Sequence

import grpc as _grpc
import pyarrow as pa

from .v1 import scoring_pb2 as pb
from .v1 import scoring_pb2_grpc as pb_grpc

__all__ = ["Client", "accounts_from_tables", "pb"]

#: Bytes a reply may hold by default: 256 MiB.
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024


def _retry_config(attempts: int) -> str:
    return json.dumps({
        "methodConfig": [{
            "name": [{"service": "payrisk.v1.ScoringService"}],
            "retryPolicy": {
                "maxAttempts": max(2, min(attempts, 5)),
                "initialBackoff": "0.1s",
                "maxBackoff": "2s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }]
    })


class Client:
    """A connection to payrisk-server's ``ScoringService``.

    :param target: ``host:port``.
    :param token: a bearer token, when the server asks for one.
    :param tls: connect with TLS (``root_certificates``: PEM bytes, else the system's roots).
    :param timeout: seconds each call may take (its deadline).
    :param retries: attempts in all for a call that ends ``UNAVAILABLE`` (1: no retry; gRPC
        allows at most 5).
    :param max_message_bytes: largest reply (and request) accepted.
    """

    def __init__(
        self,
        target: str = "127.0.0.1:50051",
        *,
        token: Optional[str] = None,
        tls: bool = False,
        root_certificates: Optional[bytes] = None,
        timeout: float = 10.0,
        retries: int = 3,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ):
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.enable_retries", 1 if retries > 1 else 0),
            ("grpc.service_config", _retry_config(retries)),
        ]
        if tls:
            credentials = _grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = _grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = _grpc.insecure_channel(target, options=options)
        self._stub = pb_grpc.ScoringServiceStub(self._channel)
        self._metadata = [("authorization", f"Bearer {token}")] if token else None
        self.timeout = timeout

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Closes the channel."""
        self._channel.close()

    def _call(self, method: Any, request: Any, timeout: Optional[float]) -> Any:
        return method(request, timeout=timeout or self.timeout, metadata=self._metadata)

    def score(self, account: pb.Account, *, max_reasons: Optional[int] = None,
              decision_time: Optional[_dt.datetime] = None,
              timeout: Optional[float] = None) -> pb.ScoreResponse:
        """Scores one account."""
        request = pb.ScoreRequest(account=account, max_reasons=max_reasons)
        if decision_time is not None:
            request.decision_time.FromDatetime(decision_time.astimezone(_dt.timezone.utc))
        return self._call(self._stub.Score, request, timeout)

    def score_batch(self, accounts: Sequence[pb.Account], *, max_reasons: Optional[int] = None,
                    decision_time: Optional[_dt.datetime] = None, batch_id: int = 0,
                    timeout: Optional[float] = None) -> pb.ScoreBatchResponse:
        """Scores up to the server's batch limit (10,000 accounts by default) in one call."""
        request = pb.ScoreBatchRequest(accounts=accounts, max_reasons=max_reasons,
                                       batch_id=batch_id)
        if decision_time is not None:
            request.decision_time.FromDatetime(decision_time.astimezone(_dt.timezone.utc))
        return self._call(self._stub.ScoreBatch, request, timeout)

    def model_info(self, *, timeout: Optional[float] = None) -> pb.ModelInfo:
        """The serving model, policy and experiment."""
        return self._call(self._stub.GetModelInfo, pb.GetModelInfoRequest(), timeout)


def _date(d: Any) -> pb.Date:
    if isinstance(d, str):
        d = _dt.date.fromisoformat(d.strip())
    return pb.Date(year=d.year, month=d.month, day=d.day)


def _rows(table: Any) -> Iterable[dict]:
    if isinstance(table, pa.Table):
        return table.to_pylist()
    if type(table).__module__.split(".")[0] == "pandas":
        return pa.Table.from_pandas(table, preserve_index=False).to_pylist()
    if hasattr(table, "to_dicts"):  # Polars
        return table.to_dicts()
    return pa.table(table).to_pylist()


def accounts_from_tables(accounts: Any, history: Any) -> list:
    """The canonical accounts and payment-history tables (pandas, Polars or Arrow) as request
    messages: one ``Account`` per accounts row, its cycles in the table's order. An empty or
    missing optional value is sent as unknown. Rows are not validated here: the server's
    ``INVALID_ARGUMENT`` names the field of a bad one."""
    cycles: dict = {}
    for h in _rows(history):
        cycles.setdefault(str(h["account_id"]).strip(), []).append(pb.PaymentCycle(
            statement_date=_date(h["statement_date"]),
            amount_due=float(h["amount_due"]),
            minimum_due=float(h["minimum_due"]),
            amount_paid=float(h["amount_paid"]),
            days_past_due=int(h["days_past_due"]),
        ))
    out = []
    for a in _rows(accounts):
        def known(name: str) -> bool:
            v = a.get(name)
            return v is not None and v == v and v != ""

        account_id = str(a["account_id"]).strip()
        profile = pb.CreditProfile(
            open_credit_lines=int(a["open_credit_lines"]),
            prior_delinquencies=int(a["prior_delinquencies"]),
            credit_limit_unknown=not known("credit_limit"),
            current_balance_unknown=not known("current_balance"),
            months_on_book_unknown=not known("months_on_book"),
            hardship_unknown=not known("hardship"),
        )
        if known("credit_limit"):
            profile.credit_limit = float(a["credit_limit"])
        if known("current_balance"):
            profile.current_balance = float(a["current_balance"])
        if known("months_on_book"):
            profile.months_on_book = int(a["months_on_book"])
        if known("hardship"):
            profile.hardship = int(a["hardship"]) == 1
        if known("bureau_score"):
            profile.bureau_score = float(a["bureau_score"])
        if known("annual_income"):
            profile.annual_income = float(a["annual_income"])
        compliance = pb.Compliance(
            cease_communication=known("cease_communication") and int(a["cease_communication"]) == 1,
            dispute_pending=known("dispute_pending") and int(a["dispute_pending"]) == 1,
            bankruptcy=known("bankruptcy") and int(a["bankruptcy"]) == 1,
            attorney_represented=known("attorney_represented") and int(a["attorney_represented"]) == 1,
            deceased=known("deceased") and int(a["deceased"]) == 1,
            opted_out_channels=[c.strip() for c in str(a.get("opted_out_channels") or "").split(";")
                                if c.strip()],
            time_zone=str(a.get("time_zone") or "").strip(),
        )
        attributes = {k[len("attr_"):]: float(v) for k, v in a.items()
                      if k.startswith("attr_") and v is not None and v == v}
        out.append(pb.Account(
            account_id=account_id,
            as_of=_date(a["as_of"]),
            profile=profile,
            history=cycles.get(account_id, []),
            attributes=attributes,
            compliance=compliance,
        ))
    return out
