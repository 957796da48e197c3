//! The recursive TreeSHAP of Lundberg, Erion and Lee (Algorithm 2): any depth, no precomputed
//! table; the reference the tables are tested against.

use super::super::{GbdtModel, LEAF};
use super::ShapScratch;

/// One element of the unique path of features from the root to the current node.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PathElement {
    pub(super) feature: u32,
    pub(super) zero_fraction: f64,
    pub(super) one_fraction: f64,
    pub(super) weight: f64,
}

impl GbdtModel {
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
    pub(super) fn recurse(
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
pub(super) const INV: [f64; super::super::MAX_TREE_DEPTH + 4] = {
    let mut t = [0.0; super::super::MAX_TREE_DEPTH + 4];
    let mut k = 1;
    while k < t.len() {
        t[k] = 1.0 / k as f64;
        k += 1;
    }
    t
};

pub(super) fn extend(path: &mut [PathElement], depth: usize, zero: f64, one: f64, feature: u32) {
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

pub(super) fn unwind(path: &mut [PathElement], depth: usize, index: usize) {
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

pub(super) fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f64 {
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
