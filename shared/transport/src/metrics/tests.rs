//! The metrics' exposition after recorded outcomes, lags, publishes and gauges.

use super::*;

#[test]
fn counts_outcomes_per_function() {
    let stats = Stats::new();
    for _ in 0..510 {
        stats.record("f", Outcome::Handled, Duration::from_millis(2));
    }
    stats.record("f", Outcome::DeadLettered, Duration::from_millis(1));
    stats.record("job", Outcome::Ticked, Duration::from_millis(1));
    stats.set_backlogs(4, &[("f".to_owned(), 1)]);
    let text = stats.encode();
    for line in [
        "conveyor_events_handled_total{function=\"f\"} 510",
        "conveyor_events_received_total{function=\"f\"} 511",
        "conveyor_events_dead_lettered_total{function=\"f\"} 1",
        "conveyor_cron_runs_total{function=\"job\"} 1",
        "conveyor_handler_seconds_count{function=\"f\"} 511",
        "conveyor_outbox_backlog 4",
        "conveyor_dlq_depth{function=\"f\"} 1",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    assert!(!text.contains("conveyor_events_duplicates_skipped_total{function=\"f\"} 1"));
}

#[test]
fn counts_duplicates_apart_and_as_handled() {
    let stats = Stats::new();
    stats.record("f", Outcome::Handled, Duration::from_millis(1));
    stats.record("f", Outcome::Duplicate, Duration::from_millis(1));
    stats.record("f", Outcome::Duplicate, Duration::from_millis(1));
    let text = stats.encode();
    for line in [
        "conveyor_events_handled_total{function=\"f\"} 3",
        "conveyor_events_duplicates_skipped_total{function=\"f\"} 2",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}

#[test]
fn event_lag_falls_in_buckets_bounded_at_the_alert_threshold() {
    let stats = Stats::new();
    stats.record_lag("f", Duration::from_millis(300));
    stats.record_lag("f", Duration::from_secs(12));
    let text = stats.encode();
    for line in [
        "conveyor_event_lag_seconds_count{function=\"f\"} 2",
        "conveyor_event_lag_seconds_bucket{le=\"0.5\",function=\"f\"} 1",
        "conveyor_event_lag_seconds_bucket{le=\"10.0\",function=\"f\"} 1",
        "conveyor_event_lag_seconds_bucket{le=\"30.0\",function=\"f\"} 2",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}

#[test]
fn publishes_lags_and_circuits_show_with_their_labels() {
    let stats = Stats::new();
    stats.record_publish("redis", Duration::from_millis(3), true);
    stats.record_publish("redis", Duration::from_millis(4), false);
    stats.set_consumer_lags(&[("f".to_owned(), 7)]);
    stats.set_circuit("sidecar", CircuitState::HalfOpen);
    let text = stats.encode();
    for line in [
        "conveyor_publish_seconds_count{transport=\"redis\"} 2",
        "conveyor_publish_failed_total{transport=\"redis\"} 1",
        "conveyor_consumer_lag{function=\"f\"} 7",
        "conveyor_publisher_circuit_state{publisher=\"sidecar\"} 2",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}
