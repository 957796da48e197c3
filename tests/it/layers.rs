//! The layer rules of `ARCHITECTURE.md`, checked on the source tree: the domain imports no outer
//! layer, `serve/` and the domain name neither tonic nor prost, generated code points into
//! `grpc/` only, binaries stay thin, and no two sibling modules import each other (directly or
//! around a longer cycle). Run alone: `cargo test --all-features --test it layers`.
//!
//! The source is read as text: `crate::`, `super::` and `self::` paths in code (comments,
//! strings and `#[cfg(test)]` modules left out), resolved to the modules the tree defines. A
//! reference from module `a::b::x` to `a::c::y` is an edge `b → c` among the children of `a`;
//! references to a module's own ancestors or descendants are not edges (Rust's parent and child
//! modules always see each other).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The domain: top-level modules that are neither the serving runtime nor an edge.
const OUTER: [&str; 4] = ["serve", "grpc", "train", "boost"];
/// Crates only the gRPC edge may name.
const TRANSPORT_CRATES: [&str; 7] = [
    "tonic",
    "tonic_health",
    "tonic_reflection",
    "tonic_types",
    "tonic_prost",
    "prost",
    "prost_types",
];
/// Longest file allowed under `src/bin/`.
const MAX_BIN_LINES: usize = 250;

/// One Rust source file of the library, as a module.
#[derive(Debug, Clone)]
struct Source {
    /// Path for messages, relative to the crate root.
    file: String,
    /// Its module path below the crate root (empty for `lib.rs`).
    module: Vec<String>,
    /// Its code with comments, string contents and test modules blanked, line by line.
    code: Vec<String>,
}

/// Edges between sibling modules, `(from, to)`, with the first place each was seen.
type Graph = BTreeMap<(String, String), (String, usize)>;

/// A broken rule, with where it was broken.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Breach {
    file: String,
    line: usize,
    rule: &'static str,
    detail: String,
}

impl std::fmt::Display for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.rule, self.detail
        )
    }
}

/// Reads every `.rs` file below `src` (except `src/bin/`) as a module.
fn read_tree(src: &Path) -> Vec<Source> {
    let mut files = Vec::new();
    collect(src, &mut files);
    files.sort();
    files
        .into_iter()
        .filter(|p| !p.starts_with(src.join("bin")))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            let rel = p.strip_prefix(src).expect("below src");
            source(&format!("src/{}", rel.display()), &text)
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir:?}: {e}"));
    for entry in entries.map(|e| e.expect("dir entry")) {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file's module, from its path relative to `src/` (`a/mod.rs` and `a.rs` are both `a`).
fn source(file: &str, text: &str) -> Source {
    let rel = file.trim_start_matches("src/").trim_end_matches(".rs");
    let mut module: Vec<String> = rel.split('/').map(str::to_owned).collect();
    if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
        module.pop();
    }
    Source {
        file: file.to_owned(),
        module,
        code: blank(text),
    }
}

/// The code of `text` with comments and string contents replaced by spaces and everything from
/// the first `#[cfg(test)]` on dropped (test modules sit at the end of a file by convention).
fn blank(text: &str) -> Vec<String> {
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            out.push_str(&" ".repeat(end));
            i += end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |e| e + 2);
            out.extend(
                rest[..end]
                    .chars()
                    .map(|c| if c == '\n' { '\n' } else { ' ' }),
            );
            i += end;
        } else if rest.starts_with("r#\"") || rest.starts_with("r\"") || rest.starts_with('"') {
            // A string literal: keep the quotes, blank the contents (raw strings end at `"#`).
            let (open, close) = if rest.starts_with("r#\"") {
                (3, "\"#")
            } else if rest.starts_with("r\"") {
                (2, "\"")
            } else {
                (1, "\"")
            };
            let body = &rest[open..];
            let mut end = 0;
            let raw = open > 1;
            let b = body.as_bytes();
            while end < b.len() {
                if !raw && b[end] == b'\\' {
                    end += 2;
                    continue;
                }
                if b[end..].starts_with(close.as_bytes()) {
                    break;
                }
                end += 1;
            }
            let end = end.min(body.len());
            out.push('"');
            out.extend(
                body[..end]
                    .chars()
                    .map(|c| if c == '\n' { '\n' } else { ' ' }),
            );
            out.push('"');
            i += open + end + close.len().min(body.len() - end);
        } else if rest.starts_with('\'') && rest.len() >= 3 && rest[1..].find('\'') == Some(1) {
            // A character literal like 'x' (lifetimes have no closing quote right after).
            out.push_str("' '");
            i += 3;
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out.lines().map(str::to_owned).collect()
}

