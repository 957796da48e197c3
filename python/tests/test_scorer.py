"""The in-process scorer on small tables: every input kind, the output columns and order,
reasons, explanations, threads and the GIL, and bad input as the CLI reports it."""

from __future__ import annotations

import datetime as dt
import math
import threading
import time

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

import payrisk
from conftest import MODEL, NOW, POLICY, binary, run, small_portfolio

WORKLIST_COLUMNS = [
    "rank", "account_id", "arm", "repayment_probability", "score", "risk_band", "treatment",
    "action", "channel", "stage", "rationale", "priority", "contact_guard", "guard_rule",
    "next_permitted_time", "model_version", "shadow_probability", "shadow_treatment",
    "shadow_action", "shadow_model_version",
]


@pytest.fixture(scope="module")
def scorer() -> payrisk.Scorer:
    return payrisk.Scorer(MODEL, POLICY)


def test_pandas_polars_and_arrow_give_the_same_worklist_back_in_their_own_kind(scorer):
    # Pins: every input kind is read alike, and the result comes back as the input's kind.
    accounts, history = small_portfolio()
    arrow = scorer.score(accounts, history, now=NOW)
    assert isinstance(arrow, pa.Table)
    assert arrow.column_names == WORKLIST_COLUMNS
    frame = scorer.score(accounts.to_pandas(), history.to_pandas(), now=NOW)
    assert isinstance(frame, pd.DataFrame)
    polars = scorer.score(pl.from_arrow(accounts), pl.from_arrow(history), now=NOW)
    assert isinstance(polars, pl.DataFrame)
    reader = scorer.score(accounts.to_reader(), history.to_batches()[0], now=NOW)
    expected = arrow.to_pylist()
    assert frame.astype(object).where(frame.notna(), None).to_dict("records") == expected
    assert polars.to_dicts() == expected
    assert reader.to_pylist() == expected
    assert isinstance(scorer.score(accounts, history, now=NOW, output="pandas"), pd.DataFrame)


def test_the_worklist_is_in_the_collectors_order_with_the_policys_decisions(scorer):
    # Pins: rank 1 is the highest priority; hardship gets the payment plan; probabilities are
    # probabilities; the model and policy are the shipped ones.
    accounts, history = small_portfolio()
    rows = scorer.score(accounts, history, now=NOW).to_pylist()
    assert [r["rank"] for r in rows] == [1, 2, 3]
    priorities = [r["priority"] for r in rows]
    assert priorities == sorted(priorities, reverse=True)
    by_id = {r["account_id"]: r for r in rows}
    assert by_id["B-1"]["treatment"] == "soft", by_id["B-1"]
    assert by_id["A-10"]["stage"] == "60+"
    assert all(0.0 < r["repayment_probability"] < 1.0 for r in rows)
    assert {r["model_version"] for r in rows} == {"2"}
    assert scorer.model_name == "uci-credit" and scorer.model_kind == "gbdt"
    assert scorer.policy_version and len(scorer.features) > 5


def test_reasons_are_listed_strongest_first_and_explain_gives_them_all(scorer):
    # Pins: reasons=k gives k reasons sorted by |contribution|, the same as explain's first k;
    # explain names every model input (None where missing).
    accounts, history = small_portfolio()
    rows = scorer.score(accounts, history, now=NOW, reasons=3).to_pylist()
    for r in rows:
        assert len(r["reasons"]) == 3
        sizes = [abs(x["contribution"]) for x in r["reasons"]]
        assert sizes == sorted(sizes, reverse=True)
        e = scorer.explain(accounts, history, r["account_id"], now=NOW)
        assert e["repayment_probability"] == r["repayment_probability"]
        assert e["reasons"][:3] == r["reasons"]
        assert set(e["inputs"]) == set(scorer.features)
    missing_limit = scorer.explain(accounts, history, "A-10", now=NOW)
    assert any(v is None for v in missing_limit["inputs"].values())
    with pytest.raises(ValueError, match="`nope` is not in the accounts table"):
        scorer.explain(accounts, history, "nope", now=NOW)


