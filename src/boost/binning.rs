//! Quantile binning: each feature's non-missing training values are cut into at most 254 value
//! bins at midpoints between distinct values; bin 0 holds missing values.

/// Most bins per feature, the missing bin included.
pub const MAX_BINS: usize = 255;
/// Rows sampled to place the cuts.
const SAMPLE_ROWS: usize = 200_000;

/// Per-feature cut points.
#[derive(Debug, Clone, PartialEq)]
pub struct Bins {
    /// Ascending upper bounds of value bins 1..: bin `b` holds `cuts[b-2] < x <= cuts[b-1]`, the
    /// last bin everything above the last cut.
    cuts: Vec<Vec<f64>>,
}

/// Binned values, feature-major: `bins[j * rows + r]`.
#[derive(Debug, Clone, PartialEq)]
pub struct BinnedMatrix {
    /// Rows.
    pub rows: usize,
    /// Bin codes.
    pub bins: Vec<u8>,
}

impl BinnedMatrix {
    /// Feature `j`'s bins, one per row.
    #[inline]
    pub fn column(&self, j: usize) -> &[u8] {
        &self.bins[j * self.rows..(j + 1) * self.rows]
    }
}

/// Binned values of some features, row-major: row `r`'s bins are `bins[r * width..][..width]`.
/// Histograms are built from this layout: a row's bins share a cache line and its gradient is
/// read once for all its features.
#[derive(Debug, Clone, PartialEq)]
pub struct RowBinned {
    /// Features per row.
    pub width: usize,
    /// Bin codes.
    pub bins: Vec<u8>,
}

impl RowBinned {
    /// Row `r`'s bins.
    #[inline]
    pub fn row(&self, r: usize) -> &[u8] {
        &self.bins[r * self.width..(r + 1) * self.width]
    }
}

impl BinnedMatrix {
    /// The row-major bins of `features` (in that order).
    pub fn row_major(&self, features: &[usize]) -> RowBinned {
        let width = features.len();
        let mut bins = vec![0u8; self.rows * width];
        for (k, &j) in features.iter().enumerate() {
            for (r, &b) in self.column(j).iter().enumerate() {
                bins[r * width + k] = b;
            }
        }
        RowBinned { width, bins }
    }
}

impl Bins {
    /// Places the cuts from `rows` of the row-major matrix `values` with `p` columns.
    pub fn fit(values: &[f64], p: usize, rows: &[usize], max_bins: usize) -> Bins {
        let max_value_bins = max_bins.clamp(2, MAX_BINS) - 1;
        let step = rows.len().div_ceil(SAMPLE_ROWS).max(1);
        let cuts = (0..p)
            .map(|j| {
                let mut v: Vec<f64> = rows
                    .iter()
                    .step_by(step)
                    .map(|&i| values[i * p + j])
                    .filter(|x| !x.is_nan())
                    .collect();
                v.sort_by(f64::total_cmp);
                cuts_for(&v, max_value_bins)
            })
            .collect();
        Bins { cuts }
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.cuts.len()
    }

    /// Number of bins of feature `j`, the missing bin included.
    pub fn n_bins(&self, j: usize) -> usize {
        self.cuts[j].len() + 2
    }

    /// The raw threshold of a split after value bin `bin` of feature `j`: `x <= threshold` is
    /// in bins 1..=bin.
    pub fn threshold(&self, j: usize, bin: u8) -> f64 {
        self.cuts[j][usize::from(bin) - 1]
    }

    /// The bin of value `x` of feature `j`.
    #[inline]
    pub fn bin(&self, j: usize, x: f64) -> u8 {
        if x.is_nan() {
            0
        } else {
            (1 + self.cuts[j].partition_point(|&c| c < x)) as u8
        }
    }

    /// Bins `rows` of the row-major matrix `values`.
    pub fn apply(&self, values: &[f64], p: usize, rows: &[usize]) -> BinnedMatrix {
        let mut bins = vec![0u8; p * rows.len()];
        for j in 0..p {
            let column = &mut bins[j * rows.len()..(j + 1) * rows.len()];
            for (slot, &i) in column.iter_mut().zip(rows) {
                *slot = self.bin(j, values[i * p + j]);
            }
        }
        BinnedMatrix {
            rows: rows.len(),
            bins,
        }
    }
}

/// Cut points for sorted values: between every pair of distinct values when there are few,
/// else at quantiles, always midway between two distinct values.
fn cuts_for(sorted: &[f64], max_value_bins: usize) -> Vec<f64> {
    let mut distinct: Vec<f64> = sorted.to_vec();
    distinct.dedup();
    if distinct.len() <= 1 {
        return Vec::new();
    }
    let mid = |k: usize| distinct[k] + (distinct[k + 1] - distinct[k]) / 2.0;
    if distinct.len() <= max_value_bins {
        return (0..distinct.len() - 1).map(mid).collect();
    }
    let n = sorted.len();
    let mut cuts = Vec::with_capacity(max_value_bins - 1);
    for q in 1..max_value_bins {
        let v = sorted[(q * n / max_value_bins).min(n - 1)];
        // The distinct value at or above the quantile, cut just above it.
        let k = distinct.partition_point(|&d| d < v);
        if k + 1 < distinct.len() {
            let c = mid(k);
            if cuts.last().is_none_or(|&last| c > last) {
                cuts.push(c);
            }
        }
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_one_bin_each() {
        let values = [1.0, 2.0, 2.0, 3.0, f64::NAN];
        let rows: Vec<usize> = (0..values.len()).collect();
        let bins = Bins::fit(&values, 1, &rows, 255);
        assert_eq!(bins.n_bins(0), 4, "missing + three value bins");
        assert_eq!(bins.bin(0, f64::NAN), 0);
        assert_eq!(bins.bin(0, 1.0), 1);
        assert_eq!(bins.bin(0, 2.0), 2);
        assert_eq!(bins.bin(0, 3.0), 3);
        assert_eq!(bins.bin(0, 100.0), 3);
        assert_eq!(bins.bin(0, -5.0), 1);
        assert_eq!(bins.threshold(0, 1), 1.5);
        // A split after bin b sends exactly x <= threshold left.
        for x in [1.0, 1.5, 1.6, 2.0, 2.5, 3.0] {
            for b in 1..=2u8 {
                assert_eq!(
                    bins.bin(0, x) <= b,
                    x <= bins.threshold(0, b),
                    "x {x} bin {b}"
                );
            }
        }
    }

    #[test]
    fn many_values_are_cut_at_quantiles_within_the_bin_limit() {
        let values: Vec<f64> = (0..10_000).map(|i| f64::from(i % 1000) * 0.5).collect();
        let rows: Vec<usize> = (0..values.len()).collect();
        let bins = Bins::fit(&values, 1, &rows, 64);
        assert!(bins.n_bins(0) <= 64, "{}", bins.n_bins(0));
        assert!(bins.n_bins(0) > 50);
        let binned = bins.apply(&values, 1, &rows);
        let mut counts = vec![0usize; bins.n_bins(0)];
        for &b in binned.column(0) {
            counts[usize::from(b)] += 1;
        }
        assert_eq!(counts[0], 0);
        assert!(counts[1..].iter().all(|&c| c > 0 && c < 400), "{counts:?}");
    }
}
