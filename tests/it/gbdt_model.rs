//! The shipped gradient-boosted model: monotone constraints hold exactly along every constrained
//! feature, and TreeSHAP contributions add up to the margin, on random inputs.

use std::path::PathBuf;

use crate::common::Rng;
use payrisk::model::gbdt::shap::ShapScratch;
use payrisk::model::gbdt::{GbdtModel, Tree};
use payrisk::model::{Artifact, ModelParams};

fn shipped() -> (Artifact, Vec<Tree>, f64, Vec<i8>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(payrisk::serve::DEFAULT_MODEL);
    let artifact = Artifact::load(&path).expect("shipped model");
    let ModelParams::Gbdt {
        base_score,
        trees,
        monotone,
        ..
    } = artifact.model.clone()
    else {
        panic!("the default model is gradient-boosted");
    };
    (artifact, trees, base_score, monotone)
}

/// Every threshold of each feature, sorted.
fn thresholds(trees: &[Tree], p: usize) -> Vec<Vec<f64>> {
    let mut out = vec![Vec::new(); p];
    for t in trees {
        for (i, &f) in t.split_feature.iter().enumerate() {
            if f >= 0 {
                out[f as usize].push(t.threshold[i]);
            }
        }
    }
    for v in &mut out {
        v.sort_by(f64::total_cmp);
        v.dedup();
    }
    out
}

fn random_input(rng: &mut Rng, cuts: &[Vec<f64>]) -> Vec<f64> {
    cuts.iter()
        .map(|c| {
            if rng.uniform() < 0.1 || c.is_empty() {
                return f64::NAN;
            }
            let (lo, hi) = (c[0] - 1.0, c[c.len() - 1] + 1.0);
            lo + (hi - lo) * rng.uniform()
        })
        .collect()
}

#[test]
fn predictions_are_monotone_along_each_constrained_feature() {
    let (artifact, trees, base, monotone) = shipped();
    let p = artifact.features.len();
    assert_eq!(monotone.len(), p);
    let constrained: Vec<usize> = (0..p).filter(|&j| monotone[j] != 0).collect();
    assert!(constrained.len() >= 10, "{constrained:?}");
    let model = GbdtModel::new(base, &trees);
    let cuts = thresholds(&trees, p);
    let mut rng = Rng(0x5eed);
    for _ in 0..300 {
        let mut x = random_input(&mut rng, &cuts);
        for &j in &constrained {
            // Predictions only change at thresholds: check at, just below and just above each.
            let mut grid: Vec<f64> = cuts[j]
                .iter()
                .flat_map(|&t| [t.next_down(), t, t.next_up()])
                .collect();
            grid.insert(0, cuts[j].first().map_or(-1e9, |t| t - 1e6));
            grid.push(cuts[j].last().map_or(1e9, |t| t + 1e6));
            let saved = x[j];
            let mut previous: Option<f64> = None;
            for &v in &grid {
                x[j] = v;
                let m = model.margin(&x);
                if let Some(prev) = previous {
                    let step = m - prev;
                    assert!(
                        step * f64::from(monotone[j]) >= -1e-12,
                        "feature {} ({}) is not monotone: {prev} -> {m} at {v}",
                        j,
                        artifact.features[j].name
                    );
                }
                previous = Some(m);
            }
            x[j] = saved;
        }
    }
}

#[test]
fn treeshap_contributions_add_up_to_the_margin() {
    let (artifact, trees, base, _) = shipped();
    let p = artifact.features.len();
    let model = GbdtModel::new(base, &trees);
    let cuts = thresholds(&trees, p);
    let mut rng = Rng(42);
    let mut scratch = ShapScratch::default();
    let mut phi = vec![0.0; p];
    for _ in 0..200 {
        let x = random_input(&mut rng, &cuts);
        let margin = model.shap(&x, &mut phi, &mut scratch);
        let direct = model.margin(&x);
        let sum = model.expected_margin() + phi.iter().sum::<f64>();
        assert!((sum - direct).abs() < 1e-9, "{sum} vs {direct}");
        assert!((margin - direct).abs() < 1e-9);
        // Features the model never splits on get nothing.
        for j in 0..p {
            if cuts[j].is_empty() {
                assert_eq!(phi[j], 0.0);
            }
        }
    }
}
