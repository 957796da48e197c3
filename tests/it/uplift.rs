//! The treatment-effect model end to end, from the command line's functions: a synthetic
//! portfolio decided offline through the one decision path with a randomised control over
//! three candidates (its audit records written as the server's), outcomes simulated with the
//! documented effect, `fit --model uplift`: the artifact loads, the held-out evaluation finds
//! the effects, the uplift policy comes close to the oracle on the simulator's truth, the page
//! shows the JSON's figures, and the fit refuses what it cannot learn from honestly.
#![cfg(feature = "train")]

use std::path::{Path, PathBuf};

use crate::common::{self, repo};
use payrisk::model::{Model, ModelParams};
use payrisk::train::cli::{self, FitArgs, GenerateArgs, ScoreArgs, SimulateArgs, TableArgs};

const ACCOUNTS: usize = 30_000;

/// The shipped policy with three candidates and a randomised control over them.
fn trial_policy(dir: &Path, control: &str) -> PathBuf {
    let shipped = std::fs::read_to_string(repo("models/policy.toml")).expect("policy");
    let text = format!(
        "{shipped}\n[[candidates]]\nname = \"none\"\ntreatment = \"soft\"\n\
         action = {{ action = \"no_contact\", channel = \"none\" }}\n\
         [[candidates]]\nname = \"soft\"\ntreatment = \"soft\"\n\
         [[candidates]]\nname = \"firm\"\ntreatment = \"firm\"\n\
         [experiment]\nname = \"trial\"\nshare = 0.05\nmode = \"split\"\n\
         challenger_model = \"{}\"\n[experiment.control]\nshare = 0.6\n{control}\n",
        repo(payrisk::serve::DEFAULT_MODEL).display()
    );
    let path = dir.join("trial.toml");
    std::fs::write(&path, text).expect("write policy");
    path
}

fn tables(dir: &Path) -> TableArgs {
    TableArgs {
        dir: dir.join("tables"),
        accounts: None,
        history: None,
        outcomes: None,
        ignore_unknown_columns: false,
        null_values: Vec::new(),
    }
}

/// Generates the portfolio, decides it with `policy` (audit on) and simulates the outcomes.
fn decide_and_simulate(dir: &Path, policy: &Path) {
    cli::generate(&GenerateArgs {
        accounts: ACCOUNTS,
        seed: 11,
        format: cli::TableFormat::Parquet,
        out: dir.join("tables"),
    })
    .expect("generate");
    cli::score(&ScoreArgs {
        model: repo(payrisk::serve::DEFAULT_MODEL),
        policy: policy.to_path_buf(),
        probabilities_only: false,
        tables: tables(dir),
        decision_time: Some("2026-01-05T17:00:00Z".parse().expect("time")),
        output: dir.join("worklist.parquet"),
        audit: Some(dir.join("audit.jsonl")),
    })
    .expect("score");
    cli::simulate(&SimulateArgs {
        decisions: dir.join("audit.jsonl"),
        synthetic: None,
        seed: 3,
        output: dir.join("events.parquet"),
    })
    .expect("simulate");
}

fn fit_args(dir: &Path, config: &Path, policy: &Path) -> FitArgs {
    use clap::Parser;
    #[derive(Parser)]
    struct Fit {
        #[command(flatten)]
        args: FitArgs,
    }
    let mut args = Fit::parse_from([
        "fit",
        "--model",
        "uplift",
        "--simulated-truth",
        "--as-of",
        "2026-06-01",
    ])
    .args;
    args.tables = tables(dir);
    args.config = Some(config.to_path_buf());
    args.models_dir = dir.join("models");
    args.uplift.decisions = Some(dir.join("audit.jsonl"));
    args.uplift.events = Some(dir.join("events.parquet"));
    args.uplift.policy = Some(policy.to_path_buf());
    args
}

const CONFIG: &str = "name = \"trial-uplift\"\n[gbdt]\ntrees = 300\nlearning_rate = 0.05\n\
     early_stopping_rounds = 30\n[uplift]\nlearner = \"dr\"\n\
     costs = { none = 0.0, soft = 0.5, firm = 4.0 }\n";

