//! Importers for tree ensembles trained in Python: LightGBM's text model (`model.txt`,
//! `Booster.save_model`) and XGBoost's JSON model (`Booster.save_model("model.json")`).
//!
//! Both become an [`Imported`] ensemble in the source's feature order; [`Imported::remap`] then
//! maps the source feature names to payrisk feature names, keeps only the features the trees use,
//! and orients the model toward repayment. Supported: binary objectives (LightGBM `binary`,
//! XGBoost `binary:logistic` / `binary:logitraw`), numerical splits, missing values sent by the
//! learned default direction (LightGBM missing types `None` and `NaN`). Refused with a clear
//! error: categorical splits, LightGBM `zero_as_missing`, linear trees, multi-class models.
//!
//! Split semantics: LightGBM sends `x <= threshold` left, as payrisk does. XGBoost sends
//! `x < split_condition` left, after rounding `x` to single precision; payrisk reads each
//! condition as that exact single-precision number and stores as its threshold the largest double
//! that XGBoost's rounding sends left (the midpoint below the condition, or the double before it,
//! by the tie rule), so every double input takes XGBoost's branch. Leaf values are XGBoost's;
//! payrisk sums them in double precision where XGBoost sums in single, so margins agree to
//! single precision (about 1e-6).

use std::collections::HashMap;

use serde_json::Value;

use crate::model::gbdt::Tree;

/// A tree ensemble read from another library, in its own feature order.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// Initial log-odds (of the source's positive class).
    pub base_score: f64,
    /// Trees, split features indexing `feature_names`.
    pub trees: Vec<Tree>,
    /// The source's feature names.
    pub feature_names: Vec<String>,
    /// What the model came from, for the artifact's provenance.
    pub source: String,
}

/// An import failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot import the model: {0}")]
pub struct ImportError(pub String);

/// Parses a feature map: lines `source_name = payrisk_name`; blank lines and lines starting with
/// `#` are skipped. `path` names the file in errors, with the line number.
pub fn parse_feature_map(
    text: &str,
    path: &std::path::Path,
) -> Result<HashMap<String, String>, ImportError> {
    let mut mapping = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((from, to)) = line.split_once('=') else {
            return err(format!(
                "{}:{}: expected `source = payrisk`, got {line:?}",
                path.display(),
                n + 1
            ));
        };
        let (from, to) = (from.trim(), to.trim());
        if from.is_empty() || to.is_empty() {
            return err(format!(
                "{}:{}: both names are needed in `source = payrisk`",
                path.display(),
                n + 1
            ));
        }
        mapping.insert(from.to_owned(), to.to_owned());
    }
    Ok(mapping)
}

fn err<T>(m: impl Into<String>) -> Result<T, ImportError> {
    Err(ImportError(m.into()))
}

/// Parses a LightGBM text model.
pub fn lightgbm(text: &str) -> Result<Imported, ImportError> {
    let mut header: HashMap<&str, &str> = HashMap::new();
    let mut trees_text: Vec<HashMap<&str, &str>> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line == "end of trees" {
            break;
        }
        if line.starts_with("Tree=") {
            trees_text.push(HashMap::new());
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            match trees_text.last_mut() {
                Some(t) => {
                    t.insert(k, v);
                }
                None => {
                    header.insert(k, v);
                }
            }
        }
    }
    let objective = header.get("objective").copied().unwrap_or_default();
    let mut parts = objective.split_whitespace();
    if parts.next() != Some("binary") {
        return err(format!("LightGBM objective `{objective}` is not `binary`"));
    }
    let sigmoid = parts
        .find_map(|p| p.strip_prefix("sigmoid:"))
        .map_or(Ok(1.0), str::parse::<f64>)
        .map_err(|_| ImportError("bad sigmoid parameter".into()))?;
    if header.get("num_class").is_some_and(|c| *c != "1") {
        return err("multi-class LightGBM models are not supported");
    }
    let feature_names: Vec<String> = header
        .get("feature_names")
        .ok_or_else(|| ImportError("no feature_names line".into()))?
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if trees_text.is_empty() {
        return err("the model has no trees");
    }
    let trees = trees_text
        .iter()
        .enumerate()
        .map(|(k, t)| {
            lightgbm_tree(t, sigmoid).map_err(|e| ImportError(format!("tree {k}: {}", e.0)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Imported {
        base_score: 0.0,
        trees,
        feature_names,
        source: "lightgbm".into(),
    })
}

fn numbers<T: std::str::FromStr>(
    t: &HashMap<&str, &str>,
    key: &str,
) -> Result<Vec<T>, ImportError> {
    t.get(key)
        .ok_or_else(|| ImportError(format!("missing `{key}`")))?
        .split_whitespace()
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| ImportError(format!("bad number `{v}` in `{key}`")))
        })
        .collect()
}