/// The module paths every `crate::`/`super::`/`self::` path of a file names, resolved against
/// the modules that exist, with the line each appears on. `use` groups (`use crate::{a, b::c}`)
/// are expanded.
fn references(s: &Source, modules: &BTreeSet<Vec<String>>) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let joined = s.code.join("\n");
    let line_of = |offset: usize| joined[..offset].matches('\n').count() + 1;
    for (start, path) in paths(&joined) {
        let Some(absolute) = resolve(&s.module, &path) else {
            continue;
        };
        // The longest prefix that is a module: the rest are items.
        let module = (0..=absolute.len())
            .rev()
            .map(|n| absolute[..n].to_vec())
            .find(|p| modules.contains(p))
            .unwrap_or_default();
        out.push((line_of(start), module));
    }
    out
}

/// Every path that starts with `crate`, `super` or `self`, with `use` groups expanded, and its
/// byte offset.
fn paths(code: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let starts = ["crate::", "super::", "self::"]
            .iter()
            .any(|p| code[i..].starts_with(p));
        if boundary && starts {
            let (consumed, expanded) = expand(&code[i..]);
            out.extend(expanded.into_iter().map(|p| (i, p)));
            i += consumed.max(1);
        } else {
            i += 1;
        }
    }
    out
}

/// Reads one path (with a `{…}` group, recursively) from the start of `text`: the bytes read and
/// the paths it stands for.
fn expand(text: &str) -> (usize, Vec<Vec<String>>) {
    let mut prefix: Vec<String> = Vec::new();
    let mut i = 0;
    let b = text.as_bytes();
    loop {
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        if i > start {
            prefix.push(text[start..i].to_owned());
        }
        if text[i..].starts_with("::{") {
            i += 3;
            let mut all = Vec::new();
            loop {
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i >= b.len() || b[i] == b'}' {
                    i += 1;
                    break;
                }
                let (n, inner) = expand(&text[i..]);
                for p in inner {
                    let mut full = prefix.clone();
                    full.extend(p);
                    all.push(full);
                }
                i += n;
                while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
                    i += 1;
                }
            }
            return (i, all);
        } else if text[i..].starts_with("::") {
            i += 2;
        } else {
            // ` as x`, `;`, `(`, `<`, `*`…: the path ends here.
            return (i, vec![prefix]);
        }
    }
}

