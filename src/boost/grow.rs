//! Growing one tree on gradient/hessian statistics: per-leaf histograms (built for the smaller
//! child, subtracted for the larger), the best split per feature with a learned direction for
//! missing values, leaf-wise (best-first) growth, and exact monotone constraints by bounding leaf
//! values (left subtree below the midpoint, right subtree above, or the reverse).

use rayon::prelude::*;

use super::binning::{BinnedMatrix, Bins};
use super::GbdtConfig;

/// A node of a tree being grown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GrowNode {
    /// Split feature, or -1 for a leaf.
    pub feature: i32,
    /// Last value bin that goes left.
    pub bin: u8,
    /// Raw threshold of the split.
    pub threshold: f64,
    /// Where missing values go.
    pub default_left: bool,
    /// Children.
    pub left: u32,
    /// Children.
    pub right: u32,
    /// Leaf value (before the learning rate).
    pub value: f64,
    /// Hessian sum.
    pub cover: f64,
}

/// Partial histograms per feature for large leaves.
const LANES: usize = 4;
/// Leaves with at least this many rows use [`LANES`] partial histograms.
const LANE_MIN_ROWS: usize = 1024;
/// Histogram work (rows x features) below which threads cost more than they save.
const PARALLEL_MIN_CELLS: usize = 64 * 1024;