fn lightgbm_tree(t: &HashMap<&str, &str>, scale: f64) -> Result<Tree, ImportError> {
    let leaves: usize = t
        .get("num_leaves")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ImportError("missing num_leaves".into()))?;
    if t.get("num_cat").is_some_and(|v| *v != "0") {
        return err("categorical splits are not supported");
    }
    if t.get("is_linear").is_some_and(|v| *v != "0") {
        return err("linear trees are not supported");
    }
    let leaf_value: Vec<f64> = numbers(t, "leaf_value")?;
    if leaves == 1 {
        let value = leaf_value.first().copied().unwrap_or(0.0) * scale;
        return Ok(Tree::leaf(value, 1.0));
    }
    let split_feature: Vec<i32> = numbers(t, "split_feature")?;
    let threshold: Vec<f64> = numbers(t, "threshold")?;
    let decision: Vec<u32> = numbers(t, "decision_type")?;
    let left: Vec<i64> = numbers(t, "left_child")?;
    let right: Vec<i64> = numbers(t, "right_child")?;
    let leaf_count: Vec<f64> = numbers(t, "leaf_count")?;
    let internal_count: Vec<f64> = numbers(t, "internal_count")?;
    let internal = leaves - 1;
    for (name, len, want) in [
        ("split_feature", split_feature.len(), internal),
        ("threshold", threshold.len(), internal),
        ("decision_type", decision.len(), internal),
        ("left_child", left.len(), internal),
        ("right_child", right.len(), internal),
        ("internal_count", internal_count.len(), internal),
        ("leaf_value", leaf_value.len(), leaves),
        ("leaf_count", leaf_count.len(), leaves),
    ] {
        if len != want {
            return err(format!("`{name}` has {len} entries, expected {want}"));
        }
    }
    // Renumber breadth-first so that children follow their parents. Source nodes: internal
    // i >= 0, leaf j as -(j + 1).
    let mut order: Vec<i64> = vec![0];
    let mut k = 0;
    while k < order.len() {
        let node = order[k];
        if node >= 0 {
            let i = node as usize;
            if i >= internal {
                return err(format!("child link to internal node {i} out of range"));
            }
            order.push(left[i]);
            order.push(right[i]);
        } else if (-node - 1) as usize >= leaves {
            return err(format!("child link to leaf {} out of range", -node - 1));
        }
        k += 1;
        if order.len() > 2 * leaves {
            return err("the tree's child links do not form a tree");
        }
    }
    let position: HashMap<i64, u32> = order
        .iter()
        .enumerate()
        .map(|(pos, &node)| (node, pos as u32))
        .collect();
    let n = order.len();
    let mut tree = Tree::with_nodes(n);
    for (pos, &node) in order.iter().enumerate() {
        if node >= 0 {
            let i = node as usize;
            let d = decision[i];
            if d & 1 != 0 {
                return err("categorical splits are not supported");
            }
            let missing_type = (d >> 2) & 3;
            tree.split_feature[pos] = split_feature[i];
            tree.threshold[pos] = threshold[i];
            tree.default_left[pos] = match missing_type {
                // None: LightGBM turns a missing value into 0.0 before comparing.
                0 => 0.0 <= threshold[i],
                // NaN: the learned default direction.
                2 => d & 2 != 0,
                _ => return err("zero_as_missing models are not supported"),
            };
            let (Some(&l), Some(&r)) = (position.get(&left[i]), position.get(&right[i])) else {
                return err("the tree's child links do not form a tree");
            };
            tree.left[pos] = l;
            tree.right[pos] = r;
            tree.cover[pos] = internal_count[i];
        } else {
            let j = (-node - 1) as usize;
            if j >= leaves {
                return err(format!("leaf {j} out of range"));
            }
            tree.value[pos] = leaf_value[j] * scale;
            tree.cover[pos] = leaf_count[j];
        }
    }
    Ok(tree)
}

