//! The synthetic portfolio: what the generator writes is exactly what training reads back, in
//! either format, byte for byte the same for a seed, and learnable out of time.
#![cfg(feature = "train")]

use payrisk::train::fit::{fit_logistic, FitConfig};
use payrisk::train::synthetic::{account, generate, Format, PortfolioSpec};
use payrisk::train::tables::load;

const SPEC: PortfolioSpec = PortfolioSpec {
    accounts: 3_000,
    seed: 42,
};

#[test]
fn csv_and_parquet_tables_load_back_to_the_generated_accounts() {
    for format in [Format::Csv, Format::Parquet] {
        let dir = tempfile::tempdir().expect("tempdir");
        let g = generate(SPEC, dir.path(), format).expect("generate");
        assert_eq!(g.accounts, SPEC.accounts);
        let set = load(&g.paths).expect("the generated tables are valid");
        assert_eq!(set.rows.len(), SPEC.accounts, "{format:?}");
        assert_eq!(
            set.rows
                .iter()
                .map(|r| r.account.history.len())
                .sum::<usize>(),
            g.cycles
        );
        for (i, row) in set.rows.iter().enumerate() {
            let (expected, repaid) = account(SPEC.seed, i);
            assert_eq!(row.account, expected, "{format:?}, account {i}");
            assert_eq!(row.repaid, repaid);
        }
        assert_eq!(set.rows.iter().filter(|r| !r.repaid).count(), g.defaulted);
    }
}

#[test]
fn the_same_seed_writes_the_same_bytes() {
    let (a, b) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let first = generate(SPEC, a.path(), Format::Csv).expect("generate");
    let second = generate(SPEC, b.path(), Format::Csv).expect("generate");
    for (x, y) in [
        (&first.paths.accounts, &second.paths.accounts),
        (&first.paths.history, &second.paths.history),
        (&first.paths.outcomes, &second.paths.outcomes),
    ] {
        assert_eq!(
            std::fs::read(x).expect("read"),
            std::fs::read(y).expect("read")
        );
    }
    let other = tempfile::tempdir().expect("tempdir");
    let reseeded = generate(
        PortfolioSpec { seed: 43, ..SPEC },
        other.path(),
        Format::Csv,
    )
    .expect("generate");
    assert_ne!(
        std::fs::read(&first.paths.history).expect("read"),
        std::fs::read(&reseeded.paths.history).expect("read")
    );
}

#[test]
fn a_model_learns_the_portfolio_out_of_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let g = generate(
        PortfolioSpec {
            accounts: 8_000,
            seed: 7,
        },
        dir.path(),
        Format::Parquet,
    )
    .expect("generate");
    let set = load(&g.paths).expect("valid");
    let config = FitConfig {
        name: "synthetic".into(),
        version: "1".into(),
        split: "time:2025-09-30".parse().expect("split"),
        l2_penalty: 1.0,
        max_iterations: 300,
        calibration: None,
        transforms: Default::default(),
    };
    let fitted = fit_logistic(&set, &g.paths, &config).expect("fit");
    let m = fitted.artifact.metrics;
    // Three later months held out (a quarter of the snapshots).
    let share = m.test.rows as f64 / set.rows.len() as f64;
    assert!((0.2..0.3).contains(&share), "{share}");
    // The hidden risk shows through the profile and the history.
    assert!(m.test.auc > 0.72, "{:?}", m.test);
    assert!(m.test.ece < 0.05, "{:?}", m.test);
}

