//! Growing one tree on gradient/hessian statistics, the way LightGBM does it: the tree's rows sit
//! in one index buffer that each split partitions in place (a leaf owns a contiguous range);
//! histograms are flat buffers from a pool, built for the smaller child and turned into the
//! larger child's by subtracting in place from the parent's; the best split per feature has a
//! learned direction for missing values; growth is leaf-wise (best-first); and monotone
//! constraints are exact, by bounding leaf values (left subtree below the midpoint, right subtree
//! above, or the reverse).

use std::ops::Range;
use std::sync::{Mutex, PoisonError};

use super::binning::{BinnedMatrix, Bins, RowBinned};
use super::team::{Barrier, Cells};
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

/// Fits whose trees see fewer rows x features than this run on one thread.
pub const PARALLEL_MIN_CELLS: usize = 64 * 1024;

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

/// Gradient statistics of a set of rows. Aligned to 32 bytes so that no histogram update
/// straddles two cache lines (which costs a split load and defeats store forwarding).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[repr(C, align(32))]
struct Stat {
    g: f64,
    h: f64,
    n: u32,
}

impl Stat {
    #[inline]
    fn add(&mut self, o: &Stat) {
        self.g += o.g;
        self.h += o.h;
        self.n += o.n;
    }

    #[inline]
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
    left: Stat,
    right: Stat,
    left_value: f64,
    right_value: f64,
}

/// A leaf whose best split is being searched.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    total: Stat,
    lower: f64,
    upper: f64,
    /// Loss reduction of the leaf unsplit.
    parent_score: f64,
}

/// The better of two splits of different features; equal gains go to the earlier feature, as in
/// a scan of the features in order (so the tree does not depend on which worker searched what).
fn better(a: Option<Split>, b: Option<Split>) -> Option<Split> {
    match (a, b) {
        (Some(x), Some(y)) if y.gain > x.gain || (y.gain == x.gain && y.feature < x.feature) => {
            Some(y)
        }
        (None, y) => y,
        (x, _) => x,
    }
}

/// An open leaf: its rows are `indices[rows]`, its histogram is flat (see [`Grower::offsets`]).
struct Leaf {
    node: usize,
    rows: Range<usize>,
    hist: Vec<Stat>,
    depth: usize,
    lower: f64,
    upper: f64,
    best: Option<Split>,
}

