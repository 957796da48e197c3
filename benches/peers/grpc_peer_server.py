"""A peer of payrisk-server for load comparisons: a Python grpcio server implementing the same
proto (payrisk.v1.ScoringService: Score, ScoreBatch, ScoreStream, plus grpc.health.v1), scoring
with the LightGBM Python package.

It does the same work per account as payrisk: the same 36 features (a line-by-line port of
src/features.rs `derive_base`), a LightGBM model of the shipped default's shape (132 trees, at
most 15 leaves, learning rate 0.03, trained at start on `data/uci/features.csv`), the default
policy's band, soft/firm treatment and ladder action, priority, and for `Score` the top 4
reason codes from LightGBM's own TreeSHAP (`pred_contrib`). Streams and batches are scored as
one matrix per message (LightGBM's fast path).

    scripts/python-env.sh
    cargo run --features train --bin payrisk-train -- features        # data/uci/features.csv
    .venv/bin/python benches/peers/grpc_peer_server.py --port 50090 &
    cargo bench --bench loadgen -- --addr 127.0.0.1:50090 --seconds 8 --phases unary,max,stream

Not part of CI.
"""

import argparse
import math
import os
import sys
import tempfile
from concurrent import futures

import grpc
import lightgbm as lgb
import numpy as np
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_tools import protoc

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RECENT = 12
UTIL_CAP = 3.0
RATIO_CAP = 2.0
NAMES = [
    "dpd_current", "dpd_30_current", "dpd_60_current", "dpd_90_current", "dpd_max_3",
    "dpd_max_6", "dpd_max_12", "dpd_trend_3", "delinquent_cycles_6", "delinquent_cycles_12",
    "missed_payments_12", "short_payments_12", "full_payments_12", "pay_ratio_last",
    "pay_ratio_mean_3", "pay_ratio_mean_12", "cycles_since_full_payment", "utilisation",
    "utilisation_max_12", "balance_trend_3", "log_credit_limit", "log_balance", "log_paid_last",
    "log_paid_total_3", "paid_to_limit_3", "zero_balance_cycles_12", "history_cycles",
    "days_since_last_statement", "log_months_on_book", "open_credit_lines",
    "prior_delinquencies", "bureau_score", "bureau_score_missing", "log_income",
    "income_missing", "hardship",
]
NAN = float("nan")
BANDS = [("A", 0.90), ("B", 0.80), ("C", 0.65), ("D", 0.45), ("E", 0.0)]
LADDER = [
    (120, "120+", ("demand_letter", "letter"), ("legal_referral", "legal")),
    (90, "90+", ("call", "phone"), ("agency_referral", "agency")),
    (60, "60+", ("payment_plan_offer", "email"), ("demand_letter", "letter")),
    (30, "30+", ("reminder", "email"), ("call", "phone")),
    (0, "current", ("reminder", "sms"), ("reminder_call", "phone")),
]


def load_proto():
    """Generates and imports the Python stubs of the payrisk proto."""
    out = tempfile.mkdtemp(prefix="payrisk-peer-")
    proto_dir = os.path.join(ROOT, "proto")
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    rc = protoc.main([
        "protoc", f"-I{proto_dir}", f"-I{include}", f"--python_out={out}",
        f"--grpc_python_out={out}", os.path.join(proto_dir, "payrisk/v1/scoring.proto"),
    ])
    if rc != 0:
        sys.exit("protoc failed")
    sys.path.insert(0, out)
    from payrisk.v1 import scoring_pb2, scoring_pb2_grpc  # noqa: E402
    return scoring_pb2, scoring_pb2_grpc


def days(d):
    """Days since 0001-01-01 of a payrisk Date message (proleptic Gregorian)."""
    import datetime
    return datetime.date(d.year, d.month, d.day).toordinal()


def ln1p(x):
    return math.log1p(max(x, 0.0))


def features(a):
    """The 36 base features of one account, as src/features.rs `derive_base`."""
    h = list(a.history)
    start = max(len(h) - RECENT, 0)
    recent = h[start:]
    n = len(recent)
    p = a.profile
    limit = p.credit_limit

    def per_limit(x):
        return x / limit if limit > 0.0 else NAN

    def dpd_at(back):
        return float(recent[n - 1 - back].days_past_due) if n >= 1 + back else 0.0

    def max_dpd(k):
        w = recent[max(n - k, 0):]
        return float(max(c.days_past_due for c in w)) if w else 0.0

    def delinquent(k):
        return float(sum(1 for c in recent[max(n - k, 0):] if c.days_past_due >= 30))

    cur = dpd_at(0)
    f = [cur, float(cur >= 30), float(cur >= 60), float(cur >= 90), max_dpd(3), max_dpd(6),
         max_dpd(12), cur - dpd_at(min(n - 1, 3)) if n >= 2 else 0.0, delinquent(6),
         delinquent(12)]
    # Payments against the previous statement.
    observed = missed = short = full = count3 = since_full = 0
    ratio_sum = ratio_sum3 = 0.0
    ratio_last = NAN
    first = max(start, 1)
    total = max(len(h) - first, 0)
    for k in range(total):
        prev, c = h[first - 1 + k], h[first + k]
        paid = c.amount_paid
        if prev.amount_due > 0.0:
            if paid <= 0.0:
                missed += 1
            elif paid < prev.minimum_due:
                short += 1
            is_full = paid >= prev.amount_due
            full += int(is_full)
            ratio, paid_up = min(paid / prev.amount_due, RATIO_CAP), is_full
        else:
            ratio, paid_up = 1.0, True
        observed += 1
        ratio_sum += ratio
        if k + 3 >= total:
            ratio_sum3 += ratio
            count3 += 1
        ratio_last = ratio
        since_full = 0 if paid_up else since_full + 1
    f += [float(missed), float(short), float(full), ratio_last,
          ratio_sum3 / count3 if count3 else NAN, ratio_sum / observed if observed else NAN,
          float(since_full) if observed else NAN]
    last_due = recent[-1].amount_due if n else 0.0
    max_due = max([c.amount_due for c in recent] + [0.0])
    paid_last = recent[-1].amount_paid if n else 0.0
    paid3 = sum(c.amount_paid for c in recent[max(n - 3, 0):])
    if n >= 2:
        base = recent[n - 1 - min(n - 1, 3)].amount_due
        trend = min(max(per_limit(last_due - base), -UTIL_CAP), UTIL_CAP)
    else:
        trend = NAN
    f += [min(per_limit(p.current_balance), UTIL_CAP), min(per_limit(max_due), UTIL_CAP), trend,
          ln1p(limit), ln1p(p.current_balance), ln1p(paid_last), ln1p(paid3),
          min(per_limit(paid3), UTIL_CAP), float(sum(1 for c in recent if c.amount_due <= 0.0)),
          float(n),
          float(days(a.as_of) - days(recent[-1].statement_date)) if n else NAN,
          ln1p(p.months_on_book), float(p.open_credit_lines), float(p.prior_delinquencies),
          p.bureau_score if p.HasField("bureau_score") else NAN,
          float(not p.HasField("bureau_score")),
          ln1p(p.annual_income) if p.HasField("annual_income") else NAN,
          float(not p.HasField("annual_income")), float(p.hardship)]
    return f