/// Parses an XGBoost JSON model.
pub fn xgboost(text: &str) -> Result<Imported, ImportError> {
    let v: Value = serde_json::from_str(text).map_err(|e| ImportError(format!("not JSON: {e}")))?;
    let learner = &v["learner"];
    let objective = learner["objective"]["name"].as_str().unwrap_or_default();
    let param = &learner["learner_model_param"];
    let base_score = param["base_score"]
        .as_str()
        .map(|s| s.trim_matches(|c| c == '[' || c == ']'))
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse::<f32>().ok())
        .map(f64::from)
        .ok_or_else(|| ImportError("cannot read learner_model_param.base_score".into()))?;
    let base_margin = match objective {
        "binary:logistic" => {
            if !(base_score > 0.0 && base_score < 1.0) {
                return err(format!("base_score {base_score} is not a probability"));
            }
            (base_score / (1.0 - base_score)).ln()
        }
        "binary:logitraw" => base_score,
        other => {
            return err(format!(
                "XGBoost objective `{other}` is not binary:logistic"
            ))
        }
    };
    let booster = &learner["gradient_booster"];
    if booster["name"].as_str() != Some("gbtree") {
        return err("only the gbtree booster is supported");
    }
    let num_feature: usize = param["num_feature"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ImportError("cannot read num_feature".into()))?;
    let feature_names: Vec<String> = match learner["feature_names"].as_array() {
        Some(names) if !names.is_empty() => names
            .iter()
            .map(|n| n.as_str().unwrap_or_default().to_owned())
            .collect(),
        _ => (0..num_feature).map(|i| format!("f{i}")).collect(),
    };
    let trees = booster["model"]["trees"]
        .as_array()
        .ok_or_else(|| ImportError("no trees".into()))?
        .iter()
        .enumerate()
        .map(|(k, t)| xgboost_tree(t).map_err(|e| ImportError(format!("tree {k}: {}", e.0))))
        .collect::<Result<Vec<_>, _>>()?;
    if trees.is_empty() {
        return err("the model has no trees");
    }
    Ok(Imported {
        base_score: base_margin,
        trees,
        feature_names,
        source: format!("xgboost {objective}"),
    })
}

fn array<'a>(t: &'a Value, key: &str) -> Result<&'a Vec<Value>, ImportError> {
    t[key]
        .as_array()
        .ok_or_else(|| ImportError(format!("missing `{key}`")))
}

fn xgboost_tree(t: &Value) -> Result<Tree, ImportError> {
    let left = array(t, "left_children")?;
    let right = array(t, "right_children")?;
    let cond = array(t, "split_conditions")?;
    let index = array(t, "split_indices")?;
    let default_left = array(t, "default_left")?;
    let hess = array(t, "sum_hessian")?;
    let n = left.len();
    if [
        right.len(),
        cond.len(),
        index.len(),
        default_left.len(),
        hess.len(),
    ]
    .iter()
    .any(|&l| l != n)
    {
        return err("node arrays differ in length");
    }
    if let Some(types) = t["split_type"].as_array() {
        if types.iter().any(|s| s.as_i64() != Some(0)) {
            return err("categorical splits are not supported");
        }
    }
    // XGBoost stores single-precision values, written as their shortest decimal: read them back
    // as the exact single-precision numbers.
    let num = |v: &Value| {
        v.as_f64()
            .map(|x| f64::from(x as f32))
            .ok_or_else(|| ImportError("non-numeric entry".into()))
    };
    let int = |v: &Value| {
        v.as_i64()
            .ok_or_else(|| ImportError("non-integer entry".into()))
    };
    let mut tree = Tree::with_nodes(n);
    for i in 0..n {
        tree.cover[i] = num(&hess[i])?;
        let l = int(&left[i])?;
        if l < 0 {
            tree.value[i] = num(&cond[i])?;
            continue;
        }
        let r = int(&right[i])?;
        let (Ok(l), Ok(r)) = (u32::try_from(l), u32::try_from(r)) else {
            return err("bad child index");
        };
        tree.split_feature[i] =
            i32::try_from(int(&index[i])?).map_err(|_| ImportError("bad split index".into()))?;
        tree.threshold[i] = below_in_single_precision(num(&cond[i])? as f32);
        tree.left[i] = l;
        tree.right[i] = r;
        tree.default_left[i] = int(&default_left[i])? != 0;
    }
    Ok(tree)
}

