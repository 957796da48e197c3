//! The statistics of an experiment readout: intervals, tests, the minimum detectable effect and
//! the count an observed effect needs.
//!
//! The maths, for arms `a` (challenger or control) and `b` (champion) with `n` accounts each:
//! - A rate `p = x / n` (cure): Wilson score interval. The difference `p_a - p_b`: Wald
//!   interval with unpooled variance `p(1 - p)/n` per arm; p-value of the two-proportion z-test
//!   with the pooled rate under the null.
//! - A mean (amount recovered per account): `mean ± t · s / sqrt(n)`. The difference: Welch's
//!   t-test, unequal variances, Welch-Satterthwaite degrees of freedom; its interval uses the
//!   same t quantile.
//! - Minimum detectable effect at the current counts: `(z(1 - α/2) + z(power)) · SE`, with `SE`
//!   the standard error of the difference at these counts (α = 0.05, power 0.8).
//! - Count the observed effect `d` needs: at the current allocation (shares `w_a`, `w_b` of
//!   the two arms' accounts) `N = (z(1 - α/2) + z(power))² · (s_a²/w_a + s_b²/w_b) / d²`
//!   accounts in both arms together.
//!
//! The normal and Student t distributions are computed here (`erfc` to about 1e-7 relative,
//! the t tail through the regularised incomplete beta function by its continued fraction).

use serde::Serialize;

/// Two-sided significance level.
pub const ALPHA: f64 = 0.05;
/// Power at which the minimum detectable effect is stated.
pub const POWER: f64 = 0.8;

/// An estimate with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// The point estimate.
    pub value: f64,
    /// Lower end of the 95 % interval.
    pub low: f64,
    /// Upper end of the 95 % interval.
    pub high: f64,
}

impl Estimate {
    /// `value ± half`.
    fn around(value: f64, half: f64) -> Estimate {
        Estimate {
            value,
            low: value - half,
            high: value + half,
        }
    }
}

/// Challenger (or control) minus champion on one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Difference {
    /// The difference with its 95 % interval.
    pub estimate: Estimate,
    /// Two-sided p-value of no difference.
    pub p_value: f64,
    /// The smallest difference these counts detect with 80 % power at the 5 % level.
    pub minimum_detectable: f64,
    /// Accounts (both arms together, at the current allocation) the observed difference needs
    /// to be detected with 80 % power; `None` when the observed difference is 0.
    pub accounts_needed: Option<u64>,
}

/// Running sums of one arm's per-account values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// Accounts.
    pub n: u64,
    sum: f64,
    sum_sq: f64,
}

/// The standardised mean difference of `a` from `b`: the difference of means over the pooled
/// standard deviation (`None` below two accounts a side or without spread).
pub fn smd(a: &Sample, b: &Sample) -> Option<f64> {
    let pooled = ((a.variance() + b.variance()) / 2.0).sqrt();
    (a.n > 1 && b.n > 1 && pooled > 0.0).then(|| (a.mean() - b.mean()) / pooled)
}

impl Sample {
    /// Adds one account's value.
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        self.sum += x;
        self.sum_sq += x * x;
    }

    /// The mean (0 without accounts).
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }

    /// The sample variance (n - 1 in the denominator; 0 below two accounts).
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        let n = self.n as f64;
        ((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0)
    }

    /// The mean with its 95 % t interval.
    pub fn mean_interval(&self) -> Estimate {
        let m = self.mean();
        if self.n < 2 {
            return Estimate {
                value: m,
                low: f64::NAN,
                high: f64::NAN,
            };
        }
        let half = t_quantile(1.0 - ALPHA / 2.0, self.n as f64 - 1.0)
            * (self.variance() / self.n as f64).sqrt();
        Estimate::around(m, half)
    }
}

/// A rate `successes / n` with its 95 % Wilson interval.
pub fn rate(successes: u64, n: u64) -> Estimate {
    if n == 0 {
        return Estimate {
            value: f64::NAN,
            low: f64::NAN,
            high: f64::NAN,
        };
    }
    let (x, n) = (successes as f64, n as f64);
    let p = x / n;
    let z = normal_quantile(1.0 - ALPHA / 2.0);
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Estimate {
        value: p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    }
}

/// `a - b` for two rates (`x_a` of `n_a` against `x_b` of `n_b`).
pub fn rate_difference(x_a: u64, n_a: u64, x_b: u64, n_b: u64) -> Option<Difference> {
    if n_a == 0 || n_b == 0 {
        return None;
    }
    let (na, nb) = (n_a as f64, n_b as f64);
    let (pa, pb) = (x_a as f64 / na, x_b as f64 / nb);
    let d = pa - pb;
    let se = (pa * (1.0 - pa) / na + pb * (1.0 - pb) / nb).sqrt();
    let pooled = (x_a + x_b) as f64 / (na + nb);
    let se0 = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    let p_value = if se0 > 0.0 {
        2.0 * normal_sf((d / se0).abs())
    } else {
        1.0
    };
    let z = normal_quantile(1.0 - ALPHA / 2.0);
    // Planning uses the pooled rate's variance in both arms.
    let variance = pooled * (1.0 - pooled);
    Some(Difference {
        estimate: Estimate::around(d, z * se),
        p_value,
        minimum_detectable: (z + normal_quantile(POWER)) * se0,
        accounts_needed: needed(d, variance, variance, na, nb),
    })
}