/// Inputs shared by every split of one tree.
pub struct TreeData<'a> {
    /// Training rows, binned, feature-major (for partitions).
    pub binned: &'a BinnedMatrix,
    /// The same bins of the usable features (see [`Grower::new`]), row-major (for histograms).
    pub rows: &'a RowBinned,
    /// The cuts, for raw thresholds.
    pub bins: &'a Bins,
    /// Gradient per training row.
    pub grad: &'a Cells,
    /// Hessian per training row.
    pub hess: &'a Cells,
    /// Features this tree may split on, ascending.
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

    /// What a split search needs to know about a leaf with statistics `total` and value bounds;
    /// `None` for a leaf that cannot split: at the depth limit, or with too few rows to leave
    /// `min_child_samples` on each side (the split scan would find nothing there either).
    fn candidate(&self, total: Stat, depth: usize, lower: f64, upper: f64) -> Option<Candidate> {
        let splittable = u64::from(total.n) >= 2 * u64::from(self.params.min_child_samples);
        (depth < self.params.max_depth && splittable).then(|| {
            let w = self.value(&total, lower, upper);
            Candidate {
                total,
                lower,
                upper,
                parent_score: self.score(&total, w),
            }
        })
    }

    /// The best split of feature `j` of a leaf, from the feature's histogram.
    fn best_split_of(&self, leaf: &Candidate, j: usize, hist: &[Stat]) -> Option<Split> {
        let params = self.params;
        if hist.len() < 3 {
            return None;
        }
        let parent_score = leaf.parent_score;
        let missing = hist[0];
        let present = leaf.total.minus(&missing);
        let constraint = self.monotone[j];
        // Neither this feature nor an ancestor's split bounds the values.
        let free =
            constraint == 0 && leaf.lower == f64::NEG_INFINITY && leaf.upper == f64::INFINITY;
        let mut best: Option<Split> = None;
        let mut acc = Stat::default();
        for (b, stat) in hist.iter().enumerate().take(hist.len() - 1).skip(1) {
            if stat.n == 0 {
                // An empty bin splits like the bin before it, which the search has seen.
                continue;
            }
            acc.add(stat);
            // Too few rows on a side, whichever way the missing values go.
            if acc.n == 0 || acc.n + missing.n < params.min_child_samples {
                continue;
            }
            let rest = present.minus(&acc);
            if rest.n == 0 || rest.n + missing.n < params.min_child_samples {
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
                let (gain, wl, wr) = if free {
                    // Unconstrained: the optimal values, whose gain is g^2 / (h + l2) a side.
                    let (dl, dr) = (l.h + params.l2, r.h + params.l2);
                    let gain = l.g * l.g / dl + r.g * r.g / dr - parent_score;
                    (gain, -l.g / dl, -r.g / dr)
                } else {
                    let wl = self.value(&l, leaf.lower, leaf.upper);
                    let wr = self.value(&r, leaf.lower, leaf.upper);
                    if (constraint > 0 && wl > wr) || (constraint < 0 && wl < wr) {
                        continue;
                    }
                    (
                        self.score(&l, wl) + self.score(&r, wr) - parent_score,
                        wl,
                        wr,
                    )
                };
                if gain > params.min_split_gain && best.is_none_or(|s| gain > s.gain) {
                    best = Some(Split {
                        feature: j,
                        bin: b as u8,
                        default_left,
                        gain,
                        left: l,
                        right: r,
                        left_value: wl,
                        right_value: wr,
                    });
                }
            }
        }
        best
    }
}

/// The sampled features (ascending) one worker builds and searches.
#[derive(Debug, Clone, Default)]
struct Group {
    /// Per feature: the feature, its position in the row-major matrix, and its bins' range in
    /// a flat histogram.
    features: Vec<(usize, usize, Range<usize>)>,
}

impl Group {
    /// Builds the group's histograms of `rows` into the flat histogram `hist`.
    fn build(&self, data: &TreeData<'_>, rows: &[u32], hist: &mut [Stat]) {
        for (_, _, bins) in &self.features {
            hist[bins.clone()].fill(Stat::default());
        }
        for &r in rows {
            let r = r as usize;
            let (g, h) = (data.grad.get(r), data.hess.get(r));
            let row = data.rows.row(r);
            for (_, pos, bins) in &self.features {
                let s = &mut hist[bins.start + usize::from(row[*pos])];
                s.g += g;
                s.h += h;
                s.n += 1;
            }
        }
    }
}

/// Best splits of a leaf's two children (the smaller first), or of the root.
type Found = (Option<Split>, Option<Split>);

/// How the workers growing one tree meet: after each search every worker posts its best splits
/// and waits at the team's barrier for the others; then each reads all posts in worker order, so
/// every worker takes the same decision.
pub struct Exchange {
    /// Posts by step parity, then by worker. A worker can post for step `s + 2` only after every
    /// worker has passed the barrier of step `s + 1`, so after all have read step `s`'s posts
    /// (other waits at the same barrier in between only add meetings).
    posts: [Vec<Mutex<Found>>; 2],
}

impl Exchange {
    /// An exchange for the workers of `barrier`.
    pub(super) fn new(barrier: &Barrier) -> Exchange {
        let posts = || {
            (0..barrier.workers())
                .map(|_| Mutex::new((None, None)))
                .collect()
        };
        Exchange {
            posts: [posts(), posts()],
        }
    }

