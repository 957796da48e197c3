//! Training-table validation: every rule gives a row-level error naming file, row and column,
//! and CSV and Parquet inputs load to the same training set.
#![cfg(feature = "train")]

use std::path::Path;

use payrisk::train::tables::{load, load_with, TablePaths};
use payrisk::train::TrainError;

const ACCOUNTS: &str = "\
account_id,as_of,credit_limit,current_balance,months_on_book,open_credit_lines,prior_delinquencies,bureau_score,annual_income,hardship,attr_region_risk
A1,2025-03-31,1000,500,24,2,0,700,30000,0,0.2
A2,2025-03-31,2000,0,12,1,1,,,1,
A3,2025-03-31,1500,1400,6,3,4,610.5,,0,0.9
";
const HISTORY: &str = "\
account_id,statement_date,amount_due,minimum_due,amount_paid,days_past_due
A1,2025-02-28,400,40,0,0
A1,2025-01-31,300,30,0,0
A1,2025-03-31,500,50,400,0
A2,2025-03-31,0,0,100,0
A3,2025-02-28,1300,130,0,30
A3,2025-03-31,1400,140,0,60
";
const OUTCOMES: &str = "\
account_id,repaid
A1,1
A2,1
A3,0
";

use crate::common::write_tables as write;

#[test]
fn valid_tables_load_sorted_with_attributes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = load(&write(dir.path(), ACCOUNTS, HISTORY, OUTCOMES)).expect("valid");
    assert_eq!(set.attributes, vec!["region_risk"]);
    assert_eq!(set.rows.len(), 3);
    let a1 = &set.rows[0];
    assert_eq!(a1.account.account_id, "A1");
    assert!(a1.repaid);
    let dates: Vec<String> = a1
        .account
        .history
        .iter()
        .map(|c| c.statement_date.to_string())
        .collect();
    assert_eq!(dates, ["2025-01-31", "2025-02-28", "2025-03-31"]);
    assert_eq!(a1.account.profile.bureau_score, Some(700.0));
    assert_eq!(a1.account.attributes.get("region_risk"), Some(&0.2));
    let a2 = &set.rows[1];
    assert_eq!(a2.account.profile.hardship, Some(true));
    assert_eq!(a2.account.profile.bureau_score, None);
    assert!(a2.account.attributes.is_empty());
    assert!(!set.rows[2].repaid);
}

/// Loads with one table changed and returns the rendered data error.
fn data_error(accounts: &str, history: &str, outcomes: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    match load(&write(dir.path(), accounts, history, outcomes)) {
        Err(e @ TrainError::Data { .. }) => e.to_string(),
        other => panic!("expected a data error, got {other:?}"),
    }
}

