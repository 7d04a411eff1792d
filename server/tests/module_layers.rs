//! The server crate's files import each other one way: the graph of `crate::` paths between
//! the top-level modules of `server/src` (each file, and the engine's folder as one) has no
//! cycle (ARCHITECTURE.md, "A line"). Any cycle, of any length, fails this test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Each top-level module of `server/src` (a file, or a folder taken as one: `engine/`) and the
/// crate modules it names.
fn imports() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.extension().is_some_and(|e| e == "rs") {
            files.insert(name, std::fs::read_to_string(&path).unwrap());
        } else if path.join("mod.rs").is_file() {
            let mut text = String::new();
            for inner in std::fs::read_dir(&path).unwrap() {
                let inner = inner.unwrap().path();
                if inner.extension().is_some_and(|e| e == "rs") {
                    text += &std::fs::read_to_string(&inner).unwrap();
                }
            }
            files.insert(name, text);
        }
    }
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    files
        .iter()
        .filter(|(name, _)| name.as_str() != "lib")
        .map(|(name, text)| {
            let named = text
                .match_indices("crate::")
                .filter_map(|(at, _)| {
                    let rest = &text[at + "crate::".len()..];
                    let end = rest
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(rest.len());
                    let module = &rest[..end];
                    (module != name && modules.contains(module)).then(|| module.to_owned())
                })
                .collect();
            (name.clone(), named)
        })
        .collect()
}

/// The modules `from` reaches by following imports.
fn reach(graph: &Graph, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(module) = stack.pop() {
        for next in graph.get(&module).into_iter().flatten() {
            if seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    seen
}

/// The modules that reach themselves.
fn in_cycles(graph: &Graph) -> BTreeSet<String> {
    graph
        .keys()
        .filter(|module| reach(graph, module).contains(*module))
        .cloned()
        .collect()
}

#[test]
fn the_server_crate_files_import_one_way() {
    let graph = imports();
    // The reader found the files and their imports (an empty graph has no cycle either).
    assert!(graph.contains_key("socket") && graph.contains_key("server"));
    assert!(graph["engine"].contains("metrics"), "{graph:#?}");
    assert!(graph["socket"].contains("namespace_state"), "{graph:#?}");
    assert!(graph["namespace"].contains("socket"), "{graph:#?}");
    let in_cycles = in_cycles(&graph);
    assert!(
        in_cycles.is_empty(),
        "files in an import cycle: {in_cycles:?}\n{graph:#?}"
    );
}

#[test]
fn an_import_cycle_of_any_length_is_found() {
    let mut graph = imports();
    // Adding one import back (the state below the socket naming the observer above it) closes
    // a cycle of four files.
    graph
        .get_mut("namespace_state")
        .unwrap()
        .insert("observer".to_owned());
    let expected: BTreeSet<String> = ["namespace", "namespace_state", "observer", "socket"]
        .iter()
        .map(|m| (*m).to_owned())
        .collect();
    assert!(in_cycles(&graph).is_superset(&expected), "{graph:#?}");
}
