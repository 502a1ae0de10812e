//! Causes read from the attempts in the log, and from the events' own `causationid`.

use conveyor_store::OutboxRow;

use super::super::now;
use super::*;

fn row(id: &str, causation: Option<&str>) -> OutboxRow {
    OutboxRow {
        correlation_id: Some("flow-1".to_owned()),
        causation_id: causation.map(str::to_owned),
        ..OutboxRow::bare(id.to_owned(), "t".to_owned(), "{}".to_owned())
    }
}

fn handled(function: &'static str, event_id: &str, produced: &[&str]) -> Attempt {
    Attempt {
        seq: 0,
        function,
        event_id: event_id.to_owned(),
        correlation_id: Some("flow-1".to_owned()),
        attempt: 1,
        outcome: Outcome::Handled,
        error: None,
        duration_ms: 1.0,
        at: now(),
        produced: produced.iter().map(|p| (*p).to_owned()).collect(),
        tick: false,
    }
}

#[test]
fn an_events_cause_is_its_attempt_else_its_causation_id() {
    let log = EventLog::new();
    // `b` was produced by an attempt the log holds; `c` names `a` as its cause only (its
    // attempt left the log, or ran in another process).
    log.published(&[row("a", None), row("b", Some("a")), row("c", Some("a"))]);
    log.attempted(handled("f", "a", &["b"]));
    let none = |_: &str| Vec::new();

    let flow = log.flow("flow-1", &none);
    let parent = |id: &str| {
        let e = flow.events.iter().find(|e| e.id == id).unwrap();
        e.parent.as_ref().map(|p| (p.event_id.clone(), p.function))
    };
    assert_eq!(parent("a"), None);
    assert_eq!(parent("b"), Some(("a".to_owned(), Some("f"))));
    assert_eq!(parent("c"), Some(("a".to_owned(), None)));

    let a = log.detail("a", &none).unwrap();
    let caused: Vec<(&str, Option<&str>)> =
        a.caused.iter().map(|c| (c.id.as_str(), c.by)).collect();
    assert_eq!(caused, [("b", Some("f")), ("c", None)]);
    let c = log.detail("c", &none).unwrap().caused_by.unwrap();
    assert_eq!((c.event_id.as_str(), c.function), ("a", None));
    let b = log.detail("b", &none).unwrap().caused_by.unwrap();
    assert_eq!((b.event_id.as_str(), b.function), ("a", Some("f")));
}