#[test]
fn each_rule_reports_file_row_and_column() {
    let cases: Vec<(String, String, String, &str)> = vec![
        (
            ACCOUNTS.into(),
            HISTORY.replace("A1,2025-02-28,400,40,0,0", "A1,2025-02-28,-400,40,0,0"),
            OUTCOMES.into(),
            "payment_history.csv: row 1, column `amount_due`: must be a finite, non-negative amount",
        ),
        (
            ACCOUNTS.replace("A2,2025-03-31", "A2,2025-13-31"),
            HISTORY.into(),
            OUTCOMES.into(),
            "accounts.csv: row 2, column `as_of`: cannot read `2025-13-31` as a YYYY-MM-DD date",
        ),
        (
            ACCOUNTS.replace("A3,2025-03-31,1500,1400", "A3,2025-03-31,lots,1400"),
            HISTORY.into(),
            OUTCOMES.into(),
            "accounts.csv: row 3, column `credit_limit`: cannot read `lots` as a number",
        ),
        (
            ACCOUNTS.replace("A3,", "A1,"),
            HISTORY.into(),
            OUTCOMES.into(),
            "accounts.csv: row 3, column `account_id`: duplicate account `A1`",
        ),
        (
            ACCOUNTS.into(),
            format!("{HISTORY}ZZ,2025-03-31,1,0,0,0\n"),
            OUTCOMES.into(),
            "payment_history.csv: row 7, column `account_id`: history for account `ZZ`, which is not in the accounts table",
        ),
        (
            ACCOUNTS.into(),
            HISTORY.into(),
            format!("{OUTCOMES}ZZ,1\n"),
            "outcomes.csv: row 4, column `account_id`: outcome for account `ZZ`",
        ),
        (
            ACCOUNTS.into(),
            HISTORY.into(),
            OUTCOMES.replace("A3,0\n", ""),
            "accounts.csv: row 3, column `account_id`: account `A3` has no row in",
        ),
        (
            ACCOUNTS.into(),
            HISTORY.replace("A3,2025-03-31,1400,140,0,60", "A3,2025-03-31,1400,140,0,5000"),
            OUTCOMES.into(),
            "payment_history.csv: row 6, column `days_past_due`: must be between 0 and 3650, got 5000",
        ),
        (
            ACCOUNTS.into(),
            HISTORY.replace("A3,2025-02-28", "A3,2025-03-31"),
            OUTCOMES.into(),
            "column `statement_date`: a second cycle for account `A3` on 2025-03-31",
        ),
        (
            ACCOUNTS.into(),
            HISTORY.replace("A1,2025-03-31,500,50,400,0", "A1,2025-04-30,500,50,400,0"),
            OUTCOMES.into(),
            "payment_history.csv: row 3, column `statement_date`: 2025-04-30 is after the account's as_of date",
        ),
        (
            ACCOUNTS.into(),
            HISTORY.replace("A1,2025-01-31,300,30,0,0", "A1,2025-01-31,300,301,0,0"),
            OUTCOMES.into(),
            "payment_history.csv: row 2, column `minimum_due`: must not exceed amount_due",
        ),
        (
            ACCOUNTS.replace("attr_region_risk", "attr_number_of_dependents"),
            HISTORY.into(),
            OUTCOMES.into(),
            "accounts.csv: column `attr_number_of_dependents`: protected attribute: it can never be a model input (it names a protected characteristic (dependants)",
        ),
        (
            ACCOUNTS.replace("attr_region_risk", "attr_applicantAgeBand"),
            HISTORY.into(),
            OUTCOMES.into(),
            "column `attr_applicantAgeBand`: protected attribute",
        ),
        (
            ACCOUNTS.replace("attr_region_risk", "attr_age"),
            HISTORY.into(),
            OUTCOMES.into(),
            "accounts.csv: column `attr_age`: protected attribute",
        ),
        (
            ACCOUNTS.replace(",hardship,", ",hardhip,"),
            HISTORY.into(),
            OUTCOMES.into(),
            "accounts.csv: column `hardhip`: unknown column; did you mean `hardship`?",
        ),
        (
            ACCOUNTS.into(),
            HISTORY.into(),
            OUTCOMES.replace("A2,1", "A2,"),
            "outcomes.csv: row 2, column `repaid`: value is missing",
        ),
    ];
    for (accounts, history, outcomes, expected) in cases {
        let message = data_error(&accounts, &history, &outcomes);
        assert!(
            message.contains(expected),
            "expected `{expected}` in:\n{message}"
        );
    }
}

#[test]
fn many_errors_are_counted_not_all_printed() {
    let mut history = String::from(
        "account_id,statement_date,amount_due,minimum_due,amount_paid,days_past_due\n",
    );
    for i in 0..50 {
        history.push_str(&format!("A1,2025-01-{:02},-1,0,0,0\n", (i % 28) + 1));
    }
    let message = data_error(ACCOUNTS, &history, OUTCOMES);
    assert!(message.starts_with("50 problem(s)"), "{message}");
    assert!(message.contains("... and 30 more"), "{message}");
}

