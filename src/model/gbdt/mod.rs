//! Gradient-boosted decision trees: the artifact form, the flattened serving form, and exact
//! TreeSHAP contributions ([`shap`]).
//!
//! A tree node sends an input `x` of its split feature left when `x <= threshold`; a missing
//! (`NaN`) input follows the node's default direction. The model's log-odds of repayment are
//! `base_score` plus the sum of one leaf value per tree.

mod huge_pages;
pub mod shap;

use serde::{Deserialize, Serialize};

/// Deepest tree accepted (guards recursion and the SHAP path buffers).
pub const MAX_TREE_DEPTH: usize = 64;

/// One tree as stored in an artifact: parallel arrays indexed by node, node 0 the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tree {
    /// Input index of each node's split; -1 for a leaf.
    pub split_feature: Vec<i32>,
    /// Split threshold (`x <= threshold` goes left); ignored for leaves.
    pub threshold: Vec<f64>,
    /// Left child of each internal node (0 for leaves).
    pub left: Vec<u32>,
    /// Right child of each internal node (0 for leaves).
    pub right: Vec<u32>,
    /// Where a missing input goes.
    pub default_left: Vec<bool>,
    /// Leaf output (log-odds, learning rate applied); for internal nodes, informative only.
    pub value: Vec<f64>,
    /// Training weight of each node (hessian sum or row count), used by TreeSHAP.
    pub cover: Vec<f64>,
}

impl Tree {
    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.split_feature.len()
    }

    /// True when the tree has no nodes (never valid).
    pub fn is_empty(&self) -> bool {
        self.split_feature.is_empty()
    }

    /// A tree of `n` leaf nodes with zero values and covers, to be filled in.
    pub fn with_nodes(n: usize) -> Tree {
        Tree {
            split_feature: vec![-1; n],
            threshold: vec![0.0; n],
            left: vec![0; n],
            right: vec![0; n],
            default_left: vec![true; n],
            value: vec![0.0; n],
            cover: vec![0.0; n],
        }
    }

    /// A single-leaf tree.
    pub fn leaf(value: f64, cover: f64) -> Tree {
        let mut t = Tree::with_nodes(1);
        t.value[0] = value;
        t.cover[0] = cover;
        t
    }

    /// Checks the structure: equal array lengths, children after their parent and in range,
    /// features below `n_features`, finite values, positive covers, bounded depth.
    pub fn validate(&self, n_features: usize) -> Result<(), String> {
        let n = self.len();
        if n == 0 {
            return Err("a tree has no nodes".into());
        }
        if [
            self.threshold.len(),
            self.left.len(),
            self.right.len(),
            self.default_left.len(),
            self.value.len(),
            self.cover.len(),
        ]
        .iter()
        .any(|&l| l != n)
        {
            return Err("a tree's node arrays differ in length".into());
        }
        let mut depth = vec![0usize; n];
        let mut has_parent = vec![false; n];
        for i in 0..n {
            if !(self.cover[i].is_finite() && self.cover[i] > 0.0) {
                return Err(format!("node {i}: cover must be finite and > 0"));
            }
            if !self.value[i].is_finite() {
                return Err(format!("node {i}: value must be finite"));
            }
            let f = self.split_feature[i];
            if f < 0 {
                continue;
            }
            if f as usize >= n_features {
                return Err(format!("node {i}: split feature {f} out of range"));
            }
            if !self.threshold[i].is_finite() {
                return Err(format!("node {i}: threshold must be finite"));
            }
            for child in [self.left[i] as usize, self.right[i] as usize] {
                if child <= i || child >= n || has_parent[child] {
                    return Err(format!("node {i}: child {child} is not a valid later node"));
                }
                has_parent[child] = true;
                depth[child] = depth[i] + 1;
                if depth[child] > MAX_TREE_DEPTH {
                    return Err(format!("deeper than {MAX_TREE_DEPTH} levels"));
                }
            }
        }
        if let Some(orphan) = (1..n).find(|&i| !has_parent[i]) {
            return Err(format!("node {orphan} is not reachable from the root"));
        }
        Ok(())
    }

    /// Depth of the deepest leaf (0 for a single leaf).
    pub fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.len()];
        let mut max = 0;
        for i in 0..self.len() {
            if self.split_feature[i] >= 0 {
                let child_depth = depth[i] + 1;
                for c in [self.left[i] as usize, self.right[i] as usize] {
                    if let Some(d) = depth.get_mut(c) {
                        *d = child_depth;
                        max = max.max(child_depth);
                    }
                }
            }
        }
        max
    }
}

