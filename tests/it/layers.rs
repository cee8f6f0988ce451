//! The layers ARCHITECTURE.md draws, checked on the source: which top-level
//! module may name which (`crate::…` and `super::…` paths outside comments
//! and test modules), that the rotation engine reaches the outside world
//! only through its ports, and that no two product files import each other
//! round a cycle. A wrong-way import fails here with the file and the path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;

/// What each top-level module of `src/` may name, lowest layer first. A
/// module missing here may name nothing; `cmd`, `lib` and `main` (the top)
/// may name anything.
const ALLOWED: &[(&str, &[&str])] = &[
    // Foundation: names nothing of rotui's but each other.
    ("text", &[]),
    ("secret", &["text"]),
    ("stable_hash", &[]),
    ("paths", &[]),
    ("model", &[]),
    ("fault", &[]),
    ("logging", &["paths", "secret", "text"]),
    // The target and its flags, the config as data.
    ("target", &["stable_hash", "text"]),
    ("cli", &["target"]),
    // An environment's webhook URL is registered with the redactor as it is read.
    ("environments", &["secret"]),
    ("config", &["environments"]),
    // The outside systems.
    ("db", &["fault", "model", "paths", "secret", "target", "text"]),
    ("aws", &["fault", "model", "secret", "text"]),
    // A cluster's token is minted with an environment's AWS credentials.
    (
        "k8s",
        &["aws", "db", "fault", "model", "secret", "target", "text"],
    ),
    // Discovery, the rotation engine, connecting, the preflight.
    ("discover", &["aws", "k8s", "secret", "target", "text"]),
    (
        "rotation",
        &[
            "aws",
            "db",
            "fault",
            "k8s",
            "model",
            "paths",
            "secret",
            "stable_hash",
            "target",
            "text",
        ],
    ),
    (
        "connect",
        &[
            "aws",
            "cli",
            "config",
            "db",
            "discover",
            "environments",
            "k8s",
            "rotation",
            "secret",
            "target",
        ],
    ),
    (
        "preflight",
        &["aws", "connect", "environments", "k8s", "secret", "target"],
    ),
    // Delivering the engine's notices to each environment's webhook.
    ("webhook", &["environments", "rotation", "secret"]),
    // The dashboard's core names neither the screen nor the terminal.
    (
        "app",
        &["config", "k8s", "model", "rotation", "secret", "target", "text"],
    ),
    ("ui", &["app", "model", "rotation", "secret", "target", "text"]),
    ("tui", &["secret", "text"]),
    ("event_loop", &["app", "tui", "ui"]),
    (
        "workers",
        &[
            "app",
            "cli",
            "config",
            "connect",
            "db",
            "environments",
            "k8s",
            "model",
            "preflight",
            "rotation",
            "secret",
            "target",
            "text",
        ],
    ),
    (
        "fleet",
        &[
            "app", "aws", "config", "db", "k8s", "model", "rotation", "secret", "target", "text", "ui",
        ],
    ),
];

/// The engine's own files (all of `rotation` but the adapters, which put
/// its ports on `db`, `aws` and `k8s`) name the outside world only as
/// values: a statement, a database error to convert.
const ENGINE_MAY_NAME: &[&str] = &["db::Statement", "db::DbError", "db::DbErrorKind"];

struct Source {
    /// `rotation/steps/database`, `lib`.
    module: Vec<String>,
    /// Product code only: comment lines and `#[cfg(test)]` modules dropped.
    code: String,
}

/// Product code of a file: comment lines and `#[cfg(test)]` modules dropped.
fn product_code(text: &str) -> String {
    let test_module = Regex::new(r"#\[cfg\(test\)\]\s*(pub(\([a-z]+\))?\s+)?mod\s+tests").unwrap();
    let product = test_module.split(text).next().unwrap_or_default();
    product
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn sources() -> Vec<Source> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files
        .into_iter()
        .filter(|p| {
            // Test suites living beside the code (`tests.rs`, `tests/`).
            p.file_stem().is_some_and(|s| s != "tests")
                && !p
                    .strip_prefix(&root)
                    .unwrap()
                    .components()
                    .any(|c| c.as_os_str() == "tests")
        })
        .map(|p| {
            let rel = p.strip_prefix(&root).unwrap().with_extension("");
            let mut module: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
            if module.len() > 1 && module.last().is_some_and(|m| m == "mod") {
                module.pop();
            }
            let code = product_code(&std::fs::read_to_string(&p).unwrap());
            Source { module, code }
        })
        .collect()
}

