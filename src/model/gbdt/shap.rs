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
//!
//! On top of it, trees with few cells (see [`CELL_BUDGET`]) get a table of their contributions
//! for every cell of their input space, filled at load leaf by leaf: an account with no
//! missing input on such a tree costs a few comparisons per feature and one addition per
//! feature, instead of a pass over the tree's leaves.

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
    /// Per tree, its visits' range in `visits`.
    trees: Vec<(u32, u32)>,
    /// Per tree, its cell table when it has one (see [`CellTree`]).
    cells: Vec<Option<CellTree>>,
    cell_features: Vec<CellFeature>,
    cell_thresholds: Vec<f64>,
    cell_values: Vec<f64>,
}

/// Most precomputed cell values one model may hold (8 bytes each: 20 MiB), on top of
/// [`TABLE_BUDGET`].
pub const CELL_BUDGET: usize = 5 << 19;

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
struct CellTree {
    /// Where its features start in `cell_features`.
    features: u32,
    k: u32,
    /// Where its `cells x k` values start in `cell_values`, cell-major.
    values: u32,
}

/// One of a tree's features, for its cell table.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CellFeature {
    /// The model input.
    input: u32,
    /// Its cell index's weight in the tree's cell number.
    stride: u32,
    /// Where its ascending, distinct thresholds start in `cell_thresholds`, and how many.
    thresholds: u32,
    count: u32,
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
            let start = u32::try_from(builder.table.visits.len()).ok()?;
            builder.visit(root as usize, 0)?;
            let end = u32::try_from(builder.table.visits.len()).ok()?;
            builder.table.trees.push((start, end));
        }
        let mut table = builder.table;
        table.build_cells(model);
        // Read at random, a few dozen values per call: on huge pages where the kernel allows.
        table.cell_values = super::huge_pages::copied_to_huge_pages(&table.cell_values);
        Some(table)
    }

    /// Adds the cell tables of the trees with the fewest cell values first, while they fit
    /// [`CELL_BUDGET`].
    fn build_cells(&mut self, model: &GbdtModel) {
        // Per tree: its features, each with its ascending distinct thresholds.
        let mut plans: Vec<(usize, usize, TreeFeatures)> = Vec::new();
        for (t, &(root, _)) in model.trees.iter().enumerate() {
            let Some(features) = tree_features(model, root as usize) else {
                continue;
            };
            let cells = features
                .iter()
                .try_fold(1usize, |n, (_, th)| n.checked_mul(th.len() + 1));
            let Some(size) = cells.and_then(|n| n.checked_mul(features.len())) else {
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

impl ShapTable {
    /// Adds the contributions of the trees whose nodes are `visits` (whole trees, depth
    /// first), for the account whose expanded input is `expanded`.
    fn add_leaves(&self, visits: &[Visit], expanded: &[f64], out: &mut [f64]) {
        // Per depth, the masks of the left and the right child of the last internal node
        // there: bit `slot` stays set while the account follows the path on that feature.
        let mut masks = [[0usize; 2]; super::MAX_TREE_DEPTH + 2];
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
    }

    /// Every cell's contributions for the tree whose nodes are `visits`, cell-major (`k`
    /// values per cell, in `features` order; the first feature's cell varies fastest).
    ///
    /// Each leaf's contributions depend only on the cells of its own path features: they are
    /// computed once per combination of those, then added into every cell of the tree that
    /// matches it. Leaf by leaf, in the walk's order, with the walk's products: the same sums,
    /// bit for bit, as walking the leaves once per cell (tested), for a fraction of the work.
    fn fill_cells(
        &self,
        visits: &[Visit],
        width: usize,
        features: &TreeFeatures,
        cells: usize,
    ) -> Option<Vec<f64>> {
        let k = features.len();
        let radix: Vec<usize> = features.iter().map(|(_, th)| th.len() + 1).collect();
        let mut out = vec![0.0; cells.checked_mul(k)?];
        // Per depth: the internal node there on the current path (its feature's position in
        // `features` and its threshold's rank among that feature's thresholds), and whether
        // the node at that depth is its parent's right child.
        let mut nodes = [(0usize, 0usize); super::MAX_TREE_DEPTH + 2];
        let mut right = [0u8; super::MAX_TREE_DEPTH + 2];
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
            for sc in 0..sub {
                let (mut rest, mut mask) = (sc, 0usize);
                for (bit, &(j, lo, hi)) in slots.iter().enumerate() {
                    let c = rest % radix[j];
                    rest /= radix[j];
                    mask |= usize::from(lo <= c && c <= hi) << bit;
                }
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
            for cell in out.chunks_exact_mut(k) {
                let contributions = table.get(sc * kl..(sc + 1) * kl)?;
                for (&(j, _, _), v) in slots.iter().zip(contributions) {
                    cell[j] += v;
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
    fn fill_cells_by_walk(
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
            self.add_leaves(visits, &expanded, &mut out);
            all.extend(features.iter().map(|(input, _)| out[*input as usize]));
        }
        all
    }

    /// Adds one tree's contributions from its cell table and returns true, or returns false
    /// (having added nothing) when one of the tree's inputs is missing from `x`.
    fn add_cell(&self, tree: &CellTree, x: &[f64], out: &mut [f64]) -> bool {
        let k = tree.k as usize;
        let Some(features) = self
            .cell_features
            .get(tree.features as usize..)
            .and_then(|f| f.get(..k))
        else {
            return false;
        };
        let mut cell = 0usize;
        for f in features {
            let v = x.get(f.input as usize).copied().unwrap_or(f64::NAN);
            if v.is_nan() {
                return false;
            }
            let start = f.thresholds as usize;
            let Some(thresholds) = self.cell_thresholds.get(start..start + f.count as usize) else {
                return false;
            };
            // `v > t` sends an account right at threshold `t`: the cell is the count of
            // thresholds below `v`.
            let c: usize = thresholds.iter().map(|&t| usize::from(t < v)).sum();
            cell += c * f.stride as usize;
        }
        let start = tree.values as usize + cell * k;
        let Some(values) = self.cell_values.get(start..start + k) else {
            return false;
        };
        for (f, v) in features.iter().zip(values) {
            if let Some(o) = out.get_mut(f.input as usize) {
                *o += v;
            }
        }
        true
    }

    /// How many trees have a cell table (for tests).
    #[cfg(test)]
    pub(super) fn trees_with_cells(&self) -> usize {
        self.cells.iter().flatten().count()
    }

    /// Whether every cell table holds, bit for bit, what walking the leaves once per cell
    /// gives (for tests).
    #[cfg(test)]
    pub(super) fn cells_match_the_walk(&self, model: &GbdtModel) -> bool {
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
type TreeFeatures = Vec<(u32, Vec<f64>)>;

/// The [`TreeFeatures`] of the tree at `root`; `None` when a threshold is not finite.
fn tree_features(model: &GbdtModel, root: usize) -> Option<TreeFeatures> {
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
        for (t, &(start, end)) in table.trees.iter().enumerate() {
            if let Some(Some(cells)) = table.cells.get(t) {
                if table.add_cell(cells, x, out) {
                    continue;
                }
            }
            if let Some(visits) = table.visits.get(start as usize..end as usize) {
                table.add_leaves(visits, expanded, out);
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