def test_the_decision_time_moves_contact_hours_and_must_carry_a_zone(scorer):
    # Pins: `now` reaches the policy (3 a.m. in New York is outside contact hours) and a naive
    # datetime is refused rather than guessed.
    accounts, history = small_portfolio()
    night = scorer.score(accounts, history, now=dt.datetime(2026, 1, 5, 8, tzinfo=dt.timezone.utc))
    noon = scorer.score(accounts, history, now=NOW)
    assert "contact_hours" not in noon.column("guard_rule").to_pylist()
    held = [r for r in night.to_pylist() if r["guard_rule"] == "contact_hours"]
    assert held and all(r["next_permitted_time"] for r in held), night.to_pylist()
    with pytest.raises(ValueError, match="time zone"):
        scorer.score(accounts, history, now=dt.datetime(2026, 1, 5, 12))


def test_threads_do_not_change_the_worklist_and_the_gil_is_released(scorer):
    # Pins: the worklist is the same on one thread or several, and Python threads run while
    # the scorer works (the GIL is released).
    n = 60_000
    accounts, history = small_portfolio()
    ids = [f"S-{i}" for i in range(n)]
    big_accounts = pa.table({
        "account_id": ids,
        "as_of": [dt.date(2025, 6, 30)] * n,
        "credit_limit": [1000.0 + i % 5000 for i in range(n)],
        "current_balance": [500.0 + i % 3000 for i in range(n)],
        "open_credit_lines": [i % 4 for i in range(n)],
        "prior_delinquencies": [i % 3 for i in range(n)],
    })
    big_history = pa.table({
        "account_id": ids,
        "statement_date": [dt.date(2025, 6, 30)] * n,
        "amount_due": [100.0 + i % 700 for i in range(n)],
        "minimum_due": [10.0] * n,
        "amount_paid": [float(i % 120) for i in range(n)],
        "days_past_due": [30 * (i % 4) for i in range(n)],
    })
    one = scorer.score(big_accounts, big_history, now=NOW, threads=1)
    two = scorer.score(big_accounts, big_history, now=NOW, threads=2)
    assert one.equals(two)
    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1

    counter = threading.Thread(target=count)
    counter.start()
    started = time.perf_counter()
    scorer.score(big_accounts, big_history, now=NOW, reasons=4)
    elapsed = time.perf_counter() - started
    done.set()
    counter.join()
    # A held GIL lets the counter run only at the scorer's few Python steps.
    assert ticks > 10_000, (ticks, elapsed)


def test_bad_rows_raise_the_row_errors_payrisk_train_reports(scorer, tmp_path):
    # Pins: the same schema and row rules as the CLI, with the same words: the package's
    # DataError lists exactly the lines `payrisk-train score` prints for the same tables.
    accounts, history = small_portfolio()
    accounts = accounts.set_column(2, "credit_limit", pa.array(["5000", "x", "-3"]))
    accounts = accounts.set_column(4, "months_on_book", pa.array([30.0, 12.5, 50.0]))
    accounts = accounts.append_column("hardhip", pa.array([0, 0, 1]))
    a_path, h_path = tmp_path / "accounts.csv", tmp_path / "history.csv"
    pcsv.write_csv(accounts, a_path)
    history = history.set_column(0, "account_id",
                                 pa.array(["A-2"] * 8 + ["Z-9"]))
    pcsv.write_csv(history, h_path)
    names = (str(a_path), str(h_path))
    cli = run([binary("payrisk-train"), "score", "--accounts", a_path, "--history", h_path,
               "--output", tmp_path / "w.csv"])
    assert cli.returncode != 0
    cli_lines = [line.strip() for line in cli.stderr.splitlines() if line.startswith("  ")]

    with pytest.raises(payrisk.DataError) as unknown:
        scorer.score(accounts, history, names=names)
    assert [f"  {e['file']}: column `{e['column']}`: {e['message']}".strip()
            for e in unknown.value.errors] == cli_lines
    assert "did you mean `hardship`?" in str(unknown.value)

    pcsv.write_csv(accounts.drop_columns(["hardhip"]), a_path)
    cli = run([binary("payrisk-train"), "score", "--accounts", a_path, "--history", h_path,
               "--output", tmp_path / "w.csv"])
    cli_lines = [line.strip() for line in cli.stderr.splitlines() if line.startswith("  ")]
    with pytest.raises(payrisk.DataError) as bad:
        scorer.score(pcsv.read_csv(a_path), pcsv.read_csv(h_path), names=names)
    lines = [line.strip() for line in str(bad.value).splitlines()[1:]]
    assert lines == cli_lines, (lines, cli_lines)
    assert bad.value.total == len(lines) >= 4
    rows = {(e["row"], e["column"]) for e in bad.value.errors}
    assert {(2, "credit_limit"), (3, "credit_limit"), (2, "months_on_book")} <= rows
    assert any("Z-9" in e["message"] for e in bad.value.errors)
    # Read straight from Arrow (a float column for a whole number): the same words.
    with pytest.raises(payrisk.DataError, match=r"row 2, column `months_on_book`: cannot read `12.5` as a whole number"):
        scorer.score(accounts.drop_columns(["hardhip"]).set_column(2, "credit_limit", pa.array([1.0, 2.0, 3.0])),
                     history.set_column(0, "account_id", pa.array(["A-2"] * 9)))


