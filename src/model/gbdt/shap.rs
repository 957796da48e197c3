//! Exact TreeSHAP (Lundberg, Erion and Lee, "Consistent Individualized Feature Attribution for
//! Tree Ensembles", 2018, Algorithm 2): per-input contributions to the log-odds that, with the
//! model's expected margin, add up to the margin exactly (up to rounding).
//!
//! The algorithm follows each root-to-leaf path once, keeping for every feature on the path the
//! share of permutations in which it is "present" (follows `x`) or "absent" (follows the training
//! covers). Cost per account: O(trees x leaves x depth^2).
//!
//! A leaf's contributions depend on the account only through the set `M` of the leaf's `k` path
//! features that the account "follows" (goes the path's way at every node on that feature). With
//! `z_i` the share of training cover that goes the path's way on feature `i`, `v` the leaf value
//! and `c(s) = s! (k - 1 - s)! / k!`, let
//!
//! ```text
//! F(T) = v * sum over S ⊆ T of c(|S|) * prod over i not in S of z_i        (T ⊆ path features)
//! ```
//!
//! Then a feature the account does not follow gets `-F(M)`, and a feature `j` it follows gets
//! `(1 - z_j) / z_j * F(M - {j})`. So [`ShapTable`] precomputes at load, as in Fast TreeSHAP v2
//! (Yang, 2021) but one number per subset instead of `k`, the `2^k` values of `F` for every leaf.
//! An account then costs one comparison per node (every node's direction, in one pass over the
//! flat node array), and per leaf one step per path node to build `M`'s bit mask and `k`
//! multiply-adds from the leaf's row: O(trees x leaves x depth), in straight loops without a
//! stack or data-dependent branches. The table is built only when it fits [`TABLE_BUDGET`];
//! deeper models use the recursive algorithm. Both give the same values (tested to 1e-9 against
//! each other and against brute force).

use super::{GbdtModel, LEAF};

/// Most precomputed values one model may hold (8 bytes each: 32 MiB).
pub const TABLE_BUDGET: usize = 4 << 20;
/// Most distinct features on one path that the table handles.
const TABLE_MAX_FEATURES: usize = 16;
/// Smallest cover share the table divides by; smaller ones (from odd imported covers) send the
/// model to the recursive algorithm rather than risk an overflow.
const MIN_SHARE: f64 = 1e-100;

/// Precomputed per-leaf values of `F` (see the module docs), and the trees in the order the
/// account walks them. Derived from the trees, so two tables of equal models are equal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShapTable {
    /// Every node of every tree, depth first (a node, then its left subtree, then its right).
    visits: Vec<Visit>,
    leaves: Vec<LeafEntry>,
    /// Per leaf, its path features in slot order.
    features: Vec<PathFeature>,
    /// Per leaf, `F` of every subset of its path features, by bit mask of slots.
    values: Vec<f64>,
}

/// One node in the walk.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Visit {
    /// Internal node: its threshold (`x > threshold` goes right).
    threshold: f64,
    /// Internal node: its slot in the expanded input.
    input: u32,
    /// Leaf: its entry in `leaves`; internal node: `u32::MAX`.
    leaf: u32,
    depth: u8,
    /// 1 when this node is its parent's right child.
    right: u8,
    /// Internal node: the path slot of its split feature.
    slot: u8,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct LeafEntry {
    /// Where this leaf's `k` path features start.
    features: u32,
    k: u32,
    /// Where this leaf's `2^k` values start.
    values: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct PathFeature {
    /// What the leaf's `F` is multiplied by for this feature: when it is not followed, -1
    /// (times `F(M)`); when it is, `(1 - z) / z` (times `F(M - {j})`).
    factors: [f64; 2],
    feature: u32,
}

/// The depth-first walk's state while building a table.
struct Builder<'a> {
    model: &'a GbdtModel,
    table: ShapTable,
    /// The current path: (node, child) pairs from the root.
    path: Vec<(usize, usize)>,
}