#[test]
fn parquet_tables_load_like_csv() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = write(dir.path(), ACCOUNTS, HISTORY, OUTCOMES);
    let to_parquet = |from: &Path, stem: &str| {
        let mut df = CsvReadOptions::default()
            .with_has_header(true)
            .try_into_reader_with_file_path(Some(from.to_path_buf()))
            .expect("reader")
            .finish()
            .expect("read csv");
        let to = dir.path().join(format!("{stem}.parquet"));
        let file = std::fs::File::create(&to).expect("create");
        ParquetWriter::new(file)
            .finish(&mut df)
            .expect("write parquet");
        to
    };
    let parquet = TablePaths {
        accounts: to_parquet(&csv.accounts, "accounts"),
        history: to_parquet(&csv.history, "payment_history"),
        outcomes: to_parquet(&csv.outcomes, "outcomes"),
        read: Default::default(),
    };
    let from_csv = load(&csv).expect("csv");
    let from_parquet = load(&parquet).expect("parquet");
    assert_eq!(from_csv, from_parquet);
}

#[test]
fn typed_parquet_cells_are_checked_with_their_row_and_column() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = write(dir.path(), ACCOUNTS, HISTORY, OUTCOMES);
    // The history as typed Parquet: a missing amount on row 2, a negative one on row 5 and a
    // fractional days-past-due (a float column where whole numbers belong) on row 6.
    let history = df!(
        "account_id" => ["A1", "A1", "A1", "A2", "A3", "A3"],
        "statement_date" => ["2025-02-28", "2025-01-31", "2025-03-31", "2025-03-31", "2025-02-28", "2025-03-31"],
        "amount_due" => [Some(400.0), None, Some(500.0), Some(0.0), Some(-1300.0), Some(1400.0)],
        "minimum_due" => [40.0, 30.0, 50.0, 0.0, 130.0, 140.0],
        "amount_paid" => [0.0, 0.0, 400.0, 100.0, 0.0, 0.0],
        "days_past_due" => [0.0, 0.0, 0.0, 0.0, 30.0, 60.5],
    )
    .expect("frame");
    let mut history = history
        .lazy()
        .with_column(
            col("statement_date")
                .str()
                .to_date(StrptimeOptions::default()),
        )
        .collect()
        .expect("dates");
    let path = dir.path().join("payment_history.parquet");
    ParquetWriter::new(std::fs::File::create(&path).expect("create"))
        .finish(&mut history)
        .expect("write parquet");
    let paths = TablePaths {
        history: path,
        ..csv
    };
    let message = match load(&paths) {
        Err(e @ TrainError::Data { .. }) => e.to_string(),
        other => panic!("expected a data error, got {other:?}"),
    };
    assert!(message.starts_with("3 problem(s)"), "{message}");
    assert!(
        message.contains("payment_history.parquet: row 2, column `amount_due`: value is missing"),
        "{message}"
    );
    assert!(
        message.contains(
            "row 5, column `amount_due`: must be a finite, non-negative amount, got -1300"
        ),
        "{message}"
    );
    assert!(
        message.contains("row 6, column `days_past_due`: cannot read `60.5` as a whole number"),
        "{message}"
    );
}

#[test]
fn lenient_loading_rejects_whole_accounts_and_lists_every_row_it_leaves_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A3 has a negative payment; A2 appears twice; Z9's history and an id-less outcome belong
    // to no account.
    let accounts = format!("{ACCOUNTS}A2,2025-03-31,2000,0,12,1,1,,,1,\n");
    let history = format!("{HISTORY}A3,2024-12-31,100,10,-5,0\nZ9,2025-03-31,1,1,1,0\n");
    let outcomes = format!("{OUTCOMES},1\n");
    let paths = write(dir.path(), &accounts, &history, &outcomes);

    // Strict: the same tables stop the load.
    assert!(matches!(load(&paths), Err(TrainError::Data { .. })));

    let loaded = load_with(&paths, true).expect("lenient load");
    let ids: Vec<&str> = loaded
        .set
        .rows
        .iter()
        .map(|r| r.account.account_id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["A1"],
        "only the clean account is kept, with all its rows"
    );
    assert_eq!(loaded.set.rows[0].account.history.len(), 3);
    assert_eq!(loaded.rejected_accounts, 3, "A2, A3 and the unknown Z9");
    let line = |needle: &str| {
        loaded
            .rejects
            .iter()
            .find(|e| e.to_string().contains(needle))
            .unwrap_or_else(|| panic!("no reject mentions {needle}: {:#?}", loaded.rejects))
    };
    let paid = line("must be a finite, non-negative amount, got -5");
    assert_eq!((paid.row, paid.column.as_str()), (7, "amount_paid"));
    assert_eq!(paid.account_id.as_deref(), Some("A3"));
    assert_eq!(line("duplicate account `A2`").row, 4);
    assert_eq!(line("history for account `Z9`").row, 8);
    assert!(line("outcomes.csv: row 4, column `account_id`")
        .account_id
        .is_none());
    // The accounts that went, with the rows that went with them.
    assert_eq!(
        line("account `A3` rejected").message,
        "account `A3` rejected with its 2 history row(s) and its outcome"
    );
    line("account `A2` rejected");

    // A protected attribute is a problem with the whole column: lenient or not, it stops.
    let protected = ACCOUNTS.replace("attr_region_risk", "attr_ethnicity");
    let paths = write(dir.path(), &protected, HISTORY, OUTCOMES);
    let err = load_with(&paths, true).expect_err("protected column");
    assert!(err.to_string().contains("protected attribute"), "{err}");
}

