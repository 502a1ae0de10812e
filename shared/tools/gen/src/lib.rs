//! Generators of checked-in files. Each generator renders its folder in memory as a [`Files`]
//! map; [`write_tree`] puts it on disk and [`check_tree`] reports drift, so one code path serves
//! both `conveyor gen ...` and the tests that fail when a checked-in file is stale.
//!
//! - [`dapr`] — `dapr/`: components, cron bindings, resiliency, subscriptions, Kubernetes manifests
//! - [`events`] — `events/`: JSON Schemas, sample payloads, CloudEvents, SQS and schedule events
//! - [`terraform`] — `infra/terraform/functions.tf.json`: the catalog as data for the Terraform
//! - [`sla`] — the SLA alert thresholds both deployments' alerts use

pub mod dapr;
pub mod events;
pub mod sla;
pub mod terraform;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// Rendered files: path relative to the generator's folder -> full text.
pub type Files = BTreeMap<PathBuf, String>;

/// `value` with the keys of every object in sorted order, whatever map type serde_json was
/// built with, so rendered JSON is the same under every feature set.
#[must_use]
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let sorted: Map<String, Value> = entries
                .into_iter()
                .map(|(k, v)| (k.clone(), sorted(v)))
                .collect();
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Pretty JSON (two-space indent) with sorted keys and a trailing newline: the file format.
#[must_use]
pub fn pretty_json(value: &Value) -> String {
    // A `Value` always serialises.
    let mut text = serde_json::to_string_pretty(&sorted(value)).unwrap_or_default();
    text.push('\n');
    text
}

/// Compact JSON with sorted keys (message bodies).
#[must_use]
pub fn compact_json(value: &Value) -> String {
    serde_json::to_string(&sorted(value)).unwrap_or_default()
}

/// Makes `dir` hold exactly `files`: writes new and changed files and removes files that are
/// not rendered any more. Returns the paths (relative to `dir`) it wrote or removed.
///
/// # Errors
/// The first I/O error.
pub fn write_tree(dir: &Path, files: &Files) -> io::Result<Vec<PathBuf>> {
    write_owned(dir, files, &|_| true)
}

/// As [`write_tree`], for a folder the generator shares with hand-written files: only files
/// for which `owns` holds are removed when no longer rendered.
///
/// # Errors
/// The first I/O error.
pub fn write_owned(
    dir: &Path,
    files: &Files,
    owns: &dyn Fn(&Path) -> bool,
) -> io::Result<Vec<PathBuf>> {
    let mut touched = Vec::new();
    for (rel, text) in files {
        let path = dir.join(rel);
        if std::fs::read_to_string(&path).is_ok_and(|old| old == *text) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)?;
        touched.push(rel.clone());
    }
    for rel in list_files(dir)? {
        if owns(&rel) && !files.contains_key(&rel) {
            std::fs::remove_file(dir.join(&rel))?;
            touched.push(rel);
        }
    }
    Ok(touched)
}

/// How `dir` differs from `files`: one line per missing, different or unexpected file. Empty
/// when they match.
#[must_use]
pub fn check_tree(dir: &Path, files: &Files) -> Vec<String> {
    check_owned(dir, files, &|_| true)
}

/// As [`check_tree`], reporting unexpected files only among those `owns` accepts.
#[must_use]
pub fn check_owned(dir: &Path, files: &Files, owns: &dyn Fn(&Path) -> bool) -> Vec<String> {
    let mut drift = Vec::new();
    for (rel, text) in files {
        match std::fs::read_to_string(dir.join(rel)) {
            Ok(old) if old == *text => {}
            Ok(_) => drift.push(format!("{} differs from the generated file", rel.display())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                drift.push(format!("{} is missing", rel.display()));
            }
            Err(e) => drift.push(format!("{} cannot be read: {e}", rel.display())),
        }
    }
    match list_files(dir) {
        Ok(present) => drift.extend(
            present
                .into_iter()
                .filter(|rel| owns(rel) && !files.contains_key(rel))
                .map(|rel| format!("{} is not generated any more", rel.display())),
        ),
        Err(e) => drift.push(format!("{} cannot be listed: {e}", dir.display())),
    }
    drift
}

/// Every file under `dir`, relative to it, sorted; empty when `dir` does not exist.
fn list_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let entries = match std::fs::read_dir(dir.join(&rel)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound && rel.as_os_str().is_empty() => {
                return Ok(found);
            }
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let child = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                pending.push(child);
            } else {
                found.push(child);
            }
        }
    }
    found.sort();
    Ok(found)
}
