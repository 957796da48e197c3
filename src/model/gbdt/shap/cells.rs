//! Cell tables: for trees with few cells, each tree's contributions for every cell of its input
//! space, filled at load leaf by leaf; an account with no missing input on such a tree costs a
//! few comparisons per feature and one addition per feature.

use super::super::GbdtModel;
use super::table::Visit;
use super::ShapTable;

/// Most precomputed cell values one model may hold (8 bytes each: 48 MiB), on top of
/// [`TABLE_BUDGET`](super::TABLE_BUDGET). The shipped model's 132 trees all fit in 5.31 M
/// values (40.5 MiB, built in 151 ms at load); with every tree on a cell table (and the margin
/// from the reached leaves) a decision with exact TreeSHAP and 4 reasons takes 3.8 µs an
/// account against 7.4 µs with the 99 trees a 20 MiB budget held (docs/performance-notes.md).
pub const CELL_BUDGET: usize = 6 << 20;

/// One tree's contributions for every cell of its input space.
///
/// A tree splits each of its `k` features at a few thresholds, which cut that feature's line
/// into cells; an account with no missing input falls in one cell per feature, and the tree's
/// contributions depend on nothing else. So, for trees whose cells fit [`CELL_BUDGET`], the
/// table holds the `k` contributions of every combination of cells, computed at load
/// ([`ShapTable::fill_cells`]): an account then costs a few comparisons per feature and `k`
/// additions per tree, instead of a pass over every leaf. An account with a missing input on
/// one of the tree's features goes down the tree's own default directions, which the cells do
/// not model: that tree takes the leaf walk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct CellTree {
    /// Where its features start in `cell_features`.
    pub(super) features: u32,
    pub(super) k: u32,
    /// Where its `cells x k` values start in `cell_values`, cell-major.
    pub(super) values: u32,
}

/// One of a tree's features, for its cell table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct CellFeature {
    /// The model input.
    pub(super) input: u32,
    /// Its cell index's weight in the tree's cell number.
    pub(super) stride: u32,
    /// Where its ascending, distinct thresholds start in `cell_thresholds`, and how many.
    pub(super) thresholds: u32,
    pub(super) count: u32,
}

impl ShapTable {
    /// Adds the cell tables of the trees with the fewest cell values first, while they fit
    /// [`CELL_BUDGET`].
    pub(super) fn build_cells(&mut self, model: &GbdtModel) {
        // Per tree: its features, each with its ascending distinct thresholds.
        let mut plans: Vec<(usize, usize, TreeFeatures)> = Vec::new();
        for (t, &(root, _)) in model.trees.iter().enumerate() {
            let Some(features) = tree_features(model, root as usize) else {
                continue;
            };
            let cells = features
                .iter()
                .try_fold(1usize, |n, (_, th)| n.checked_mul(th.len() + 1));
            // Per cell: a contribution per feature, and the value of the leaf it reaches.
            let Some(size) = cells.and_then(|n| n.checked_mul(features.len() + 1)) else {
                continue;
            };
            if size > 0 && size <= CELL_BUDGET {
                plans.push((size, t, features));
            }
        }
        plans.sort_by_key(|&(size, t, _)| (size, t));
        self.cells = vec![None; self.trees.len()];
        for (size, t, features) in plans {
            if self.cell_values.len() + size > CELL_BUDGET {
                break;
            }
            let (Ok(first), Ok(k), Ok(values)) = (
                u32::try_from(self.cell_features.len()),
                u32::try_from(features.len()),
                u32::try_from(self.cell_values.len()),
            ) else {
                break;
            };
            let thresholds_start = self.cell_thresholds.len();
            let mut stride = 1usize;
            let mut indexed = true;
            for (input, thresholds) in &features {
                let (Ok(s), Ok(at), Ok(count)) = (
                    u32::try_from(stride),
                    u32::try_from(self.cell_thresholds.len()),
                    u32::try_from(thresholds.len()),
                ) else {
                    indexed = false;
                    break;
                };
                self.cell_features.push(CellFeature {
                    input: *input,
                    stride: s,
                    thresholds: at,
                    count,
                });
                self.cell_thresholds.extend(thresholds);
                stride *= thresholds.len() + 1;
            }
            let (start, end) = self.trees[t];
            let visits = &self.visits[start as usize..end as usize];
            let filled = indexed
                .then(|| self.fill_cells(visits, model.width, &features, stride))
                .flatten();
            let Some(filled) = filled else {
                // Unreachable within the budget; the tree keeps the leaf walk.
                self.cell_features.truncate(first as usize);
                self.cell_thresholds.truncate(thresholds_start);
                continue;
            };
            self.cell_values.extend(filled);
            self.cells[t] = Some(CellTree {
                features: first,
                k,
                values,
            });
        }
    }
}

