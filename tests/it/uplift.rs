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