    /// Posts `found` for `step` and returns the best of all workers' posts (ties: the earlier
    /// feature).
    fn share(&self, barrier: &Barrier, step: usize, worker: usize, found: Found) -> Found {
        if barrier.workers() == 1 {
            return found;
        }
        let posts = &self.posts[step % 2];
        *posts[worker].lock().unwrap_or_else(PoisonError::into_inner) = found;
        barrier.wait();
        posts.iter().fold((None, None), |(a, b), post| {
            let (x, y) = *post.lock().unwrap_or_else(PoisonError::into_inner);
            (better(a, x), better(b, y))
        })
    }
}

/// One worker's part in growing trees, its buffers reused from one tree to the next. Every
/// worker of a fit grows the same tree: each builds and searches only its own features'
/// histograms and partitions its own copy of the rows, so the workers meet once per split and
/// exchange nothing but the candidate splits, and each ends with the same nodes and leaves.
pub struct Grower {
    /// Start of each feature's bins in a flat histogram (one more entry than features); features
    /// that cannot split have no bins.
    offsets: Vec<usize>,
    /// Position of each feature in the row-major matrix.
    position: Vec<usize>,
    /// This worker's place in its team.
    id: usize,
    /// Exchanges so far, over all trees.
    step: usize,
    group: Group,
    /// The tree's rows, partitioned by leaf.
    indices: Vec<u32>,
    /// Right-hand rows during a partition.
    spill: Vec<u32>,
    /// Histograms ready for reuse.
    pool: Vec<Vec<Stat>>,
    /// Final leaves of the last tree: node and row range.
    leaves: Vec<(usize, Range<usize>)>,
}

impl Grower {
    /// Worker `id`'s grower for data binned by `bins`, whose histograms cover `usable`
    /// (ascending), the features of the row-major matrix.
    pub fn new(bins: &Bins, usable: &[usize], id: usize) -> Grower {
        let mut offsets = vec![0];
        for j in 0..bins.n_features() {
            let len = if usable.contains(&j) {
                bins.n_bins(j)
            } else {
                0
            };
            offsets.push(offsets[j] + len);
        }
        let mut position = vec![usize::MAX; bins.n_features()];
        for (k, &j) in usable.iter().enumerate() {
            position[j] = k;
        }
        Grower {
            position,
            offsets,
            id,
            step: 0,
            group: Group::default(),
            indices: Vec::new(),
            spill: Vec::new(),
            pool: Vec::new(),
            leaves: Vec::new(),
        }
    }

    /// This worker's place in its team.
    pub fn id(&self) -> usize {
        self.id
    }

    /// Each leaf of the last tree grown, with the rows (of those it was grown on) that reach it.
    pub fn leaves(&self) -> impl Iterator<Item = (usize, &[u32])> {
        self.leaves
            .iter()
            .map(|(node, rows)| (*node, &self.indices[rows.clone()]))
    }

    /// Deals `features` out to `threads` workers so that each has about as many features (a
    /// histogram pass over the rows costs the same per feature) and as many bins (the split
    /// scans and the sibling's subtraction cost per bin) as the others, whatever the size of
    /// the leaf: the features, most bins first, go out in a snake (0, 1, .., t-1, t-1, .., 0,
    /// 0, ..). Contiguous runs of equal total cost left the worker with the wide features
    /// scanning bins while the other waited at small leaves, and the reverse at large ones.
    /// Each worker's features ascend.
    fn deal(&self, features: &[usize], threads: usize) -> Vec<Vec<usize>> {
        let bins = |j: usize| self.offsets[j + 1] - self.offsets[j];
        let mut order = features.to_vec();
        order.sort_by_key(|&j| (std::cmp::Reverse(bins(j)), j));
        let threads = threads.max(1);
        let mut groups = vec![Vec::new(); threads];
        for (k, &j) in order.iter().enumerate() {
            let (lap, place) = (k / threads, k % threads);
            let worker = if lap % 2 == 0 {
                place
            } else {
                threads - 1 - place
            };
            groups[worker].push(j);
        }
        for group in &mut groups {
            group.sort_unstable();
        }
        groups
    }

