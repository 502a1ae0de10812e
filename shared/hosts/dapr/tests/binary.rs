//! The `conveyor-worker` binary holds the worker and nothing of the local emulator: none of the
//! dashboard's assets, none of the generators' templates. The test reads the binary cargo built
//! for it and looks for the longest lines of those files (string literals are stored verbatim).

use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

fn worker_binary() -> Vec<u8> {
    std::fs::read(env!("CARGO_BIN_EXE_conveyor-worker")).expect("the conveyor-worker binary")
}

/// The `n` longest lines of `file`, trimmed: text no other file shares.
fn markers(file: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.len() >= 40)
        .map(str::to_owned)
        .collect();
    lines.sort_by_key(|l| std::cmp::Reverse(l.len()));
    lines.truncate(n);
    assert!(
        !lines.is_empty(),
        "{} has no line to look for",
        file.display()
    );
    lines
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    memchr::memmem::find(haystack, needle.as_bytes()).is_some()
}

#[test]
fn the_worker_binary_links_no_dashboard_asset_and_no_generator_template() {
    let binary = worker_binary();
    // The scan finds what is there: the worker's own start-up line is a literal in it.
    assert!(
        contains(&binary, " for its sidecar; publishing through "),
        "the scan should find the worker's own text"
    );
    let root = repository();
    let foreign = [
        "emulator/src/dashboard/assets/index.html",
        "emulator/src/dashboard/assets/app.js",
        "emulator/src/dashboard/assets/app.css",
        "shared/tools/gen/src/events/README.md.in",
    ];
    for file in foreign {
        for marker in markers(&root.join(file), 3) {
            assert!(
                !contains(&binary, &marker),
                "conveyor-worker holds a line of {file}: {marker}"
            );
        }
    }
}
