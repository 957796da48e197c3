//! The schema of each canonical table, and the check of a source's columns against it: required
//! columns present, every other column known, the nearest known name suggested for one that is
//! not.

use super::{Kind, ReadOptions, RowError, TableError, ATTRIBUTE_COLUMN_PREFIX};

/// The columns of one table.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// Columns every source must have.
    pub required: &'static [(&'static str, Kind)],
    /// Columns a source may have.
    pub optional: &'static [(&'static str, Kind)],
    /// Columns matched by name beyond those listed (the accounts table's `attr_<name>`).
    pub extra: fn(&str) -> Option<Kind>,
}

fn no_extra(_: &str) -> Option<Kind> {
    None
}

fn attribute(name: &str) -> Option<Kind> {
    name.starts_with(ATTRIBUTE_COLUMN_PREFIX)
        .then_some(Kind::Float)
}

/// The accounts table.
pub const ACCOUNTS: Schema = Schema {
    required: &[
        ("account_id", Kind::Text),
        ("as_of", Kind::Date),
        ("open_credit_lines", Kind::Int),
        ("prior_delinquencies", Kind::Int),
    ],
    optional: &[
        ("credit_limit", Kind::Float),
        ("current_balance", Kind::Float),
        ("months_on_book", Kind::Int),
        ("hardship", Kind::Int),
        ("bureau_score", Kind::Float),
        ("annual_income", Kind::Float),
        ("cease_communication", Kind::Int),
        ("dispute_pending", Kind::Int),
        ("bankruptcy", Kind::Int),
        ("attorney_represented", Kind::Int),
        ("deceased", Kind::Int),
        ("opted_out_channels", Kind::Text),
        ("time_zone", Kind::Text),
    ],
    extra: attribute,
};

/// The payment-history table.
pub const HISTORY: Schema = Schema {
    required: &[
        ("account_id", Kind::Text),
        ("statement_date", Kind::Date),
        ("amount_due", Kind::Float),
        ("minimum_due", Kind::Float),
        ("amount_paid", Kind::Float),
        ("days_past_due", Kind::Int),
    ],
    optional: &[],
    extra: no_extra,
};

/// The outcomes table.
pub const OUTCOMES: Schema = Schema {
    required: &[("account_id", Kind::Text), ("repaid", Kind::Int)],
    optional: &[],
    extra: no_extra,
};

/// The columns of `names` (a source's, in its order) to read and their kinds: the required
/// ones, the optional ones present, then those `extra` matches. A missing required column, or
/// an unknown one unless `options` ignores them, is an error of row 0 naming the column.
pub fn check_columns(
    file: &str,
    names: &[&str],
    required: &[(&str, Kind)],
    optional: &[(&str, Kind)],
    extra: &dyn Fn(&str) -> Option<Kind>,
    options: &ReadOptions,
) -> Result<Vec<(String, Kind)>, TableError> {
    let has = |c: &str| names.contains(&c);
    let missing: Vec<RowError> = required
        .iter()
        .filter(|(c, _)| !has(c))
        .map(|(c, _)| RowError::new(file, 0, c, "required column is missing"))
        .collect();
    if !missing.is_empty() {
        return Err(TableError::data(missing));
    }
    let mut columns: Vec<(String, Kind)> = required
        .iter()
        .chain(optional.iter().filter(|(c, _)| has(c)))
        .map(|(c, k)| ((*c).to_owned(), *k))
        .collect();
    let mut unknown = Vec::new();
    for &name in names {
        if let Some(kind) = extra(name) {
            columns.push((name.to_owned(), kind));
        } else if !required.iter().chain(optional).any(|(c, _)| *c == name) {
            unknown.push(name);
        }
    }
    if !unknown.is_empty() && !options.ignore_unknown_columns {
        let known: Vec<&str> = required.iter().chain(optional).map(|(c, _)| *c).collect();
        let errors = unknown
            .iter()
            .map(|name| RowError::new(file, 0, name, unknown_column(name, &known)))
            .collect();
        return Err(TableError::data(errors));
    }
    Ok(columns)
}

/// Why a column is unknown, with the nearest known name when there is one.
fn unknown_column(name: &str, known: &[&str]) -> String {
    const SKIP: &str = "(or pass --ignore-unknown-columns to skip unknown columns)";
    let normalised: String = name
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if let Some(rest) = normalised.strip_prefix("attr").filter(|r| r.len() > 1) {
        let rest = rest.trim_start_matches('_');
        return format!("unknown column; did you mean `attr_{rest}`? {SKIP}");
    }
    let nearest = known
        .iter()
        .map(|k| (edit_distance(&normalised, k), *k))
        .min()
        .filter(|(d, k)| *d <= (k.len() / 3).max(1));
    match nearest {
        Some((_, k)) => format!("unknown column; did you mean `{k}`? {SKIP}"),
        None => format!(
            "unknown column; an extra feature needs the `attr_` prefix (`attr_{normalised}`) {SKIP}"
        ),
    }
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_columns_get_the_nearest_known_name() {
        let known = ["hardship", "credit_limit", "months_on_book"];
        let says = |name: &str| unknown_column(name, &known);
        assert!(says("hardhip").contains("did you mean `hardship`?"));
        assert!(says("Credit Limit").contains("did you mean `credit_limit`?"));
        assert!(says("attr-debt_ratio").contains("did you mean `attr_debt_ratio`?"));
        assert!(says("debt_ratio").contains("needs the `attr_` prefix (`attr_debt_ratio`)"));
        assert!(says("x").contains("--ignore-unknown-columns"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn columns_are_the_required_the_present_optional_and_the_extra() {
        // Pins the order readers cast columns in, and the refusals of a schema check.
        let s = ACCOUNTS;
        let names = [
            "attr_x",
            "account_id",
            "as_of",
            "open_credit_lines",
            "prior_delinquencies",
            "hardship",
        ];
        let columns = check_columns(
            "a",
            &names,
            s.required,
            s.optional,
            &s.extra,
            &ReadOptions::default(),
        )
        .expect("known columns");
        let got: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(
            got,
            [
                "account_id",
                "as_of",
                "open_credit_lines",
                "prior_delinquencies",
                "hardship",
                "attr_x"
            ]
        );
        let err = check_columns(
            "a",
            &names[1..3],
            s.required,
            s.optional,
            &s.extra,
            &ReadOptions::default(),
        )
        .expect_err("missing");
        assert!(
            err.to_string()
                .contains("a: column `open_credit_lines`: required column is missing"),
            "{err}"
        );
        let odd = [
            "account_id",
            "as_of",
            "open_credit_lines",
            "prior_delinquencies",
            "hardhip",
        ];
        let err = check_columns(
            "a",
            &odd,
            s.required,
            s.optional,
            &s.extra,
            &ReadOptions::default(),
        )
        .expect_err("unknown");
        assert!(
            err.to_string().contains("did you mean `hardship`?"),
            "{err}"
        );
        let lax = ReadOptions {
            ignore_unknown_columns: true,
            ..ReadOptions::default()
        };
        assert_eq!(
            check_columns("a", &odd, s.required, s.optional, &s.extra, &lax)
                .expect("ignored")
                .len(),
            4
        );
    }
}