/// `path` (starting `crate`, `super` or `self`) as seen from `module`, made absolute.
fn resolve(module: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut at: Vec<String>;
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            at = Vec::new();
            rest = &path[1..];
        }
        Some("self") => {
            at = module.to_vec();
            rest = &path[1..];
        }
        Some("super") => {
            at = module.to_vec();
            while rest.first().map(String::as_str) == Some("super") {
                at.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    // `self` inside a group (`use crate::a::{self, b}`) names the group's module.
    at.extend(rest.iter().filter(|s| *s != "self").cloned());
    Some(at)
}

/// Checks every rule over `sources` (and, for generated code, `build_rs` and the generated
/// files); returns the breaches, sorted.
fn check(
    sources: &[Source],
    bins: &[(String, usize)],
    build_rs: &str,
    generated: &[(String, String)],
) -> Vec<Breach> {
    let modules: BTreeSet<Vec<String>> = sources.iter().map(|s| s.module.clone()).collect();
    let mut breaches = Vec::new();
    // Sibling edges: parent → (from, to) → first place seen.
    let mut edges: BTreeMap<Vec<String>, Graph> = BTreeMap::new();
    for s in sources {
        let top = s.module.first().map(String::as_str).unwrap_or("");
        let domain = !s.module.is_empty() && !OUTER.contains(&top);
        for (line, target) in references(s, &modules) {
            let target_top = target.first().map(String::as_str).unwrap_or("");
            if domain && OUTER.contains(&target_top) {
                breaches.push(Breach {
                    file: s.file.clone(),
                    line,
                    rule: "the domain imports no outer layer",
                    detail: format!("`{}` uses `crate::{}`", top, target.join("::")),
                });
            }
            if matches!(top, "serve" | "train" | "boost") && target_top == "grpc" {
                breaches.push(Breach {
                    file: s.file.clone(),
                    line,
                    rule: "only the gRPC edge and the binaries use grpc/",
                    detail: format!("`{}` uses `crate::{}`", top, target.join("::")),
                });
            }
            let common = s
                .module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if common < s.module.len() && common < target.len() {
                edges
                    .entry(s.module[..common].to_vec())
                    .or_default()
                    .entry((s.module[common].clone(), target[common].clone()))
                    .or_insert((s.file.clone(), line));
            }
        }
        if domain || top == "serve" {
            for (n, code) in s.code.iter().enumerate() {
                if let Some(name) = names_transport(code) {
                    breaches.push(Breach {
                        file: s.file.clone(),
                        line: n + 1,
                        rule: "serve/ and the domain name neither tonic nor prost",
                        detail: format!("names `{name}`"),
                    });
                }
            }
        }
    }
    for (parent, graph) in &edges {
        for cycle in cycles(graph) {
            let (file, line) = graph[&(cycle[0].clone(), cycle[1].clone())].clone();
            let place = if parent.is_empty() {
                "the crate root".to_owned()
            } else {
                format!("`{}`", parent.join("::"))
            };
            breaches.push(Breach {
                file,
                line,
                rule: "no import cycle between modules",
                detail: format!("{} in {place}", cycle.join(" → ")),
            });
        }
    }
    for (n, raw) in build_rs.lines().enumerate() {
        for literal in raw.split('"').skip(1).step_by(2) {
            if literal.starts_with("crate::") && !literal.starts_with("crate::grpc::") {
                breaches.push(Breach {
                    file: "build.rs".into(),
                    line: n + 1,
                    rule: "generated code refers into grpc/ only",
                    detail: format!("points generated code at `{literal}`"),
                });
            }
        }
    }
    for (file, text) in generated {
        for (n, line) in text.lines().enumerate() {
            for (i, _) in line.match_indices("crate::") {
                let path = &line[i..];
                if !path.starts_with("crate::grpc::") {
                    breaches.push(Breach {
                        file: file.clone(),
                        line: n + 1,
                        rule: "generated code refers into grpc/ only",
                        detail: format!(
                            "refers to `{}`",
                            path.split_whitespace().next().unwrap_or(path)
                        ),
                    });
                }
            }
        }
    }
    for (file, lines) in bins {
        if *lines > MAX_BIN_LINES {
            breaches.push(Breach {
                file: file.clone(),
                line: *lines,
                rule: "binaries are thin",
                detail: format!("{lines} lines; at most {MAX_BIN_LINES}"),
            });
        }
    }
    breaches.sort();
    breaches.dedup();
    breaches
}

/// The transport crate a line of code names as a path (`tonic::…`, `use prost…`), if any.
fn names_transport(code: &str) -> Option<&'static str> {
    let b = code.as_bytes();
    for name in TRANSPORT_CRATES {
        for (i, _) in code.match_indices(name) {
            let before = i.checked_sub(1).map(|j| b[j]);
            let after = &code[i + name.len()..];
            let boundary = !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_');
            let is_path = after.starts_with("::")
                || (code[..i].trim_end().ends_with("use") && !after.starts_with('_'));
            if boundary && is_path && before.is_none_or(|c| c != b':') {
                return Some(name);
            }
        }
    }
    None
}

