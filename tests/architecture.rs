//! The code's shape: no module cycle, and no long file without a reason.
//!
//! One piece: each check walks the same source files (the cycle check through one module graph).
//!
//! The module graph has no cycle. Every `crate::`, `super::` and `self::`
//! path in `src/` (use lines and paths in code, parsed with `syn`) becomes an
//! edge between modules at the granularity a reader plans changes in: each
//! top-level module (`api`, `queue`, `jobs`, `domain`, `db`, `error`, ...)
//! is one node, and the submodules of `service`, `provider` and `api` are
//! nodes of their own (`service::payouts`, `provider::sandbox`,
//! `api::resources`, `api::auth`; deeper modules such as
//! `api::resources::payouts` belong to their second-level node). Test
//! modules (`#[cfg(test)] mod tests`) count as their file's. A module that
//! imports one that imports it back (directly or around a longer loop)
//! fails this test, naming the loop.
//!
//! And a file over `LONG` lines says at its top (in the first 3 lines of
//! its `//!` doc) why it is one piece: `One piece: <why>`.
use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use syn::visit::Visit;

/// Top-level modules whose submodules are nodes of their own.
const SPLIT: [&str; 3] = ["service", "provider", "api"];

type Graph = BTreeMap<String, BTreeSet<String>>;

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

/// `src/service/payouts.rs` → `["service", "payouts"]`; `mod.rs` is its
/// folder's module; `lib.rs` is the root.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// Collects the absolute module paths a file refers to.
struct Refs {
    /// The module the visitor is in (the file's, plus inline `mod`s).
    here: Vec<String>,
    found: Vec<Vec<String>>,
}

impl Refs {
    /// Resolves a path's leading `crate`/`super`/`self`; other paths (external
    /// crates, locals) are not module references.
    fn add(&mut self, segments: &[String]) {
        let mut absolute = match segments.first().map(String::as_str) {
            Some("crate") => Vec::new(),
            Some("super") | Some("self") => self.here.clone(),
            _ => return,
        };
        let mut rest = segments;
        if rest[0] == "crate" {
            rest = &rest[1..];
        }
        for segment in rest {
            match segment.as_str() {
                "super" => {
                    absolute.pop();
                }
                "self" => {}
                other => absolute.push(other.to_string()),
            }
        }
        self.found.push(absolute);
    }

    fn add_tokens(&mut self, tokens: &str) {
        static PATH: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
        let path = PATH.get_or_init(|| {
            regex::Regex::new(r"\b(?:crate|super|self)(?:\s*::\s*[A-Za-z_][A-Za-z0-9_]*)+").unwrap()
        });
        for found in path.find_iter(tokens) {
            let segments: Vec<String> = found
                .as_str()
                .split("::")
                .map(|s| s.trim().to_string())
                .collect();
            self.add(&segments);
        }
    }

    fn add_use(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.add_use(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.add(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.add(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.add(&prefix.clone()),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.add_use(prefix, tree);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Refs {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.add_use(&mut Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.add(&segments);
        syn::visit::visit_path(self, path);
    }

    // Macro arguments and attribute arguments (`#[error(.., crate::x::Y)]`)
    // are token streams, not paths: read their paths from the tokens.
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.add_tokens(&mac.tokens.to_string());
        syn::visit::visit_macro(self, mac);
    }

    fn visit_meta_list(&mut self, list: &'ast syn::MetaList) {
        self.add_tokens(&list.tokens.to_string());
        syn::visit::visit_meta_list(self, list);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if item.content.is_some() {
            self.here.push(item.ident.to_string());
            syn::visit::visit_item_mod(self, item);
            self.here.pop();
        }
    }
}

/// The node a module path belongs to: its top-level module, or for a module
/// in `SPLIT` the submodule when the path names one.
fn node(path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<String> {
    let top = path.first()?;
    if SPLIT.contains(&top.as_str()) && path.len() >= 2 {
        let sub = path[..2].to_vec();
        if modules.contains(&sub) {
            return Some(sub.join("::"));
        }
    }
    Some(top.clone())
}

fn module_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    // `main.rs` is the binary: it reaches the library as `payouts::`.
    files.retain(|f| f.file_name().unwrap() != "main.rs");
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut graph = Graph::new();
    for file in &files {
        let here = module_of(src, file);
        let Some(from) = node(&here, &modules) else {
            continue; // the crate root only declares modules
        };
        let text = std::fs::read_to_string(file).unwrap();
        let parsed = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", file.display()));
        let mut refs = Refs {
            here,
            found: Vec::new(),
        };
        refs.visit_file(&parsed);
        let edges = graph.entry(from.clone()).or_default();
        for path in refs.found {
            if let Some(to) = node(&path, &modules) {
                if to != from {
                    edges.insert(to);
                }
            }
        }
    }
    graph
}

/// One loop through each strongly connected group of modules (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        groups: Vec<Vec<String>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    group.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.groups.push(group);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        groups: Vec::new(),
    };
    for v in graph.keys() {
        if !tarjan.index.contains_key(v.as_str()) {
            tarjan.visit(v);
        }
    }
    tarjan.groups
}

/// The shortest loop through a group, for the failure message.
fn shortest_loop(graph: &Graph, group: &[String]) -> String {
    let mut best: Option<Vec<String>> = None;
    for start in group {
        // Breadth-first from `start` inside the group, back to `start`.
        let mut queue = std::collections::VecDeque::from([vec![start.clone()]]);
        let mut seen = BTreeSet::new();
        'search: while let Some(path) = queue.pop_front() {
            let at = path.last().unwrap();
            for next in graph.get(at).into_iter().flatten() {
                if next == start {
                    let mut found = path.clone();
                    found.push(start.clone());
                    if best.as_ref().is_none_or(|b| found.len() < b.len()) {
                        best = Some(found);
                    }
                    break 'search;
                }
                if group.contains(next) && seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    queue.push_back(longer);
                }
            }
        }
    }
    best.unwrap_or_default().join(" -> ")
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let graph = module_graph(&src());
    let found: Vec<String> = cycles(&graph)
        .iter()
        .map(|group| {
            format!(
                "{} (all of: {})",
                shortest_loop(&graph, group),
                group.join(", ")
            )
        })
        .collect();
    assert!(found.is_empty(), "module cycles:\n{}", found.join("\n"));
}