    /// Grows one tree on `rows` (indices into the binned training matrix, ascending) together
    /// with the other workers of `barrier`, every one calling this with the same arguments. The
    /// features are dealt out to the workers (see [`Grower::deal`]); the tree does not depend on
    /// how.
    pub fn grow(
        &mut self,
        data: &TreeData<'_>,
        rows: &[u32],
        barrier: &Barrier,
        exchange: &Exchange,
    ) -> Vec<GrowNode> {
        let groups = self.deal(data.features, barrier.workers());
        let group = groups.get(self.id).map(Vec::as_slice).unwrap_or_default();
        self.group.features = group
            .iter()
            .map(|&j| (j, self.position[j], self.offsets[j]..self.offsets[j + 1]))
            .collect();
        let len = self.offsets[self.offsets.len() - 1];
        self.grow_tree(data, rows, barrier, exchange, len)
    }

    /// A histogram buffer of `len` bins from the pool (its contents are stale).
    fn take_histogram(&mut self, len: usize) -> Vec<Stat> {
        self.pool
            .pop()
            .unwrap_or_else(|| vec![Stat::default(); len])
    }

    /// Partitions `indices[rows]` stably by `split`; returns where the right child starts.
    fn partition(&mut self, data: &TreeData<'_>, rows: Range<usize>, split: &Split) -> usize {
        let column = data.binned.column(split.feature);
        self.spill.clear();
        self.spill.resize(rows.len(), 0);
        // Branch-free: each row is written to both sides and the cursor of its side advances.
        let (mut write, mut spilled) = (rows.start, 0);
        for read in rows.clone() {
            let r = self.indices[read];
            let b = column[r as usize];
            let left = (b == 0 && split.default_left) | (b != 0 && b <= split.bin);
            self.indices[write] = r;
            self.spill[spilled] = r;
            write += usize::from(left);
            spilled += usize::from(!left);
        }
        self.indices[write..rows.end].copy_from_slice(&self.spill[..spilled]);
        write
    }

