//! Scoring-path benchmarks: feature derivation + logistic scoring for accounts with 12 cycles of
//! history, on the shipped default model and policy.
//!
//! Run: `cargo bench --bench scoring`. Throughput is reported in accounts per second (elements/s)
//! on one core; the target is at least 1,000,000 accounts/s for `features+logistic`.

#[path = "support/pb_accounts.rs"]
mod pb_accounts;

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use payrisk::domain::Account;
use payrisk::features::{derive_base, N_BASE};
use payrisk::grpc::proto::v1 as pb;
use payrisk::grpc::wire::encode::BatchReply;
use payrisk::model::gbdt::Tree;
use payrisk::model::{Model, ModelParams, ModelScratch};
use payrisk::policy::Policy;
use payrisk::scoring::Engine;
use prost::Message;

const ACCOUNTS: usize = 1024;

/// Deterministic, varied accounts with 12 monthly cycles each: the load generator's requests,
/// validated as the server validates them.
fn accounts() -> Vec<Account> {
    pb_accounts::accounts(ACCOUNTS)
        .into_iter()
        .map(|a| {
            payrisk::grpc::convert::account(Some(a), payrisk::grpc::convert::AccountPath::Single)
                .unwrap_or_else(|v| panic!("a valid account: {v:?}"))
        })
        .collect()
}

fn engine() -> Engine {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model =
        Model::load(&root.join(payrisk::serve::LOGISTIC_MODEL)).unwrap_or_else(|e| panic!("{e}"));
    let policy = Policy::load(&root.join("models/policy.toml")).unwrap_or_else(|e| panic!("{e}"));
    Engine::new(model, policy)
}

/// A synthetic gradient-boosted model of `trees` full trees of depth `depth` over the shipped
/// feature list, with thresholds drawn from the accounts' own feature values (so that splits
/// branch as they would on real data).
fn synthetic_gbdt(accounts: &[Account], trees: usize, depth: u32) -> Engine {
    let base = engine();
    let spec = base.model().spec().clone();
    let p = spec.len();
    let mut rows = Vec::with_capacity(accounts.len());
    for a in accounts {
        let mut x = vec![0.0; p];
        spec.derive(a, &mut x);
        rows.push(x);
    }
    let mut state: u64 = 7;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let trees: Vec<Tree> = (0..trees)
        .map(|_| {
            let internal = (1usize << depth) - 1;
            let total = (1usize << (depth + 1)) - 1;
            let mut t = Tree::with_nodes(total);
            for i in 0..total {
                t.cover[i] = 1.0 / f64::from(1u32 << (usize::BITS - (i + 1).leading_zeros() - 1));
                if i < internal {
                    let f = (next() % p as u64) as usize;
                    let row = &rows[(next() % rows.len() as u64) as usize];
                    t.split_feature[i] = f as i32;
                    t.threshold[i] = if row[f].is_nan() { 0.0 } else { row[f] };
                    t.left[i] = (2 * i + 1) as u32;
                    t.right[i] = (2 * i + 2) as u32;
                    t.default_left[i] = next() % 2 == 0;
                } else {
                    t.value[i] = ((next() % 2001) as f64 - 1000.0) / 1e5;
                }
            }
            t
        })
        .collect();
    let mut artifact = base.model().artifact().clone();
    artifact.model = ModelParams::Gbdt {
        base_score: 1.2,
        trees,
        monotone: Vec::new(),
        provenance: serde_json::Value::Null,
    };
    let model = Model::from_artifact(artifact).unwrap_or_else(|e| panic!("{e}"));
    Engine::new(model, base.policy().clone())
}