/// The optional compliance columns reach the offline worklist: a bankruptcy is held, an opted-out
/// channel moves to its fallback, a customer's own time zone sets the contact hours; and a bad
/// value is a row error naming its column.
#[test]
fn compliance_columns_reach_the_offline_worklist() {
    let accounts = "\
account_id,as_of,credit_limit,current_balance,months_on_book,open_credit_lines,prior_delinquencies,hardship,bankruptcy,opted_out_channels,time_zone
P1,2025-03-31,1500,1400,6,3,4,0,,,
P2,2025-03-31,1500,1400,6,3,4,0,1,,
P3,2025-03-31,1500,1400,6,3,4,0,0,phone; sms,
P4,2025-03-31,1500,1400,6,3,4,0,,,Asia/Tokyo
";
    let history = "\
account_id,statement_date,amount_due,minimum_due,amount_paid,days_past_due
P1,2025-03-31,1400,140,0,35
P2,2025-03-31,1400,140,0,35
P3,2025-03-31,1400,140,0,35
P4,2025-03-31,1400,140,0,35
";
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = write(dir.path(), accounts, history, "account_id,repaid\n");
    let portfolio =
        payrisk::train::tables::load_portfolio(&paths.accounts, &paths.history, &paths.read)
            .expect("valid");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let deployment = payrisk::serve::Deployment::load(
        &root.join(payrisk::serve::DEFAULT_MODEL),
        &root.join(payrisk::serve::DEFAULT_POLICY),
    )
    .expect("shipped model and policy");
    // 2025-04-10 16:00 UTC: noon in New York, 01:00 in Tokyo.
    let now = chrono::DateTime::from_timestamp(1_744_300_800, 0).expect("time");
    let ranked = payrisk::train::worklist::rank(&deployment, &portfolio, now);
    let by_id = |id: &str| ranked.iter().find(|e| e.account_id == id).expect("ranked");
    let row = |id: &str| {
        let e = by_id(id);
        (e.action.as_str(), e.channel.as_str(), e.guard_rule)
    };
    assert_eq!(row("P1"), ("call", "phone", ""));
    assert_eq!(row("P2"), ("bankruptcy_hold", "none", "bankruptcy"));
    assert_eq!(by_id("P2").priority, 0.0);
    assert_eq!(row("P3"), ("reminder", "email", "opted_out"));
    assert_eq!(row("P4"), ("wait", "none", "contact_hours"));
    assert_eq!(by_id("P4").next_permitted_time, "2025-04-10T23:00:00Z");

    let bad = accounts
        .replace(
            "P4,2025-03-31,1500,1400,6,3,4,0,,,Asia/Tokyo",
            "P4,2025-03-31,1500,1400,6,3,4,0,,,Mars/Base",
        )
        .replace(
            "P2,2025-03-31,1500,1400,6,3,4,0,1,,",
            "P2,2025-03-31,1500,1400,6,3,4,0,2,,",
        );
    let paths = write(dir.path(), &bad, history, "account_id,repaid\n");
    let err = payrisk::train::tables::load_portfolio(&paths.accounts, &paths.history, &paths.read)
        .expect_err("bad compliance values")
        .to_string();
    assert!(err.contains("row 4, column `time_zone`"), "{err}");
    assert!(err.contains("row 2, column `bankruptcy`"), "{err}");
}