    /// Grows the tree with this worker's features; histograms have `len` bins.
    fn grow_tree(
        &mut self,
        data: &TreeData<'_>,
        rows: &[u32],
        barrier: &Barrier,
        exchange: &Exchange,
        len: usize,
    ) -> Vec<GrowNode> {
        self.indices.clear();
        self.indices.extend_from_slice(rows);
        self.leaves.clear();
        let all = 0..rows.len();
        let total = rows.iter().fold(Stat::default(), |mut s, &r| {
            s.g += data.grad.get(r as usize);
            s.h += data.hess.get(r as usize);
            s.n += 1;
            s
        });
        let mut hist = self.take_histogram(len);
        let root = data.candidate(total, 0, f64::NEG_INFINITY, f64::INFINITY);
        let found = self.search(data, all.clone(), &mut hist, None, [root, None]);
        let (best, _) = exchange.share(barrier, self.step, self.id, found);
        self.step += 1;
        let mut nodes = vec![GrowNode::leaf(
            data.value(&total, f64::NEG_INFINITY, f64::INFINITY),
            total.h,
        )];
        let mut open = vec![Leaf {
            node: 0,
            rows: all,
            hist,
            depth: 0,
            lower: f64::NEG_INFINITY,
            upper: f64::INFINITY,
            best,
        }];
        let mut n_leaves = 1;
        while n_leaves < data.params.max_leaves {
            // The open leaf with the largest gain (ties: the earliest node).
            let Some(k) = open
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
            let parent = open.swap_remove(k);
            let Some(split) = parent.best else { break };
            let middle = self.partition(data, parent.rows.clone(), &split);
            let (left_rows, right_rows) = (parent.rows.start..middle, middle..parent.rows.end);

            // Monotone bounds: the left subtree stays on one side of the midpoint, the right on
            // the other.
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
            let depth = parent.depth + 1;
            let left = data.candidate(split.left, depth, bounds_l.0, bounds_l.1);
            let right = data.candidate(split.right, depth, bounds_r.0, bounds_r.1);

            // Build the smaller child's histogram; the larger's is the parent's minus it.
            let left_smaller = left_rows.len() <= right_rows.len();
            let mut small = self.take_histogram(len);
            let mut large = parent.hist;
            let (small_rows, small_leaf, large_leaf) = if left_smaller {
                (left_rows.clone(), left, right)
            } else {
                (right_rows.clone(), right, left)
            };
            let found = self.search(
                data,
                small_rows,
                &mut small,
                Some(&mut large),
                [small_leaf, large_leaf],
            );
            let (small_best, large_best) = exchange.share(barrier, self.step, self.id, found);
            self.step += 1;
            let (left_hist, right_hist, left_best, right_best) = if left_smaller {
                (small, large, small_best, large_best)
            } else {
                (large, small, large_best, small_best)
            };

            let left_index = nodes.len();
            let node = &mut nodes[parent.node];
            node.feature = split.feature as i32;
            node.bin = split.bin;
            node.threshold = data.bins.threshold(split.feature, split.bin);
            node.default_left = split.default_left;
            node.left = left_index as u32;
            node.right = left_index as u32 + 1;
            for (offset, rows, hist, total, bounds, best) in [
                (0, left_rows, left_hist, split.left, bounds_l, left_best),
                (1, right_rows, right_hist, split.right, bounds_r, right_best),
            ] {
                nodes.push(GrowNode::leaf(
                    data.value(&total, bounds.0, bounds.1),
                    total.h,
                ));
                open.push(Leaf {
                    node: left_index + offset,
                    rows,
                    hist,
                    depth,
                    lower: bounds.0,
                    upper: bounds.1,
                    best,
                });
            }
            n_leaves += 1;
        }
        for leaf in open {
            self.leaves.push((leaf.node, leaf.rows));
            self.pool.push(leaf.hist);
        }
        nodes
    }