fn bench(c: &mut Criterion) {
    let accounts = accounts();
    let engine = engine();
    let now = chrono::DateTime::from_timestamp(pb_accounts::DECISION_SECONDS, 0)
        .unwrap_or_else(|| panic!("a valid decision time"));
    let mut group = c.benchmark_group("score_12_cycles");
    group.throughput(Throughput::Elements(ACCOUNTS as u64));

    group.bench_function("features", |b| {
        let mut out = [0.0; N_BASE];
        b.iter(|| {
            for a in &accounts {
                derive_base(black_box(a), &mut out);
                black_box(&out);
            }
        })
    });

    let mut scratch = engine.scratch();
    let mut inputs = vec![0.0; engine.model().spec().len()];
    group.bench_function("features+logistic", |b| {
        b.iter(|| {
            for a in &accounts {
                engine.model().spec().derive(black_box(a), &mut inputs);
                black_box(engine.model().probability(&inputs));
            }
        })
    });

    group.bench_function("decision", |b| {
        b.iter(|| {
            for a in &accounts {
                black_box(engine.score(black_box(a), 0, now, &mut scratch));
            }
        })
    });

    group.bench_function("decision+4_reasons", |b| {
        b.iter(|| {
            for a in &accounts {
                black_box(engine.score(black_box(a), 4, now, &mut scratch));
            }
        })
    });
    group.finish();

    let gbdt = synthetic_gbdt(&accounts, 300, 6);
    let mut group = c.benchmark_group("gbdt_300_trees_depth_6");
    group.throughput(Throughput::Elements(ACCOUNTS as u64));
    let mut inputs = vec![0.0; gbdt.model().spec().len()];
    group.bench_function("features+gbdt", |b| {
        b.iter(|| {
            for a in &accounts {
                gbdt.model().spec().derive(black_box(a), &mut inputs);
                black_box(gbdt.model().probability(&inputs));
            }
        })
    });
    let mut scratch = gbdt.scratch();
    group.bench_function("decision", |b| {
        b.iter(|| {
            for a in &accounts {
                black_box(gbdt.score(black_box(a), 0, now, &mut scratch));
            }
        })
    });
    // The ScoreBatch / ScoreStream path: features for the batch, then the trees walked for
    // several accounts at once, then the policy.
    let refs: Vec<&Account> = accounts.iter().collect();
    let mut out = Vec::with_capacity(refs.len());
    group.bench_function("decision_batch", |b| {
        b.iter(|| {
            out.clear();
            gbdt.score_many(black_box(&refs), now, &mut scratch, &mut out);
            black_box(&out);
        })
    });
    group.finish();

    // Exact TreeSHAP for reason codes is far costlier: measure it on fewer accounts.
    let few = &accounts[..64];
    let mut group = c.benchmark_group("gbdt_300_trees_depth_6_treeshap");
    group.throughput(Throughput::Elements(few.len() as u64));
    group.sample_size(10);
    group.bench_function("decision+4_reasons", |b| {
        b.iter(|| {
            for a in few {
                black_box(gbdt.score(black_box(a), 4, now, &mut scratch));
            }
        })
    });
    // The batch path with reasons (`ScoreBatch` with reasons, the worklist's `--reasons`):
    // contributions a block of accounts at a time.
    let few_refs: Vec<&Account> = few.iter().collect();
    group.bench_function("decision_batch+4_reasons", |b| {
        b.iter(|| {
            gbdt.score_many_with_reasons(
                black_box(&few_refs),
                4,
                now,
                &mut scratch,
                |_, s, r, _, _| {
                    black_box((s, r));
                },
            );
        })
    });
    // The model alone (inputs derived beforehand): every input's exact SHAP value, one account
    // at a time, then in blocks (each leaf's table row read once per block).
    let model = gbdt.model();
    let p = model.spec().len();
    let mut xs = vec![0.0; few.len() * p];
    for (row, a) in xs.chunks_exact_mut(p).zip(few) {
        model.spec().derive(a, row);
    }
    let (mut outs, mut margins) = (vec![0.0; xs.len()], vec![0.0; few.len()]);
    let mut model_scratch = ModelScratch::default();
    group.bench_function("contributions", |b| {
        b.iter(|| {
            for (x, out) in xs.chunks_exact(p).zip(outs.chunks_exact_mut(p)) {
                black_box(model.contributions(black_box(x), out, &mut model_scratch));
            }
        })
    });
    group.bench_function("contributions_batch", |b| {
        b.iter(|| {
            model.contributions_many(black_box(&xs), &mut outs, &mut margins, &mut model_scratch);
            black_box(&outs);
        })
    });
    group.finish();

    // The shipped default model (132 trees, at most 15 leaves): what `payrisk-server` serves.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = Engine::new(
        Model::load(&root.join(payrisk::serve::DEFAULT_MODEL)).unwrap_or_else(|e| panic!("{e}")),
        Policy::load(&root.join("models/policy.toml")).unwrap_or_else(|e| panic!("{e}")),
    );
    let mut scratch = shipped.scratch();
    let mut group = c.benchmark_group("default_model");
    group.throughput(Throughput::Elements(ACCOUNTS as u64));
    group.bench_function("decision", |b| {
        b.iter(|| {
            for a in &accounts {
                black_box(shipped.score(black_box(a), 0, now, &mut scratch));
            }
        })
    });
    group.bench_function("decision+4_reasons", |b| {
        b.iter(|| {
            for a in &accounts {
                black_box(shipped.score(black_box(a), 4, now, &mut scratch));
            }
        })
    });
    group.finish();

    // A treatment-effect model of two treatments, each the shipped model's trees, in uplift
    // mode, against the shipped model alone, both on the batch path (`ScoreBatch`).
    let uplift = two_treatments(root);
    let refs: Vec<&Account> = accounts.iter().collect();
    let mut out = Vec::with_capacity(ACCOUNTS);
    let mut uplift_scratch = uplift.scratch();
    let mut group = c.benchmark_group("uplift_batch");
    group.throughput(Throughput::Elements(ACCOUNTS as u64));
    group.bench_function("single_model", |b| {
        b.iter(|| {
            out.clear();
            shipped.score_many(black_box(&refs), now, &mut scratch, &mut out);
            black_box(out.len());
        })
    });
    group.bench_function("two_treatments", |b| {
        b.iter(|| {
            out.clear();
            uplift.score_many(black_box(&refs), now, &mut uplift_scratch, &mut out);
            black_box(out.len());
        })
    });
    group.finish();

    // The LightGBM model of `benches/peers/inference_compare.sh` (300 trees, at most 64 leaves,
    // depth 6), imported: the batch walk on the bench's varied accounts, model only.
    let imported = root.join("target/peers/inference/models/lightgbm-300/1/model.json");
    match Model::load(&imported) {
        Err(_) => eprintln!(
            "lightgbm_300_imported: skipped; run benches/peers/inference_compare.sh first to \
             train and import the model"
        ),
        Ok(model) => {
            let p = model.spec().len();
            let mut rows = vec![0.0; accounts.len() * p];
            for (row, a) in rows.chunks_exact_mut(p).zip(&accounts) {
                model.spec().derive(a, row);
            }
            let mut margins = vec![0.0; accounts.len()];
            let mut group = c.benchmark_group("lightgbm_300_imported");
            group.throughput(Throughput::Elements(ACCOUNTS as u64));
            group.bench_function("model_batch", |b| {
                b.iter(|| {
                    model.margins(black_box(&rows), &mut margins);
                    black_box(&margins);
                })
            });
            group.finish();
        }
    }
}