impl ShapTable {
    /// The most distinct features on one path (for tests).
    #[cfg(test)]
    pub(super) fn widest_leaf(&self) -> usize {
        self.leaves.iter().map(|l| l.k as usize).max().unwrap_or(0)
    }

    /// The table of `model`, or `None` when it would exceed [`TABLE_BUDGET`].
    pub(super) fn build(model: &GbdtModel) -> Option<ShapTable> {
        let mut builder = Builder {
            model,
            table: ShapTable::default(),
            path: Vec::new(),
        };
        for &(root, _) in &model.trees {
            builder.visit(root as usize, 0)?;
        }
        Some(builder.table)
    }
}

impl Builder<'_> {
    /// Adds `node` and its subtree to the walk (`right`: whether `node` is a right child).
    fn visit(&mut self, node: usize, right: u8) -> Option<()> {
        let model = self.model;
        let depth = u8::try_from(self.path.len()).ok()?;
        // The distinct features above, in order of first appearance: the path's slots.
        let mut features: Vec<u32> = Vec::new();
        for &(n, _) in &self.path {
            let f = model.split_of(n).0;
            if !features.contains(&f) {
                features.push(f);
            }
        }
        let n = &model.nodes[node];
        if n.left as usize != node {
            let f = model.split_of(node).0;
            let slot = features
                .iter()
                .position(|&g| g == f)
                .unwrap_or(features.len());
            if slot >= TABLE_MAX_FEATURES {
                return None;
            }
            self.table.visits.push(Visit {
                threshold: n.threshold,
                input: n.slot,
                leaf: u32::MAX,
                depth,
                right,
                slot: slot as u8,
            });
            for (child, side) in [(n.left as usize, 0), (n.left as usize + 1, 1)] {
                self.path.push((node, child));
                let done = self.visit(child, side);
                self.path.pop();
                done?;
            }
            return Some(());
        }
        // A leaf: the share of training cover down the path, per feature.
        let k = features.len();
        let mut zero = vec![1.0; k];
        for &(n, child) in &self.path {
            let f = model.split_of(n).0;
            let slot = features.iter().position(|&g| g == f).unwrap_or(0);
            zero[slot] *= model.cover[child] / model.cover[n];
        }
        if !zero.iter().all(|&z| z >= MIN_SHARE) {
            return None;
        }
        let table = &mut self.table;
        if table.values.len() + (1usize << k) > TABLE_BUDGET {
            return None;
        }
        table.visits.push(Visit {
            threshold: f64::INFINITY,
            input: 0,
            leaf: u32::try_from(table.leaves.len()).ok()?,
            depth,
            right,
            slot: 0,
        });
        table.leaves.push(LeafEntry {
            features: u32::try_from(table.features.len()).ok()?,
            k: k as u32,
            values: u32::try_from(table.values.len()).ok()?,
        });
        table.features.extend(
            features
                .iter()
                .zip(&zero)
                .map(|(&feature, &z)| PathFeature {
                    factors: [-1.0, (1.0 - z) / z],
                    feature,
                }),
        );
        // F by its definition's terms, g(S) = v c(|S|) prod_{i not in S} z_i, then summed over
        // subsets (the zeta transform, k 2^k additions). The full set is never read (some
        // feature is always left out) and has no c, so it stays 0.
        let value = model.values[node];
        let full = (1usize << k) - 1;
        let start = table.values.len();
        for set in 0..=full {
            let g = if set == full {
                0.0
            } else {
                let absent: f64 = (0..k)
                    .filter(|j| set & (1 << j) == 0)
                    .map(|j| zero[j])
                    .product();
                value * shapley_weight(set.count_ones() as usize, k) * absent
            };
            table.values.push(g);
        }
        let f = &mut table.values[start..];
        for bit in 0..k {
            for set in 0..=full {
                if set & (1 << bit) != 0 {
                    f[set] += f[set ^ (1 << bit)];
                }
            }
        }
        Some(())
    }
}