def test_types_a_dataframe_carries_are_read_as_their_kind(scorer):
    # Pins: dates as text or midnight timestamps, ids as integers, whole numbers as floats with
    # gaps (pandas), null tokens; a timestamp with a time of day is not a date.
    accounts, history = small_portfolio()
    expected = scorer.score(accounts, history, now=NOW).column("repayment_probability")
    frame = accounts.to_pandas()
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame["months_on_book"] = frame["months_on_book"].astype(float)
    h = history.to_pandas()
    h["statement_date"] = h["statement_date"].astype(str)
    got = scorer.score(frame, h, now=NOW, output="arrow").column("repayment_probability")
    assert got.equals(expected)
    texts = accounts.set_column(2, "credit_limit", pa.array(["5000", "NA", "2000"]))
    got = scorer.score(texts, history, now=NOW, null_values=["NA"]).column("repayment_probability")
    assert got.equals(expected)
    # A null token is missing in a text column too (an unknown time zone would be an error).
    zones = accounts.append_column("time_zone", pa.array(["NA", "America/New_York", "NA"]))
    got = scorer.score(zones, history, now=NOW, null_values=["NA"]).column("repayment_probability")
    assert got.equals(expected)
    with pytest.raises(payrisk.DataError, match="time_zone"):
        scorer.score(zones, history, now=NOW)
    numbered = scorer.score(
        accounts.set_column(0, "account_id", pa.array([2, 10, 1])),
        history.set_column(0, "account_id", pa.array([2] * 3 + [10] * 3 + [1] * 3)), now=NOW)
    assert sorted(numbered.column("account_id").to_pylist()) == ["1", "10", "2"]
    late = frame.copy()
    late["as_of"] = late["as_of"] + pd.Timedelta(hours=9)
    with pytest.raises(payrisk.DataError, match="cannot read `2025-06-30T09:00:00` as a YYYY-MM-DD date"):
        scorer.score(late, h, now=NOW)


def test_a_model_or_policy_that_does_not_load_raises_load_error(tmp_path):
    # Pins: the server's load validation and messages reach Python.
    with pytest.raises(payrisk.LoadError, match="nope.json"):
        payrisk.Scorer(tmp_path / "nope.json", POLICY)
    bad = tmp_path / "policy.toml"
    bad.write_text(POLICY.read_text().replace("[treatment]", "[treatment]\nnonsense = 1", 1))
    with pytest.raises(payrisk.LoadError):
        payrisk.Scorer(MODEL, bad)
    with pytest.raises(TypeError, match="expected a pandas or Polars DataFrame"):
        payrisk.Scorer(MODEL, POLICY).score([1, 2], [3])


def test_tables_without_rows_give_an_empty_worklist(scorer):
    # Pins: a table with no rows (an Arrow stream without batches) still has its columns: an
    # empty worklist, not "required column is missing"; an account without cycles is decided.
    accounts, history = small_portfolio()
    none = pa.array([False] * accounts.num_rows)
    empty = scorer.score(accounts.filter(none), history.slice(0, 0), now=NOW)
    assert empty.num_rows == 0 and empty.column_names == WORKLIST_COLUMNS
    alone = scorer.score(accounts, history.slice(0, 0), now=NOW)
    assert alone.num_rows == 3
