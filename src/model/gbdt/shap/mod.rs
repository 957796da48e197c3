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
//!
//! The three algorithms live apart: `table` (the per-leaf subset table and the leaf walk),
//! `cells` (per-tree cell tables) and `recursive` (Algorithm 2, for models the table does not
//! fit). [`GbdtModel::shap`] chooses.

mod cells;
mod recursive;
mod table;

pub use cells::CELL_BUDGET;
use cells::{CellFeature, CellTree};
use recursive::PathElement;
pub use table::TABLE_BUDGET;
use table::{LeafEntry, PathFeature, Visit};

use super::GbdtModel;

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

impl ShapTable {
    /// The table of `model`, or `None` when it would exceed [`TABLE_BUDGET`].
    pub(in crate::model::gbdt) fn build(model: &GbdtModel) -> Option<ShapTable> {
        let mut builder = table::Builder {
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
}

/// Accounts [`GbdtModel::shap_many`] takes together: each leaf's row of the table is read once
/// for all of them, instead of once per account.
pub const SHAP_BLOCK: usize = 16;

/// Reusable buffers for [`GbdtModel::shap`] and [`GbdtModel::shap_many`].
#[derive(Debug, Clone, Default)]
pub struct ShapScratch {
    path: Vec<PathElement>,
    expanded: Vec<f64>,
    /// Per depth, per account of a block, the masks of the last internal node's children.
    masks: Vec<[usize; 2]>,
    /// Per tree (one account) or per account (one tree of a block), its cell row if any.
    rows: Vec<Option<u32>>,
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

    /// [`Self::shap`] for the rows of `xs` (each `p` inputs), into the rows of `outs` (each `p`
    /// contributions), with each row's margin in `margins`: the same values as one call per row,
    /// bit for bit. With the table, accounts go [`SHAP_BLOCK`] at a time through each tree, so
    /// a leaf's row of `F` is read from memory once per block: on a model whose table exceeds
    /// the cache, the walk reads the whole table per account otherwise.
    pub fn shap_many(
        &self,
        xs: &[f64],
        p: usize,
        outs: &mut [f64],
        margins: &mut [f64],
        scratch: &mut ShapScratch,
    ) {
        let rows = margins.len();
        let (Some(xs), Some(outs)) = (xs.get(..rows * p), outs.get_mut(..rows * p)) else {
            return;
        };
        match &self.shap_table {
            Some(table) if p >= self.width && p > 0 => {
                for ((xs, outs), margins) in xs
                    .chunks(SHAP_BLOCK * p)
                    .zip(outs.chunks_mut(SHAP_BLOCK * p))
                    .zip(margins.chunks_mut(SHAP_BLOCK))
                {
                    self.shap_block(table, xs, p, outs, margins, scratch);
                }
            }
            _ => {
                for ((x, out), m) in xs
                    .chunks_exact(p.max(1))
                    .zip(outs.chunks_exact_mut(p.max(1)))
                    .zip(margins.iter_mut())
                {
                    *m = self.shap(x, out, scratch);
                }
            }
        }
    }

    /// Up to [`SHAP_BLOCK`] accounts through the table, tree by tree.
    fn shap_block(
        &self,
        table: &ShapTable,
        xs: &[f64],
        p: usize,
        outs: &mut [f64],
        margins: &mut [f64],
        scratch: &mut ShapScratch,
    ) {
        outs.fill(0.0);
        let w = 2 * self.width;
        scratch.expanded.resize(margins.len() * w, 0.0);
        for (x, e) in xs.chunks_exact(p).zip(scratch.expanded.chunks_exact_mut(w)) {
            self.expand(x, e);
        }
        let expanded = &scratch.expanded;
        margins.fill(self.base_score);
        for (t, &(start, end)) in table.trees.iter().enumerate() {
            let visits = table
                .visits
                .get(start as usize..end as usize)
                .unwrap_or(&[]);
            if let Some(Some(cells)) = table.cells.get(t) {
                // Every account's row first, then the reads (see `ShapTable::add_row`).
                scratch.rows.clear();
                scratch
                    .rows
                    .extend(xs.chunks_exact(p).map(|x| table.cell_row(cells, x)));
                for (((out, e), m), row) in outs
                    .chunks_exact_mut(p)
                    .zip(expanded.chunks_exact(w))
                    .zip(margins.iter_mut())
                    .zip(&scratch.rows)
                {
                    *m += match row.and_then(|row| table.add_row(cells, row, out)) {
                        Some(leaf) => leaf,
                        None => table.add_leaves(visits, e, out),
                    };
                }
                continue;
            }
            table.add_leaves_block(visits, expanded, w, outs, p, margins, &mut scratch.masks);
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
        // Every tree's cell row first, then the reads (see `ShapTable::add_row`).
        scratch.rows.clear();
        scratch.rows.extend(
            table
                .cells
                .iter()
                .map(|cells| cells.as_ref().and_then(|c| table.cell_row(c, x))),
        );
        // The margin from the leaves the account reaches, tree by tree in the walk's order:
        // the same sum as `walk`, bit for bit, without walking the trees again.
        let mut margin = self.base_score;
        for (t, &(start, end)) in table.trees.iter().enumerate() {
            if let (Some(Some(cells)), Some(Some(row))) = (table.cells.get(t), scratch.rows.get(t))
            {
                if let Some(leaf) = table.add_row(cells, *row, out) {
                    margin += leaf;
                    continue;
                }
            }
            margin += match table.visits.get(start as usize..end as usize) {
                Some(visits) => table.add_leaves(visits, expanded, out),
                None => self.tree_value(t, expanded),
            };
        }
        margin
    }
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