impl ShapTable {
    /// Every cell's contributions for the tree whose nodes are `visits`, cell-major (`k + 1`
    /// values per cell: one per feature in `features` order, then the value of the leaf the
    /// cell reaches; the first feature's cell varies fastest).
    ///
    /// Each leaf's contributions depend only on the cells of its own path features: they are
    /// computed once per combination of those, then added into every cell of the tree that
    /// matches it. Leaf by leaf, in the walk's order, with the walk's products: the same sums,
    /// bit for bit, as walking the leaves once per cell (tested), for a fraction of the work.
    pub(super) fn fill_cells(
        &self,
        visits: &[Visit],
        width: usize,
        features: &TreeFeatures,
        cells: usize,
    ) -> Option<Vec<f64>> {
        let k = features.len();
        let radix: Vec<usize> = features.iter().map(|(_, th)| th.len() + 1).collect();
        let mut out = vec![0.0; cells.checked_mul(k + 1)?];
        // Per depth: the internal node there on the current path (its feature's position in
        // `features` and its threshold's rank among that feature's thresholds), and whether
        // the node at that depth is its parent's right child.
        let mut nodes = [(0usize, 0usize); super::super::MAX_TREE_DEPTH + 2];
        let mut right = [0u8; super::super::MAX_TREE_DEPTH + 2];
        let mut digits = vec![0usize; k];
        for visit in visits {
            let depth = usize::from(visit.depth);
            *right.get_mut(depth)? = visit.right;
            let Some(leaf) = self.leaves.get(visit.leaf as usize) else {
                let input = visit.input as usize;
                let feature = if input >= width { input - width } else { input };
                let j = features.iter().position(|(f, _)| *f as usize == feature)?;
                let rank = features[j].1.iter().position(|&t| t == visit.threshold)?;
                *nodes.get_mut(depth)? = (j, rank);
                continue;
            };
            let kl = leaf.k as usize;
            let values = self.values.get(leaf.values as usize..)?.get(..1 << kl)?;
            let path = self.features.get(leaf.features as usize..)?.get(..kl)?;
            // Per path slot: the feature's position, and the cells that follow the path.
            let mut slots: Vec<(usize, usize, usize)> = path
                .iter()
                .map(|p| {
                    let j = features.iter().position(|(f, _)| *f == p.feature)?;
                    Some((j, 0, radix[j] - 1))
                })
                .collect::<Option<_>>()?;
            for d in 0..depth {
                let (j, rank) = nodes[d];
                let slot = slots.iter_mut().find(|s| s.0 == j)?;
                if right[d + 1] == 1 {
                    slot.1 = slot.1.max(rank + 1);
                } else {
                    slot.2 = slot.2.min(rank);
                }
            }
            // The leaf's contributions for every combination of its slots' cells.
            let sub: usize = slots.iter().map(|s| radix[s.0]).product();
            let mut table = Vec::with_capacity(sub * kl);
            // Per combination, whether its cells reach this leaf (every path feature followed).
            let mut reaches = Vec::with_capacity(sub);
            for sc in 0..sub {
                let (mut rest, mut mask) = (sc, 0usize);
                for (bit, &(j, lo, hi)) in slots.iter().enumerate() {
                    let c = rest % radix[j];
                    rest /= radix[j];
                    mask |= usize::from(lo <= c && c <= hi) << bit;
                }
                reaches.push(mask == (1 << kl) - 1);
                table.extend(path.iter().enumerate().map(|(bit, p)| {
                    let factor = p.factors[(mask >> bit) & 1];
                    factor * values[mask & !(1 << bit)]
                }));
            }
            // Added into every cell, counting the tree's cells in mixed radix and keeping the
            // leaf's own combination number `sc` in step (each feature's weight in it is 0
            // off the leaf's path).
            let mut weight = vec![0usize; k];
            let mut scale = 1;
            for &(j, _, _) in &slots {
                weight[j] = scale;
                scale *= radix[j];
            }
            digits.fill(0);
            let mut sc = 0usize;
            for cell in out.chunks_exact_mut(k + 1) {
                let contributions = table.get(sc * kl..(sc + 1) * kl)?;
                for (&(j, _, _), v) in slots.iter().zip(contributions) {
                    cell[j] += v;
                }
                // One leaf per cell reaches it: its value lands on 0.
                if reaches.get(sc) == Some(&true) {
                    cell[k] = leaf.value;
                }
                for ((d, r), w) in digits.iter_mut().zip(&radix).zip(&weight) {
                    *d += 1;
                    if *d < *r {
                        sc += w;
                        break;
                    }
                    *d = 0;
                    sc -= (r - 1) * w;
                }
            }
        }
        Some(out)
    }

