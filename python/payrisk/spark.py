"""Portfolio scoring on Spark: payrisk's engine inside ``mapInArrow``, so a portfolio too big
for one machine is decided by the server's own code on every executor.

Two steps, each one Spark job:

1. :func:`nest_portfolio` turns the flat canonical tables (accounts, and payment history with
   one row per account and cycle) into one dataset: an accounts row per account with its
   ``history`` as a list of cycles, partitioned by a hash of the account id (``part=0`` ..
   ``part=N-1``). An account and all its cycles then sit in one file: no executor needs another's
   rows, and a batch is always whole accounts.
2. :func:`score_portfolio` reads that dataset and decides every account in ``mapInArrow``: each
   Arrow batch becomes the two canonical tables again (the list flattened, without a copy of
   the values) and goes through :meth:`payrisk.Scorer.score`. The worklist is then ranked in
   the collectors' order (priority, then the riskier account, then the id: numeric ids by
   value) and written as Parquet.

The model artifact and the policy travel to the executors with ``SparkContext.addFile``; each
Python worker loads them once (about 0.2 s) and keeps them for its later tasks.

Needs ``pyspark`` (``pip install payrisk[spark]``) and Java 17 or later.
"""

from __future__ import annotations

import os
from typing import Any, Iterator, Optional

import pyarrow as pa
import pyarrow.compute as pc

from .scorer import Scorer

#: The worklist's Spark schema as ``mapInArrow`` yields it (the rank is added after).
DECISION_SCHEMA = (
    "account_id string, arm string, repayment_probability double, score double, "
    "risk_band string, treatment string, action string, channel string, stage string, "
    "rationale string, priority double, contact_guard string, guard_rule string, "
    "next_permitted_time string, model_version string, shadow_probability double, "
    "shadow_treatment string, shadow_action string, shadow_model_version string"
)
REASONS_SCHEMA = ("reasons array<struct<code: string not null, contribution: double not null, "
                  "value: double, text: string not null>>")
HISTORY_COLUMNS = ["statement_date", "amount_due", "minimum_due", "amount_paid", "days_past_due"]

_scorers: dict = {}


def _scorer(model: str, policy: str) -> Scorer:
    """This worker's scorer for the files shipped as ``model`` and ``policy``."""
    key = (model, policy)
    if key not in _scorers:
        from pyspark import SparkFiles

        _scorers[key] = Scorer(SparkFiles.get(model), SparkFiles.get(policy))
    return _scorers[key]


def split_batch(batch: pa.RecordBatch) -> tuple:
    """A nested portfolio batch as the two canonical tables: (accounts, history)."""
    nested = batch.column(batch.schema.get_field_index("history"))
    cycles = pc.list_flatten(nested)
    owners = pc.take(batch.column(batch.schema.get_field_index("account_id")),
                     pc.list_parent_indices(nested))
    history = pa.Table.from_arrays(
        [owners] + [cycles.field(name) for name in HISTORY_COLUMNS],
        names=["account_id"] + HISTORY_COLUMNS)
    keep = [n for n in batch.schema.names if n not in ("history", "part")]
    return pa.Table.from_batches([batch]).select(keep), history


def nest_portfolio(spark: Any, accounts: str, history: str, out: str,
                   partitions: int = 16) -> None:
    """Writes the flat canonical tables at ``accounts`` and ``history`` (Parquet) as one dataset
    at ``out``: each account with its cycles in a ``history`` list, partitioned by
    ``pmod(xxhash64(account_id), partitions)`` into ``part=K`` directories."""
    from pyspark.sql import functions as F

    cycles = (spark.read.parquet(history)
              .groupBy("account_id")
              .agg(F.array_sort(F.collect_list(F.struct(*HISTORY_COLUMNS))).alias("history")))
    (spark.read.parquet(accounts)
     .join(cycles, "account_id", "left")
     .withColumn("history", F.coalesce("history", F.array().cast(cycles.schema["history"].dataType)))
     .withColumn("part", F.pmod(F.xxhash64("account_id"), F.lit(partitions)))
     .repartition(partitions, "part")
     .write.mode("overwrite").partitionBy("part").parquet(out))


def score_portfolio(spark: Any, portfolio: str, out: Optional[str], model: str, policy: str,
                    *, now: str, reasons: int = 0, threads_per_task: int = 1) -> Any:
    """Decides every account of the nested ``portfolio`` dataset at ``now`` (RFC 3339) with
    ``model`` and ``policy``, ranks them in the collectors' order and, with ``out``, writes the
    worklist there as Parquet. Returns the ranked DataFrame.

    ``threads_per_task``: threads each task decides on (Spark already runs a task per core)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spark.sparkContext.addFile(os.fspath(model))
    spark.sparkContext.addFile(os.fspath(policy))
    model_name, policy_name = os.path.basename(model), os.path.basename(policy)

    def decide(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        scorer = _scorer(model_name, policy_name)
        for batch in batches:
            if batch.num_rows == 0:
                continue
            accounts, history = split_batch(batch)
            worklist = scorer.score(accounts, history, now=now, reasons=reasons,
                                    threads=threads_per_task, output="arrow")
            yield from worklist.drop_columns(["rank"]).to_batches()

    schema = DECISION_SCHEMA + (", " + REASONS_SCHEMA if reasons else "")
    decided = spark.read.parquet(portfolio).mapInArrow(decide, schema)
    order = Window.orderBy(F.desc("priority"), F.asc("repayment_probability"),
                           F.length("account_id"), F.asc("account_id"))
    ranked = decided.withColumn("rank", F.row_number().over(order).cast("long"))
    ranked = ranked.select("rank", *[c for c in ranked.columns if c != "rank"])
    if out is not None:
        ranked.write.mode("overwrite").parquet(out)
    return ranked
