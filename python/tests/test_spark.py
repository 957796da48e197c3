"""Spark local mode: a million synthetic accounts (``PAYRISK_SPARK_ACCOUNTS`` to change it),
nested per account and partitioned by account id, scored in ``mapInArrow`` and ranked: the
worklist is ``payrisk-train score``'s, row for row."""

from __future__ import annotations

import os
import shutil
import sys
import time

import pyarrow.parquet as pq
import pytest

from conftest import MODEL, NOW, POLICY, binary, run

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed (pip install payrisk[spark])")

ACCOUNTS = int(os.environ.get("PAYRISK_SPARK_ACCOUNTS", "1000000"))
COLUMNS = ["rank", "account_id", "arm", "repayment_probability", "score", "risk_band",
           "treatment", "action", "channel", "stage", "rationale", "priority", "contact_guard",
           "guard_rule", "next_permitted_time", "model_version"]


@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java: Spark needs Java 17 or later")
    from pyspark.sql import SparkSession

    # The workers run this interpreter, which has payrisk installed.
    os.environ["PYSPARK_PYTHON"] = sys.executable

    session = (SparkSession.builder.master("local[2]").appName("payrisk-test")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.driver.memory", "6g")
               .config("spark.sql.shuffle.partitions", "8")
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", "20000")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_scores_a_partitioned_portfolio_as_payrisk_train_does(spark, tmp_path):
    # Pins: nesting, partitioning, mapInArrow and the global rank give payrisk-train's worklist.
    from payrisk.spark import nest_portfolio, score_portfolio

    tables = tmp_path / "tables"
    done = run([binary("payrisk-train"), "generate", "--accounts", ACCOUNTS, "--seed", 7,
                "--out", tables])
    assert done.returncode == 0, done.stderr
    expected = tmp_path / "cli.parquet"
    done = run([binary("payrisk-train"), "score", "--accounts", tables / "accounts.parquet",
                "--history", tables / "payment_history.parquet", "--decision-time", NOW,
                "--output", expected])
    assert done.returncode == 0, done.stderr

    portfolio = tmp_path / "portfolio"
    started = time.perf_counter()
    nest_portfolio(spark, str(tables / "accounts.parquet"),
                   str(tables / "payment_history.parquet"), str(portfolio), partitions=8)
    nested = time.perf_counter()
    out = tmp_path / "worklist"
    score_portfolio(spark, str(portfolio), str(out), str(MODEL), str(POLICY), now=NOW)
    scored = time.perf_counter()
    print(f"\nspark local[2], {ACCOUNTS} accounts: nest {nested - started:.1f} s, "
          f"score and rank {scored - nested:.1f} s")

    parts = sorted(p for p in os.listdir(portfolio) if p.startswith("part="))
    assert len(parts) == 8
    got = pq.read_table(out).sort_by("rank").select(COLUMNS)
    want = pq.read_table(expected).select(COLUMNS)
    assert got.num_rows == want.num_rows == ACCOUNTS
    for name in COLUMNS:
        assert got.column(name).to_pylist() == want.column(name).to_pylist(), name
