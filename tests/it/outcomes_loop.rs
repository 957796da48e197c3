//! The outcomes loop end to end: synthetic portfolios scored through the real server with an
//! experiment (a challenger policy and a random control) and the audit log on; the log read
//! back as decisions; outcomes simulated with the known treatment effect; the events table
//! checked; the readout. Over 20 seeds the 95 % interval of each arm's difference from the
//! champion covers the simulated true difference in at least 18, and the verdict is right
//! whenever the true difference is large. The readout page's figures are the JSON's.
#![cfg(feature = "train")]

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};

use crate::common::{self, default_config, repo, to_proto, TestServer};
use payrisk::domain::Account;
use payrisk::grpc::proto::v1 as pb;
use payrisk::model::Model;
use payrisk::policy::Policy;
use payrisk::scoring::Engine;
use payrisk::serve::audit::{AuditConfig, AuditMode};
use payrisk::train::decisions::{self, DecisionRecord};
use payrisk::train::readout::{self, segments, stats::Estimate, Decided, ReadoutOptions};
use payrisk::train::simulate;

const SEEDS: u64 = 20;
const ACCOUNTS: usize = 5_000;

/// The shipped policy without its compliance section (a challenger takes the champion's).
fn without_compliance(text: &str) -> String {
    let end = text.find("\n[compliance]").unwrap_or(text.len());
    let start = text[..end].rfind("\n# Compliance holds").unwrap_or(end);
    text[..start].to_owned()
}

/// The champion (the shipped policy) and the challenger (soft whatever the score: only the
/// behaviour rules make it firm) in a split experiment with a 15 % no-contact control.
fn policies(dir: &Path) -> (std::path::PathBuf, Policy, Policy) {
    let shipped = std::fs::read_to_string(repo("models/policy.toml")).expect("policy");
    let challenger = without_compliance(&shipped)
        .replace("soft_min_probability = 0.70", "soft_min_probability = 0.0")
        .replace("version = \"2026-11-26.1\"", "version = \"softer\"");
    assert!(challenger.contains("soft_min_probability = 0.0\n"));
    std::fs::write(dir.join("challenger.toml"), &challenger).expect("write");
    let champion = format!(
        "{shipped}\n[experiment]\nname = \"loop\"\nshare = 0.4\nmode = \"split\"\n\
         challenger_policy = \"challenger.toml\"\n\n[experiment.control]\nshare = 0.15\n\
         treatment = \"soft\"\naction = {{ action = \"no_contact\", channel = \"none\" }}\n"
    );
    let path = dir.join("policy.toml");
    std::fs::write(&path, &champion).expect("write");
    (
        path,
        Policy::from_toml(&shipped).expect("champion"),
        Policy::from_toml(&challenger).expect("challenger"),
    )
}

/// Seed `seed`'s portfolio: synthetic accounts with ids of their own.
fn portfolio(seed: u64) -> Vec<Account> {
    (0..ACCOUNTS)
        .map(|i| {
            let (mut a, _) = payrisk::train::synthetic::account(1_000 + seed, i);
            a.account_id = format!("s{seed}-{i}");
            a
        })
        .collect()
}

/// 17:00 UTC (noon in New York, inside the contact hours), a day apart per seed.
fn decided_at(seed: u64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_632_400, 0).expect("time") + Duration::days(seed as i64)
}

/// The truth: challenger minus champion and control minus champion, on expected recovery per
/// account and cure probability, over the whole portfolio.
fn truth(accounts: &[Account], engines: &[Engine; 3], at: DateTime<Utc>) -> [(f64, f64); 2] {
    let mut sums = [[0.0f64; 2]; 3];
    for a in accounts {
        for (e, sum) in engines.iter().zip(sums.iter_mut()) {
            let s = e.score(a, 0, at, &mut e.scratch());
            let b = a.profile.current_balance.unwrap_or(0.0);
            let (t, c) = (
                s.decision.treatment.as_str(),
                s.decision.action.channel.as_str(),
            );
            sum[0] += simulate::expected_recovery(s.probability, b, t, c);
            sum[1] += simulate::cure_probability(s.probability, b, t, c);
        }
    }
    let n = accounts.len() as f64;
    [1, 2].map(|k| ((sums[k][0] - sums[0][0]) / n, (sums[k][1] - sums[0][1]) / n))
}