/// What an analyst's export brings: unknown limits, balances, months on book and hardship as
/// empty cells (or absent columns) load as unknown; `13.0` in a whole-number column is 13 while
/// `13.5` is refused; `NA` is refused with the hint, and read as missing with `null_values`.
#[test]
fn unknowns_whole_floats_and_null_tokens_load_as_an_analyst_expects() {
    use payrisk::train::tables::ReadOptions;
    let accounts = "\
account_id,as_of,credit_limit,current_balance,months_on_book,open_credit_lines,prior_delinquencies,hardship,annual_income
U1,2025-03-31,,,,2.0,0,,NA
U2,2025-03-31,1000,500,24,1,13.0,0,
";
    let history = "\
account_id,statement_date,amount_due,minimum_due,amount_paid,days_past_due
U1,2025-03-31,400,40,0,30.0
U2,2025-03-31,500,50,0,0
";
    let outcomes = "account_id,repaid\nU1,1\nU2,0\n";
    let dir = tempfile::tempdir().expect("tempdir");
    let mut paths = write(dir.path(), accounts, history, outcomes);
    let message = match load(&paths) {
        Err(e @ TrainError::Data { .. }) => e.to_string(),
        other => panic!("expected a data error, got {other:?}"),
    };
    assert!(
        message.contains("row 1, column `annual_income`: cannot read `NA` as a number (an empty cell means missing; `--null-values NA`"),
        "{message}"
    );
    assert!(message.starts_with("1 problem(s)"), "{message}");

    paths.read = ReadOptions {
        null_values: vec!["NA".into()],
        ..ReadOptions::default()
    };
    let set = load(&paths).expect("NA read as missing");
    let u1 = &set.rows[0].account.profile;
    assert_eq!(
        (
            u1.credit_limit,
            u1.current_balance,
            u1.months_on_book,
            u1.hardship
        ),
        (None, None, None, None)
    );
    assert_eq!(u1.annual_income, None);
    assert_eq!(u1.open_credit_lines, 2);
    assert_eq!(set.rows[0].account.history[0].days_past_due, 30);
    assert_eq!(set.rows[1].account.profile.prior_delinquencies, 13);

    // Without the columns at all, the values are unknown too.
    let bare = "\
account_id,as_of,open_credit_lines,prior_delinquencies
U1,2025-03-31,2,0
U2,2025-03-31,1,3
";
    let paths = write(dir.path(), bare, history, outcomes);
    let set = load(&paths).expect("the optional columns may be absent");
    assert_eq!(set.rows[1].account.profile.credit_limit, None);

    let fractional = accounts.replace("13.0", "13.5").replace(",NA\n", ",\n");
    let paths = write(dir.path(), &fractional, history, outcomes);
    let message = match load(&paths) {
        Err(e @ TrainError::Data { .. }) => e.to_string(),
        other => panic!("expected a data error, got {other:?}"),
    };
    assert!(
        message
            .contains("row 2, column `prior_delinquencies`: cannot read `13.5` as a whole number"),
        "{message}"
    );
}

