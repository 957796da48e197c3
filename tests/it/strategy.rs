//! Collection strategy through the gRPC API: contact caps from the request's contact history,
//! promises to pay, and champion/challenger experiments (split and shadow).

use crate::common;

use common::{default_config, repo, risky_account, TestServer};
use payrisk::grpc::proto::v1 as pb;
use payrisk::policy::{Arm, Experiment, ExperimentMode};
use payrisk::serve::deployment::Deployment;
use tonic::Code;
use tonic_types::StatusExt;

/// 2025-01-15 16:00 UTC (11:00 in New York, within the contact hours): two weeks after the
/// sample accounts' last statement.
const NOW: i64 = 1_736_956_800;

fn at(days_ago: f64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: NOW - (days_ago * 86_400.0) as i64,
        nanos: 0,
    })
}

fn call(days_ago: f64, outcome: pb::ContactOutcome) -> pb::ContactAttempt {
    pb::ContactAttempt {
        at: at(days_ago),
        channel: "phone".into(),
        outcome: outcome as i32,
    }
}

fn request(account: pb::Account) -> pb::ScoreRequest {
    pb::ScoreRequest {
        account: Some(account),
        decision_time: at(0.0),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_contact_history_caps_calls_and_the_response_says_why() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    // A high-risk account 90+ days past due: the ladder's firm action at 90+ is an agency
    // referral, so use one at 30+, where the firm action is a call.
    let mut account = common::account("cap-1", 12, 0.0, 35);
    let first = client
        .score(request(account.clone()))
        .await
        .expect("score")
        .into_inner();
    assert_eq!(first.treatment(), pb::Treatment::Firm);
    let action = first.next_action.clone().expect("action");
    assert_eq!((action.action.as_str(), action.guard), ("call", None));

    // Seven calls this week: the eighth is not allowed, a text goes instead.
    account.contacts = (0..7)
        .map(|k| call(0.5 + f64::from(k) * 0.9, pb::ContactOutcome::NoAnswer))
        .collect();
    let capped = client
        .score(request(account.clone()))
        .await
        .expect("score")
        .into_inner();
    let action = capped.next_action.expect("action");
    assert_eq!(action.channel, "sms");
    let guard = action.guard.expect("the response says why");
    assert_eq!(
        (
            guard.blocked_action.as_str(),
            guard.blocked_channel.as_str(),
            guard.rule.as_str()
        ),
        ("call", "phone", "max_attempts")
    );
    assert_eq!(
        guard.reason,
        "7 phone attempts in the last 7 days (at most 7)"
    );
    // The model's view is unchanged: contacts are not model inputs.
    assert_eq!(capped.repayment_probability, first.repayment_probability);

    // A conversation two days ago: a quiet week.
    account.contacts = vec![call(2.0, pb::ContactOutcome::Conversation)];
    let quiet = client
        .score(request(account.clone()))
        .await
        .expect("score")
        .into_inner();
    let guard = quiet.next_action.and_then(|a| a.guard).expect("guard");
    assert_eq!(guard.rule, "quiet_period");

    // A week later (the decision time moves on), calls may resume.
    let mut later = request(account);
    later.decision_time = Some(prost_types::Timestamp {
        seconds: NOW + 6 * 86_400,
        nanos: 0,
    });
    let resumed = client.score(later).await.expect("score").into_inner();
    assert_eq!(
        resumed.next_action.map(|a| a.action),
        Some("call".to_owned())
    );
    server.stop().await;
}

#[tokio::test]
async fn a_pending_promise_holds_and_a_broken_one_is_firm() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let date = |y, m, d| common::date(y, m, d);
    let mut account = common::good_account("ptp-1");
    account.promises = vec![pb::PromiseToPay {
        promised_on: date(2025, 1, 10),
        due: date(2025, 1, 20),
        amount: 500.0,
        status: pb::PromiseStatus::Pending as i32,
    }];
    let held = client
        .score(request(account.clone()))
        .await
        .expect("score")
        .into_inner();
    assert_eq!(
        held.next_action.map(|a| a.action),
        Some("await_promise".to_owned())
    );
    assert_eq!(held.priority, 0.0);

    account.promises[0].status = pb::PromiseStatus::Broken as i32;
    account.promises[0].due = date(2025, 1, 12);
    let firm = client
        .score(request(account))
        .await
        .expect("score")
        .into_inner();
    assert_eq!(firm.treatment(), pb::Treatment::Firm);
    assert!(firm
        .next_action
        .is_some_and(|a| a.rationale.contains("broken promises")));
    server.stop().await;
}

