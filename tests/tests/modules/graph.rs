//! One crate target's module graph and its cycles. A file that writes a path into another module
//! makes an edge between the two siblings that hold them: two top-level modules, or two
//! submodules of one module directory. A path into a module's own ancestor or descendant (a
//! `tests` module's `use super::*`, a parent's `use self::child`) makes none.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use super::tree::Module;

/// The first file and path that make an edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Evidence {
    /// The file.
    pub(crate) file: PathBuf,
    /// The path as written.
    pub(crate) path: String,
}

/// The edges among one module's children: from -> to -> evidence.
pub(crate) type Siblings = BTreeMap<String, BTreeMap<String, Evidence>>;

/// Every edge of a crate target, by the parent module of its two ends.
pub(crate) type Edges = BTreeMap<Vec<String>, Siblings>;

/// A cycle among the children of one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cycle {
    /// The parent module (empty for the crate's top level).
    pub(crate) parent: Vec<String>,
    /// The modules in the cycle's order, the first not repeated at the end.
    pub(crate) modules: Vec<String>,
    /// What makes each edge, in the cycle's order.
    pub(crate) evidence: Vec<Evidence>,
}

impl Cycle {
    /// `label: a -> b -> a`, then one line per edge naming the file that makes it.
    pub(crate) fn render(&self, label: &str, workspace: &Path) -> String {
        let name = |module: &str| {
            let mut path = self.parent.clone();
            path.push(module.to_owned());
            path.join("::")
        };
        let mut ring: Vec<String> = self.modules.iter().map(|m| name(m)).collect();
        ring.push(name(&self.modules[0]));
        let mut text = format!("{label}: {}", ring.join(" -> "));
        for (pair, evidence) in ring.windows(2).zip(&self.evidence) {
            let file = evidence
                .file
                .strip_prefix(workspace)
                .unwrap_or(&evidence.file);
            text.push_str(&format!(
                "\n    {} -> {}: {} writes {}",
                pair[0],
                pair[1],
                file.display(),
                evidence.path
            ));
        }
        text
    }
}

/// The module a path's segments lead to from the module `current` (None for a `super` above
/// the crate root).
fn resolve(current: &[String], segments: &[String]) -> Option<Vec<String>> {
    let mut rest = segments.iter();
    let mut path = match rest.next()?.as_str() {
        "crate" => Vec::new(),
        "self" => current.to_vec(),
        "super" => {
            let mut path = current.to_vec();
            path.pop()?;
            path
        }
        _ => return None,
    };
    let mut leading = true;
    for segment in rest {
        match segment.as_str() {
            "super" if leading => {
                path.pop()?;
            }
            "self" => {}
            _ => {
                leading = false;
                path.push(segment.clone());
            }
        }
    }
    Some(path)
}

/// The edges the modules' paths make.
pub(crate) fn edges(modules: &[Module]) -> Edges {
    let known: BTreeSet<&[String]> = modules.iter().map(|m| m.path.as_slice()).collect();
    let mut edges = Edges::new();
    for module in modules {
        for reference in &module.scan.references {
            let mut current = module.path.clone();
            current.extend(reference.inline.iter().cloned());
            let Some(mut target) = resolve(&current, &reference.segments) else {
                continue;
            };
            // Down to the file-backed module that holds the item (an inline module is part of
            // its file's module).
            while !known.contains(target.as_slice()) {
                target.pop();
            }
            let shared = module
                .path
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            let (Some(from), Some(to)) = (module.path.get(shared), target.get(shared)) else {
                continue;
            };
            edges
                .entry(module.path[..shared].to_vec())
                .or_default()
                .entry(from.clone())
                .or_default()
                .entry(to.clone())
                .or_insert_with(|| Evidence {
                    file: module.file.clone(),
                    path: reference
                        .segments
                        .join("::")
                        .trim_end_matches("::self")
                        .to_owned(),
                });
        }
    }
    edges
}

/// The shortest cycle through `start`, `start` first.
fn shortest_cycle<'a>(graph: &'a Siblings, start: &'a str) -> Option<Vec<&'a str>> {
    let mut previous: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for next in graph
            .get(node)
            .into_iter()
            .flat_map(|targets| targets.keys())
        {
            if next == start {
                let mut cycle = vec![node];
                while let Some(&before) = previous.get(cycle[cycle.len() - 1]) {
                    cycle.push(before);
                }
                if cycle[cycle.len() - 1] != start {
                    cycle.push(start);
                }
                cycle.reverse();
                return Some(cycle);
            }
            if !previous.contains_key(next.as_str()) {
                previous.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    None
}

/// Every cycle the edges make: for each module in one, the shortest through it (each cycle
/// once).
pub(crate) fn cycles(edges: &Edges) -> Vec<Cycle> {
    let mut cycles = Vec::new();
    for (parent, graph) in edges {
        let mut seen = BTreeSet::new();
        for start in graph.keys() {
            let Some(mut cycle) = shortest_cycle(graph, start) else {
                continue;
            };
            let least = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
            cycle.rotate_left(least);
            if !seen.insert(cycle.clone()) {
                continue;
            }
            let evidence = (0..cycle.len())
                .map(|i| graph[cycle[i]][cycle[(i + 1) % cycle.len()]].clone())
                .collect();
            cycles.push(Cycle {
                parent: parent.clone(),
                modules: cycle.into_iter().map(str::to_owned).collect(),
                evidence,
            });
        }
    }
    cycles
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::lexer::tokens;
    use super::super::scan::scan;
    use super::super::tree::Module;
    use super::{cycles, edges};

    fn module(path: &str, source: &str) -> Module {
        Module {
            path: path
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            file: PathBuf::from(format!("src/{}.rs", path.replace("::", "/"))),
            scan: scan(&tokens(source)),
        }
    }

    fn rings(modules: &[Module]) -> Vec<String> {
        cycles(&edges(modules))
            .iter()
            .map(|c| {
                c.render("k", "".as_ref())
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn cycles_are_found_among_siblings_at_every_level() {
        let modules = [
            module("", "mod a; mod b; mod c; mod d;"),
            module("a", "use crate::b::Thing;"),
            module("b", "fn f() { super::a::g() }"),
            module("c", "mod x; mod y; pub struct Shared;"),
            module("c::x", "use super::{Shared, y::Y};"),
            module("c::y", "fn f() { crate::c::x::z(); }"),
            module("d", "use crate::c::x::X;"),
        ];
        assert_eq!(
            rings(&modules),
            ["k: a -> b -> a", "k: c::x -> c::y -> c::x"]
        );
    }

    #[test]
    fn ancestors_descendants_and_test_modules_make_no_cycle() {
        let modules = [
            module("", "mod a; mod b;"),
            module("a", "mod x; use self::x::X; pub struct A;"),
            module("a::x", "use super::A; use crate::a::A as B;"),
            module(
                "b",
                "use crate::a::A; mod tests { use super::*; use super::super::a::x::X; }",
            ),
        ];
        assert_eq!(rings(&modules), Vec::<String>::new());
    }

    #[test]
    fn a_longer_cycle_is_reported_once() {
        let modules = [
            module("", "mod a; mod b; mod c;"),
            module("a", "use crate::b::B;"),
            module("b", "use crate::c::C;"),
            module("c", "use crate::a::A;"),
        ];
        assert_eq!(rings(&modules), ["k: a -> b -> c -> a"]);
    }
}