/// `a - b` for two means (Welch).
pub fn mean_difference(a: &Sample, b: &Sample) -> Option<Difference> {
    if a.n < 2 || b.n < 2 {
        return None;
    }
    let (na, nb) = (a.n as f64, b.n as f64);
    let (va, vb) = (a.variance() / na, b.variance() / nb);
    let d = a.mean() - b.mean();
    let se = (va + vb).sqrt();
    let df = if va + vb > 0.0 {
        (va + vb).powi(2) / (va * va / (na - 1.0) + vb * vb / (nb - 1.0))
    } else {
        na + nb - 2.0
    };
    let t = t_quantile(1.0 - ALPHA / 2.0, df);
    let p_value = if se > 0.0 {
        2.0 * t_sf((d / se).abs(), df)
    } else if d == 0.0 {
        1.0
    } else {
        0.0
    };
    Some(Difference {
        estimate: Estimate::around(d, t * se),
        p_value,
        minimum_detectable: (t + normal_quantile(POWER)) * se,
        accounts_needed: needed(d, a.variance(), b.variance(), na, nb),
    })
}

/// Accounts in both arms together for `d` to be detected at the current allocation.
fn needed(d: f64, var_a: f64, var_b: f64, n_a: f64, n_b: f64) -> Option<u64> {
    if d == 0.0 || !d.is_finite() {
        return None;
    }
    let total = n_a + n_b;
    let (wa, wb) = (n_a / total, n_b / total);
    let z = normal_quantile(1.0 - ALPHA / 2.0) + normal_quantile(POWER);
    let n = z * z * (var_a / wa + var_b / wb) / (d * d);
    n.is_finite().then(|| n.ceil() as u64)
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, relative error below
/// 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// P(Z > z) for a standard normal Z.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The standard normal quantile (Acklam's rational approximation, refined by one Newton step).
pub fn normal_quantile(p: f64) -> f64 {
    if !(p > 0.0 && p < 1.0) {
        return f64::NAN;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // One Newton step on the normal CDF.
    let e = (1.0 - normal_sf(x)) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u
}

/// ln Γ(x) (Lanczos, g = 7).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularised incomplete beta function I_x(a, b) (continued fraction, Lentz).
fn incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - incomplete_beta(1.0 - x, b, a);
    }
    let tiny = 1e-300;
    let (mut c, mut d) = (1.0, 1.0 - (a + b) * x / (a + 1.0));
    if d.abs() < tiny {
        d = tiny;
    }
    d = 1.0 / d;
    let mut f = d;
    for m in 1..300 {
        let m = f64::from(m);
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 + even * d;
        d = if d.abs() < tiny { tiny } else { d };
        c = 1.0 + even / c;
        c = if c.abs() < tiny { tiny } else { c };
        d = 1.0 / d;
        f *= d * c;
        let odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 + odd * d;
        d = if d.abs() < tiny { tiny } else { d };
        c = 1.0 + odd / c;
        c = if c.abs() < tiny { tiny } else { c };
        d = 1.0 / d;
        let delta = d * c;
        f *= delta;
        if (delta - 1.0).abs() < 1e-12 {
            break;
        }
    }
    front * f / a
}

/// P(T > t) for Student's t with `df` degrees of freedom (`t` ≥ 0).
pub fn t_sf(t: f64, df: f64) -> f64 {
    if df > 1e7 {
        return normal_sf(t);
    }
    0.5 * incomplete_beta(df / (df + t * t), df / 2.0, 0.5)
}

/// The Student t quantile (bisection on [`t_sf`]; the normal's beyond 10^7 degrees of freedom).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if df > 1e7 || !df.is_finite() {
        return normal_quantile(p);
    }
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    let target = 1.0 - p;
    let (mut lo, mut hi) = (0.0, 1.0);
    while t_sf(hi, df) > target && hi < 1e6 {
        hi *= 2.0;
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if t_sf(mid, df) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The distributions against published tables.
    #[test]
    fn quantiles_and_tails_match_the_tables() {
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-6);
        assert!((normal_quantile(0.8) - 0.841_621).abs() < 1e-6);
        assert!((normal_sf(1.959_964) - 0.025).abs() < 1e-7);
        // t(0.975): 12.706 at 1 df, 2.228 at 10, 2.042 at 30.
        for (df, q) in [(1.0, 12.706_2), (10.0, 2.228_14), (30.0, 2.042_27)] {
            assert!((t_quantile(0.975, df) - q).abs() < 1e-3, "{df}");
        }
        assert!((t_sf(2.228_14, 10.0) - 0.025).abs() < 1e-5);
    }

    /// The two-proportion test and Welch's against hand-computed values.
    #[test]
    fn tests_agree_with_worked_examples() {
        // 120 of 400 against 90 of 400: d = 0.075, pooled 0.2625, se = 0.031112, z = 2.4106,
        // p = 0.01592.
        let d = rate_difference(120, 400, 90, 400).expect("difference");
        assert!((d.estimate.value - 0.075).abs() < 1e-12);
        assert!((d.p_value - 0.015_92).abs() < 1e-4, "{}", d.p_value);
        // Wilson interval of 120/400: [0.2573, 0.3464].
        let r = rate(120, 400);
        assert!((r.low - 0.257_3).abs() < 1e-3 && (r.high - 0.346_4).abs() < 1e-3);
        let (mut a, mut b) = (Sample::default(), Sample::default());
        for x in [5.0, 7.0, 9.0, 11.0, 13.0] {
            a.push(x);
        }
        for x in [2.0, 4.0, 6.0] {
            b.push(x);
        }
        // d = 5, se = sqrt(10/5 + 4/3) = 1.8257, t = 2.7386, df = 5.88: p = 0.0338 (scipy ttest_ind,
        // equal_var=False).
        let w = mean_difference(&a, &b).expect("welch");
        assert!((w.estimate.value - 5.0).abs() < 1e-12);
        assert!((w.p_value - 0.033_8).abs() < 1e-3, "{}", w.p_value);
    }
}
