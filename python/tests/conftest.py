"""Shared fixtures: the repository, payrisk's binaries, the UCI tables and a small portfolio.

The binaries come from ``PAYRISK_BIN_DIR`` (``.ci/run`` sets it; a test that needs one fails
when it is set and the binary is absent), else the newest of ``target/{release,debug}`` (tests
that need them skip with a message when there are none). The real data is ``../shared/data/``.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import time
from pathlib import Path

import pyarrow as pa
import pytest

# grpcio's fork handlers abort a child forked after a channel was used (grpcio 1.80 on CPython
# 3.9: `subprocess.run` of payrisk-train died with SIGABRT before its exec); the tests fork to
# run the binaries, and none uses gRPC in a forked child.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
MODEL = REPO / "models" / "uci-credit" / "2" / "model.json"
POLICY = REPO / "models" / "policy.toml"
#: The decision time of every comparison: noon in New York, inside every contact window.
NOW = "2026-01-05T17:00:00Z"


def binary(name: str) -> Path:
    """payrisk's binary ``name``, or a skip (a failure when ``PAYRISK_BIN_DIR`` is set)."""
    given = os.environ.get("PAYRISK_BIN_DIR")
    if given:
        path = Path(given) / name
        if not path.exists():
            pytest.fail(f"PAYRISK_BIN_DIR={given} has no {name}")
        return path
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    found = [target / p / name for p in ("release", "debug") if (target / p / name).exists()]
    if not found:
        pytest.skip(f"no {name} built: run `cargo build --all-features --bins` first")
    return max(found, key=lambda p: p.stat().st_mtime)


def run(args: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=REPO, capture_output=True, text=True,
                          **kwargs)


@pytest.fixture(scope="session")
def uci_tables(tmp_path_factory) -> Path:
    """The UCI data as canonical CSV tables, converted by ``payrisk-train convert-uci``."""
    source = SHARED_DATA / "uci_credit_default.csv"
    if not source.exists():
        pytest.skip(f"{source} is absent: the UCI tests need the real data")
    out = tmp_path_factory.mktemp("uci")
    done = run([binary("payrisk-train"), "convert-uci", "--input", source, "--out", out])
    assert done.returncode == 0, done.stderr
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server():
    """payrisk-server on the shipped model and policy, on a free port: its address."""
    port = free_port()
    child = subprocess.Popen(
        [str(binary("payrisk-server")), "--addr", f"127.0.0.1:{port}",
         "--metrics-addr", "127.0.0.1:0"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert child.poll() is None, "payrisk-server exited"
            assert time.monotonic() < deadline, "payrisk-server did not come up"
            time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    child.terminate()
    child.wait(timeout=10)


def small_portfolio() -> tuple[pa.Table, pa.Table]:
    """Three accounts with their cycles, one of each fate: current, 60 days past due with a
    missing limit, in hardship."""
    accounts = pa.table({
        "account_id": ["A-2", "A-10", "B-1"],
        "as_of": [dt.date(2025, 6, 30)] * 3,
        "credit_limit": [5000.0, None, 2000.0],
        "current_balance": [1200.0, 4200.0, 1900.0],
        "months_on_book": [30, 12, 50],
        "open_credit_lines": [2, 1, 4],
        "prior_delinquencies": [0, 2, 1],
        "hardship": [0, 0, 1],
    })
    rows = []
    for account, dpd, paid in (("A-2", (0, 0, 0), 400.0), ("A-10", (0, 30, 60), 0.0),
                               ("B-1", (0, 0, 30), 50.0)):
        for k, (month, day) in enumerate(((4, 30), (5, 31), (6, 30))):
            rows.append({"account_id": account, "statement_date": dt.date(2025, month, day),
                         "amount_due": 1000.0 + 100 * k, "minimum_due": 50.0,
                         "amount_paid": paid, "days_past_due": dpd[k]})
    return accounts, pa.Table.from_pylist(rows)


_skipped: list = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    """With ``PAYRISK_NO_SKIPS`` (CI), a skipped test fails the run: CI has the data, the
    binaries, Java and pyspark, so a skip there would hide a test that did not run."""
    if os.environ.get("PAYRISK_NO_SKIPS") and _skipped and exitstatus == 0:
        print(f"\nerror: skipped with PAYRISK_NO_SKIPS set: {', '.join(_skipped)}")
        session.exitstatus = 1
