//! The module graph's rules, checked over the source text of `src/`
//! (`docs/ARCHITECTURE.md`, "Module map"):
//!
//! - no import circle between the crate's top-level modules;
//! - each module imports only modules of the layers below it (`LAYERS`):
//!   `core` depends on nothing of the crate, `model` on `core` alone;
//! - the store handle stays in the service layer: outside `service`,
//!   `store` and the composition root (`startup`, `main`), nothing names
//!   `crate::store` or reaches `service.store`.
//!
//! A dependency is any `crate::x` path (in a `use` or inline) in a file of
//! another top-level module. Comments are skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level module a file belongs to (`src/store/redis/keys.rs` ->
/// `store`, `src/auth.rs` -> `auth`); `None` for the crate roots.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
    (!matches!(name.as_str(), "lib" | "main")).then_some(name)
}

/// The file's lines without `//` comments (doc comments included).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, line)| {
        let code = match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        (i + 1, code)
    })
}

/// `crate::{...}` groups put on one line (the line breaks moved after the
/// group, so the lines below keep their numbers).
fn join_groups(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    let mut held = 0usize;
    for c in text.chars() {
        if depth > 0 {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                '\n' => {
                    held += 1;
                    out.push(' ');
                    continue;
                }
                _ => {}
            }
            out.push(c);
            if depth == 0 {
                out.extend(std::iter::repeat_n('\n', held));
                held = 0;
            }
            continue;
        }
        out.push(c);
        if c == '{' && out.ends_with("crate::{") {
            depth = 1;
        }
    }
    out
}

/// The top-level modules a line names through `crate::`.
fn crate_refs(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c}`: each item's first segment (on this line).
            let mut depth = 0;
            let inner: String = group
                .chars()
                .take_while(|&c| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth >= 0
                })
                .collect();
            let mut depth = 0;
            let mut item = String::new();
            for c in inner.chars().chain(std::iter::once(',')) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.extend(module_name(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            continue;
        }
        out.extend(module_name(rest));
    }
    out
}

/// The module a path starts with (`store::X` -> `store`), if it names one.
fn module_name(path: &str) -> Option<String> {
    let name: String = path
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name.chars().next().unwrap().is_lowercase()).then_some(name)
}

/// Edges of the top-level module graph, each with one place that makes it.
fn module_graph() -> BTreeMap<(String, String), String> {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges = BTreeMap::new();
    for file in files {
        let Some(from) = top_module(&src, &file) else {
            continue;
        };
        let text = join_groups(&std::fs::read_to_string(&file).unwrap());
        for (n, line) in code_lines(&text) {
            for to in crate_refs(line) {
                if to != from {
                    edges
                        .entry((from.clone(), to))
                        .or_insert_with(|| format!("{}:{n}", file.display()));
                }
            }
        }
    }
    edges
}

/// Strongly connected components with more than one module (Tarjan).
fn circles(edges: &BTreeMap<(String, String), String>) -> Vec<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().push(to);
        next.entry(to).or_default();
    }
    struct Walk<'a> {
        next: &'a BTreeMap<&'a str, Vec<&'a str>>,
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
            for &w in &self.next[v] {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
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
        next: &next,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for &v in next.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}

#[test]
fn no_import_circle_between_top_level_modules() {
    let edges = module_graph();
    let found = circles(&edges);
    let mut report = String::new();
    for component in &found {
        report.push_str(&format!("circle: {}\n", component.join(", ")));
        for ((from, to), place) in &edges {
            if component.contains(from) && component.contains(to) {
                report.push_str(&format!("  {from} -> {to} ({place})\n"));
            }
        }
    }
    assert!(found.is_empty(), "{report}");
}

/// The layers, bottom first: a module may import modules of lower layers
/// only (and `ws` and `channels` may use `http`'s request helpers and error
/// type). Edges (`http`, `ws`, `channels`) and `app` never import `store`.
const LAYERS: &[&[&str]] = &[
    &["core", "clock"],
    &["model"],
    &["auth", "protocol"],
    &["config"],
    &["telemetry", "limits", "metrics"],
    &["store"],
    &["service", "hub"],
    &["app"],
    &["http"],
    &["ws", "channels"],
    &["startup"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn edge_allowed(from: &str, to: &str) -> bool {
    let edge = matches!(from, "http" | "ws" | "channels" | "app");
    if edge && to == "store" {
        return false;
    }
    match (layer_of(from), layer_of(to)) {
        (Some(a), Some(b)) => b < a,
        _ => false,
    }
}

#[test]
fn each_module_imports_only_layers_below_it() {
    let edges = module_graph();
    let mut wrong = Vec::new();
    for ((from, to), place) in &edges {
        if layer_of(from).is_none() {
            wrong.push(format!("{from} is in no layer: add it to LAYERS ({place})"));
        } else if !edge_allowed(from, to) {
            wrong.push(format!("{from} -> {to} ({place})"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `cargo test --test architecture module_graph -- --nocapture` prints the
/// module graph, one `from -> to` line per edge, layer by layer.
#[test]
fn module_graph_prints() {
    let edges = module_graph();
    for layer in LAYERS.iter().rev() {
        for module in *layer {
            let to: Vec<&str> = edges
                .keys()
                .filter(|(from, _)| from == module)
                .map(|(_, to)| to.as_str())
                .collect();
            println!("{module} -> {}", to.join(", "));
        }
    }
    assert!(!edges.is_empty());
}

#[test]
fn the_store_is_reached_only_through_the_service() {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel.starts_with("service/")
            || rel.starts_with("store/")
            || rel == "startup.rs"
            || rel == "main.rs"
        {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in code_lines(&text) {
            let field = line.trim_start().starts_with(".store");
            if line.contains("crate::store") || line.contains("service.store") || field {
                wrong.push(format!("src/{rel}:{n}: {}", line.trim()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "edges must go through the service, not the store:\n{}",
        wrong.join("\n")
    );
}

/// The checks see what they must: a circle, a wrong layer, a store handle.
#[test]
fn the_checks_find_what_they_look_for() {
    assert_eq!(crate_refs("use crate::store::{A, B};"), ["store"]);
    assert_eq!(
        crate_refs("x: crate::core::ids::Id, y: crate::model::Event"),
        ["core", "model"]
    );
    assert!(crate_refs("use tsunagu_crate::store;").is_empty());
    let joined = join_groups("use crate::{\n    a,\n    b,\n};\nx");
    assert_eq!(crate_refs(joined.lines().next().unwrap()), ["a", "b"]);
    assert_eq!(joined.lines().count(), 5);
    assert_eq!(
        crate_refs("use crate::{http, ws::broadcast::{a, b}, Thing};"),
        ["http", "ws"]
    );
    let mut edges = BTreeMap::new();
    for (a, b) in [("ws", "http"), ("http", "ws"), ("http", "model")] {
        edges.insert((a.to_owned(), b.to_owned()), String::new());
    }
    assert_eq!(circles(&edges), [vec!["http".to_owned(), "ws".to_owned()]]);
    assert!(edge_allowed("service", "store"));
    assert!(!edge_allowed("store", "service"));
    assert!(!edge_allowed("ws", "store"));
    assert!(!edge_allowed("model", "protocol"));
    let lines: Vec<_> = code_lines("a // crate::store\n/// crate::store\nb").collect();
    assert!(lines.iter().all(|(_, l)| !l.contains("crate::")));
}