/// Stands for "no feature" in SHAP paths.
const LEAF: u32 = u32::MAX;

/// A node of the flattened serving layout (16 bytes).
///
/// Children are adjacent (`right = left + 1`), so the next node is `left + goes_right` without a
/// branch. Missing values cost no test either: the walk reads an *expanded* input of `2 x width`
/// slots where slot `j` is input `j` with missing as -inf and slot `width + j` is input `j` with
/// missing as +inf; a node whose missing values go left reads slot `j`, one whose missing values go
/// right reads slot `width + j`, and `v <= threshold` then decides both cases. A leaf points at
/// itself with threshold +inf, so a walk of a fixed number of steps may overrun a short path
/// harmlessly.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    threshold: f64,
    /// Slot in the expanded input.
    slot: u32,
    left: u32,
}

impl Node {
    #[inline(always)]
    fn next(&self, expanded: &[f64]) -> u32 {
        let v = expanded
            .get(self.slot as usize)
            .copied()
            .unwrap_or(f64::INFINITY);
        // Expanded inputs are never NaN, so `>` is the exact negation of `<=` here.
        self.left + u32::from(v > self.threshold)
    }
}

/// Accounts walked through a tree together in [`GbdtModel::margins`]: independent walks hide
/// each other's memory and comparison latency. Sixteen measured best (docs/performance-notes.md:
/// 740 K rows/s on a 300-tree LightGBM model against 631 K with 8, 598 K with 24, 515 K with 32).
const BLOCK: usize = 16;

/// The serving form: every tree's nodes in one array, laid out breadth-first with adjacent
/// children, plus per-node leaf values and covers.
#[derive(Debug, Clone, PartialEq)]
pub struct GbdtModel {
    base_score: f64,
    nodes: Vec<Node>,
    /// Leaf value per node (0 for internal nodes).
    values: Vec<f64>,
    /// Node covers, parallel to `nodes` (for TreeSHAP).
    cover: Vec<f64>,
    /// Root index and depth of each tree.
    trees: Vec<(u32, u32)>,
    /// Expected value of the trees under their covers.
    expected: f64,
    max_depth: usize,
    /// One more than the largest split feature: half the expanded input's length.
    width: usize,
    /// Precomputed TreeSHAP contributions, when they fit the budget.
    shap_table: Option<Box<shap::ShapTable>>,
}

impl GbdtModel {
    /// Flattens validated trees.
    pub fn new(base_score: f64, trees: &[Tree]) -> GbdtModel {
        let total: usize = trees.iter().map(Tree::len).sum();
        let width = trees
            .iter()
            .flat_map(|t| t.split_feature.iter())
            .map(|&f| usize::try_from(f).map_or(0, |f| f + 1))
            .max()
            .unwrap_or(0);
        let mut model = GbdtModel {
            base_score,
            nodes: Vec::with_capacity(total),
            values: Vec::with_capacity(total),
            cover: Vec::with_capacity(total),
            trees: Vec::with_capacity(trees.len()),
            expected: 0.0,
            max_depth: 0,
            width,
            shap_table: None,
        };
        for tree in trees {
            model.push_tree(tree);
        }
        debug_assert!(model.layout_is_sound());
        model.shap_table = shap::ShapTable::build(&model).map(Box::new);
        model
    }