/// Adds a leaf's contributions to `out`, for `K` path features followed as `mask` says: a
/// followed feature `j` gets `F(M - {j})` times `(1 - z) / z`, one not followed `-F(M)` (and
/// `M - {j}` is `M` then). `values` holds the leaf's `2^K` values of `F`; `out` is at least the
/// model's width (checked by [`GbdtModel::shap`]).
#[inline(always)]
fn add_leaf<const K: usize>(
    mask: usize,
    values: &[f64],
    features: &[PathFeature],
    out: &mut [f64],
) {
    let (Ok(features), true) = (
        <&[PathFeature; K]>::try_from(features),
        values.len() == 1 << K,
    ) else {
        return;
    };
    let mask = mask & ((1 << K) - 1);
    for (slot, f) in features.iter().enumerate() {
        let factor = f.factors[(mask >> slot) & 1];
        // SAFETY: `mask < 2^K = values.len()`, so clearing a bit stays below it; `f.feature`
        // is a split feature, below the model's width, which `out` is at least. Bounds checks
        // here cost a third of the table walk's instructions (callgrind).
        unsafe {
            let v = *values.get_unchecked(mask & !(1 << slot));
            *out.get_unchecked_mut(f.feature as usize) += factor * v;
        }
    }
}

/// [`add_leaf`] for any number of path features (checked).
fn add_leaf_any(k: usize, mask: usize, values: &[f64], features: &[PathFeature], out: &mut [f64]) {
    let mask = mask & ((1 << k) - 1);
    for (slot, f) in features.iter().enumerate() {
        let factor = f.factors[(mask >> slot) & 1];
        let v = values.get(mask & !(1 << slot)).copied().unwrap_or(0.0);
        if let Some(p) = out.get_mut(f.feature as usize) {
            *p += factor * v;
        }
    }
}

/// `s! (k - 1 - s)! / k!`: the Shapley weight of a coalition of `s` of a leaf's other `k - 1`
/// path features.
fn shapley_weight(s: usize, k: usize) -> f64 {
    // 1 / (k * binomial(k - 1, s)), built as a product to stay exact for small k.
    let mut w = 1.0 / k as f64;
    for i in 0..s {
        w *= (i + 1) as f64 / (k - 1 - i) as f64;
    }
    w
}

/// One element of the unique path of features from the root to the current node.
#[derive(Debug, Clone, Copy, Default)]
struct PathElement {
    feature: u32,
    zero_fraction: f64,
    one_fraction: f64,
    weight: f64,
}

/// Reusable buffers for [`GbdtModel::shap`].
#[derive(Debug, Clone, Default)]
pub struct ShapScratch {
    path: Vec<PathElement>,
    expanded: Vec<f64>,
}

impl GbdtModel {
    /// Writes each input's SHAP value into `out` (zeroed first) and returns the margin: exactly
    /// [`GbdtModel::margin`], and `expected_margin() + sum(out)` up to rounding. Uses the
    /// precomputed table when the model has one.
    pub fn shap(&self, x: &[f64], out: &mut [f64], scratch: &mut ShapScratch) -> f64 {
        match &self.shap_table {
            // Every split feature is below `width`: the table writes there unchecked.
            Some(table) if out.len() >= self.width => self.shap_from_table(table, x, out, scratch),
            _ => self.shap_recursive(x, out, scratch),
        }
    }

