//! Gradient-boosted decision trees: the artifact form, the flattened serving form, and exact
//! TreeSHAP contributions ([`shap`]).
//!
//! A tree node sends an input `x` of its split feature left when `x <= threshold`; a missing
//! (`NaN`) input follows the node's default direction. The model's log-odds of repayment are
//! `base_score` plus the sum of one leaf value per tree.

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

    /// A single-leaf tree.
    pub fn leaf(value: f64, cover: f64) -> Tree {
        Tree {
            split_feature: vec![-1],
            threshold: vec![0.0],
            left: vec![0],
            right: vec![0],
            default_left: vec![true],
            value: vec![value],
            cover: vec![cover],
        }
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

/// Marks a leaf in [`Node::feature`].
const LEAF: u32 = u32::MAX;

/// A node of the flattened serving layout (24 bytes); for a leaf, `threshold` is its value.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    threshold: f64,
    left: u32,
    right: u32,
    feature: u32,
    default_left: bool,
}

/// The serving form: every tree's nodes in one array, children as absolute indices.
#[derive(Debug, Clone, PartialEq)]
pub struct GbdtModel {
    base_score: f64,
    nodes: Vec<Node>,
    /// Root index of each tree.
    roots: Vec<u32>,
    /// Node covers, parallel to `nodes` (for TreeSHAP).
    cover: Vec<f64>,
    /// Expected value of each tree under its covers.
    expected: f64,
    max_depth: usize,
}

impl GbdtModel {
    /// Flattens validated trees.
    pub fn new(base_score: f64, trees: &[Tree]) -> GbdtModel {
        let total: usize = trees.iter().map(Tree::len).sum();
        let mut nodes = Vec::with_capacity(total);
        let mut cover = Vec::with_capacity(total);
        let mut roots = Vec::with_capacity(trees.len());
        let mut expected = 0.0;
        let mut max_depth = 0;
        for tree in trees {
            let offset = nodes.len() as u32;
            roots.push(offset);
            max_depth = max_depth.max(tree.depth());
            let root_cover = tree.cover[0];
            for i in 0..tree.len() {
                let leaf = tree.split_feature[i] < 0;
                if leaf {
                    expected += tree.value[i] * tree.cover[i] / root_cover;
                }
                nodes.push(Node {
                    threshold: if leaf {
                        tree.value[i]
                    } else {
                        tree.threshold[i]
                    },
                    left: offset + tree.left[i],
                    right: offset + tree.right[i],
                    feature: if leaf {
                        LEAF
                    } else {
                        tree.split_feature[i] as u32
                    },
                    default_left: tree.default_left[i],
                });
                cover.push(tree.cover[i]);
            }
        }
        GbdtModel {
            base_score,
            nodes,
            roots,
            cover,
            expected,
            max_depth,
        }
    }

    /// Number of trees.
    pub fn trees(&self) -> usize {
        self.roots.len()
    }

    /// Log-odds of repayment for the input vector `x`.
    #[inline]
    pub fn margin(&self, x: &[f64]) -> f64 {
        let mut sum = self.base_score;
        for &root in &self.roots {
            sum += self.leaf_value(root as usize, x);
        }
        sum
    }

    #[inline]
    fn leaf_value(&self, mut i: usize, x: &[f64]) -> f64 {
        loop {
            let node = &self.nodes[i];
            if node.feature == LEAF {
                return node.threshold;
            }
            let v = x.get(node.feature as usize).copied().unwrap_or(f64::NAN);
            let left = if v.is_nan() {
                node.default_left
            } else {
                v <= node.threshold
            };
            i = if left { node.left } else { node.right } as usize;
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
}