/// The shipped model's trees as both treatments of an uplift model (`none` 0.8 lower, `firm`
/// costing 4), with the shipped policy in uplift mode.
fn two_treatments(root: &Path) -> Engine {
    use payrisk::model::uplift::{Ensemble, Learner, TreatmentModel};
    let mut a = payrisk::model::Artifact::load(&root.join(payrisk::serve::DEFAULT_MODEL))
        .unwrap_or_else(|e| panic!("{e}"));
    let ModelParams::Gbdt {
        base_score, trees, ..
    } = a.model.clone()
    else {
        panic!("the shipped model is gradient-boosted");
    };
    let treatment = |name: &str, cost: f64, shift: f64| TreatmentModel {
        name: name.into(),
        cost,
        outcome: Ensemble {
            base_score: base_score + shift,
            trees: trees.clone(),
        },
        effect: None,
    };
    a.calibration = None;
    a.model = ModelParams::Uplift {
        learner: Learner::T,
        outcome: "repaid within 90 days".into(),
        treatments: vec![treatment("none", 0.0, -0.8), treatment("firm", 4.0, 0.0)],
        confounded: false,
    };
    let text = std::fs::read_to_string(root.join("models/policy.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
        .replace(
            "firm_min_prior_delinquencies = 3\n",
            "firm_min_prior_delinquencies = 3\nmode = \"uplift\"\n",
        )
        + "\n[[candidates]]\nname = \"none\"\ntreatment = \"soft\"\n\
           action = { action = \"no_contact\", channel = \"none\" }\n\
           [[candidates]]\nname = \"firm\"\ntreatment = \"firm\"\n";
    let model = Model::from_artifact(a).unwrap_or_else(|e| panic!("{e}"));
    let policy = Policy::from_toml(&text).unwrap_or_else(|e| panic!("{e}"));
    Engine::check(&model, &policy).unwrap_or_else(|e| panic!("{e}"));
    Engine::new(model, policy)
}

/// What the server does with one `ScoreStream` message of 1,000 accounts, without the network:
/// the counts checked before decoding (`limits`), protobuf decoding (the server's hand-written
/// decoder; `decode_prost` for comparison), validation, the batch decision on the default model
/// and the response's
/// encoding (`encode`, and `encode_prost` for comparison; the transport's share is what
/// `benches/loadgen.rs` adds on top).
fn stream_message(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let deployment = payrisk::serve::deployment::Deployment::load(
        &root.join(payrisk::serve::DEFAULT_MODEL),
        &root.join(payrisk::serve::DEFAULT_POLICY),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let request = pb::ScoreBatchRequest {
        accounts: pb_accounts::accounts(1_000),
        max_reasons: Some(0),
        decision_time: pb_accounts::decision_time(),
        ..Default::default()
    };
    let bytes = request.encode_to_vec();
    let batch = payrisk::grpc::scoring::score_batch(&deployment, request.clone())
        .unwrap_or_else(|e| panic!("{e:?}"));
    let response = payrisk::grpc::convert::batch_response(&batch);
    let mut out = Vec::with_capacity(response.encoded_len());
    let mut group = c.benchmark_group("stream_message_1000_accounts");
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("decode_prost", |b| {
        b.iter(|| black_box(pb::ScoreBatchRequest::decode(black_box(&bytes[..]))))
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            black_box(payrisk::grpc::wire::decode::score_batch_request(black_box(
                &bytes[..],
            )))
        })
    });
    group.bench_function("limits", |b| {
        b.iter(|| {
            black_box(payrisk::grpc::wire::limits::score_batch_request(black_box(
                &bytes[..],
            )))
        })
    });
    group.bench_function("validate+score", |b| {
        b.iter_batched(
            || request.clone(),
            |r| {
                black_box(
                    payrisk::grpc::scoring::score_batch(&deployment, r).map(|b| b.outcomes.len()),
                )
            },
            criterion::BatchSize::LargeInput,
        )
    });
    // The reply as the server encodes it, and as prost would from the same decisions.
    group.bench_function("encode", |b| {
        b.iter(|| black_box(BatchReply::encode(black_box(&batch)).as_bytes().len()))
    });
    group.bench_function("encode_prost", |b| {
        b.iter(|| {
            out.clear();
            payrisk::grpc::convert::batch_response(black_box(&batch))
                .encode(&mut out)
                .unwrap_or_default();
            black_box(out.len())
        })
    });
    group.bench_function("all", |b| {
        b.iter(|| {
            let bytes = black_box(&bytes[..]);
            let n = payrisk::grpc::wire::limits::score_batch_request(bytes)
                .unwrap_or_else(|e| panic!("{e:?}"));
            let r = payrisk::grpc::wire::decode::score_batch_request_for(bytes, n)
                .unwrap_or_else(|e| panic!("{e}"));
            let batch = payrisk::grpc::scoring::score_batch(&deployment, r)
                .unwrap_or_else(|e| panic!("{e:?}"));
            black_box(BatchReply::encode(&batch).as_bytes().len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench, stream_message);
criterion_main!(benches);
