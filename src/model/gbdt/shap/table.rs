//! The per-leaf subset table: for every leaf, `F` of every subset of its path features (see the
//! module docs of [`super`]), built at load; and the leaf walk that reads it per account.

use super::super::GbdtModel;
use super::ShapTable;

/// Most precomputed values one model may hold (8 bytes each: 32 MiB).
pub const TABLE_BUDGET: usize = 4 << 20;
/// Most distinct features on one path that the table handles.
pub(super) const TABLE_MAX_FEATURES: usize = 16;
/// Smallest cover share the table divides by; smaller ones (from odd imported covers) send the
/// model to the recursive algorithm rather than risk an overflow.
pub(super) const MIN_SHARE: f64 = 1e-100;

/// One node in the walk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Visit {
    /// Internal node: its threshold (`x > threshold` goes right).
    pub(super) threshold: f64,
    /// Internal node: its slot in the expanded input.
    pub(super) input: u32,
    /// Leaf: its entry in `leaves`; internal node: `u32::MAX`.
    pub(super) leaf: u32,
    pub(super) depth: u8,
    /// 1 when this node is its parent's right child.
    pub(super) right: u8,
    /// Internal node: the path slot of its split feature.
    pub(super) slot: u8,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct LeafEntry {
    /// Where this leaf's `k` path features start.
    pub(super) features: u32,
    pub(super) k: u32,
    /// Where this leaf's `2^k` values start.
    pub(super) values: u32,
    /// The leaf's own value (what the margin adds when the account reaches it).
    pub(super) value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct PathFeature {
    /// What the leaf's `F` is multiplied by for this feature: when it is not followed, -1
    /// (times `F(M)`); when it is, `(1 - z) / z` (times `F(M - {j})`).
    pub(super) factors: [f64; 2],
    pub(super) feature: u32,
}

/// The depth-first walk's state while building a table.
pub(super) struct Builder<'a> {
    pub(super) model: &'a GbdtModel,
    pub(super) table: ShapTable,
    /// The current path: (node, child) pairs from the root.
    pub(super) path: Vec<(usize, usize)>,
}

impl ShapTable {
    /// The most distinct features on one path (for tests).
    #[cfg(test)]
    pub(in crate::model::gbdt) fn widest_leaf(&self) -> usize {
        self.leaves.iter().map(|l| l.k as usize).max().unwrap_or(0)
    }
}