fn covers(e: &Estimate, truth: f64) -> bool {
    e.low <= truth && truth <= e.high
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readout_finds_the_simulated_effect_over_twenty_seeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (policy, champion_policy, challenger_policy) = policies(dir.path());
    let log = dir.path().join("audit");
    let server = TestServer::start_with(payrisk::grpc::server::ServerConfig {
        policy,
        audit: Some(AuditConfig {
            mode: AuditMode::Durable,
            ..AuditConfig::new(log.clone())
        }),
        ..default_config()
    })
    .await;
    let mut client = server.client().await;
    let portfolios: Vec<Vec<Account>> = (0..SEEDS).map(portfolio).collect();
    for (seed, accounts) in portfolios.iter().enumerate() {
        let at = decided_at(seed as u64);
        for chunk in accounts.chunks(1_000) {
            let reply = client
                .score_batch(pb::ScoreBatchRequest {
                    accounts: chunk.iter().map(to_proto).collect(),
                    decision_time: Some(prost_types::Timestamp {
                        seconds: at.timestamp(),
                        nanos: 0,
                    }),
                    ..Default::default()
                })
                .await
                .expect("score batch")
                .into_inner();
            assert!(reply
                .results
                .iter()
                .all(|r| matches!(r.outcome, Some(pb::score_result::Outcome::Score(_)))));
        }
    }
    server.stop().await;

    // The log, read back whole.
    let read = decisions::read(&log, false).expect("a clean log");
    assert_eq!(read.records.len(), SEEDS as usize * ACCOUNTS);
    let mut by_seed: HashMap<u64, Vec<DecisionRecord>> = HashMap::new();
    for r in read.records {
        let seed = r.account_id[1..]
            .split('-')
            .next()
            .and_then(|s| s.parse().ok());
        by_seed.entry(seed.expect("seed")).or_default().push(r);
    }
    let model = Model::load(&repo(payrisk::serve::DEFAULT_MODEL)).expect("model");
    let control_policy = {
        let text = std::fs::read_to_string(dir.path().join("policy.toml")).expect("policy");
        Policy::from_toml(&text)
            .expect("policy")
            .held_out()
            .expect("a control")
    };
    let engines = [
        Engine::new(model.clone(), champion_policy),
        Engine::new(model.clone(), challenger_policy),
        Engine::new(model, control_policy),
    ];

    let (mut covered, mut large, mut compared) = ([0u32; 4], 0, 0);
    for seed in 0..SEEDS {
        let records = &by_seed[&seed];
        let decided = Decided::of_records(records);
        let events_path = dir.path().join(format!("events-{seed}.csv"));
        simulate::write_simulated(&decided, seed, &events_path).expect("write events");
        // The events go through the table's checks like any analyst's file.
        let events =
            payrisk::train::events::read(&events_path, decided.index(), &Default::default(), false)
                .expect("the simulated events are valid");
        let at = decided_at(seed);
        let r = readout::readout(
            &decided,
            &events,
            None,
            &ReadoutOptions {
                window_days: 90,
                as_of: Some((at + Duration::days(100)).date_naive()),
                ..ReadoutOptions::default()
            },
        );
        assert_eq!(r.join.mature_decisions, ACCOUNTS as u64);
        assert_eq!(r.join.events_after_window, 0);
        let e = r.experiment.as_ref().expect("an experiment readout");
        assert_eq!(e.accounts, ACCOUNTS as u64);
        // Where the treatment matters: the champion's and the control's accounts in ten tenths
        // of probability; not contacting anyone lowers cures at every level of risk.
        let arm = |name: &str| e.arms.iter().find(|a| a.arm == name).expect("arm").accounts;
        assert_eq!(e.control_effect.len(), 10);
        assert_eq!(
            e.control_effect
                .iter()
                .map(|d| d.champion_accounts + d.control_accounts)
                .sum::<u64>(),
            arm("champion") + arm("control")
        );
        let helped = e
            .control_effect
            .iter()
            .filter(|d| d.cure.is_some_and(|c| c.estimate.value > 0.0))
            .count();
        // Random arms are alike before treatment.
        for c in &e.covariates {
            for smd in [c.balance_smd, c.days_past_due_smd].into_iter().flatten() {
                assert!(
                    smd.abs() < payrisk::train::readout::SMD_FLAG,
                    "seed {seed} {}: {smd}",
                    c.arm
                );
            }
        }
        assert!(
            helped >= 8,
            "seed {seed}: contact raised cures in only {helped} of 10 deciles"
        );
        let truths = truth(&portfolios[seed as usize], &engines, at);
        for (k, arm) in ["challenger", "control"].iter().enumerate() {
            let c = e
                .comparisons
                .iter()
                .find(|c| c.arm == *arm)
                .expect("a comparison");
            let (recovery, cure) = (c.recovery.expect("recovery"), c.cure.expect("cure"));
            let (true_recovery, true_cure) = truths[k];
            covered[2 * k] += u32::from(covers(&recovery.estimate, true_recovery));
            covered[2 * k + 1] += u32::from(covers(&cure.estimate, true_cure));
            // Large: more than three standard errors from 0. The verdict must then be right.
            let se = (recovery.estimate.high - recovery.estimate.low) / (2.0 * 1.96);
            compared += 1;
            if true_recovery.abs() > 3.0 * se {
                large += 1;
                let expected = if true_recovery > 0.0 {
                    "better"
                } else {
                    "worse"
                };
                assert_eq!(c.outcome, expected, "seed {seed} {arm}: {}", c.verdict);
            }
        }
        if seed == 0 {
            // The whole page: with a segment and the portfolio's roll rates, every figure drawn
            // is the JSON's.
            let accounts = &portfolios[0];
            let labels = segments::by_feature(accounts, "prior_delinquencies").expect("segment");
            let mut full = readout::readout(
                &decided,
                &events,
                Some(("prior_delinquencies", &labels)),
                &ReadoutOptions {
                    window_days: 90,
                    as_of: Some((at + Duration::days(100)).date_naive()),
                    ..ReadoutOptions::default()
                },
            );
            full.roll_rates = Some(readout::rolls::roll_rates(
                accounts,
                Some(("prior_delinquencies", &labels)),
            ));
            let out = std::env::var_os("PAYRISK_READOUT_EXAMPLE")
                .map_or_else(|| dir.path().join("readout"), std::path::PathBuf::from);
            payrisk::train::cli::write_readout(&full, &out).expect("write readout");
            let checked = common::assert_page_matches_json(
                &out.join("readout.html"),
                &out.join("readout.json"),
            );
            assert!(
                checked > 300,
                "only {checked} figures carry their JSON pointer"
            );
        }
    }
    // The verdict's metric (recovery per account) must be covered in 18 of 20 for each arm. The
    // cure rate is checked against bias: a 95 % interval covering 15 or fewer of 20 has
    // probability 3e-4.
    let least = [18, 16, 18, 16];
    let names = [
        "challenger recovery",
        "challenger cure",
        "control recovery",
        "control cure",
    ];
    eprintln!("covered of {SEEDS}: {names:?} = {covered:?}; large true differences: {large} of {compared}");
    for k in 0..4 {
        assert!(
            covered[k] >= least[k],
            "{}: the interval covered the truth in {} of {SEEDS}",
            names[k],
            covered[k]
        );
    }
    assert!(
        large > 0,
        "no seed had a large true difference ({compared} compared)"
    );
}
