//! The workspace's crates (from the root manifest's members) and each crate target's module tree,
//! read from its root file through its `mod x;` declarations.

use std::fs;
use std::path::{Path, PathBuf};

use super::lexer::tokens;
use super::scan::{Scan, scan};

/// One crate target: a library or binary root.
#[derive(Debug)]
pub(crate) struct Target {
    /// The package and, for a binary, its root file: `conveyor-dapr (src/main.rs)`.
    pub(crate) label: String,
    /// The package's name.
    pub(crate) package: String,
    /// The root file.
    pub(crate) root: PathBuf,
}

/// One module backed by a file.
#[derive(Debug)]
pub(crate) struct Module {
    /// Its path in the crate (empty for the root).
    pub(crate) path: Vec<String>,
    /// Its file.
    pub(crate) file: PathBuf,
    /// What the file declares and refers to.
    pub(crate) scan: Scan,
}

/// The quoted strings of the root manifest's `members = [...]`.
fn members(manifest: &str) -> Vec<String> {
    let start = manifest
        .find("members")
        .expect("the workspace manifest lists its members");
    let list = &manifest[start..];
    let list = &list[list.find('[').expect("members is a list")..];
    let list = &list[..list.find(']').expect("members ends")];
    list.lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .flat_map(|line| line.split(','))
        .filter_map(|item| {
            let item = item.trim();
            item.strip_prefix('"')?.strip_suffix('"').map(str::to_owned)
        })
        .collect()
}

/// A package manifest's `name`.
fn package_name(manifest: &str) -> String {
    manifest
        .lines()
        .skip_while(|line| line.trim() != "[package]")
        .find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "name").then(|| value.trim().trim_matches('"').to_owned())
        })
        .expect("a package manifest names its package")
}

/// The directories of the workspace's members (a trailing `/*` read as every directory below it
/// with a `Cargo.toml`), in order.
fn member_dirs(workspace: &Path) -> Vec<PathBuf> {
    let manifest = fs::read_to_string(workspace.join("Cargo.toml")).expect("workspace manifest");
    let mut dirs = Vec::new();
    for member in members(&manifest) {
        if let Some(parent) = member.strip_suffix("/*") {
            let mut found: Vec<PathBuf> = fs::read_dir(workspace.join(parent))
                .expect("a member glob's directory")
                .map(|entry| entry.expect("directory entry").path())
                .filter(|dir| dir.join("Cargo.toml").is_file())
                .collect();
            found.sort();
            dirs.extend(found);
        } else {
            dirs.push(workspace.join(member));
        }
    }
    dirs
}

/// Every workspace crate's targets: `src/lib.rs`, `src/main.rs`, `src/bin/*.rs`,
/// `src/bin/*/main.rs`.
pub(crate) fn targets(workspace: &Path) -> Vec<Target> {
    let mut targets = Vec::new();
    for dir in member_dirs(workspace) {
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).expect("member manifest");
        let package = package_name(&manifest);
        let src = dir.join("src");
        let mut roots = vec![src.join("lib.rs"), src.join("main.rs")];
        if let Ok(bins) = fs::read_dir(src.join("bin")) {
            let mut bins: Vec<PathBuf> = bins
                .map(|entry| entry.expect("directory entry").path())
                .map(|path| {
                    if path.is_dir() {
                        path.join("main.rs")
                    } else {
                        path
                    }
                })
                .collect();
            bins.sort();
            roots.extend(bins);
        }
        for root in roots.into_iter().filter(|root| root.is_file()) {
            let label = if root == src.join("lib.rs") {
                package.clone()
            } else {
                let relative = root.strip_prefix(&dir).expect("root below its crate");
                format!("{package} ({})", relative.display())
            };
            targets.push(Target {
                label,
                package: package.clone(),
                root,
            });
        }
    }
    targets
}

/// The directory a module file's `mod x;` declarations are looked up in.
fn children_dir(file: &Path, owns_dir: bool) -> PathBuf {
    let parent = file.parent().expect("a file has a directory").to_path_buf();
    let stem = file.file_stem().expect("a file has a name");
    if owns_dir || stem == "mod" {
        parent
    } else {
        parent.join(stem)
    }
}

/// Every file-backed module of the crate rooted at `root`, the root first.
pub(crate) fn modules(root: &Path) -> Vec<Module> {
    let mut modules = Vec::new();
    load(root.to_path_buf(), Vec::new(), true, &mut modules);
    modules
}

/// Loads the module in `file` and its descendants; `owns_dir` for a crate root or `#[path]` file.
fn load(file: PathBuf, path: Vec<String>, owns_dir: bool, out: &mut Vec<Module>) {
    let source =
        fs::read_to_string(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
    let scan = scan(&tokens(&source));
    let dir = children_dir(&file, owns_dir);
    let children: Vec<(PathBuf, Vec<String>, bool)> = scan
        .mods
        .iter()
        .map(|decl| {
            assert!(
                decl.inline.is_empty(),
                "{}: `mod {};` inside an inline module is beyond this scanner",
                file.display(),
                decl.name
            );
            let child = match &decl.path {
                Some(relative) => file.parent().expect("directory").join(relative),
                None => {
                    let flat = dir.join(format!("{}.rs", decl.name));
                    if flat.is_file() {
                        flat
                    } else {
                        dir.join(&decl.name).join("mod.rs")
                    }
                }
            };
            let mut child_path = path.clone();
            child_path.push(decl.name.clone());
            (child, child_path, decl.path.is_some())
        })
        .collect();
    out.push(Module { path, file, scan });
    // A `#[path]` file's own children sit beside it, as a `mod.rs` file's do.
    for (child, child_path, has_path) in children {
        load(child, child_path, has_path, out);
    }
}

#[cfg(test)]
mod tests {
    use super::{members, package_name};

    #[test]
    fn manifests_read_as_written() {
        let workspace = r#"
[workspace]
resolver = "3"
members = [
    "shared/domain", # the model
    "functions/*",
    "tests",
]
"#;
        assert_eq!(
            members(workspace),
            ["shared/domain", "functions/*", "tests"]
        );
        let package = "[package]\nname = \"conveyor-x\"\nversion.workspace = true\n";
        assert_eq!(package_name(package), "conveyor-x");
    }
}