impl GrowNode {
    fn leaf(value: f64, cover: f64) -> GrowNode {
        GrowNode {
            feature: -1,
            bin: 0,
            threshold: 0.0,
            default_left: true,
            left: 0,
            right: 0,
            value,
            cover,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Stat {
    g: f64,
    h: f64,
    n: u32,
}

impl Stat {
    fn add(&mut self, o: &Stat) {
        self.g += o.g;
        self.h += o.h;
        self.n += o.n;
    }

    fn minus(&self, o: &Stat) -> Stat {
        Stat {
            g: self.g - o.g,
            h: self.h - o.h,
            n: self.n - o.n,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Split {
    feature: usize,
    bin: u8,
    default_left: bool,
    gain: f64,
    left_value: f64,
    right_value: f64,
}

struct Leaf {
    node: usize,
    rows: Vec<u32>,
    /// Histogram per feature (empty for features not sampled for this tree).
    hist: Vec<Vec<Stat>>,
    total: Stat,
    depth: usize,
    lower: f64,
    upper: f64,
    best: Option<Split>,
}

/// Inputs shared by every split of one tree.
pub struct TreeData<'a> {
    /// Training rows, binned.
    pub binned: &'a BinnedMatrix,
    /// The cuts, for raw thresholds.
    pub bins: &'a Bins,
    /// Gradient per training row.
    pub grad: &'a [f64],
    /// Hessian per training row.
    pub hess: &'a [f64],
    /// Features this tree may split on.
    pub features: &'a [usize],
    /// Monotone constraint per feature.
    pub monotone: &'a [i8],
    /// Tree shape and regularisation.
    pub params: &'a GbdtConfig,
}

impl TreeData<'_> {
    fn value(&self, s: &Stat, lower: f64, upper: f64) -> f64 {
        (-s.g / (s.h + self.params.l2)).clamp(lower, upper)
    }

    /// Loss reduction of a leaf with statistics `s` and value `w` (twice the second-order gain).
    fn score(&self, s: &Stat, w: f64) -> f64 {
        -(2.0 * s.g * w + (s.h + self.params.l2) * w * w)
    }

    fn histograms(&self, rows: &[u32]) -> Vec<Vec<Stat>> {
        // The leaf's gradients, gathered once and read contiguously for every feature.
        let gh: Vec<(f64, f64)> = rows
            .iter()
            .map(|&r| (self.grad[r as usize], self.hess[r as usize]))
            .collect();
        // Large leaves fill LANES interleaved partial histograms, merged in a fixed order: rows
        // that share a bin then do not wait on each other's stores.
        let lanes = if rows.len() >= LANE_MIN_ROWS {
            LANES
        } else {
            1
        };
        let build = |j: usize| -> (usize, Vec<Stat>) {
            let column = self.binned.column(j);
            let n_bins = self.bins.n_bins(j);
            let mut parts = vec![Stat::default(); lanes * n_bins];
            let mut k = 0;
            while k + lanes <= rows.len() {
                for lane in 0..lanes {
                    let (g, h) = gh[k + lane];
                    let s =
                        &mut parts[lane * n_bins + usize::from(column[rows[k + lane] as usize])];
                    s.g += g;
                    s.h += h;
                    s.n += 1;
                }
                k += lanes;
            }
            for (r, &(g, h)) in rows[k..].iter().zip(&gh[k..]) {
                let s = &mut parts[usize::from(column[*r as usize])];
                s.g += g;
                s.h += h;
                s.n += 1;
            }
            let mut hist = parts[..n_bins].to_vec();
            for lane in 1..lanes {
                for (a, b) in hist
                    .iter_mut()
                    .zip(&parts[lane * n_bins..(lane + 1) * n_bins])
                {
                    a.add(b);
                }
            }
            (j, hist)
        };
        let built: Vec<(usize, Vec<Stat>)> =
            if rows.len() * self.features.len() >= PARALLEL_MIN_CELLS {
                self.features.par_iter().map(|&j| build(j)).collect()
            } else {
                self.features.iter().map(|&j| build(j)).collect()
            };
        let mut out: Vec<Vec<Stat>> = vec![Vec::new(); self.bins_len()];
        for (j, h) in built {
            out[j] = h;
        }
        out
    }

    fn bins_len(&self) -> usize {
        self.monotone.len()
    }

    fn best_split(&self, leaf: &Leaf) -> Option<Split> {
        let parent_w = self.value(&leaf.total, leaf.lower, leaf.upper);
        let parent_score = self.score(&leaf.total, parent_w);
        let per_feature = |&j: &usize| self.best_split_of(leaf, j, parent_score);
        let candidates: Vec<Option<Split>> =
            if leaf.rows.len() * self.features.len() >= PARALLEL_MIN_CELLS {
                self.features.par_iter().map(per_feature).collect()
            } else {
                self.features.iter().map(per_feature).collect()
            };
        // The largest gain; ties go to the earlier feature, as in a sequential scan.
        candidates
            .into_iter()
            .flatten()
            .fold(None, |best: Option<Split>, s| match best {
                Some(b) if b.gain >= s.gain => Some(b),
                _ => Some(s),
            })
    }

    fn best_split_of(&self, leaf: &Leaf, j: usize, parent_score: f64) -> Option<Split> {
        let params = self.params;
        let mut best: Option<Split> = None;
        {
            let hist = &leaf.hist[j];
            if hist.len() < 3 {
                return None;
            }
            let missing = hist[0];
            let present = leaf.total.minus(&missing);
            let constraint = self.monotone[j];
            let mut acc = Stat::default();
            for (b, stat) in hist.iter().enumerate().take(hist.len() - 1).skip(1) {
                acc.add(stat);
                if acc.n == 0 {
                    continue;
                }
                let rest = present.minus(&acc);
                if rest.n == 0 {
                    break;
                }
                let directions: &[bool] = if missing.n == 0 {
                    // No missing values here: send them with the larger side.
                    if acc.h >= rest.h {
                        &[true]
                    } else {
                        &[false]
                    }
                } else {
                    &[true, false]
                };
                for &default_left in directions {
                    let (mut l, mut r) = (acc, rest);
                    if default_left {
                        l.add(&missing);
                    } else {
                        r.add(&missing);
                    }
                    if l.n < params.min_child_samples
                        || r.n < params.min_child_samples
                        || l.h < params.min_child_hessian
                        || r.h < params.min_child_hessian
                    {
                        continue;
                    }
                    let wl = self.value(&l, leaf.lower, leaf.upper);
                    let wr = self.value(&r, leaf.lower, leaf.upper);
                    if (constraint > 0 && wl > wr) || (constraint < 0 && wl < wr) {
                        continue;
                    }
                    let gain = self.score(&l, wl) + self.score(&r, wr) - parent_score;
                    if gain > params.min_split_gain && best.is_none_or(|s| gain > s.gain) {
                        best = Some(Split {
                            feature: j,
                            bin: b as u8,
                            default_left,
                            gain,
                            left_value: wl,
                            right_value: wr,
                        });
                    }
                }
            }
        }
        best
    }
}

/// Grows one tree on `rows` (indices into the binned training matrix).
pub fn grow(data: &TreeData<'_>, rows: Vec<u32>) -> Vec<GrowNode> {
    let total = rows.iter().fold(Stat::default(), |mut s, &r| {
        s.g += data.grad[r as usize];
        s.h += data.hess[r as usize];
        s.n += 1;
        s
    });
    let mut nodes = vec![GrowNode::leaf(
        data.value(&total, f64::NEG_INFINITY, f64::INFINITY),
        total.h,
    )];
    let hist = data.histograms(&rows);
    let mut root = Leaf {
        node: 0,
        rows,
        hist,
        total,
        depth: 0,
        lower: f64::NEG_INFINITY,
        upper: f64::INFINITY,
        best: None,
    };
    root.best = if data.params.max_depth > 0 {
        data.best_split(&root)
    } else {
        None
    };
    let mut leaves = vec![root];
    let mut n_leaves = 1;
    while n_leaves < data.params.max_leaves {
        // The open leaf with the largest gain (ties: the earliest node).
        let Some(k) = leaves
            .iter()
            .enumerate()
            .filter_map(|(k, l)| l.best.map(|s| (k, s.gain)))
            .fold(None, |acc: Option<(usize, f64)>, (k, g)| match acc {
                Some((_, best)) if best >= g => acc,
                _ => Some((k, g)),
            })
            .map(|(k, _)| k)
        else {
            break;
        };
        let parent = leaves.swap_remove(k);
        let Some(split) = parent.best else { break };
        let column = data.binned.column(split.feature);
        let (left_rows, right_rows): (Vec<u32>, Vec<u32>) =
            parent.rows.iter().copied().partition(|&r| {
                let b = column[r as usize];
                if b == 0 {
                    split.default_left
                } else {
                    b <= split.bin
                }
            });
        let sum = |rows: &[u32]| {
            rows.iter().fold(Stat::default(), |mut s, &r| {
                s.g += data.grad[r as usize];
                s.h += data.hess[r as usize];
                s.n += 1;
                s
            })
        };
        let (left_total, right_total) = (sum(&left_rows), sum(&right_rows));
        // Build the smaller child's histograms; the larger is the parent's minus the smaller's.
        let left_smaller = left_rows.len() <= right_rows.len();
        let small = data.histograms(if left_smaller {
            &left_rows
        } else {
            &right_rows
        });
        let large: Vec<Vec<Stat>> = parent
            .hist
            .iter()
            .zip(&small)
            .map(|(p, s)| p.iter().zip(s).map(|(a, b)| a.minus(b)).collect())
            .collect();
        let (left_hist, right_hist) = if left_smaller {
            (small, large)
        } else {
            (large, small)
        };

        // Monotone bounds: the left subtree stays on one side of the midpoint, the right on the
        // other.
        let (mut bounds_l, mut bounds_r) =
            ((parent.lower, parent.upper), (parent.lower, parent.upper));
        let mid = (split.left_value + split.right_value) / 2.0;
        match data.monotone[split.feature] {
            c if c > 0 => {
                bounds_l.1 = bounds_l.1.min(mid);
                bounds_r.0 = bounds_r.0.max(mid);
            }
            c if c < 0 => {
                bounds_l.0 = bounds_l.0.max(mid);
                bounds_r.1 = bounds_r.1.min(mid);
            }
            _ => {}
        }

        let left_index = nodes.len();
        let node = &mut nodes[parent.node];
        node.feature = split.feature as i32;
        node.bin = split.bin;
        node.threshold = data.bins.threshold(split.feature, split.bin);
        node.default_left = split.default_left;
        node.left = left_index as u32;
        node.right = left_index as u32 + 1;
        for (total, bounds) in [(left_total, bounds_l), (right_total, bounds_r)] {
            nodes.push(GrowNode::leaf(
                data.value(&total, bounds.0, bounds.1),
                total.h,
            ));
        }
        for (offset, rows, hist, total, bounds) in [
            (0, left_rows, left_hist, left_total, bounds_l),
            (1, right_rows, right_hist, right_total, bounds_r),
        ] {
            let mut leaf = Leaf {
                node: left_index + offset,
                rows,
                hist,
                total,
                depth: parent.depth + 1,
                lower: bounds.0,
                upper: bounds.1,
                best: None,
            };
            if leaf.depth < data.params.max_depth {
                leaf.best = data.best_split(&leaf);
            }
            leaves.push(leaf);
        }
        n_leaves += 1;
    }
    nodes
}

/// The leaf value of the row `r` of a binned matrix.
#[inline]
pub fn predict_binned(nodes: &[GrowNode], binned: &BinnedMatrix, r: usize) -> f64 {
    let mut i = 0;
    loop {
        let n = &nodes[i];
        if n.feature < 0 {
            return n.value;
        }
        let b = binned.column(n.feature as usize)[r];
        let left = if b == 0 { n.default_left } else { b <= n.bin };
        i = if left { n.left } else { n.right } as usize;
    }
}