    /// The invariant the batch walk relies on: every tree root and every child index is a
    /// node, and every slot is inside the expanded input (leaves read slot 0).
    fn layout_is_sound(&self) -> bool {
        let n = self.nodes.len();
        let slots = (2 * self.width).max(1);
        self.trees.iter().all(|&(root, _)| (root as usize) < n)
            && self.nodes.iter().enumerate().all(|(i, node)| {
                let leaf = node.threshold == f64::INFINITY && node.left as usize == i;
                (node.slot as usize) < slots
                    && (leaf || (node.left as usize) + 1 < n)
                    && (node.left as usize) < n
            })
    }

    fn push_tree(&mut self, tree: &Tree) {
        let root = self.nodes.len() as u32;
        let depth = tree.depth();
        self.max_depth = self.max_depth.max(depth);
        self.trees.push((root, depth as u32));
        let root_cover = tree.cover[0];
        // Breadth-first: each internal node's two children get the next two slots.
        let mut queue = std::collections::VecDeque::from([(0usize, root)]);
        self.reserve_slot();
        while let Some((src, at)) = queue.pop_front() {
            let at_usize = at as usize;
            self.cover[at_usize] = tree.cover[src];
            if tree.split_feature[src] < 0 {
                self.nodes[at_usize] = Node {
                    threshold: f64::INFINITY,
                    slot: 0,
                    left: at,
                };
                self.values[at_usize] = tree.value[src];
                self.expected += tree.value[src] * tree.cover[src] / root_cover;
                continue;
            }
            let left = self.nodes.len() as u32;
            self.reserve_slot();
            self.reserve_slot();
            let feature = tree.split_feature[src] as u32;
            let slot = if tree.default_left[src] {
                feature
            } else {
                self.width as u32 + feature
            };
            self.nodes[at_usize] = Node {
                threshold: tree.threshold[src],
                slot,
                left,
            };
            queue.push_back((tree.left[src] as usize, left));
            queue.push_back((tree.right[src] as usize, left + 1));
        }
    }

    fn reserve_slot(&mut self) {
        self.nodes.push(Node {
            threshold: f64::INFINITY,
            slot: 0,
            left: 0,
        });
        self.values.push(0.0);
        self.cover.push(0.0);
    }

    /// Number of trees.
    pub fn trees(&self) -> usize {
        self.trees.len()
    }

    /// Writes the expanded input of `x` (see [`Node`]) into `out` (length `2 x width`).
    #[inline]
    fn expand(&self, x: &[f64], out: &mut [f64]) {
        let (low, high) = out.split_at_mut(self.width);
        for (j, (l, h)) in low.iter_mut().zip(high.iter_mut()).enumerate() {
            let v = x.get(j).copied().unwrap_or(f64::NAN);
            (*l, *h) = if v.is_nan() {
                (f64::NEG_INFINITY, f64::INFINITY)
            } else {
                (v, v)
            };
        }
    }

    /// The value of the leaf tree `t` sends the expanded input to (0 for no such tree).
    fn tree_value(&self, t: usize, expanded: &[f64]) -> f64 {
        let Some(&(root, depth)) = self.trees.get(t) else {
            return 0.0;
        };
        let mut i = root;
        for _ in 0..depth {
            i = self.nodes[i as usize].next(expanded);
        }
        self.values[i as usize]
    }

    #[inline]
    fn walk(&self, expanded: &[f64]) -> f64 {
        let mut sum = self.base_score;
        for &(root, depth) in &self.trees {
            let mut i = root;
            for _ in 0..depth {
                i = self.nodes[i as usize].next(expanded);
            }
            sum += self.values[i as usize];
        }
        sum
    }

    /// Log-odds of repayment for the input vector `x`.
    #[inline]
    pub fn margin(&self, x: &[f64]) -> f64 {
        const STACK: usize = 128;
        if 2 * self.width <= STACK {
            let mut expanded = [0.0; STACK];
            self.expand(x, &mut expanded[..2 * self.width]);
            self.walk(&expanded[..2 * self.width])
        } else {
            let mut expanded = vec![0.0; 2 * self.width];
            self.expand(x, &mut expanded);
            self.walk(&expanded)
        }
    }