/// The cycles of a directed graph, one per strongly connected component of two or more nodes
/// (or a node with an edge to itself), each as a closed walk `a → b → … → a`.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in graph.keys() {
        next.entry(from).or_default().push(to);
    }
    let nodes: BTreeSet<&str> = graph
        .keys()
        .flat_map(|(a, b)| [a.as_str(), b.as_str()])
        .collect();
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    for &start in &nodes {
        if reported.contains(start) {
            continue;
        }
        // Breadth-first back to `start`: the shortest cycle through it, if any.
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut found = None;
        while let Some(n) = queue.pop_front() {
            for &m in next.get(n).map(Vec::as_slice).unwrap_or(&[]) {
                if m == start {
                    found = Some(n);
                    break;
                }
                if let std::collections::btree_map::Entry::Vacant(e) = parent.entry(m) {
                    e.insert(n);
                    queue.push_back(m);
                }
            }
            if found.is_some() {
                break;
            }
        }
        if let Some(mut n) = found {
            let mut walk = vec![start.to_owned()];
            let mut back = vec![n];
            while n != start {
                n = parent[n];
                if n != start {
                    back.push(n);
                }
            }
            walk.extend(back.iter().rev().map(|s| (*s).to_owned()));
            walk.push(start.to_owned());
            walk.dedup();
            reported.extend(back);
            reported.insert(start);
            out.push(walk);
        }
    }
    out
}

/// The checkout checked: this one, or `PAYRISK_LAYERS_ROOT` (to run the rules on another
/// checkout, for example an older commit in a `git worktree`).
fn repo() -> PathBuf {
    std::env::var_os("PAYRISK_LAYERS_ROOT")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// The generated gRPC code of this build, when the build script's output is visible.
fn generated() -> Vec<(String, String)> {
    let Some(dir) = option_env!("OUT_DIR") else {
        return Vec::new();
    };
    let mut files = Vec::new();
    collect(Path::new(dir), &mut files);
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            (format!("generated {}", p.display()), text)
        })
        .collect()
}

fn bins() -> Vec<(String, usize)> {
    let dir = repo().join("src/bin");
    let mut files = Vec::new();
    collect(&dir, &mut files);
    files
        .into_iter()
        .map(|p| {
            let lines = std::fs::read_to_string(&p).expect("bin").lines().count();
            (
                format!("src/bin/{}", p.file_name().expect("name").to_string_lossy()),
                lines,
            )
        })
        .collect()
}

#[test]
fn the_source_tree_keeps_every_layer_rule() {
    let sources = read_tree(&repo().join("src"));
    assert!(sources.len() > 50, "read {} files", sources.len());
    let build_rs = std::fs::read_to_string(repo().join("build.rs")).expect("build.rs");
    // The generated code is this build's; another checkout is checked by its `build.rs`.
    let generated = match std::env::var_os("PAYRISK_LAYERS_ROOT") {
        Some(_) => Vec::new(),
        None => generated(),
    };
    let breaches = check(&sources, &bins(), &build_rs, &generated);
    let listed: Vec<String> = breaches.iter().map(ToString::to_string).collect();
    assert!(
        breaches.is_empty(),
        "{} layer rule(s) broken:\n{}",
        breaches.len(),
        listed.join("\n")
    );
}

/// The tree as it is, plus `extra` files.
fn tree_with(extra: &[(&str, &str)]) -> Vec<Source> {
    let mut sources = read_tree(&repo().join("src"));
    for (file, text) in extra {
        sources.retain(|s| s.file != *file);
        sources.push(source(file, text));
    }
    sources
}

fn rules_broken(sources: &[Source]) -> Vec<&'static str> {
    let mut rules: Vec<&'static str> = check(sources, &[], "", &[])
        .into_iter()
        .map(|b| b.rule)
        .collect();
    rules.dedup();
    rules
}

#[test]
fn a_domain_module_importing_the_serving_runtime_fails_the_check() {
    let bad = "use crate::serve::decisions::ScoredAccount;\npub fn f() {}\n";
    let tree = tree_with(&[("src/features_extra.rs", bad)]);
    assert!(
        rules_broken(&tree).contains(&"the domain imports no outer layer"),
        "{:?}",
        rules_broken(&tree)
    );
}