#[tokio::test]
async fn bad_contacts_and_promises_name_their_fields() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut account = common::good_account("bad-1");
    account.contacts = vec![
        pb::ContactAttempt {
            at: None,
            channel: String::new(),
            outcome: 0,
        },
        pb::ContactAttempt {
            at: at(1.0),
            channel: "phone".into(),
            outcome: 99,
        },
    ];
    account.promises = vec![pb::PromiseToPay {
        promised_on: common::date(2025, 1, 10),
        due: common::date(2025, 1, 5),
        amount: f64::NAN,
        status: pb::PromiseStatus::Kept as i32,
    }];
    let status = client.score(request(account)).await.expect_err("invalid");
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = status
        .get_details_bad_request()
        .expect("BadRequest")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(
        fields,
        [
            "account.promises[0].due",
            "account.promises[0].amount",
            "account.contacts[0].at",
            "account.contacts[0].channel",
            "account.contacts[0].outcome",
            "account.contacts[1].outcome",
        ]
    );
    let bad_time = pb::ScoreRequest {
        account: Some(common::good_account("t")),
        decision_time: Some(prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        }),
        ..Default::default()
    };
    let status = client.score(bad_time).await.expect_err("bad time");
    assert_eq!(
        status
            .get_details_bad_request()
            .expect("BadRequest")
            .field_violations[0]
            .field,
        "decision_time"
    );
    server.stop().await;
}

/// The shipped policy plus an experiment whose challenger is the logistic model.
fn experiment_server_config(
    dir: &std::path::Path,
    mode: &str,
) -> payrisk::grpc::server::ServerConfig {
    let shipped = std::fs::read_to_string(repo("models/policy.toml")).expect("policy");
    let policy = format!(
        "{shipped}\n[experiment]\nname = \"logistic-trial\"\nshare = 0.3\nmode = \"{mode}\"\nchallenger_model = \"{}\"\n",
        repo(payrisk::serve::LOGISTIC_MODEL).display()
    );
    let path = dir.join("policy.toml");
    std::fs::write(&path, policy).expect("write policy");
    payrisk::grpc::server::ServerConfig {
        policy: path,
        ..default_config()
    }
}

fn trial(mode: ExperimentMode) -> Experiment {
    Experiment {
        name: "logistic-trial".into(),
        share: 0.3,
        mode,
        challenger_model: None,
        challenger_policy: None,
        control: None,
    }
}

#[tokio::test]
async fn split_experiments_assign_accounts_stably_and_count_each_arm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_with(experiment_server_config(dir.path(), "split")).await;
    let mut client = server.client().await;
    let expected = trial(ExperimentMode::Split);
    let accounts: Vec<pb::Account> = (0..200)
        .map(|i| risky_account(&format!("acct-{i}")))
        .collect();
    let mut challengers = 0;
    for a in &accounts {
        let r = client
            .score(request(a.clone()))
            .await
            .expect("score")
            .into_inner();
        let arm = expected.arm(&a.account_id);
        assert_eq!(r.arm, arm.as_str());
        // The challenger is the logistic model (version 1), the champion the default (2).
        let version = if arm == Arm::Challenger { "1" } else { "2" };
        assert_eq!(r.model_version, version);
        assert!(r.shadow.is_none());
        challengers += usize::from(arm == Arm::Challenger);
    }
    assert!((40..80).contains(&challengers), "{challengers} of 200");

    // The batch path assigns the same arms and gives the same answers.
    let batch = client
        .score_batch(pb::ScoreBatchRequest {
            accounts: accounts.clone(),
            decision_time: at(0.0),
            ..Default::default()
        })
        .await
        .expect("batch")
        .into_inner();
    for (a, result) in accounts.iter().zip(&batch.results) {
        let Some(pb::score_result::Outcome::Score(r)) = &result.outcome else {
            panic!("scored");
        };
        assert_eq!(r.arm, expected.arm(&a.account_id).as_str());
    }

    let info = client
        .get_model_info(pb::GetModelInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.arms.len(), 2);
    let (champion, challenger) = (&info.arms[0], &info.arms[1]);
    assert_eq!(
        (champion.arm.as_str(), challenger.arm.as_str()),
        ("champion", "challenger")
    );
    assert_eq!(challenger.model_version, "1");
    assert_eq!(challenger.share, 0.3);
    assert_eq!(challenger.decisions, 2 * challengers as u64);
    assert_eq!(champion.decisions, 2 * (200 - challengers) as u64);
    server.stop().await;
}

#[tokio::test]
async fn shadow_experiments_report_the_challenger_without_acting_on_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_with(experiment_server_config(dir.path(), "shadow")).await;
    let mut client = server.client().await;
    let expected = trial(ExperimentMode::Shadow);
    let plain = TestServer::start().await;
    let mut plain_client = plain.client().await;
    for i in 0..60 {
        let a = risky_account(&format!("acct-{i}"));
        let r = client
            .score(request(a.clone()))
            .await
            .expect("score")
            .into_inner();
        let alone = plain_client
            .score(request(a.clone()))
            .await
            .expect("score")
            .into_inner();
        // The champion decides every account, exactly as without the experiment.
        assert_eq!(r.arm, "champion");
        assert_eq!(r.repayment_probability, alone.repayment_probability);
        assert_eq!(r.next_action, alone.next_action);
        match expected.arm(&a.account_id) {
            Arm::Challenger => {
                let shadow = r.shadow.expect("a shadow decision");
                assert_eq!(shadow.model_version, "1");
                assert_ne!(shadow.repayment_probability, r.repayment_probability);
            }
            Arm::Champion | Arm::Control => assert!(r.shadow.is_none()),
        }
    }
    server.stop().await;
    plain.stop().await;
}