impl Builder<'_> {
    /// Adds `node` and its subtree to the walk (`right`: whether `node` is a right child).
    pub(super) fn visit(&mut self, node: usize, right: u8) -> Option<()> {
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
            value: model.values[node],
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

impl ShapTable {
    /// Adds the contributions of the tree whose nodes are `visits` (depth first), for the
    /// account whose expanded input is `expanded`, and returns the value of the leaf the
    /// account reaches: the one leaf whose every path feature it follows (a full mask).
    pub(super) fn add_leaves(&self, visits: &[Visit], expanded: &[f64], out: &mut [f64]) -> f64 {
        let mut reached = 0.0;
        // Per depth, the masks of the left and the right child of the last internal node
        // there: bit `slot` stays set while the account follows the path on that feature.
        let mut masks = [[0usize; 2]; super::super::MAX_TREE_DEPTH + 2];
        for visit in visits {
            let depth = usize::from(visit.depth);
            let mask = if depth == 0 {
                usize::MAX
            } else {
                masks.get(depth).map_or(0, |m| m[usize::from(visit.right)])
            };
            let Some(leaf) = self.leaves.get(visit.leaf as usize) else {
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
            let full = (1usize << k) - 1;
            if mask & full == full {
                reached = leaf.value;
            }
            let values = &self.values[leaf.values as usize..][..1 << k];
            let features = &self.features[leaf.features as usize..][..k];
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
        reached
    }
}

impl ShapTable {
    /// [`Self::add_leaves`] for a block of accounts (at most [`super::SHAP_BLOCK`]): account
    /// `i`'s expanded input is `expanded[i * w..]`, its contributions `outs[i * p..]`, and the
    /// value of the leaf it reaches is added to `margins[i]`. Each leaf's row is read once for
    /// the block.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn add_leaves_block(
        &self,
        visits: &[Visit],
        expanded: &[f64],
        w: usize,
        outs: &mut [f64],
        p: usize,
        margins: &mut [f64],
        masks: &mut Vec<[usize; 2]>,
    ) {
        const B: usize = super::SHAP_BLOCK;
        let b = margins.len().min(B);
        // Depths are below 256 (a `u8`). Every entry is written (by a node's parent, which
        // comes first depth first) before it is read: the buffer only has to be long enough.
        if masks.len() < 258 * B {
            masks.resize(258 * B, [0; 2]);
        }
        let mut mine = [0usize; B];
        for visit in visits {
            let depth = usize::from(visit.depth);
            let side = usize::from(visit.right);
            for (i, m) in mine.iter_mut().enumerate().take(b) {
                *m = if depth == 0 {
                    usize::MAX
                } else {
                    masks.get(depth * B + i).map_or(0, |m| m[side])
                };
            }
            let Some(leaf) = self.leaves.get(visit.leaf as usize) else {
                for (i, &mask) in mine.iter().enumerate().take(b) {
                    let v = expanded
                        .get(i * w + visit.input as usize)
                        .copied()
                        .unwrap_or(f64::INFINITY);
                    // Expanded inputs are never NaN, so `>` is the exact negation of `<=`.
                    let went_right = usize::from(v > visit.threshold);
                    if let Some(children) = masks.get_mut((depth + 1) * B + i) {
                        *children = [
                            mask & !(went_right << visit.slot),
                            mask & !((went_right ^ 1) << visit.slot),
                        ];
                    }
                }
                continue;
            };
            let k = leaf.k as usize;
            let full = (1usize << k) - 1;
            for (&mask, margin) in mine.iter().zip(margins.iter_mut()) {
                if mask & full == full {
                    *margin += leaf.value;
                }
            }
            let values = &self.values[leaf.values as usize..][..1 << k];
            // The next leaves' rows follow this one's: ask for them now (see `prefetch`).
            let ahead = leaf.values as usize + (PREFETCH_AHEAD << k);
            prefetch(self.values.get(ahead..).unwrap_or_default(), 1 << k);
            let features = &self.features[leaf.features as usize..][..k];
            let masks = &mine[..b];
            match k {
                0 => {}
                1 => leaf_block::<1>(masks, values, features, outs, p),
                2 => leaf_block::<2>(masks, values, features, outs, p),
                3 => leaf_block::<3>(masks, values, features, outs, p),
                4 => leaf_block::<4>(masks, values, features, outs, p),
                5 => leaf_block::<5>(masks, values, features, outs, p),
                6 => leaf_block::<6>(masks, values, features, outs, p),
                7 => leaf_block::<7>(masks, values, features, outs, p),
                8 => leaf_block::<8>(masks, values, features, outs, p),
                _ => {
                    for (&mask, out) in masks.iter().zip(outs.chunks_exact_mut(p)) {
                        add_leaf_any(k, mask, values, features, out);
                    }
                }
            }
        }
    }
}

/// How many leaves ahead of the one being added [`ShapTable::add_leaves_block`] asks for rows.
const PREFETCH_AHEAD: usize = 2;

/// Asks the CPU to bring the cache lines of the first `len` values of `row` closer (a hint: it
/// changes no result). A block's accounts read a leaf's row at places their masks choose, so the
/// hardware prefetchers do not see the walk's order through the table, which on a model whose
/// table exceeds the L2 cache is the order of memory.
#[inline(always)]
fn prefetch(row: &[f64], len: usize) {
    #[cfg(target_arch = "x86_64")]
    for line in row.iter().take(len).step_by(8) {
        // SAFETY: SSE is in the baseline of every x86_64 target, and a prefetch neither
        // faults nor changes memory, whatever the address.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                (line as *const f64).cast(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (row, len);
}

/// One leaf's contributions for each account of a block (`masks[i]` is account `i`'s).
#[inline(always)]
fn leaf_block<const K: usize>(
    masks: &[usize],
    values: &[f64],
    features: &[PathFeature],
    outs: &mut [f64],
    p: usize,
) {
    for (&mask, out) in masks.iter().zip(outs.chunks_exact_mut(p)) {
        add_leaf::<K>(mask, values, features, out);
    }
}

/// Adds a leaf's contributions to `out`, for `K` path features followed as `mask` says: a
/// followed feature `j` gets `F(M - {j})` times `(1 - z) / z`, one not followed `-F(M)` (and
/// `M - {j}` is `M` then). `values` holds the leaf's `2^K` values of `F`; `out` is at least the
/// model's width (checked by [`GbdtModel::shap`]).
#[inline(always)]
pub(super) fn add_leaf<const K: usize>(
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
pub(super) fn add_leaf_any(
    k: usize,
    mask: usize,
    values: &[f64],
    features: &[PathFeature],
    out: &mut [f64],
) {
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
pub(super) fn shapley_weight(s: usize, k: usize) -> f64 {
    // 1 / (k * binomial(k - 1, s)), built as a product to stay exact for small k.
    let mut w = 1.0 / k as f64;
    for i in 0..s {
        w *= (i + 1) as f64 / (k - 1 - i) as f64;
    }
    w
}