/// A refused account row is one problem, not three: its history and outcome rows are not
/// reported again as "not in the accounts table"; a lenient load lists them as going with it.
#[test]
fn a_refused_account_row_does_not_cascade() {
    let accounts = ACCOUNTS.replace(
        "A3,2025-03-31,1500,1400,6,3,4",
        "A3,2025-03-31,1500,1400,6,3,-4",
    );
    let message = data_error(&accounts, HISTORY, OUTCOMES);
    assert!(message.starts_with("1 problem(s)"), "{message}");
    assert!(
        message.contains("row 3, column `prior_delinquencies`"),
        "{message}"
    );
    assert!(!message.contains("not in the accounts table"), "{message}");

    let dir = tempfile::tempdir().expect("tempdir");
    let loaded =
        load_with(&write(dir.path(), &accounts, HISTORY, OUTCOMES), true).expect("lenient");
    assert_eq!(loaded.set.rows.len(), 2);
    let followers: Vec<&str> = loaded
        .rejects
        .iter()
        .filter(|r| r.message.contains("was refused: it goes with it"))
        .map(|r| r.file.rsplit('/').next().unwrap_or_default())
        .collect();
    assert_eq!(
        followers,
        ["payment_history.csv", "payment_history.csv", "outcomes.csv"]
    );
}

/// `evaluate` scores only the held-out side of the model's own split unless told otherwise, so
/// that training accounts never flatter a model: the shipped model was trained with `mod:5`, so
/// of ten accounts it evaluates accounts 5 and 10; `--split all` evaluates all ten.
#[test]
fn evaluate_scores_the_held_out_side_of_the_models_split() {
    use payrisk::train::cli::{evaluate, EvaluateArgs, TableArgs};
    let mut accounts = String::from(
        "account_id,as_of,credit_limit,current_balance,months_on_book,open_credit_lines,prior_delinquencies,hardship\n",
    );
    let mut history = String::from(
        "account_id,statement_date,amount_due,minimum_due,amount_paid,days_past_due\n",
    );
    let mut outcomes = String::from("account_id,repaid\n");
    for id in 1..=10 {
        accounts.push_str(&format!("{id},2025-03-31,1000,500,24,2,0,0\n"));
        history.push_str(&format!("{id},2025-03-31,500,50,0,{}\n", (id % 3) * 30));
        outcomes.push_str(&format!("{id},{}\n", id % 2));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), &accounts, &history, &outcomes);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |split: Option<&str>| {
        let out = dir.path().join("evaluation.json");
        evaluate(&EvaluateArgs {
            model: root.join(payrisk::serve::DEFAULT_MODEL),
            tables: TableArgs {
                dir: dir.path().to_path_buf(),
                accounts: None,
                history: None,
                outcomes: None,
                ignore_unknown_columns: false,
                null_values: Vec::new(),
            },
            split: split.map(str::to_owned),
            out: out.clone(),
        })
        .expect("evaluate");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).expect("json")).expect("parse");
        (
            json["metrics"]["rows"].as_u64().expect("rows"),
            json["evaluated_on"].as_str().expect("on").to_owned(),
        )
    };
    assert_eq!(run(None), (2, "test = account_id % 5 == 0".to_owned()));
    assert_eq!(run(Some("all")), (10, "all rows".to_owned()));
    assert_eq!(run(Some("mod:3:1")).0, 4);
}

/// A portfolio can be scored without a collections policy (`--probabilities-only`), riskiest
/// first; without that flag a missing policy is named with the way out.
#[test]
fn probabilities_need_no_policy() {
    use payrisk::train::cli::{score, ScoreArgs, TableArgs};
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), ACCOUNTS, HISTORY, OUTCOMES);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = dir.path().join("p.csv");
    let args = |probabilities_only: bool| ScoreArgs {
        model: root.join(payrisk::serve::DEFAULT_MODEL),
        policy: dir.path().join("no-policy.toml"),
        probabilities_only,
        tables: TableArgs {
            dir: dir.path().to_path_buf(),
            accounts: None,
            history: None,
            outcomes: None,
            ignore_unknown_columns: false,
            null_values: Vec::new(),
        },
        decision_time: None,
        output: out.clone(),
        audit: None,
    };
    let err = score(&args(false)).expect_err("no policy").to_string();
    assert!(err.contains("--probabilities-only"), "{err}");
    score(&args(true)).expect("probabilities");
    let text = std::fs::read_to_string(&out).expect("csv");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "rank,account_id,repayment_probability,model_version"
    );
    assert_eq!(lines.len(), 4);
    // A3 (60 days past due, four prior delinquencies) is the riskiest.
    assert!(lines[1].starts_with("1,A3,"), "{text}");
}