#[test]
fn the_job_queue_imports_nothing_from_the_application() {
    let graph = module_graph(&src());
    let queue: Vec<&String> = graph["queue"].iter().collect();
    assert_eq!(queue, ["clock"], "the queue may read only the clock");
    assert_eq!(graph["clock"], BTreeSet::new());
}

#[test]
fn the_graph_sees_uses_paths_and_super() {
    // The reader itself: edges it must find in this crate, so a parser that
    // found nothing cannot pass the cycle test.
    let graph = module_graph(&src());
    let has = |from: &str, to: &str| graph.get(from).is_some_and(|e| e.contains(to));
    assert!(has("jobs", "queue"), "use crate::{{..}} group");
    assert!(has("service::payouts", "service::ledger"), "use super::");
    assert!(has("provider::sandbox", "provider"), "use super::*");
    assert!(has("server", "jobs"), "use crate::{{.., jobs}}");
    assert!(has("service::payouts", "ids"), "a path in code");
    assert!(has("api::resources", "api::validate"), "api is split");
    assert!(
        has("api::auth", "api::paths"),
        "use super::{{.., paths::..}}"
    );
    let looped: Graph = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]
        .into_iter()
        .fold(Graph::new(), |mut g, (from, to)| {
            g.entry(from.into()).or_default().insert(to.into());
            g
        });
    assert_eq!(cycles(&looped), [["a", "b", "c"]]);
}

/// Past this many lines a file must say why it is one piece.
const LONG: usize = 400;

/// The `.rs` files over `LONG` lines whose first 3 `//!` lines do not say
/// `One piece:`, with their length.
fn long_files_without_a_reason(dirs: &[PathBuf]) -> Vec<(PathBuf, usize)> {
    let mut files = Vec::new();
    for dir in dirs {
        rust_files(dir, &mut files);
    }
    files.sort();
    files
        .into_iter()
        .filter_map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            let lines = text.lines().count();
            let says_why = text
                .lines()
                .take_while(|line| line.starts_with("//!"))
                .take(3)
                .any(|line| line.contains("One piece: "));
            (lines > LONG && !says_why).then_some((file, lines))
        })
        .collect()
}

#[test]
fn every_long_file_says_why_it_is_one_piece() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs: Vec<PathBuf> = ["src", "tests", "entity/src", "migration/src", "bench/src"]
        .iter()
        .map(|dir| root.join(dir))
        .collect();
    let missing = long_files_without_a_reason(&dirs);
    assert!(
        missing.is_empty(),
        "over {LONG} lines without `//! One piece: <why>` in their first 3 doc lines \
         (say why, or split the file):\n{}",
        missing
            .iter()
            .map(|(file, lines)| format!("{} ({lines} lines)", file.display()))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The check itself: a long file without the sentence is found.
    let dir = std::env::temp_dir().join(format!("one-piece-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let body = "fn f() {}\n".repeat(LONG);
    std::fs::write(dir.join("long.rs"), format!("//! Long.\n{body}")).unwrap();
    std::fs::write(
        dir.join("said.rs"),
        format!("//! Long.\n//!\n//! One piece: a reason.\n{body}"),
    )
    .unwrap();
    std::fs::write(
        dir.join("late.rs"),
        format!("//! Long.\n//!\n//! More.\n//! One piece: too late.\n{body}"),
    )
    .unwrap();
    std::fs::write(dir.join("short.rs"), "fn f() {}\n").unwrap();
    let found: Vec<String> = long_files_without_a_reason(std::slice::from_ref(&dir))
        .into_iter()
        .map(|(file, _)| file.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found, ["late.rs", "long.rs"]);
}