def train(path):
    """LightGBM of the shipped default's shape, on the UCI training rows."""
    import csv
    with open(path) as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    cols = [header.index(name) for name in NAMES]
    train_rows = [r for r in rows[1:] if r[1] == "train"]
    x = np.array([[float(r[j]) if r[j] != "" else np.nan for j in cols] for r in train_rows])
    y = np.array([int(r[2]) for r in train_rows])
    params = dict(objective="binary", learning_rate=0.03, num_leaves=15, max_depth=6,
                  min_child_samples=20, lambda_l2=1.0, bagging_fraction=0.8, bagging_freq=1,
                  feature_fraction=0.8, seed=42, verbose=-1, num_threads=1)
    return lgb.train(params, lgb.Dataset(x, y), num_boost_round=132)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=50090)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--features", default=os.path.join(ROOT, "data/uci/features.csv"))
    args = ap.parse_args()
    pb, pb_grpc = load_proto()
    booster = train(args.features)

    def decide(account, prob):
        band = next(name for name, lo in BANDS if prob >= lo)
        dpd = account.history[-1].days_past_due if len(account.history) else 0
        stage = next(s for s in LADDER if dpd >= s[0])
        p = account.profile
        if p.hardship:
            treatment, (action, channel), why = pb.TREATMENT_SOFT, ("payment_plan_offer", "phone"), "hardship"
        elif p.prior_delinquencies >= 3 or prob < 0.70:
            treatment, (action, channel), why = pb.TREATMENT_FIRM, stage[3], "firm"
        elif prob >= 0.92:
            treatment, (action, channel), why = pb.TREATMENT_SOFT, ("reminder", "sms"), "self-cure"
        else:
            treatment, (action, channel), why = pb.TREATMENT_SOFT, stage[2], "soft"
        odds = max(min(prob, 1 - 1e-9), 1e-9)
        return pb.ScoreResponse(
            account_id=account.account_id, repayment_probability=prob,
            score=600.0 + 20.0 * math.log2(odds / (1 - odds) / 50.0), risk_band=band,
            treatment=treatment,
            next_action=pb.NextAction(action=action, channel=channel, stage=stage[1],
                                      rationale=why),
            priority=(1.0 - prob) * p.current_balance, model_name="lightgbm-peer",
            model_version="1", policy_version="peer", arm="champion")

    def score_many(accounts, reasons):
        x = np.array([features(a) for a in accounts], dtype=np.float64)
        # LightGBM predicts default (label = repaid in features.csv, so this is repayment).
        probs = booster.predict(x, num_threads=1)
        out = [decide(a, float(pr)) for a, pr in zip(accounts, probs)]
        if reasons:
            contrib = booster.predict(x, pred_contrib=True, num_threads=1)
            for r, c in zip(out, contrib):
                top = np.argsort(-np.abs(c[:-1]))[:reasons]
                r.reasons.extend(pb.ReasonCode(code=NAMES[j], contribution=float(c[j]),
                                               value=0.0, text=NAMES[j]) for j in top)
        return out

    class Servicer(pb_grpc.ScoringServiceServicer):
        def Score(self, request, context):
            reasons = request.max_reasons if request.HasField("max_reasons") else 4
            return score_many([request.account], reasons)[0]

        def ScoreBatch(self, request, context):
            reasons = request.max_reasons if request.HasField("max_reasons") else 4
            scored = score_many(list(request.accounts), reasons)
            return pb.ScoreBatchResponse(
                batch_id=request.batch_id,
                results=[pb.ScoreResult(index=i, account_id=r.account_id, score=r)
                         for i, r in enumerate(scored)])

        def ScoreStream(self, request_iterator, context):
            for request in request_iterator:
                yield self.ScoreBatch(request, context)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers),
                         options=[("grpc.max_receive_message_length", 64 << 20),
                                  ("grpc.max_send_message_length", 64 << 20)])
    pb_grpc.add_ScoringServiceServicer_to_server(Servicer(), server)
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    print(f"peer serving on 127.0.0.1:{args.port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