/// The largest double `t` such that XGBoost sends every input `x <= t` left at a split on `c`:
/// XGBoost rounds `x` to single precision (to nearest, ties to even) and goes left when the
/// result is below `c`. So `x` goes left below the midpoint of `c` and the float before it, and
/// at the midpoint itself when the tie rounds down (the float before `c` is even).
fn below_in_single_precision(c: f32) -> f64 {
    let below = c.next_down();
    // Exact: both are floats, so their sum has at most 25 significant bits.
    let mid = (f64::from(below) + f64::from(c)) / 2.0;
    if below.to_bits() & 1 == 0 {
        mid
    } else {
        mid.next_down()
    }
}

impl Imported {
    /// Maps source feature names to payrisk feature names (`mapping`, identity for names not in
    /// it), keeps only the features the trees split on, and orients the model toward repayment
    /// (`positive_is_repaid = false` when the source predicted default). Returns the payrisk
    /// feature names in model order and the ensemble re-indexed to them.
    pub fn remap(
        &self,
        mapping: &HashMap<String, String>,
        positive_is_repaid: bool,
    ) -> Result<(Vec<String>, f64, Vec<Tree>), ImportError> {
        let mut used: Vec<usize> = self
            .trees
            .iter()
            .flat_map(|t| {
                t.split_feature
                    .iter()
                    .filter(|&&f| f >= 0)
                    .map(|&f| f as usize)
            })
            .collect();
        used.sort_unstable();
        used.dedup();
        if let Some(&bad) = used.iter().find(|&&f| f >= self.feature_names.len()) {
            return err(format!(
                "split on feature {bad}, but the model names {}",
                self.feature_names.len()
            ));
        }
        let new_index: HashMap<usize, i32> = used
            .iter()
            .enumerate()
            .map(|(k, &f)| (f, k as i32))
            .collect();
        let names: Vec<String> = used
            .iter()
            .map(|&f| {
                let source = &self.feature_names[f];
                mapping
                    .get(source)
                    .cloned()
                    .unwrap_or_else(|| source.clone())
            })
            .collect();
        let sign = if positive_is_repaid { 1.0 } else { -1.0 };
        let trees = self
            .trees
            .iter()
            .map(|t| {
                let mut t = t.clone();
                for f in &mut t.split_feature {
                    if *f >= 0 {
                        *f = new_index[&(*f as usize)];
                    }
                }
                for v in &mut t.value {
                    *v *= sign;
                }
                t
            })
            .collect();
        Ok((names, sign * self.base_score, trees))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feature_map_skips_comments_and_names_the_bad_line() {
        let path = std::path::Path::new("map.txt");
        let mapping = parse_feature_map(
            "# from the notebook

f0 = dpd_current
 f1=utilisation 
",
            path,
        )
        .expect("parses");
        assert_eq!(mapping.len(), 2);
        assert_eq!(mapping["f0"], "dpd_current");
        assert_eq!(mapping["f1"], "utilisation");
        let bad = parse_feature_map(
            "f0 = dpd_current
f1 utilisation
",
            path,
        )
        .expect_err("bad");
        assert!(bad.to_string().contains("map.txt:2"), "{bad}");
        let empty = parse_feature_map(
            "f0 =
", path,
        )
        .expect_err("empty target");
        assert!(empty.to_string().contains("map.txt:1"), "{empty}");
    }

    #[test]
    fn xgboost_thresholds_compare_as_xgboost_does_in_single_precision() {
        // Pins: a double goes left exactly when its single-precision rounding is below the
        // split's value, ties to even included, on both sides of the midpoint.
        for c in [
            0.006_092_307_6_f32,
            1.0,
            3.0,
            -2.5,
            1e-30,
            60.0,
            0.1,
            16_777_217.0,
        ] {
            let t = below_in_single_precision(c);
            let goes_left = |x: f64| (x as f32) < c;
            for x in [
                t,
                t.next_up(),
                t.next_down(),
                f64::from(c),
                f64::from(c.next_down()),
            ] {
                assert_eq!(x <= t, goes_left(x), "c {c:e}, x {x:e}, t {t:e}");
            }
        }
    }
}
