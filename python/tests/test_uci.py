"""Parity on all 30,000 UCI accounts: the package against payrisk-train (score, evaluate) and
against payrisk-server over gRPC, through the package's own client."""

from __future__ import annotations

import datetime as dt
import json
import struct

import grpc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

import payrisk
from payrisk.grpc import Client, accounts_from_tables, pb
from payrisk.v1 import scoring_pb2_grpc
from conftest import MODEL, NOW, POLICY, binary, run

DECISION = ["account_id", "arm", "score", "risk_band", "treatment", "action", "channel", "stage",
            "rationale", "priority", "contact_guard", "guard_rule", "next_permitted_time",
            "model_version"]
TREATMENT = {pb.TREATMENT_SOFT: "soft", pb.TREATMENT_FIRM: "firm"}


def bits(x: float) -> int:
    return struct.unpack("<q", struct.pack("<d", x))[0]


@pytest.fixture(scope="module")
def tables(uci_tables):
    accounts = pcsv.read_csv(uci_tables / "accounts.csv")
    history = pcsv.read_csv(uci_tables / "payment_history.csv")
    outcomes = pcsv.read_csv(uci_tables / "outcomes.csv")
    return accounts, history, outcomes


@pytest.fixture(scope="module")
def worklist(tables):
    accounts, history, _ = tables
    return payrisk.Scorer(MODEL, POLICY).score(accounts, history, now=NOW, reasons=4)


def test_the_package_ranks_the_uci_accounts_as_payrisk_train_score_does(uci_tables, worklist, tmp_path):
    # Pins: the same worklist, row for row: order, probabilities to the bit, every decision
    # column.
    out = tmp_path / "worklist.parquet"
    done = run([binary("payrisk-train"), "score", "--tables", uci_tables,
                "--decision-time", NOW, "--output", out])
    assert done.returncode == 0, done.stderr
    cli = pq.read_table(out)
    assert cli.num_rows == worklist.num_rows == 30_000
    for name in ["rank", "repayment_probability"] + DECISION:
        assert cli.column(name).to_pylist() == worklist.column(name).to_pylist(), name


def test_the_package_and_the_server_decide_the_uci_accounts_alike(tables, worklist, server):
    # Pins: bit-identical probabilities and the same decisions and reasons from payrisk-server,
    # in batches of 10,000 with four reasons each (over grpcio's 4 MiB default receive limit,
    # which the client raises).
    accounts, history, _ = tables
    messages = accounts_from_tables(accounts, history)
    assert len(messages) == 30_000
    ours = {r["account_id"]: r for r in worklist.to_pylist()}
    when = dt.datetime.fromisoformat(NOW.replace("Z", "+00:00"))
    with Client(server, timeout=120) as client:
        replies = []
        for start in range(0, len(messages), 10_000):
            reply = client.score_batch(messages[start:start + 10_000], max_reasons=4,
                                       decision_time=when)
            assert reply.ByteSize() > 4 * 1024 * 1024
            replies.extend(reply.results)
    assert len(replies) == 30_000
    for r in replies:
        assert r.WhichOneof("outcome") == "score", r
        s = r.score
        mine = ours[s.account_id]
        assert bits(s.repayment_probability) == bits(mine["repayment_probability"]), s.account_id
        assert (TREATMENT[s.treatment], s.next_action.action, s.next_action.channel,
                s.next_action.stage, s.risk_band) == (
            mine["treatment"], mine["action"], mine["channel"], mine["stage"], mine["risk_band"])
        assert s.priority == mine["priority"] and s.score == mine["score"]
        assert [(x.code, x.contribution) for x in s.reasons] == [
            (x["code"], x["contribution"]) for x in mine["reasons"]]


def test_grpcio_defaults_refuse_a_batch_the_client_receives(tables, server):
    # Pins why the client raises the receive limit: a plain channel fails on the same reply.
    accounts, history, _ = tables
    messages = accounts_from_tables(accounts.slice(0, 10_000), history.slice(0, 60_000))
    with grpc.insecure_channel(server) as channel:
        stub = scoring_pb2_grpc.ScoringServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.ScoreBatch(pb.ScoreBatchRequest(accounts=messages, max_reasons=4), timeout=120)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    with Client(server, timeout=120) as client:
        assert len(client.score_batch(messages, max_reasons=4).results) == 10_000
        assert client.model_info().version == "2"


def test_evaluate_gives_payrisk_train_evaluates_metrics(uci_tables, tables, tmp_path):
    # Pins: the same metrics and deciles as `payrisk-train evaluate --split all`.
    accounts, history, outcomes = tables
    ours = payrisk.Scorer(MODEL, POLICY).evaluate(accounts, history, outcomes)
    out = tmp_path / "evaluation.json"
    done = run([binary("payrisk-train"), "evaluate", "--model", MODEL, "--tables", uci_tables,
                "--split", "all", "--out", out])
    assert done.returncode == 0, done.stderr
    cli = json.loads(out.read_text())
    assert ours["metrics"] == cli["metrics"], (ours["metrics"], cli["metrics"])
    assert ours["deciles"] == cli["deciles"]
    assert ours["metrics"]["rows"] == 30_000 and 0.78 < ours["metrics"]["auc"] < 0.82
