//! The generated alerting rules (`dapr/prometheus/`) through promtool: `promtool check rules`
//! accepts them, and `promtool test rules` runs their unit tests, in which each alert fires for
//! series past its threshold and not for series just inside it. A rule whose threshold is moved
//! fails those tests, so they do test the thresholds. Every metric the rules read is one the
//! hosts export.
//!
//! promtool comes with Debian's `prometheus` package; `scripts/install-dev-tools.sh` installs
//! it (or set `PROMTOOL` to a promtool binary).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use conveyor_gen::dapr::{self, Options};
use conveyor_transport::metrics::{CircuitState, Outcome, Stats};

fn promtool() -> PathBuf {
    let path =
        std::env::var_os("PROMTOOL").map_or_else(|| PathBuf::from("promtool"), PathBuf::from);
    match Command::new(&path).arg("--version").output() {
        Ok(out) if out.status.success() => path,
        _ => panic!(
            "promtool ({}) is not installed: run scripts/install-dev-tools.sh (it installs Debian's \
             prometheus package, which brings promtool), or set PROMTOOL to a promtool binary",
            path.display()
        ),
    }
}

/// The generated `prometheus/` files, written into a fresh folder; `edit` may change the
/// rules file first.
fn rules_dir(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let files = dapr::render(&Options::default()).expect("dapr/ renders");
    let dir = tempfile::tempdir().unwrap();
    for name in ["rules.yml", "rules.test.yml"] {
        let text = files[&PathBuf::from(format!("prometheus/{name}"))].clone();
        let text = if name == "rules.yml" {
            edit(text)
        } else {
            text
        };
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(promtool())
        .current_dir(dir)
        .args(args)
        .output()
        .expect("promtool runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_generated_rules_pass_promtool_check_and_their_unit_tests() {
    let dir = rules_dir(|t| t);
    let checked = run(dir.path(), &["check", "rules", "rules.yml"]);
    assert!(checked.status.success(), "{}", text(&checked));
    assert!(
        text(&checked).contains("SUCCESS: 16 rules found"),
        "{}",
        text(&checked)
    );
    let tested = run(dir.path(), &["test", "rules", "rules.test.yml"]);
    assert!(tested.status.success(), "{}", text(&tested));
}

#[test]
fn a_moved_threshold_fails_the_unit_tests() {
    // Raised, the alert no longer fires for the series past the threshold; lowered, it also
    // fires for the series just inside it.
    for (from, to, alert) in [
        ("> 10\n", "> 30\n", "ConveyorEventLagHigh"),
        ("> 10\n", "> 9\n", "ConveyorEventLagHigh"),
        ("> 500\n", "> 501\n", "ConveyorDeadLettersHigh"),
        ("> 500\n", "> 499\n", "ConveyorDeadLettersHigh"),
        ("> 0.1\n", "> 0.09\n", "ConveyorProcessingSlow"),
        ("< 0.999\n", "< 0.9999\n", "ConveyorDeliverySuccessLow"),
        ("< 0.995\n", "< 0.98\n", "ConveyorProcessingSuccessLow"),
        ("> 0.01\n", "> 0.009\n", "ConveyorPublishingSlow"),
    ] {
        let dir = rules_dir(|t| {
            assert!(t.contains(from), "{from:?} in {t}");
            t.replace(from, to)
        });
        let tested = run(dir.path(), &["test", "rules", "rules.test.yml"]);
        assert!(
            !tested.status.success(),
            "{alert} with {to:?}: {}",
            text(&tested)
        );
        assert!(text(&tested).contains(alert), "{}", text(&tested));
    }
}

#[test]
fn the_rules_read_only_metrics_the_hosts_export() {
    let stats = Arc::new(Stats::new());
    stats.record("f", Outcome::Handled, Duration::from_millis(1));
    stats.record("f", Outcome::DeadLettered, Duration::from_millis(1));
    stats.record_lag("f", Duration::from_millis(1));
    stats.record_publish("dapr", Duration::from_millis(1), true);
    stats.set_backlogs(0, &[("f".to_owned(), 0)]);
    stats.set_circuit("sidecar", CircuitState::Closed);
    let exported = stats.encode();
    let rules = &dapr::render(&Options::default()).unwrap()[&PathBuf::from("prometheus/rules.yml")];
    let used: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("conveyor_"))
        .collect();
    assert!(used.len() > 10, "{rules}");
    for metric in used {
        assert!(
            exported
                .lines()
                .any(|l| l.starts_with(&format!("{metric}{{"))),
            "{metric} is not exported:\n{exported}"
        );
    }
}
