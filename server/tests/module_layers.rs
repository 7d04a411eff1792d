//! The Socket.IO layer's files import each other one way: the graph of `crate::` paths between
//! the top-level files of `server/src` has no cycle beyond the one still listed in
//! ARCHITECTURE.md ("Toward a line"). A new cycle fails this test; breaking the listed one
//! makes it fail too, until the list below is emptied.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The files still importing each other (ARCHITECTURE.md, "Toward a line").
const REMAINING_CYCLE: &[&str] = &["namespace", "observer", "socket"];

/// Each top-level file of `server/src` (a module) and the crate modules it names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            files.insert(name, std::fs::read_to_string(&path).unwrap());
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
fn reach(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
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

#[test]
fn the_socket_io_layer_files_import_one_way_but_for_the_listed_cycle() {
    let graph = imports();
    assert!(graph.contains_key("socket") && graph.contains_key("server"));
    let in_cycles: BTreeSet<String> = graph
        .keys()
        .filter(|module| reach(&graph, module).contains(*module))
        .cloned()
        .collect();
    let expected: BTreeSet<String> = REMAINING_CYCLE.iter().map(|m| (*m).to_owned()).collect();
    assert_eq!(in_cycles, expected, "files in an import cycle: {graph:#?}");
}