/// The fit learns from the randomised control: the artifact loads and serves each treatment's
/// probability, firm's and soft's effects against no contact rank above random (Qini > 0),
/// the uplift policy reaches 90 % of the oracle's gain, the arms are balanced, and the page's
/// figures are the JSON's.
#[test]
fn uplift_learns_from_a_randomised_control() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = trial_policy(dir.path(), "candidates = [\"none\", \"soft\", \"firm\"]");
    decide_and_simulate(dir.path(), &policy);
    let config = dir.path().join("uplift.toml");
    std::fs::write(&config, CONFIG).expect("config");
    let said = cli::fit(&fit_args(dir.path(), &config, &policy)).expect("fit");
    assert!(!said.contains("CONFOUNDED"), "{said}");
    let model_dir = dir.path().join("models/trial-uplift/1");
    let model = Model::load(&model_dir.join("model.json")).expect("the artifact loads");
    let uplift = model.uplift().expect("an uplift model");
    assert_eq!(
        (0..uplift.len())
            .map(|t| uplift.name(t))
            .collect::<Vec<_>>(),
        ["none", "soft", "firm"]
    );
    let ModelParams::Uplift { confounded, .. } = &model.artifact().model else {
        panic!("uplift kind");
    };
    assert!(!confounded);
    let metrics: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(model_dir.join("metrics.json")).expect("metrics"),
    )
    .expect("json");
    for e in metrics["effects"].as_array().expect("effects") {
        let qini = e["qini"].as_f64().expect("qini");
        assert!(qini > 0.0, "{e}");
    }
    let values = &metrics["policy_values"];
    let share = values["uplift_share_of_oracle"].as_f64().expect("share");
    assert!(share >= 0.9, "{values}");
    for b in metrics["balance"].as_array().expect("balance") {
        if b["segment"] == "all" {
            assert_eq!(b["flagged"], false, "{b}");
        }
    }
    let checked = common::assert_page_matches_json(
        &model_dir.join("report.html"),
        &model_dir.join("metrics.json"),
    );
    assert!(checked > 100, "{checked} figures checked");

    // Costs: every candidate's, none negative; the reference must be a candidate.
    for (bad, rule) in [
        (
            "costs = { none = 0.0, soft = 0.5 }",
            "no cost for the candidate `firm`",
        ),
        ("costs = { none = 0.0, soft = -0.5, firm = 4.0 }", ">= 0"),
        (
            "costs = { none = 0.0, soft = 0.5, firm = 4.0, call = 2.0 }",
            "`call` is not one",
        ),
    ] {
        std::fs::write(
            &config,
            CONFIG.replace("costs = { none = 0.0, soft = 0.5, firm = 4.0 }", bad),
        )
        .expect("config");
        let err = cli::fit(&fit_args(dir.path(), &config, &policy))
            .expect_err(rule)
            .to_string();
        assert!(err.contains(rule), "{err}");
    }
    // Too few accounts of a treatment to learn its effect.
    std::fs::write(&config, format!("{CONFIG}min_accounts = 1000000\n")).expect("config");
    let err = cli::fit(&fit_args(dir.path(), &config, &policy))
        .expect_err("too few")
        .to_string();
    assert!(err.contains("fewer than uplift.min_accounts"), "{err}");
}

/// Without a randomised control the fit refuses; with --allow-confounded (T-learner) it fits
/// and says so in its output, its artifact and its report.
#[test]
fn without_randomised_data_the_fit_refuses_or_says_it_is_confounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = trial_policy(
        dir.path(),
        "treatment = \"soft\"\naction = { action = \"no_contact\", channel = \"none\" }",
    );
    decide_and_simulate(dir.path(), &policy);
    let config = dir.path().join("uplift.toml");
    std::fs::write(&config, CONFIG).expect("config");
    let err = cli::fit(&fit_args(dir.path(), &config, &policy))
        .expect_err("no randomised control")
        .to_string();
    assert!(err.contains("no randomised data"), "{err}");
    let mut args = fit_args(dir.path(), &config, &policy);
    args.uplift.allow_confounded = true;
    let err = cli::fit(&args)
        .expect_err("DR without propensities")
        .to_string();
    assert!(err.contains("DR-learner needs known assignment"), "{err}");
    std::fs::write(&config, CONFIG.replace("\"dr\"", "\"t\"")).expect("config");
    let said = cli::fit(&args).expect("a confounded fit");
    assert!(said.starts_with("CONFOUNDED"), "{said}");
    let model_dir = dir.path().join("models/trial-uplift/1");
    let page = std::fs::read_to_string(model_dir.join("report.html")).expect("page");
    assert!(page.contains("id=\"confounded\""));
    let model = Model::load(&model_dir.join("model.json")).expect("loads");
    assert!(matches!(
        model.artifact().model,
        ModelParams::Uplift {
            confounded: true,
            ..
        }
    ));
}