#[test]
fn a_portfolio_is_scored_offline_exactly_as_served_and_ranked_by_priority() {
    use payrisk::serve::deployment::Deployment;
    use payrisk::train::tables::load_portfolio;
    use payrisk::train::worklist::{rank, write};

    let dir = tempfile::tempdir().expect("tempdir");
    let g = generate(SPEC, dir.path(), Format::Parquet).expect("generate");
    // No outcomes needed: the same accounts as the labelled load.
    let accounts =
        load_portfolio(&g.paths.accounts, &g.paths.history, &g.paths.read).expect("portfolio");
    let labelled = load(&g.paths).expect("valid");
    assert!(accounts
        .iter()
        .zip(&labelled.rows)
        .all(|(a, l)| *a == l.account));

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let deployment = Deployment::load(
        &root.join(payrisk::serve::DEFAULT_MODEL),
        &root.join(payrisk::serve::DEFAULT_POLICY),
    )
    .expect("shipped model and policy");
    let now = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("time");
    let ranked = rank(&deployment, &accounts, now);
    assert_eq!(ranked.len(), accounts.len());
    assert!(ranked.windows(2).all(|w| w[0].priority >= w[1].priority));
    assert!(ranked
        .iter()
        .enumerate()
        .all(|(k, e)| e.rank == k as u64 + 1));
    // Each entry is what the serving engine decides for that account.
    let engine = deployment.champion();
    let mut scratch = engine.scratch();
    for e in ranked.iter().step_by(97) {
        let a = accounts
            .iter()
            .find(|a| a.account_id == e.account_id)
            .expect("account");
        let served = engine.score(a, 0, now, &mut scratch);
        assert_eq!(e.probability, served.probability);
        assert_eq!(e.action, served.decision.action.action);
        assert_eq!(e.priority, served.decision.priority);
    }

    let out = dir.path().join("worklist/scores.parquet");
    write(&ranked, &out).expect("write");
    use polars::prelude::SerReader;
    let df = polars::prelude::ParquetReader::new(std::fs::File::open(&out).expect("open"))
        .finish()
        .expect("read back");
    assert_eq!(df.height(), ranked.len());
    assert_eq!(df.get_column_names()[..2], ["rank", "account_id"]);
}

#[test]
fn offline_shadow_experiments_report_the_challenger_beside_the_unchanged_champion() {
    use payrisk::policy::Arm;
    use payrisk::serve::deployment::Deployment;
    use payrisk::train::worklist::{rank, write};

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tempdir");
    let shipped =
        std::fs::read_to_string(root.join(payrisk::serve::DEFAULT_POLICY)).expect("policy");
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "{shipped}\n[experiment]\nname = \"logistic-trial\"\nshare = 0.3\nmode = \"shadow\"\nchallenger_model = \"{}\"\n",
            root.join(payrisk::serve::LOGISTIC_MODEL).display()
        ),
    )
    .expect("write policy");
    let model = root.join(payrisk::serve::DEFAULT_MODEL);
    let shadowed = Deployment::load(&model, &policy).expect("experiment");
    let plain =
        Deployment::load(&model, &root.join(payrisk::serve::DEFAULT_POLICY)).expect("shipped");
    let accounts: Vec<_> = (0..2_000).map(|i| account(SPEC.seed, i).0).collect();
    let now = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("time");

    let ranked = rank(&shadowed, &accounts, now);
    // The champion decides every account exactly as without the experiment.
    let baseline = rank(&plain, &accounts, now);
    assert_eq!(ranked.len(), baseline.len());
    for (e, b) in ranked.iter().zip(&baseline) {
        assert_eq!(
            (&e.account_id, e.probability, &e.action),
            (&b.account_id, b.probability, &b.action)
        );
        assert_eq!(e.arm, "champion");
    }
    // The challenger scores its share, and only it.
    let challenger = shadowed.challenger().expect("challenger");
    let mut scratch = challenger.scratch();
    let mut shadows = 0;
    for (e, a) in ranked.iter().map(|e| {
        let a = accounts
            .iter()
            .find(|a| a.account_id == e.account_id)
            .expect("account");
        (e, a)
    }) {
        match shadowed.arm(&a.account_id) {
            Arm::Challenger => {
                let s = e.shadow.as_ref().expect("a shadow decision");
                let expected = challenger.score(a, 0, now, &mut scratch);
                assert_eq!(s.probability, expected.probability);
                assert_eq!(s.action, expected.decision.action.action);
                assert_eq!(s.model_version, "1");
                shadows += 1;
            }
            Arm::Champion | Arm::Control => assert!(e.shadow.is_none()),
        }
    }
    assert!(
        (450..750).contains(&shadows),
        "{shadows} of 2000 at a 0.3 share"
    );
    assert_eq!(shadowed.decisions(Arm::Challenger), shadows as u64);

    let out = dir.path().join("scores.parquet");
    write(&ranked, &out).expect("write");
    use polars::prelude::SerReader;
    let df = polars::prelude::ParquetReader::new(std::fs::File::open(&out).expect("open"))
        .finish()
        .expect("read back");
    let column = df.column("shadow_probability").expect("shadow column");
    assert_eq!(df.height() - column.null_count(), shadows);
}