    /// For this worker's features: builds `small`'s histogram from `indices[rows]`, turns
    /// `large` (the parent's histogram, if any) into the sibling's by subtracting `small`, and
    /// searches both leaves' best splits. A leaf that cannot split never needs its histogram
    /// again: with neither able to, nothing is built, and the sibling's is derived only when it
    /// can.
    fn search(
        &self,
        data: &TreeData<'_>,
        rows: Range<usize>,
        small: &mut [Stat],
        mut large: Option<&mut Vec<Stat>>,
        leaves: [Option<Candidate>; 2],
    ) -> Found {
        if leaves.iter().all(Option::is_none) {
            return (None, None);
        }
        self.group.build(data, &self.indices[rows], small);
        let mut best = (None, None);
        for (j, _, bins) in &self.group.features {
            let small = &small[bins.clone()];
            let small_best = leaves[0].and_then(|c| data.best_split_of(&c, *j, small));
            let large_best = leaves[1].zip(large.as_mut()).and_then(|(c, large)| {
                let large = &mut large[bins.clone()];
                for (a, b) in large.iter_mut().zip(small) {
                    *a = a.minus(b);
                }
                data.best_split_of(&c, *j, large)
            });
            // Features ascend, so ties go to the earlier feature, as in a sequential scan.
            best = (better(best.0, small_best), better(best.1, large_best));
        }
        best
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded synthetic problem: `p` features (one with missing values, one constant, one of
    /// three values, the first of twenty and from 8 features on the last a copy of the first,
    /// the others of fifty), gradients of a log loss at margin 0 for labels that depend on
    /// features 0 and 1.
    struct Problem {
        bins: Bins,
        binned: BinnedMatrix,
        usable: Vec<usize>,
        grad: Vec<f64>,
        hess: Vec<f64>,
    }

    fn problem(n: usize, p: usize) -> Problem {
        let mut state = 7u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut values = vec![0.0; n * p];
        let mut grad = vec![0.0; n];
        for r in 0..n {
            for j in 0..p {
                values[r * p + j] = match j {
                    0 => (next() * 20.0).floor(),
                    2 => 1.0,
                    3 if next() < 0.2 => f64::NAN,
                    4 => (next() * 3.0).floor(),
                    j if p >= 8 && j == p - 1 => values[r * p],
                    _ => (next() * 50.0).floor(),
                };
            }
            let x = values[r * p] / 20.0 - values[r * p + 1] / 100.0;
            let y = f64::from(u8::from(next() < 0.2 + 0.6 * x.clamp(0.0, 1.0)));
            grad[r] = 0.5 - y;
        }
        let rows: Vec<usize> = (0..n).collect();
        let bins = Bins::fit(&values, p, &rows, 255);
        let binned = bins.apply(&values, p, &rows);
        let usable = (0..p).filter(|&j| bins.n_bins(j) >= 3).collect();
        Problem {
            bins,
            binned,
            usable,
            grad,
            hess: vec![0.25; n],
        }
    }

    /// Grows one tree on `rows` with `threads` workers; worker 0's nodes and grower, after
    /// checking that every worker ended with the same nodes and leaves.
    fn grow_on(problem: &Problem, threads: usize, rows: &[u32]) -> (Vec<GrowNode>, Grower) {
        let params = GbdtConfig {
            max_leaves: 15,
            min_child_samples: 5,
            ..GbdtConfig::default()
        };
        let monotone = vec![0i8; problem.bins.n_features()];
        let row_binned = problem.binned.row_major(&problem.usable);
        let cells = |values: &[f64]| {
            let cells = Cells::new(values.len(), 0.0);
            for (i, &v) in values.iter().enumerate() {
                cells.set(i, v);
            }
            cells
        };
        let (grad, hess) = (cells(&problem.grad), cells(&problem.hess));
        let data = TreeData {
            binned: &problem.binned,
            rows: &row_binned,
            bins: &problem.bins,
            grad: &grad,
            hess: &hess,
            features: &problem.usable,
            monotone: &monotone,
            params: &params,
        };
        let barrier = Barrier::new(threads);
        let exchange = Exchange::new(&barrier);
        let mut grown: Vec<(Vec<GrowNode>, Grower)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|id| {
                    let (data, barrier, exchange) = (&data, &barrier, &exchange);
                    scope.spawn(move || {
                        let _guard = barrier.guard();
                        let mut grower = Grower::new(&problem.bins, &problem.usable, id);
                        (grower.grow(data, rows, barrier, exchange), grower)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("worker"))
                .collect()
        });
        let leaves = |g: &Grower| -> Vec<(usize, Vec<u32>)> {
            g.leaves().map(|(n, r)| (n, r.to_vec())).collect()
        };
        for (nodes, grower) in &grown[1..] {
            assert_eq!(nodes, &grown[0].0, "every worker grows the same tree");
            assert_eq!(leaves(grower), leaves(&grown[0].1), "and the same leaves");
        }
        grown.swap_remove(0)
    }

    /// The node a binned row reaches.
    fn leaf_of(nodes: &[GrowNode], binned: &BinnedMatrix, r: usize) -> usize {
        let mut i = 0;
        while nodes[i].feature >= 0 {
            let n = &nodes[i];
            let b = binned.column(n.feature as usize)[r];
            let left = if b == 0 { n.default_left } else { b <= n.bin };
            i = if left { n.left } else { n.right } as usize;
        }
        i
    }

    #[test]
    fn leaf_partitions_agree_with_the_tree_and_their_statistics() {
        let problem = problem(20_000, 6);
        assert!(
            !problem.usable.contains(&2),
            "a constant feature is never split on"
        );
        // Every third row is left out, as row sampling does.
        let rows: Vec<u32> = (0..20_000).filter(|r| r % 3 != 1).collect();
        let (nodes, grower) = grow_on(&problem, 2, &rows);
        let leaves: Vec<(usize, Vec<u32>)> =
            grower.leaves().map(|(n, r)| (n, r.to_vec())).collect();
        assert_eq!(leaves.len(), 15, "the tree uses its leaf budget");
        let mut seen: Vec<u32> = leaves.iter().flat_map(|(_, r)| r.clone()).collect();
        seen.sort_unstable();
        assert_eq!(seen, rows, "the leaves partition the grown rows");
        for (node, leaf_rows) in &leaves {
            assert_eq!(nodes[*node].feature, -1);
            let hess: f64 = leaf_rows.iter().map(|&r| problem.hess[r as usize]).sum();
            let grad: f64 = leaf_rows.iter().map(|&r| problem.grad[r as usize]).sum();
            assert!(
                (nodes[*node].cover - hess).abs() < 1e-9,
                "leaf {node} cover"
            );
            let value = -grad / (hess + 1.0);
            assert!(
                (nodes[*node].value - value).abs() < 1e-9,
                "leaf {node} value"
            );
            for &r in leaf_rows {
                assert_eq!(leaf_of(&nodes, &problem.binned, r as usize), *node);
                assert_eq!(
                    predict_binned(&nodes, &problem.binned, r as usize),
                    nodes[*node].value
                );
            }
        }
        // The first split separates on a feature the labels depend on.
        assert!(matches!(nodes[0].feature, 0 | 1), "{:?}", nodes[0]);
    }

    #[test]
    fn the_tree_does_not_depend_on_the_thread_count() {
        // Feature 7 is a copy of feature 0, so every split of one ties with the same split of
        // the other; the earlier feature wins, whichever workers searched them (with 3, the
        // copy's worker posts first).
        let problem = problem(30_000, 8);
        let rows: Vec<u32> = (0..30_000).collect();
        let (one, _) = grow_on(&problem, 1, &rows);
        assert!(one.iter().any(|n| n.feature == 0), "the tie is met");
        assert!(
            one.iter().all(|n| n.feature != 7),
            "and goes to the earlier feature"
        );
        for threads in [2, 3] {
            let (many, _) = grow_on(&problem, threads, &rows);
            assert_eq!(one, many, "{threads} threads");
        }
    }

    #[test]
    fn the_deal_balances_both_features_and_bins() {
        // Whatever a leaf's size, the workers' shares of histogram passes (features) and of
        // scans (bins) stay even: neither can be more than one feature's worth apart.
        let problem = problem(5_000, 12);
        let grower = Grower::new(&problem.bins, &problem.usable, 0);
        let bins = |j: usize| problem.bins.n_bins(j);
        let widest = problem.usable.iter().map(|&j| bins(j)).max().unwrap_or(0);
        assert!(
            problem.usable.iter().any(|&j| bins(j) < widest / 4),
            "narrow and wide mixed"
        );
        for threads in [1, 2, 3, 4] {
            let groups = grower.deal(&problem.usable, threads);
            assert_eq!(groups.len(), threads);
            let mut all: Vec<usize> = groups.concat();
            all.sort_unstable();
            assert_eq!(all, problem.usable, "{threads}: every feature dealt once");
            for group in &groups {
                assert!(
                    group.windows(2).all(|w| w[0] < w[1]),
                    "{threads}: ascending"
                );
            }
            let counts: Vec<usize> = groups.iter().map(Vec::len).collect();
            let totals: Vec<usize> = groups
                .iter()
                .map(|g| g.iter().map(|&j| bins(j)).sum())
                .collect();
            let spread = |v: &[usize]| v.iter().max().unwrap_or(&0) - v.iter().min().unwrap_or(&0);
            assert!(spread(&counts) <= 1, "{threads}: features {counts:?}");
            assert!(spread(&totals) <= widest, "{threads}: bins {totals:?}");
        }
    }
}
