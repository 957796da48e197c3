//! Exact TreeSHAP (Lundberg, Erion and Lee, "Consistent Individualized Feature Attribution for
//! Tree Ensembles", 2018, Algorithm 2): per-input contributions to the log-odds that, with the
//! model's expected margin, add up to the margin exactly (up to rounding).
//!
//! The algorithm follows each root-to-leaf path once, keeping for every feature on the path the
//! share of permutations in which it is "present" (follows `x`) or "absent" (follows the training
//! covers). Cost per account: O(trees x leaves x depth^2).

use super::{GbdtModel, LEAF};

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
}

impl GbdtModel {
    /// Writes each input's SHAP value into `out` (zeroed first) and returns the margin, which
    /// equals `expected_margin() + sum(out)`.
    pub fn shap(&self, x: &[f64], out: &mut [f64], scratch: &mut ShapScratch) -> f64 {
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

    #[test]
    fn matches_brute_force_shapley_values_and_adds_up() {
        let trees = vec![small_tree_3(), repeated_feature_tree()];
        let model = GbdtModel::new(0.1, &trees);
        let mut scratch = ShapScratch::default();
        for x in [
            [0.0, -1.0, 0.0],
            [3.0, 1.0, 2.0],
            [6.0, 7.0, 0.5],
            [1.5, f64::NAN, 1.5],
            [f64::NAN, 0.5, f64::NAN],
        ] {
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

    /// `small_tree` on three inputs.
    fn small_tree_3() -> Tree {
        small_tree()
    }
}