    /// [`Self::shap`] through the precomputed table.
    fn shap_from_table(
        &self,
        table: &ShapTable,
        x: &[f64],
        out: &mut [f64],
        scratch: &mut ShapScratch,
    ) -> f64 {
        out.fill(0.0);
        scratch.expanded.resize(2 * self.width, 0.0);
        self.expand(x, &mut scratch.expanded);
        let expanded = &scratch.expanded;
        // Per depth, the masks of the left and the right child of the last internal node
        // there: bit `slot` stays set while the account follows the path on that feature.
        let mut masks = [[0usize; 2]; super::MAX_TREE_DEPTH + 2];
        for visit in &table.visits {
            let depth = usize::from(visit.depth);
            let mask = if depth == 0 {
                usize::MAX
            } else {
                masks.get(depth).map_or(0, |m| m[usize::from(visit.right)])
            };
            let Some(leaf) = table.leaves.get(visit.leaf as usize) else {
                let v = expanded
                    .get(visit.input as usize)
                    .copied()
                    .unwrap_or(f64::INFINITY);
                // Expanded inputs are never NaN, so `>` is the exact negation of `<=` here.
                let went_right = usize::from(v > visit.threshold);
                if let Some(children) = masks.get_mut(depth + 1) {
                    *children = [
                        mask & !(went_right << visit.slot),
                        mask & !((went_right ^ 1) << visit.slot),
                    ];
                }
                continue;
            };
            let k = leaf.k as usize;
            let values = &table.values[leaf.values as usize..][..1 << k];
            let features = &table.features[leaf.features as usize..][..k];
            // Unrolled for the usual path lengths.
            match k {
                0 => {}
                1 => add_leaf::<1>(mask, values, features, out),
                2 => add_leaf::<2>(mask, values, features, out),
                3 => add_leaf::<3>(mask, values, features, out),
                4 => add_leaf::<4>(mask, values, features, out),
                5 => add_leaf::<5>(mask, values, features, out),
                6 => add_leaf::<6>(mask, values, features, out),
                7 => add_leaf::<7>(mask, values, features, out),
                8 => add_leaf::<8>(mask, values, features, out),
                _ => add_leaf_any(k, mask, values, features, out),
            }
        }
        self.walk(expanded)
    }

    /// [`Self::shap`] by the recursive algorithm (any depth); returns [`GbdtModel::margin`].
    pub fn shap_recursive(&self, x: &[f64], out: &mut [f64], scratch: &mut ShapScratch) -> f64 {
        out.fill(0.0);
        // Each level keeps its own copy of the path after its parent's: at unique depth d the
        // copy starts at (d + 1)(d + 2) / 2 and holds d + 1 elements.
        let d = self.max_depth + 2;
        let need = (d + 1) * (d + 2) / 2 + d + 2;
        if scratch.path.len() < need {
            scratch.path.resize(need, PathElement::default());
        }
        for &(root, _) in &self.trees {
            self.recurse(
                x,
                out,
                &mut scratch.path,
                root as usize,
                0,
                0,
                1.0,
                1.0,
                LEAF,
            );
        }
        self.margin(x)
    }

    #[allow(clippy::too_many_arguments)]
    fn recurse(
        &self,
        x: &[f64],
        phi: &mut [f64],
        buffer: &mut [PathElement],
        node: usize,
        parent_start: usize,
        mut depth: usize,
        parent_zero: f64,
        parent_one: f64,
        parent_feature: u32,
    ) {
        let start = parent_start + depth + 1;
        buffer.copy_within(parent_start..start, start);
        let path = &mut buffer[start..];
        extend(path, depth, parent_zero, parent_one, parent_feature);

        let n = &self.nodes[node];
        if n.left as usize == node {
            let value = self.values[node];
            for i in 1..=depth {
                let w = unwound_sum(path, depth, i);
                let el = path[i];
                if let Some(p) = phi.get_mut(el.feature as usize) {
                    *p += w * (el.one_fraction - el.zero_fraction) * value;
                }
            }
            return;
        }

        let (split_feature, default_left) = self.split_of(node);
        let v = x.get(split_feature as usize).copied().unwrap_or(f64::NAN);
        let goes_left = if v.is_nan() {
            default_left
        } else {
            v <= n.threshold
        };
        let (left, right) = (n.left as usize, n.left as usize + 1);
        let (hot, cold) = if goes_left {
            (left, right)
        } else {
            (right, left)
        };
        let w = self.cover[node];
        let hot_zero = self.cover[hot] / w;
        let cold_zero = self.cover[cold] / w;
        let (mut incoming_zero, mut incoming_one) = (1.0, 1.0);

        // A feature split on again: undo its earlier entry and redo it here.
        if let Some(k) = (1..=depth).find(|&k| path[k].feature == split_feature) {
            incoming_zero = path[k].zero_fraction;
            incoming_one = path[k].one_fraction;
            unwind(path, depth, k);
            depth -= 1;
        }
        let feature = split_feature;
        self.recurse(
            x,
            phi,
            buffer,
            hot,
            start,
            depth + 1,
            hot_zero * incoming_zero,
            incoming_one,
            feature,
        );
        self.recurse(
            x,
            phi,
            buffer,
            cold,
            start,
            depth + 1,
            cold_zero * incoming_zero,
            0.0,
            feature,
        );
    }
}