    /// Log-odds for many input vectors: `xs` holds `out.len()` rows of `p` inputs, row-major.
    /// Walks each tree for `BLOCK` rows at a time; equal to [`Self::margin`] row by row.
    pub fn margins(&self, xs: &[f64], p: usize, out: &mut [f64]) {
        let rows = out.len().min(xs.len().checked_div(p).unwrap_or(0));
        let w = self.width;
        // The block's expanded inputs, slot-major: slot `s` of row `k` is `block[s * BLOCK + k]`
        // (at least one slot, which leaves read).
        let mut block = vec![0.0; (2 * w).max(1) * BLOCK];
        let full = rows - rows % BLOCK;
        let nodes = &self.nodes[..];
        for start in (0..full).step_by(BLOCK) {
            for k in 0..BLOCK {
                let x = &xs[(start + k) * p..(start + k + 1) * p];
                for j in 0..w {
                    let v = x.get(j).copied().unwrap_or(f64::NAN);
                    let (low, high) = if v.is_nan() {
                        (f64::NEG_INFINITY, f64::INFINITY)
                    } else {
                        (v, v)
                    };
                    block[j * BLOCK + k] = low;
                    block[(w + j) * BLOCK + k] = high;
                }
            }
            let mut sums = [self.base_score; BLOCK];
            for &(root, depth) in &self.trees {
                let mut at = [root; BLOCK];
                for _ in 0..depth {
                    for (k, i) in at.iter_mut().enumerate() {
                        // SAFETY: `layout_is_sound` holds (`new` builds it so and checks it in
                        // debug builds; a test checks it on random trees): every root and every
                        // child index is below `nodes.len()`, and every slot is below `2 * w`
                        // (leaves use slot 0), so `slot * BLOCK + k < block.len()` for
                        // `k < BLOCK`. Bounds checks here cost 25-40 % of the batch path's
                        // throughput (`cargo bench --bench scoring -- decision_batch`).
                        let n = unsafe { nodes.get_unchecked(*i as usize) };
                        let v = unsafe { *block.get_unchecked(n.slot as usize * BLOCK + k) };
                        // Expanded inputs are never NaN, so `>` is the exact negation of `<=`.
                        *i = n.left + u32::from(v > n.threshold);
                    }
                }
                for (s, i) in sums.iter_mut().zip(at) {
                    *s += self.values[i as usize];
                }
            }
            out[start..start + BLOCK].copy_from_slice(&sums);
        }
        for r in full..rows {
            out[r] = self.margin(&xs[r * p..(r + 1) * p]);
        }
    }

    /// The split feature of internal node `i` and whether its missing values go left.
    fn split_of(&self, i: usize) -> (u32, bool) {
        let slot = self.nodes[i].slot;
        let width = self.width as u32;
        if slot < width {
            (slot, true)
        } else {
            (slot - width, false)
        }
    }

