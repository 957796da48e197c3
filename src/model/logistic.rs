//! Serving-side logistic regression: weights folded for fast scoring and exact contributions.

/// A logistic model ready to score: `margin = intercept + sum_j w_j (x_j - mean_j)`, where a
/// missing (`NaN`) input contributes nothing, as if it equalled the training mean.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticModel {
    intercept: f64,
    /// Coefficient divided by the feature's standard deviation.
    weights: Vec<f64>,
    means: Vec<f64>,
}

impl LogisticModel {
    /// Builds the model from standardised coefficients and the training statistics.
    /// The slices must have equal lengths (the artifact validation guarantees it).
    pub fn new(intercept: f64, coefficients: &[f64], means: &[f64], stds: &[f64]) -> Self {
        LogisticModel {
            intercept,
            weights: coefficients.iter().zip(stds).map(|(c, s)| c / s).collect(),
            means: means.to_vec(),
        }
    }

    /// Number of inputs.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// True when the model has no inputs.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// Log-odds of repayment for the input vector `x`.
    #[inline]
    pub fn margin(&self, x: &[f64]) -> f64 {
        let mut sum = self.intercept;
        for ((&v, &w), &m) in x.iter().zip(&self.weights).zip(&self.means) {
            sum += contribution(v, w, m);
        }
        sum
    }

    /// Writes each input's contribution to the margin into `out` and returns the margin;
    /// the contributions sum to `margin - intercept` exactly up to rounding.
    #[inline]
    pub fn contributions(&self, x: &[f64], out: &mut [f64]) -> f64 {
        let mut sum = self.intercept;
        for (((o, &v), &w), &m) in out.iter_mut().zip(x).zip(&self.weights).zip(&self.means) {
            *o = contribution(v, w, m);
            sum += *o;
        }
        sum
    }

    /// The margin of the average training account.
    pub fn intercept(&self) -> f64 {
        self.intercept
    }
}

#[inline]
fn contribution(v: f64, w: f64, m: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else {
        w * (v - m)
    }
}

/// The logistic function, stable for large |z|.
#[inline]
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_standardises_and_imputes_missing_as_the_mean() {
        let m = LogisticModel::new(0.5, &[2.0, -1.0], &[10.0, 0.0], &[5.0, 2.0]);
        // (20 - 10) / 5 * 2 = 4; (4 - 0) / 2 * -1 = -2
        assert!((m.margin(&[20.0, 4.0]) - 2.5).abs() < 1e-12);
        assert!((m.margin(&[f64::NAN, 4.0]) - (-1.5)).abs() < 1e-12);
        let mut c = [0.0; 2];
        let margin = m.contributions(&[20.0, 4.0], &mut c);
        assert!((c[0] - 4.0).abs() < 1e-12 && (c[1] + 2.0).abs() < 1e-12);
        assert!((margin - m.margin(&[20.0, 4.0])).abs() < 1e-12);
    }

    #[test]
    fn sigmoid_is_stable_and_bounded() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(800.0) <= 1.0 && sigmoid(800.0) > 0.999);
        assert!(sigmoid(-800.0) >= 0.0 && sigmoid(-800.0) < 1e-300);
        assert!((sigmoid(2.0) + sigmoid(-2.0) - 1.0).abs() < 1e-15);
    }
}