/// `INV[k] = 1 / k`, so the path arithmetic multiplies instead of dividing.
const INV: [f64; super::MAX_TREE_DEPTH + 4] = {
    let mut t = [0.0; super::MAX_TREE_DEPTH + 4];
    let mut k = 1;
    while k < t.len() {
        t[k] = 1.0 / k as f64;
        k += 1;
    }
    t
};

fn extend(path: &mut [PathElement], depth: usize, zero: f64, one: f64, feature: u32) {
    path[depth] = PathElement {
        feature,
        zero_fraction: zero,
        one_fraction: one,
        weight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let inv_d1 = INV[depth + 1];
    for i in (0..depth).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f64 * inv_d1;
        path[i].weight = zero * path[i].weight * (depth - i) as f64 * inv_d1;
    }
}

fn unwind(path: &mut [PathElement], depth: usize, index: usize) {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let d1 = (depth + 1) as f64;
    let inv_d1 = INV[depth + 1];
    let mut next_one = path[depth].weight;
    if one != 0.0 {
        let inv_one = 1.0 / one;
        for i in (0..depth).rev() {
            let tmp = path[i].weight;
            path[i].weight = next_one * d1 * INV[i + 1] * inv_one;
            next_one = tmp - path[i].weight * zero * (depth - i) as f64 * inv_d1;
        }
    } else {
        let inv_zero = 1.0 / zero;
        for i in (0..depth).rev() {
            path[i].weight = path[i].weight * d1 * inv_zero * INV[depth - i];
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f64 {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let d1 = (depth + 1) as f64;
    let inv_d1 = INV[depth + 1];
    let mut total = 0.0;
    if one != 0.0 {
        let inv_one = 1.0 / one;
        let mut next_one = path[depth].weight;
        for i in (0..depth).rev() {
            let tmp = next_one * d1 * INV[i + 1] * inv_one;
            total += tmp;
            next_one = path[i].weight - tmp * zero * (depth - i) as f64 * inv_d1;
        }
    } else if zero != 0.0 {
        let inv_zero = 1.0 / zero;
        for i in (0..depth).rev() {
            total += path[i].weight * inv_zero * d1 * INV[depth - i];
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::super::tests::small_tree;
    use super::super::{GbdtModel, Tree};
    use super::*;

    /// Brute-force Shapley values with the path-dependent (cover-weighted) value function.
    fn brute_force(model_trees: &[Tree], x: &[f64]) -> Vec<f64> {
        fn cond_exp(t: &Tree, node: usize, x: &[f64], present: &[bool]) -> f64 {
            let f = t.split_feature[node];
            if f < 0 {
                return t.value[node];
            }
            let (l, r) = (t.left[node] as usize, t.right[node] as usize);
            let f = f as usize;
            if present[f] {
                let v = x[f];
                let left = if v.is_nan() {
                    t.default_left[node]
                } else {
                    v <= t.threshold[node]
                };
                cond_exp(t, if left { l } else { r }, x, present)
            } else {
                (t.cover[l] * cond_exp(t, l, x, present) + t.cover[r] * cond_exp(t, r, x, present))
                    / t.cover[node]
            }
        }
        let m = x.len();
        let fact = |k: usize| (1..=k).map(|i| i as f64).product::<f64>();
        let mut phi = vec![0.0; m];
        for i in 0..m {
            for mask in 0..(1u32 << m) {
                if mask & (1 << i) != 0 {
                    continue;
                }
                let s = mask.count_ones() as usize;
                let weight = fact(s) * fact(m - s - 1) / fact(m);
                let present: Vec<bool> = (0..m).map(|j| mask & (1 << j) != 0).collect();
                let mut with = present.clone();
                with[i] = true;
                for t in model_trees {
                    phi[i] += weight * (cond_exp(t, 0, x, &with) - cond_exp(t, 0, x, &present));
                }
            }
        }
        phi
    }

    /// A deeper tree that splits on feature 0 twice along a path.
    fn repeated_feature_tree() -> Tree {
        // 0: x0<=2 ? 1 : 2 ; 1: x1<=0 ? 3 : 4 ; 2: x0<=5 ? 5 : 6 ; 4: x2<=1 ? 7 : 8
        Tree {
            split_feature: vec![0, 1, 0, -1, 2, -1, -1, -1, -1],
            threshold: vec![2.0, 0.0, 5.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
            left: vec![1, 3, 5, 0, 7, 0, 0, 0, 0],
            right: vec![2, 4, 6, 0, 8, 0, 0, 0, 0],
            default_left: vec![true, false, true, true, true, true, true, true, true],
            value: vec![0.0, 0.0, 0.0, -1.0, 0.0, 0.5, 2.0, 0.25, 1.5],
            cover: vec![20.0, 12.0, 8.0, 5.0, 7.0, 3.0, 5.0, 4.0, 3.0],
        }
    }

    /// Inputs that take every branch of the test trees, some missing.
    const INPUTS: [[f64; 3]; 5] = [
        [0.0, -1.0, 0.0],
        [3.0, 1.0, 2.0],
        [6.0, 7.0, 0.5],
        [1.5, f64::NAN, 1.5],
        [f64::NAN, 0.5, f64::NAN],
    ];

    #[test]
    fn matches_brute_force_shapley_values_and_adds_up() {
        let trees = vec![small_tree_3(), repeated_feature_tree()];
        let model = GbdtModel::new(0.1, &trees);
        let mut scratch = ShapScratch::default();
        for x in INPUTS {
            let mut phi = [0.0; 3];
            let margin = model.shap(&x, &mut phi, &mut scratch);
            assert!((margin - model.margin(&x)).abs() < 1e-12, "{x:?}");
            let sum = model.expected_margin() + phi.iter().sum::<f64>();
            assert!((sum - model.margin(&x)).abs() < 1e-9, "{x:?}");
            let brute = brute_force(&trees, &x);
            for (a, b) in phi.iter().zip(&brute) {
                assert!((a - b).abs() < 1e-9, "{x:?}: {phi:?} vs {brute:?}");
            }
        }
    }

    #[test]
    fn the_precomputed_table_gives_the_recursive_values() {
        let trees = vec![small_tree_3(), repeated_feature_tree()];
        let model = GbdtModel::new(0.1, &trees);
        assert!(model.shap_table.is_some());
        let mut scratch = ShapScratch::default();
        for x in INPUTS {
            let (mut fast, mut slow) = ([0.0; 3], [0.0; 3]);
            let m = model.shap(&x, &mut fast, &mut scratch);
            model.shap_recursive(&x, &mut slow, &mut scratch);
            assert_eq!(m, model.margin(&x));
            for (a, b) in fast.iter().zip(&slow) {
                assert!((a - b).abs() < 1e-12, "{x:?}: {fast:?} vs {slow:?}");
            }
        }
    }

    /// `small_tree` on three inputs.
    fn small_tree_3() -> Tree {
        small_tree()
    }
}