/// Every (file, module named, path as written) a source refers to.
fn references(sources: &[Source]) -> Vec<(String, Vec<String>, String)> {
    let modules: BTreeSet<Vec<String>> = sources.iter().map(|s| s.module.clone()).collect();
    let longest = |path: &[String]| -> Option<Vec<String>> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| modules.contains(p))
    };
    let path_re = Regex::new(
        r"\b(crate|super(?:::super)*)::([A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)(::\{[^;]*?\})?",
    )
    .unwrap();
    let item_re = Regex::new(r"[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*").unwrap();
    let mut out = Vec::new();
    for s in sources {
        // A `mod.rs` or `lib.rs` is its module; `super` climbs from there.
        let here = if s.module == ["lib"] {
            vec![]
        } else {
            s.module.clone()
        };
        for c in path_re.captures_iter(&s.code) {
            let base: Vec<String> = match &c[1] {
                "crate" => vec![],
                sup => {
                    let ups = sup.matches("super").count();
                    here[..here.len().saturating_sub(ups)].to_vec()
                }
            };
            let head: Vec<String> = base
                .iter()
                .cloned()
                .chain(c[2].split("::").map(str::to_owned))
                .collect();
            // `a::{b, c::d}` names `a::b` and `a::c::d`.
            let named: Vec<Vec<String>> = match c.get(3) {
                None => vec![head],
                Some(group) => item_re
                    .find_iter(group.as_str())
                    .map(|item| {
                        let item = item.as_str().split("::").map(str::to_owned);
                        head.iter().cloned().chain(item).collect()
                    })
                    .collect(),
            };
            for path in named {
                if let Some(m) = longest(&path)
                    && m != here
                    && !here.starts_with(&m)
                {
                    out.push((s.module.join("/"), m, path.join("::")));
                }
            }
        }
    }
    out
}

#[test]
fn each_module_names_only_the_layers_below_it() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = BTreeSet::new();
    let refs = references(&sources());
    assert!(
        refs.len() > 500,
        "the scan found {} references: is it reading src/?",
        refs.len()
    );
    for (file, target, path) in &refs {
        let from = file.split('/').next().unwrap();
        let to = target[0].as_str();
        if from == to || matches!(from, "cmd" | "lib" | "main") {
            continue;
        }
        if !allowed.get(from).is_some_and(|ok| ok.contains(&to)) {
            wrong.insert(format!("{file} names {path}"));
        }
        let engine = from == "rotation" && !file.starts_with("rotation/adapters");
        if engine && matches!(to, "db" | "aws" | "k8s") && !ENGINE_MAY_NAME.iter().any(|p| path.ends_with(p))
        {
            wrong.insert(format!("{file} names {path}: the engine goes through its ports"));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn no_two_product_files_import_each_other_round_a_cycle() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, target, _) in references(&sources()) {
        edges.entry(file).or_default().insert(target.join("/"));
    }
    let cycles = strongly_connected(&edges);
    assert!(
        cycles.is_empty(),
        "files that import each other round a cycle:\n{}",
        cycles
            .iter()
            .map(|c| c.join(" → "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Tarjan's strongly connected components of more than one file.
fn strongly_connected(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.edges.get(v).into_iter().flatten() {
                if !self.index.contains_key(w.as_str()) {
                    self.visit(w);
                    let lw = self.low[w.as_str()];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w.as_str()) {
                    let iw = self.index[w.as_str()];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

#[test]
fn the_checker_sees_a_cycle_and_a_wrong_way_import() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_owned(), ["b".to_owned()].into()),
        ("b".to_owned(), ["c".to_owned()].into()),
        ("c".to_owned(), ["a".to_owned()].into()),
        ("d".to_owned(), ["a".to_owned()].into()),
    ]
    .into();
    assert_eq!(strongly_connected(&edges), vec![vec!["a", "b", "c"]]);
    let sources = vec![
        Source {
            module: vec!["db".into()],
            code: product_code("use crate::app::State;\n// use crate::ui::x;\n"),
        },
        Source {
            module: vec!["app".into()],
            code: String::new(),
        },
        Source {
            module: vec!["ui".into()],
            code: String::new(),
        },
    ];
    let refs = references(&sources);
    assert_eq!(
        refs.len(),
        1,
        "comments are not code: {:?}",
        refs.iter().map(|r| &r.2).collect::<Vec<_>>()
    );
    assert_eq!(refs[0].1, vec!["app".to_owned()]);
}
