"""payrisk from Python against payrisk-train score on the same portfolio, alternating rounds;
then the same portfolio on Spark local mode, per core against the in-process path.

Usage (run.sh makes the venv, the binary and the data):
    python benches/python/score_compare.py DATA_DIR PAYRISK_TRAIN ROUNDS [--spark]
"""

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models/uci-credit/2/model.json"
POLICY = REPO / "models/policy.toml"
NOW = "2026-01-05T17:00:00Z"

IN_PROCESS = f"""
import sys, time, pyarrow.parquet as pq, payrisk
data, threads = sys.argv[1], (int(sys.argv[2]) or None)
scorer = payrisk.Scorer({str(MODEL)!r}, {str(POLICY)!r})
accounts = pq.read_table(data + "/accounts.parquet")
history = pq.read_table(data + "/payment_history.parquet")
started = time.perf_counter()
worklist = scorer.score(accounts, history, now={NOW!r}, threads=threads)
scored = time.perf_counter() - started
pq.write_table(worklist, data + "/python-worklist.parquet")
print(scored)
"""


def timed(args):
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        sys.exit(done.stderr)
    return time.perf_counter() - started, done.stdout


def main():
    data, train, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    accounts = int(subprocess.run(
        [sys.executable, "-c", f"import pyarrow.parquet as pq; print(pq.read_metadata({data + '/accounts.parquet'!r}).num_rows)"],
        capture_output=True, text=True).stdout)
    cli = [train, "score", "--accounts", f"{data}/accounts.parquet", "--history",
           f"{data}/payment_history.parquet", "--decision-time", NOW,
           "--output", f"{data}/cli-worklist.parquet"]
    print(f"{accounts:,} accounts; whole command (read Parquet, validate, decide, rank, write)")
    print("round  payrisk-train score  python in-process  ratio")
    ratios = []
    for r in range(1, rounds + 1):
        cli_s, _ = timed(cli)
        py_s, _ = timed([sys.executable, "-c", IN_PROCESS, data, "0"])
        ratios.append(cli_s / py_s)
        print(f"{r:5}  {cli_s:7.2f} s {accounts / cli_s:9,.0f}/s  {py_s:7.2f} s {accounts / py_s:9,.0f}/s  {cli_s / py_s:.2f}")
    print(f"python throughput / payrisk-train throughput: {min(ratios):.2f}-{max(ratios):.2f}")
    if "--spark" in sys.argv:
        spark_rounds(data, accounts)


def spark_rounds(data, accounts):
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession
    from payrisk.spark import nest_portfolio, score_portfolio

    cores = os.cpu_count()
    spark = (SparkSession.builder.master(f"local[{cores}]").appName("payrisk-bench")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", "6g").config("spark.sql.shuffle.partitions", "8")
             .config("spark.sql.execution.arrow.maxRecordsPerBatch", "20000").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    started = time.perf_counter()
    nest_portfolio(spark, f"{data}/accounts.parquet", f"{data}/payment_history.parquet",
                   f"{data}/portfolio", partitions=8)
    nest_s = time.perf_counter() - started
    _, one = timed([sys.executable, "-c", IN_PROCESS, data, "1"])
    one_core = accounts / float(one)
    print(f"\nspark local[{cores}]: nest {nest_s:.1f} s (once)")
    print("round  spark decide+rank+write  per core   in-process 1 thread (decide only)  spark/in-process per core")
    for r in range(1, 4):
        started = time.perf_counter()
        score_portfolio(spark, f"{data}/portfolio", f"{data}/spark-worklist", str(MODEL), str(POLICY), now=NOW)
        s = time.perf_counter() - started
        per_core = accounts / s / cores
        print(f"{r:5}  {s:7.2f} s {accounts / s:9,.0f}/s  {per_core:9,.0f}/s   {one_core:9,.0f}/s   {per_core / one_core:.2f}")
    spark.stop()


if __name__ == "__main__":
    main()