    /// The model's expected output under the training covers: `base_score` plus each tree's
    /// cover-weighted mean leaf value. SHAP contributions are measured from it.
    pub fn expected_margin(&self) -> f64 {
        self.base_score + self.expected
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// x0 <= 1 ? (x1 <= 5 ? 1.0 : 2.0) : 3.0 ; missing x0 goes right, missing x1 left.
    pub(crate) fn small_tree() -> Tree {
        Tree {
            split_feature: vec![0, 1, -1, -1, -1],
            threshold: vec![1.0, 5.0, 0.0, 0.0, 0.0],
            left: vec![1, 3, 0, 0, 0],
            right: vec![2, 4, 0, 0, 0],
            default_left: vec![false, true, true, true, true],
            value: vec![0.0, 0.0, 3.0, 1.0, 2.0],
            cover: vec![10.0, 6.0, 4.0, 2.0, 4.0],
        }
    }

    #[test]
    fn predicts_by_threshold_and_default_direction() {
        let m = GbdtModel::new(0.5, &[small_tree(), Tree::leaf(-0.25, 10.0)]);
        assert_eq!(m.margin(&[1.0, 5.0]), 0.5 + 1.0 - 0.25);
        assert_eq!(m.margin(&[1.0, 5.5]), 0.5 + 2.0 - 0.25);
        assert_eq!(m.margin(&[1.5, 0.0]), 0.5 + 3.0 - 0.25);
        assert_eq!(m.margin(&[f64::NAN, 0.0]), 0.5 + 3.0 - 0.25);
        assert_eq!(m.margin(&[0.0, f64::NAN]), 0.5 + 1.0 - 0.25);
        // The blocked batch path agrees row by row, for full blocks and the remainder.
        let rows: Vec<[f64; 2]> = (0..19)
            .map(|i| {
                let a = f64::from(i) * 0.17;
                let b = if i % 5 == 0 {
                    f64::NAN
                } else {
                    f64::from(i) * 0.61
                };
                [a, b]
            })
            .collect();
        let flat: Vec<f64> = rows.iter().flatten().copied().collect();
        let mut out = vec![0.0; rows.len()];
        m.margins(&flat, 2, &mut out);
        for (r, o) in rows.iter().zip(&out) {
            assert_eq!(*o, m.margin(r));
        }
        let expected = 0.5 + (3.0 * 4.0 + 1.0 * 2.0 + 2.0 * 4.0) / 10.0 - 0.25;
        assert!((m.expected_margin() - expected).abs() < 1e-12);
    }

    #[test]
    fn validation_refuses_malformed_trees() {
        assert!(small_tree().validate(2).is_ok());
        assert!(small_tree().validate(1).is_err(), "feature out of range");
        let mut t = small_tree();
        t.left[0] = 0;
        assert!(t.validate(2).is_err(), "cycle");
        let mut t = small_tree();
        t.cover[3] = 0.0;
        assert!(t.validate(2).is_err(), "zero cover");
        let mut t = small_tree();
        t.value.pop();
        assert!(t.validate(2).is_err(), "ragged");
        let mut t = small_tree();
        t.right[1] = 2;
        assert!(t.validate(2).is_err(), "shared child");
    }

    /// A random valid tree over `p` features with `splits` internal nodes (node order random).
    fn random_tree(next: &mut impl FnMut() -> u64, p: usize, splits: usize) -> Tree {
        let mut t = Tree::leaf(0.0, 1.0);
        for _ in 0..splits {
            let leaves: Vec<usize> = (0..t.len()).filter(|&i| t.split_feature[i] < 0).collect();
            let at = leaves[next() as usize % leaves.len()];
            let (l, r) = (t.len() as u32, t.len() as u32 + 1);
            t.split_feature[at] = (next() % p as u64) as i32;
            t.threshold[at] = (next() % 100) as f64 / 10.0;
            t.default_left[at] = next() % 2 == 0;
            t.left[at] = l;
            t.right[at] = r;
            for _ in 0..2 {
                t.split_feature.push(-1);
                t.threshold.push(0.0);
                t.left.push(0);
                t.right.push(0);
                t.default_left.push(true);
                t.value.push((next() % 1000) as f64 / 100.0 - 5.0);
                t.cover.push(1.0);
            }
        }
        // Uneven covers, each internal node's the sum of its children's (children come after
        // their parent), so that TreeSHAP's cover shares are not all 1/2 or 1.
        for i in (0..t.len()).rev() {
            t.cover[i] = if t.split_feature[i] < 0 {
                1.0 + (next() % 100) as f64
            } else {
                t.cover[t.left[i] as usize] + t.cover[t.right[i] as usize]
            };
        }
        t
    }

    #[test]
    fn the_batch_walk_agrees_with_single_walks_on_random_trees() {
        let mut state = 11u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        for case in 0..40 {
            let p = 1 + (next() % 6) as usize;
            let trees: Vec<Tree> = (0..1 + next() % 12)
                .map(|_| {
                    let splits = if case % 7 == 0 {
                        0
                    } else {
                        (next() % 20) as usize
                    };
                    random_tree(&mut next, p, splits)
                })
                .collect();
            for t in &trees {
                assert!(t.validate(p).is_ok());
            }
            let m = GbdtModel::new(0.1, &trees);
            assert!(m.layout_is_sound(), "case {case}");
            // Inputs as wide as the data, some missing; 37 rows: full blocks and a remainder.
            let rows = 37;
            let xs: Vec<f64> = (0..rows * p)
                .map(|_| match next() % 10 {
                    0 => f64::NAN,
                    v => (v * (next() % 13)) as f64 / 10.0,
                })
                .collect();
            let mut out = vec![0.0; rows];
            m.margins(&xs, p, &mut out);
            for (r, o) in out.iter().enumerate() {
                assert_eq!(*o, m.margin(&xs[r * p..(r + 1) * p]), "case {case} row {r}");
            }
        }
    }

    #[test]
    fn precomputed_shap_agrees_with_the_recursive_algorithm_on_random_trees() {
        let mut state = 29u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        let mut scratch = shap::ShapScratch::default();
        let (mut widest, mut with_cells) = (0, 0);
        for case in 0..40 {
            // Up to 14 inputs and 80 splits: paths with more than the 8 path features the
            // table walk unrolls for.
            let p = 1 + (next() % 14) as usize;
            let trees: Vec<Tree> = (0..1 + next() % 8)
                .map(|_| {
                    let splits = (next() % 80) as usize;
                    random_tree(&mut next, p, splits)
                })
                .collect();
            let m = GbdtModel::new(-0.2, &trees);
            assert!(m.shap_table.is_some(), "case {case}");
            widest = widest.max(m.shap_table.as_ref().map_or(0, |t| t.widest_leaf()));
            with_cells += m.shap_table.as_ref().map_or(0, |t| t.trees_with_cells());
            // The walk per cell is slow in debug builds: a quarter of the cases.
            assert!(
                case % 4 != 0
                    || m.shap_table
                        .as_ref()
                        .is_some_and(|t| t.cells_match_the_walk(&m)),
                "case {case}: cell tables differ from the leaf walk"
            );
            // 21 rows: a whole block of accounts and a part one.
            let rows = 21;
            let xs: Vec<f64> = (0..rows * p)
                .map(|_| match next() % 8 {
                    0 => f64::NAN,
                    v => (v * (next() % 13)) as f64 / 10.0,
                })
                .collect();
            let (mut many, mut margins) = (vec![0.0; rows * p], vec![0.0; rows]);
            m.shap_many(&xs, p, &mut many, &mut margins, &mut scratch);
            for (r, x) in xs.chunks_exact(p).enumerate() {
                let (mut fast, mut slow) = (vec![0.0; p], vec![0.0; p]);
                let margin = m.shap(x, &mut fast, &mut scratch);
                // The block walk gives the one-account values, bit for bit.
                assert_eq!(margins[r], margin, "case {case} row {r}");
                assert_eq!(many[r * p..(r + 1) * p], fast[..], "case {case} row {r}");
                let x = x.to_vec();
                m.shap_recursive(&x, &mut slow, &mut scratch);
                assert_eq!(margin, m.margin(&x));
                for (a, b) in fast.iter().zip(&slow) {
                    assert!((a - b).abs() < 1e-9, "case {case}: {fast:?} vs {slow:?}");
                }
                let sum = m.expected_margin() + fast.iter().sum::<f64>();
                assert!((sum - margin).abs() < 1e-9, "case {case}");
            }
        }
        assert!(widest > 8, "no path had more than 8 features: {widest}");
        // Trees small enough for cell tables, and accounts with missing inputs (which take the
        // leaf walk there), both came up.
        assert!(with_cells > 20, "{with_cells} trees with cell tables");
    }
}