/// Serving a treatment-effect model: `Score`, `ScoreBatch` and `ScoreStream` return each candidate's
/// probability and expected net recovery (`p × balance − cost`) and the best; the policy in
/// uplift mode follows it unless hardship, a promise or a hold comes first; the uplift reasons
/// add up to the difference of the outcome margins less their expected values (1e-9); the
/// hand-encoded batch reply is prost's.
#[tokio::test(flavor = "multi_thread")]
async fn a_served_uplift_model_reports_and_chooses_each_candidate() {
    use payrisk::grpc::proto::v1 as pb;
    use prost::Message;
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = trial_policy(dir.path(), "candidates = [\"none\", \"soft\", \"firm\"]");
    decide_and_simulate(dir.path(), &policy);
    let config = dir.path().join("uplift.toml");
    std::fs::write(&config, CONFIG.replace("\"dr\"", "\"t\"")).expect("config");
    cli::fit(&fit_args(dir.path(), &config, &policy)).expect("fit");
    let model_path = dir.path().join("models/trial-uplift/1/model.json");
    // The shipped policy in uplift mode, with the model's candidates.
    let shipped = std::fs::read_to_string(repo("models/policy.toml")).expect("policy");
    let serve_policy = dir.path().join("serve.toml");
    let trial = std::fs::read_to_string(&policy).expect("trial");
    let candidates = &trial[trial.find("[[candidates]]").expect("candidates")
        ..trial.find("[experiment]").expect("experiment")];
    let text = shipped.replace(
        "firm_min_prior_delinquencies = 3\n",
        "firm_min_prior_delinquencies = 3\nmode = \"uplift\"\n",
    ) + "\n"
        + candidates;
    std::fs::write(&serve_policy, &text).expect("write");
    let model = Model::load(&model_path).expect("model");
    let expected_difference = |t: usize| {
        let n = model.spec().len();
        let (mut out, mut tmp) = (vec![0.0; n], vec![0.0; n]);
        let mut scratch = payrisk::model::ModelScratch::default();
        model
            .effect_contributions(t, &vec![0.0; n], &mut out, &mut tmp, &mut scratch)
            .expect("uplift")
            .1
    };
    let server = crate::common::TestServer::start_with(payrisk::grpc::server::ServerConfig {
        model: model_path.clone(),
        policy: serve_policy.clone(),
        ..crate::common::default_config()
    })
    .await;
    let mut client = server.client().await;
    let mut accounts: Vec<payrisk::domain::Account> = (0..300)
        .map(|i| payrisk::train::synthetic::account(99, i).0)
        .collect();
    accounts[7].compliance.bankruptcy = true;
    let at = Some(prost_types::Timestamp {
        seconds: 1_767_632_400,
        nanos: 0,
    });
    let logit = |p: f64| (p / (1.0 - p)).ln();
    let (mut by_uplift, mut best_seen) = (0, std::collections::BTreeSet::new());
    let mut unary = Vec::new();
    let proto = |a: &payrisk::domain::Account| {
        let mut p = crate::common::to_proto(a);
        if a.compliance.bankruptcy {
            p.compliance = Some(pb::Compliance {
                bankruptcy: true,
                ..Default::default()
            });
        }
        p
    };
    for a in &accounts {
        let r = client
            .score(pb::ScoreRequest {
                account: Some(proto(a)),
                max_reasons: Some(32),
                decision_time: at,
            })
            .await
            .expect("score")
            .into_inner();
        let names: Vec<&str> = r
            .treatment_options
            .iter()
            .map(|o| o.name.as_str())
            .collect();
        assert_eq!(names, ["none", "soft", "firm"]);
        let balance = a.profile.current_balance.unwrap_or(0.0).max(0.0);
        for o in &r.treatment_options {
            let value = o.repayment_probability * balance - o.cost;
            assert!((o.expected_net_recovery - value).abs() < 1e-9);
        }
        let best = (0..3)
            .max_by(|&x, &y| {
                let v = |t: usize| r.treatment_options[t].expected_net_recovery;
                v(x).total_cmp(&v(y)).then(y.cmp(&x))
            })
            .expect("best");
        assert_eq!(r.best_treatment, names[best]);
        best_seen.insert(best);
        let rationale = &r.next_action.as_ref().expect("action").rationale;
        if rationale.contains("uplift model") {
            by_uplift += 1;
        }
        if best > 0 {
            let p = |t: usize| r.treatment_options[t].repayment_probability;
            let sum: f64 = r.uplift_reasons.iter().map(|x| x.contribution).sum();
            let want = logit(p(best)) - logit(p(0)) - expected_difference(best);
            assert!((sum - want).abs() < 1e-9, "{sum} {want}");
        } else {
            assert!(r.uplift_reasons.is_empty());
        }
        unary.push(r);
    }
    assert!(best_seen.len() >= 2, "{best_seen:?}");
    assert!(
        by_uplift > 200,
        "{by_uplift} of 300 decided by the uplift choice"
    );
    let held = unary[7].next_action.as_ref().expect("action");
    assert_eq!(held.action, "bankruptcy_hold");
    assert!(held.guard.is_some());
    // The batch path: the same options and choices.
    let request = pb::ScoreBatchRequest {
        accounts: accounts.iter().map(proto).collect(),
        decision_time: at,
        max_reasons: Some(0),
        ..Default::default()
    };
    let batch = client
        .score_batch(request.clone())
        .await
        .expect("batch")
        .into_inner();
    for (res, one) in batch.results.iter().zip(&unary) {
        let Some(pb::score_result::Outcome::Score(s)) = &res.outcome else {
            panic!("scored");
        };
        assert_eq!(s.treatment_options, one.treatment_options);
        assert_eq!(s.best_treatment, one.best_treatment);
        assert_eq!(s.next_action, one.next_action);
    }
    // The stream: the same options, chunk by chunk.
    let chunks: Vec<pb::ScoreBatchRequest> = request
        .accounts
        .chunks(100)
        .enumerate()
        .map(|(b, part)| pb::ScoreBatchRequest {
            accounts: part.to_vec(),
            batch_id: b as u64,
            ..request.clone()
        })
        .collect();
    let mut stream = client
        .score_stream(tokio_stream::iter(chunks))
        .await
        .expect("stream")
        .into_inner();
    let mut streamed = 0;
    while let Some(reply) = tokio_stream::StreamExt::next(&mut stream).await {
        let reply = reply.expect("chunk");
        for res in &reply.results {
            let Some(pb::score_result::Outcome::Score(s)) = &res.outcome else {
                panic!("scored");
            };
            let one = &unary[reply.batch_id as usize * 100 + res.index as usize];
            assert_eq!(s.treatment_options, one.treatment_options);
            assert_eq!(s.best_treatment, one.best_treatment);
            streamed += 1;
        }
    }
    assert_eq!(streamed, accounts.len());
    server.stop().await;
    // The hand encoder writes prost's bytes for these replies, reasons and all.
    let deployment =
        payrisk::serve::Deployment::load(&model_path, &serve_policy).expect("deployment");
    for max_reasons in [0, 4] {
        let request = pb::ScoreBatchRequest {
            max_reasons: Some(max_reasons),
            ..request.clone()
        };
        let decided = payrisk::grpc::scoring::score_batch(&deployment, request).expect("batch");
        assert_eq!(
            payrisk::grpc::wire::encode::BatchReply::encode(&decided).as_bytes(),
            payrisk::grpc::convert::batch_response(&decided).encode_to_vec()
        );
    }
    // A day's plan of the trial's portfolio within capacities: exact with one, within its
    // reported gap with three; every capacity kept; the page shows plan.json's figures.
    let plan_args = |capacity: &str, out: &str| cli::PlanArgs {
        tables: tables(dir.path()),
        model: model_path.clone(),
        policy: serve_policy.clone(),
        capacity: capacity.parse().expect("capacity"),
        decision_time: Some("2026-01-05T17:00:00Z".parse().expect("time")),
        output: dir.path().join(format!("{out}.csv")),
        out: dir.path().join(out),
    };
    for (capacity, out) in [
        ("phone=1500", "one"),
        ("phone=1500,letter=300,agency=200", "three"),
    ] {
        let said = cli::plan(&plan_args(capacity, out)).expect("plan");
        let report: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(out).join("plan.json")).expect("json"),
        )
        .expect("json");
        assert_eq!(report["accounts"], ACCOUNTS as u64, "{said}");
        for c in report["channels"].as_array().expect("channels") {
            if let Some(cap) = c["capacity"].as_u64() {
                assert!(c["plan"].as_u64().expect("plan") <= cap, "{c}");
            }
        }
        let value = report["plan_value"].as_f64().expect("value");
        let bound = report["bound"].as_f64().expect("a bound");
        assert!(bound >= value - 1e-6 * value.abs());
        let gap = report["relative_gap"].as_f64().expect("gap");
        if out == "one" {
            assert!(gap < 1e-12, "one capacity is exact: {gap}");
        } else {
            assert!(gap < 1e-3, "{gap}");
        }
        assert!(value > report["reference_value"].as_f64().expect("reference"));
        let checked = common::assert_page_matches_json(
            &dir.path().join(out).join("plan.html"),
            &dir.path().join(out).join("plan.json"),
        );
        assert!(checked > 20, "{checked}");
        let worklist = std::fs::read_to_string(dir.path().join(format!("{out}.csv"))).expect("csv");
        assert_eq!(worklist.lines().count(), ACCOUNTS + 1);
    }
    let err = cli::plan(&plan_args("pigeon=10", "bad"))
        .expect_err("unknown channel")
        .to_string();
    assert!(err.contains("`pigeon`"), "{err}");
    assert!("phone=ten"
        .parse::<payrisk::train::plan::Capacities>()
        .is_err());
    assert!("phone=1,phone=2"
        .parse::<payrisk::train::plan::Capacities>()
        .is_err());

    // Threshold against uplift: the champion in uplift mode, the challenger the same policy in
    // threshold mode, on the same model; each arm decides by its own mode.
    let end = shipped.find("\n[compliance]").expect("compliance");
    let cut = shipped[..end]
        .rfind("\n# Compliance holds")
        .expect("its comment");
    std::fs::write(
        dir.path().join("threshold.toml"),
        format!("{}\n{candidates}", &shipped[..cut])
            .replace("version = \"2026-11-26.1\"", "version = \"threshold\""),
    )
    .expect("write");
    let experiment = dir.path().join("experiment.toml");
    std::fs::write(
        &experiment,
        format!(
            "{text}\n[experiment]\nname = \"modes\"\nshare = 0.5\nmode = \"split\"\n\
             challenger_policy = \"threshold.toml\"\n"
        ),
    )
    .expect("write");
    let both = payrisk::serve::Deployment::load(&model_path, &experiment).expect("experiment");
    let refs: Vec<&payrisk::domain::Account> = accounts.iter().collect();
    let at: chrono::DateTime<chrono::Utc> = "2026-01-05T17:00:00Z".parse().expect("time");
    let mut by_arm = std::collections::HashMap::<&str, (u32, u32)>::new();
    both.decide_many(&refs, 0, at, |_, d| {
        assert!(d.options.is_some(), "both arms report the options");
        let e = by_arm.entry(d.arm.as_str()).or_default();
        e.0 += 1;
        e.1 += u32::from(d.decision.rationale == payrisk::policy::Rationale::Uplift);
    });
    let (champion, challenger) = (by_arm["champion"], by_arm["challenger"]);
    assert!(champion.0 > 100 && challenger.0 > 100, "{by_arm:?}");
    assert!(
        champion.1 > champion.0 / 2,
        "the champion decides by uplift: {by_arm:?}"
    );
    assert_eq!(challenger.1, 0, "the challenger by threshold: {by_arm:?}");

    // A policy that does not know a treatment of the model is refused at load, naming it.
    std::fs::write(
        &serve_policy,
        text.replace("name = \"firm\"", "name = \"call\""),
    )
    .expect("w");
    let err = payrisk::serve::Deployment::load(&model_path, &serve_policy)
        .expect_err("unknown treatment")
        .to_string();
    assert!(
        err.contains("`firm` is not one of the policy's [[candidates]]"),
        "{err}"
    );
    assert!(err.contains("serve.toml"), "{err}");
}
