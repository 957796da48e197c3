//! Exact TreeSHAP (Lundberg, Erion and Lee, "Consistent Individualized Feature Attribution for
//! Tree Ensembles", 2018, Algorithm 2): per-input contributions to the log-odds that, with the
//! model's expected margin, add up to the margin exactly (up to rounding).
//!
//! The algorithm follows each root-to-leaf path once, keeping for every feature on the path the
//! share of permutations in which it is "present" (follows `x`) or "absent" (follows the training
//! covers). Cost per account: O(trees x leaves x depth^2).
//!
//! A leaf's contributions depend on the account only through which of the leaf's path features
//! the account "follows" (goes the path's way at every node on that feature). So, as in Fast
//! TreeSHAP v2 (Yang, 2021), [`ShapTable`] precomputes at load, for every leaf and every subset
//! of its `k` path features, the `k` contributions; an account then costs one walk down every
//! branch of every tree carrying that subset as a bit mask (one comparison per node), and `k`
//! additions per leaf: O(trees x leaves x depth). The table takes
//! `2^k x k` numbers per leaf, so it is built only when the whole of it fits
//! [`TABLE_BUDGET`]; deeper models use the recursive algorithm. Both give the same values
//! (tested to 1e-9 against each other and against brute force).

use super::{GbdtModel, LEAF};

/// Most precomputed contributions one model may hold (8 bytes each: 32 MiB).
pub const TABLE_BUDGET: usize = 4 << 20;
/// Most distinct features on one path that the table handles.
const TABLE_MAX_FEATURES: usize = 12;

/// Precomputed per-leaf contributions (see the module docs). Derived from the trees, so two
/// tables of equal models are equal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShapTable {
    leaves: Vec<LeafEntry>,
    features: Vec<u32>,
    weights: Vec<f64>,
    /// Per node: the slot of its split feature among the path features (the same for every
    /// leaf below it, as slots follow first appearance from the root).
    node_slot: Vec<u8>,
    /// Per node: its leaf entry, or `u32::MAX` for an internal node.
    node_leaf: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct LeafEntry {
    features: u32,
    k: u32,
    weights: u32,
}

impl ShapTable {
    /// The table of `model`, or `None` when it would exceed [`TABLE_BUDGET`].
    pub(super) fn build(model: &GbdtModel) -> Option<ShapTable> {
        // Each leaf's path: (node, child) pairs from the root.
        let mut paths: Vec<(usize, Vec<(usize, usize)>)> = Vec::new();
        for &(root, _) in &model.trees {
            let mut stack = vec![(root as usize, Vec::new())];
            while let Some((node, path)) = stack.pop() {
                let n = &model.nodes[node];
                if n.left as usize == node {
                    paths.push((node, path));
                    continue;
                }
                for child in [n.left as usize, n.left as usize + 1] {
                    let mut p = path.clone();
                    p.push((node, child));
                    stack.push((child, p));
                }
            }
        }
        let mut size = 0usize;
        let mut unique: Vec<Vec<u32>> = Vec::with_capacity(paths.len());
        for (_, path) in &paths {
            let mut features: Vec<u32> = Vec::new();
            for &(node, _) in path {
                let f = model.split_of(node).0;
                if !features.contains(&f) {
                    features.push(f);
                }
            }
            if features.len() > TABLE_MAX_FEATURES {
                return None;
            }
            size += (1usize << features.len()) * features.len();
            if size > TABLE_BUDGET {
                return None;
            }
            unique.push(features);
        }
        let mut table = ShapTable {
            leaves: Vec::with_capacity(paths.len()),
            features: Vec::new(),
            weights: Vec::with_capacity(size),
            node_slot: vec![0; model.nodes.len()],
            node_leaf: vec![u32::MAX; model.nodes.len()],
        };
        let mut buffer = vec![PathElement::default(); TABLE_MAX_FEATURES + 2];
        for ((leaf, path), features) in paths.iter().zip(unique) {
            let k = features.len();
            let entry = LeafEntry {
                features: u32::try_from(table.features.len()).ok()?,
                k: k as u32,
                weights: u32::try_from(table.weights.len()).ok()?,
            };
            // The share of training cover down the path, per feature.
            let mut zero = vec![1.0; k];
            for &(node, child) in path {
                let f = model.split_of(node).0;
                let slot = features.iter().position(|&g| g == f).unwrap_or(0);
                zero[slot] *= model.cover[child] / model.cover[node];
                table.node_slot[node] = slot as u8;
            }
            let value = model.values[*leaf];
            for mask in 0..(1usize << k) {
                extend(&mut buffer, 0, 1.0, 1.0, LEAF);
                for (j, &f) in features.iter().enumerate() {
                    let one = if mask & (1 << j) != 0 { 1.0 } else { 0.0 };
                    extend(&mut buffer, j + 1, zero[j], one, f);
                }
                for i in 1..=k {
                    let w = unwound_sum(&buffer, k, i);
                    let el = buffer[i];
                    table
                        .weights
                        .push(w * (el.one_fraction - el.zero_fraction) * value);
                }
            }
            table.features.extend(features);
            table.node_leaf[*leaf] = u32::try_from(table.leaves.len()).ok()?;
            table.leaves.push(entry);
        }
        Some(table)
    }
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
    stack: Vec<(u32, usize)>,
}

impl GbdtModel {
    /// Writes each input's SHAP value into `out` (zeroed first) and returns the margin, which
    /// equals `expected_margin() + sum(out)` (up to rounding). Uses the precomputed table when
    /// the model has one.
    pub fn shap(&self, x: &[f64], out: &mut [f64], scratch: &mut ShapScratch) -> f64 {
        match &self.shap_table {
            Some(table) => self.shap_from_table(table, x, out, scratch),
            None => self.shap_recursive(x, out, scratch),
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
        // Depth-first down every tree, carrying the mask of path features the account
        // follows: each node's decision is made once, and a leaf reads its row directly.
        let stack = &mut scratch.stack;
        for &(root, _) in &self.trees {
            stack.clear();
            stack.push((root, usize::MAX));
            while let Some((node, mask)) = stack.pop() {
                let n = &self.nodes[node as usize];
                let entry = table
                    .node_leaf
                    .get(node as usize)
                    .copied()
                    .unwrap_or(u32::MAX);
                if let Some(leaf) = table.leaves.get(entry as usize) {
                    let k = leaf.k as usize;
                    let row = leaf.weights as usize + (mask & ((1usize << k) - 1)) * k;
                    let features = &table.features[leaf.features as usize..][..k];
                    for (f, w) in features.iter().zip(&table.weights[row..row + k]) {
                        if let Some(p) = out.get_mut(*f as usize) {
                            *p += w;
                        }
                    }
                    continue;
                }
                let slot = table.node_slot.get(node as usize).copied().unwrap_or(0);
                let taken = n.next(expanded);
                for child in [n.left, n.left + 1] {
                    // Branch-free: whether the account goes this way is data.
                    let off = usize::from(taken != child) << slot;
                    stack.push((child, mask & !off));
                }
            }
        }
        self.walk(expanded)
    }

    /// [`Self::shap`] by the recursive algorithm (any depth).
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
        self.expected_margin() + out.iter().sum::<f64>()
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