#[test]
fn serve_naming_tonic_fails_the_check() {
    let bad = "pub fn f() -> tonic::Status { tonic::Status::ok(\"\") }\n";
    let tree = tree_with(&[("src/serve/extra.rs", bad)]);
    assert_eq!(
        rules_broken(&tree),
        ["serve/ and the domain name neither tonic nor prost"]
    );
    // In a comment or a string it is only a word.
    let fine = "// tonic::Status is for the edge\npub const S: &str = \"prost::Message\";\n";
    assert!(rules_broken(&tree_with(&[("src/serve/extra.rs", fine)])).is_empty());
}

#[test]
fn an_import_cycle_between_siblings_fails_the_check() {
    let one_way = tree_with(&[(
        "src/serve/extra_a.rs",
        "use super::drift::DriftMonitor;\npub fn f(_: &DriftMonitor) {}\n",
    )]);
    assert!(rules_broken(&one_way).is_empty(), "no cycle yet");
    let tree = tree_with(&[
        (
            "src/serve/extra_a.rs",
            "use super::extra_c::h;\npub fn f() { h() }\n",
        ),
        (
            "src/serve/extra_c.rs",
            "use crate::serve::{drift, extra_a};\npub fn h() {}\n",
        ),
    ]);
    let breaches = check(&tree, &[], "", &[]);
    let cycle = breaches
        .iter()
        .find(|b| b.rule == "no import cycle between modules")
        .unwrap_or_else(|| panic!("no cycle found: {breaches:?}"));
    assert_eq!(
        cycle.detail, "extra_a → extra_c → extra_a in `serve`",
        "{cycle}"
    );
}

#[test]
fn generated_code_pointing_outside_grpc_and_fat_binaries_fail_the_check() {
    let sources = read_tree(&repo().join("src"));
    let build_rs = ".codec_path(\"crate::serve::codec::SliceCodec\")\n";
    let generated = [(
        "gen.rs".to_owned(),
        "impl crate::grpc::proto::X for crate::serve::Y {}".to_owned(),
    )];
    let bins = [("src/bin/fat.rs".to_owned(), 251)];
    let rules: Vec<&str> = check(&sources, &bins, build_rs, &generated)
        .into_iter()
        .map(|b| b.rule)
        .collect();
    assert_eq!(
        rules
            .iter()
            .filter(|r| **r == "generated code refers into grpc/ only")
            .count(),
        2,
        "{rules:?}"
    );
    assert!(rules.contains(&"binaries are thin"), "{rules:?}");
}

#[test]
fn use_groups_and_relative_paths_resolve_to_modules() {
    let s = source(
        "src/grpc/wire/codec.rs",
        "use crate::{domain::{self, Account}, serve::decisions::Batch};\nuse super::super::status;\n",
    );
    let modules: BTreeSet<Vec<String>> = [
        vec![],
        vec!["domain".to_owned()],
        vec!["serve".to_owned()],
        vec!["serve".to_owned(), "decisions".to_owned()],
        vec!["grpc".to_owned()],
        vec!["grpc".to_owned(), "status".to_owned()],
    ]
    .into_iter()
    .collect();
    let found: Vec<String> = references(&s, &modules)
        .into_iter()
        .map(|(_, m)| m.join("::"))
        .collect();
    assert_eq!(
        found,
        ["domain", "domain", "serve::decisions", "grpc::status"]
    );
}

#[test]
fn the_real_tree_is_read_as_a_graph_with_its_known_edges() {
    let sources = read_tree(&repo().join("src"));
    let modules: BTreeSet<Vec<String>> = sources.iter().map(|s| s.module.clone()).collect();
    let mut root_edges = BTreeSet::new();
    for s in &sources {
        for (_, target) in references(s, &modules) {
            if let (Some(a), Some(b)) = (s.module.first(), target.first()) {
                if a != b {
                    root_edges.insert(format!("{a} → {b}"));
                }
            }
        }
    }
    for edge in [
        "grpc → serve",
        "serve → scoring",
        "scoring → model",
        "train → serve",
    ] {
        assert!(
            root_edges.contains(edge),
            "{edge} missing from {root_edges:?}"
        );
    }
    assert!(
        !generated().is_empty(),
        "the generated code is read (OUT_DIR is set for this test)"
    );
}