#[tokio::test]
async fn an_experiment_whose_challenger_cannot_load_stops_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = experiment_server_config(dir.path(), "split");
    let text = std::fs::read_to_string(&config.policy).expect("policy");
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        text.replace(
            &format!(
                "challenger_model = \"{}\"",
                repo(payrisk::serve::LOGISTIC_MODEL).display()
            ),
            "challenger_model = \"missing/model.json\"",
        ),
    )
    .expect("write");
    config.policy = broken;
    let err = config.load().expect_err("missing challenger").to_string();
    assert!(err.contains("missing/model.json"), "{err}");
}

/// Compliance holds are the law, not a strategy: a challenger policy takes the champion's holds
/// (one that declares its own is refused at load), so an account in the challenger's arm, under
/// a challenger that is firm with everyone, is still held for bankruptcy, disputes and the rest,
/// still kept off opted-out channels and still waits outside the contact hours.
#[tokio::test]
async fn compliance_holds_override_experiments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shipped = std::fs::read_to_string(repo("models/policy.toml")).expect("policy");
    let holds_start = shipped.find("\n[compliance]").expect("the shipped holds");
    // The challenger: firm with everyone, and no holds of its own.
    let challenger = shipped[..holds_start]
        .replace(
            "firm_min_prior_delinquencies = 3",
            "firm_min_prior_delinquencies = 0",
        )
        .replace("version = \"", "version = \"firm-");
    std::fs::write(dir.path().join("firm.toml"), &challenger).expect("write");
    let champion = format!(
        "{shipped}\n[experiment]\nname = \"all-firm\"\nshare = 1.0\nmode = \"split\"\nchallenger_policy = \"firm.toml\"\n"
    );
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, &champion).expect("write");
    let server = TestServer::start_with(payrisk::grpc::server::ServerConfig {
        policy: policy.clone(),
        ..default_config()
    })
    .await;
    let mut client = server.client().await;

    let with = |set: fn(&mut pb::Compliance)| {
        let mut a = common::account("held", 12, 0.0, 35);
        let mut c = pb::Compliance::default();
        set(&mut c);
        a.compliance = Some(c);
        a
    };
    type Case = (fn(&mut pb::Compliance), &'static str, &'static str);
    let cases: [Case; 7] = [
        (|c| c.bankruptcy = true, "bankruptcy", "bankruptcy_hold"),
        (|c| c.deceased = true, "deceased", "deceased_review"),
        (
            |c| c.dispute_pending = true,
            "dispute_pending",
            "dispute_hold",
        ),
        (
            |c| c.cease_communication = true,
            "cease_communication",
            "no_contact",
        ),
        (
            |c| c.attorney_represented = true,
            "attorney_represented",
            "contact_attorney",
        ),
        (
            |c| c.opted_out_channels = vec!["phone".into()],
            "opted_out",
            "reminder",
        ),
        // 16:00 UTC is 01:00 in Tokyo.
        (
            |c| c.time_zone = "Asia/Tokyo".into(),
            "contact_hours",
            "wait",
        ),
    ];
    for (set, rule, action) in cases {
        let r = client
            .score(request(with(set)))
            .await
            .expect("score")
            .into_inner();
        assert_eq!(r.arm, "challenger");
        assert!(
            r.policy_version.starts_with("firm-"),
            "{}",
            r.policy_version
        );
        let next = r.next_action.expect("action");
        let guard = next.guard.expect("the hold says why");
        assert_eq!((guard.rule.as_str(), next.action.as_str()), (rule, action));
        if rule == "contact_hours" {
            // 08:00 in Tokyo, the same calendar day there: 2025-01-15 23:00 UTC.
            assert_eq!(
                guard.next_permitted_time.map(|t| t.seconds),
                Some(1_736_982_000)
            );
        }
    }
    // Without a hold the challenger's firm call goes ahead: the holds, not the arm, did that.
    let r = client
        .score(request(with(|_| {})))
        .await
        .expect("score")
        .into_inner();
    assert_eq!(r.next_action.map(|a| a.action), Some("call".to_owned()));
    server.stop().await;

    // A challenger that declares holds of its own does not load.
    std::fs::write(
        dir.path().join("firm.toml"),
        format!("{challenger}\n[compliance]\ncontact_hours = {{ start = \"06:00\" }}\n"),
    )
    .expect("write");
    let err = Deployment::load(&repo(payrisk::serve::DEFAULT_MODEL), &policy)
        .expect_err("a challenger with its own holds")
        .to_string();
    assert!(err.contains("cannot declare compliance holds"), "{err}");
}
