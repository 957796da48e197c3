//! The console tables `payrisk-train` prints: fixed-width text for a terminal, built as strings
//! so that tests can read them.

use std::fmt::Write as _;

use crate::evaluation::Metrics;
use crate::model::Artifact;
use crate::train::report::Evaluation;

/// Evaluations side by side: metrics, then each model's deciles, then its largest drift.
pub fn evaluations(all: &[&Evaluation]) -> String {
    let mut s = String::from(
        "model                  rows    AUC     Gini    KS      Brier   LogLoss ECE     score PSI\n",
    );
    for e in all {
        let m = e.metrics;
        let psi = e
            .drift
            .as_ref()
            .map_or_else(|| "-".to_string(), |d| format!("{:.4}", d.score_psi));
        let _ = writeln!(
            s,
            "{:<26} {:>6}  {:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {psi}",
            format!("{}/{} ({})", e.name, e.version, e.kind),
            m.rows,
            m.auc,
            m.gini,
            m.ks,
            m.brier,
            m.log_loss,
            m.ece
        );
    }
    for e in all {
        let _ = writeln!(
            s,
            "{}/{}: decile  count  predicted  observed  capture  lift",
            e.name, e.version
        );
        for d in &e.deciles {
            let _ = writeln!(
                s,
                "        {:>6}  {:>5}  {:>9.3}  {:>8.3}  {:>7.3}  {:>4.2}",
                d.decile,
                d.count,
                d.mean_predicted,
                d.observed_repayment,
                d.cumulative_capture,
                d.lift
            );
        }
        if let Some(d) = &e.drift {
            let mut worst: Vec<_> = d.feature_psi.iter().collect();
            worst.sort_by(|a, b| b.psi.total_cmp(&a.psi));
            let top: Vec<String> = worst
                .iter()
                .take(3)
                .map(|f| format!("{} {:.3}", f.name, f.psi))
                .collect();
            let _ = writeln!(s, "        largest feature PSI: {}", top.join(", "));
        }
    }
    s
}

/// A fitted artifact's split and its train and test metrics.
pub fn fitted(a: &Artifact) -> String {
    let mut s = format!(
        "split: {} ({} train / {} test rows)\n            AUC     Gini    KS      Brier   LogLoss ECE\n",
        a.training.split, a.training.train_rows, a.training.test_rows
    );
    for (name, m) in [("train", a.metrics.train), ("test", a.metrics.test)] {
        let _ = writeln!(s, "{name:<8} {}", metrics_row(&m));
    }
    let _ = write!(s, "data fingerprint: {}", a.training.data_fingerprint);
    s
}

fn metrics_row(m: &Metrics) -> String {
    format!(
        "{:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {:.4}",
        m.auc, m.gini, m.ks, m.brier, m.log_loss, m.ece
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Artifact {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        Artifact::load(&root.join("models/uci-credit/2/model.json")).expect("shipped model")
    }

    #[test]
    fn the_fitted_table_shows_both_splits_at_four_decimals() {
        let a = shipped();
        let text = fitted(&a);
        let test_line = text
            .lines()
            .find(|l| l.starts_with("test"))
            .expect("a test row");
        assert!(
            test_line.contains(&format!("{:.4}", a.metrics.test.auc)),
            "{text}"
        );
        assert!(text.contains(&a.training.data_fingerprint), "{text}");
        assert_eq!(text.lines().count(), 5, "{text}");
    }
}