    /// [`Self::fill_cells`] by walking the leaves once per cell (for tests).
    #[cfg(test)]
    pub(super) fn fill_cells_by_walk(
        &self,
        visits: &[Visit],
        width: usize,
        features: &TreeFeatures,
        cells: usize,
    ) -> Vec<f64> {
        let mut expanded = vec![0.0; 2 * width];
        let mut out = vec![0.0; width];
        let mut all = Vec::new();
        for cell in 0..cells {
            // A value in each feature's cell: no threshold below cell 0 (-inf), exactly `c`
            // below cell `c` (its upper threshold, or +inf past the last one).
            let mut rest = cell;
            for (input, thresholds) in features {
                let c = rest % (thresholds.len() + 1);
                rest /= thresholds.len() + 1;
                let v = match c {
                    0 => f64::NEG_INFINITY,
                    c => thresholds.get(c).copied().unwrap_or(f64::INFINITY),
                };
                expanded[*input as usize] = v;
                expanded[width + *input as usize] = v;
            }
            out.fill(0.0);
            let reached = self.add_leaves(visits, &expanded, &mut out);
            all.extend(features.iter().map(|(input, _)| out[*input as usize]));
            all.push(reached);
        }
        all
    }

    /// The start in `cell_values` of the row of the cell that `x` falls in, or `None` when one
    /// of the tree's inputs is missing from `x`. Reads only the tree's thresholds, not the
    /// values: see [`ShapTable::add_row`].
    #[inline]
    pub(super) fn cell_row(&self, tree: &CellTree, x: &[f64]) -> Option<u32> {
        let features = self
            .cell_features
            .get(tree.features as usize..)
            .and_then(|f| f.get(..tree.k as usize))?;
        let mut cell = 0usize;
        for f in features {
            let v = x.get(f.input as usize).copied().unwrap_or(f64::NAN);
            if v.is_nan() {
                return None;
            }
            let start = f.thresholds as usize;
            let thresholds = self.cell_thresholds.get(start..start + f.count as usize)?;
            // `v > t` sends an account right at threshold `t`: the cell is the count of
            // thresholds below `v`.
            let c: usize = thresholds.iter().map(|&t| usize::from(t < v)).sum();
            cell += c * f.stride as usize;
        }
        u32::try_from(tree.values as usize + cell * (tree.k as usize + 1)).ok()
    }

    /// Adds one tree's contributions from the cell row at `row` (from [`ShapTable::cell_row`])
    /// and returns the value of the leaf the cell reaches; `None`, having added nothing, if the
    /// row is not the tree's (the caller then walks the leaves).
    ///
    /// The rows are read at random from tables of tens of MiB, so each read is a cache miss.
    /// Callers find every tree's row first and add them after: the reads then do not wait on
    /// each other's comparisons, and their misses overlap.
    #[inline]
    pub(super) fn add_row(&self, tree: &CellTree, row: u32, out: &mut [f64]) -> Option<f64> {
        let k = tree.k as usize;
        let features = self
            .cell_features
            .get(tree.features as usize..)
            .and_then(|f| f.get(..k))?;
        let values = self
            .cell_values
            .get(row as usize..)
            .and_then(|v| v.get(..=k))?;
        for (f, v) in features.iter().zip(values) {
            if let Some(o) = out.get_mut(f.input as usize) {
                *o += v;
            }
        }
        values.get(k).copied()
    }

    /// How many trees have a cell table (for tests).
    #[cfg(test)]
    pub(in crate::model::gbdt) fn trees_with_cells(&self) -> usize {
        self.cells.iter().flatten().count()
    }

    /// Whether every cell table holds, bit for bit, what walking the leaves once per cell
    /// gives (for tests).
    #[cfg(test)]
    pub(in crate::model::gbdt) fn cells_match_the_walk(&self, model: &GbdtModel) -> bool {
        self.cells.iter().enumerate().all(|(t, cells)| {
            let Some(cells) = cells else { return true };
            let (Some(&(root, _)), Some(&(start, end))) = (model.trees.get(t), self.trees.get(t))
            else {
                return false;
            };
            let Some(features) = tree_features(model, root as usize) else {
                return false;
            };
            let count: usize = features.iter().map(|(_, th)| th.len() + 1).product();
            let walked = self.fill_cells_by_walk(
                &self.visits[start as usize..end as usize],
                model.width,
                &features,
                count,
            );
            let at = cells.values as usize;
            let stored = &self.cell_values[at..at + walked.len()];
            walked
                .iter()
                .zip(stored)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        })
    }
}

/// A tree's split features, ascending, each with its ascending distinct thresholds.
pub(super) type TreeFeatures = Vec<(u32, Vec<f64>)>;

/// The [`TreeFeatures`] of the tree at `root`; `None` when a threshold is not finite.
pub(super) fn tree_features(model: &GbdtModel, root: usize) -> Option<TreeFeatures> {
    let mut features: TreeFeatures = Vec::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        let n = model.nodes.get(node)?;
        if n.left as usize == node {
            continue;
        }
        if !n.threshold.is_finite() {
            return None;
        }
        let f = model.split_of(node).0;
        match features.iter_mut().find(|(g, _)| *g == f) {
            Some((_, th)) => th.push(n.threshold),
            None => features.push((f, vec![n.threshold])),
        }
        stack.extend([n.left as usize, n.left as usize + 1]);
    }
    features.sort_by_key(|(f, _)| *f);
    for (_, th) in &mut features {
        th.sort_by(f64::total_cmp);
        th.dedup();
    }
    Some(features)
}
