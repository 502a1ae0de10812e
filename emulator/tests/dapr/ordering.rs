//! daprd calls the app concurrently; the worker runs an ordered function's events of one key
//! one at a time, in the order they arrived, while other keys run alongside.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use conveyor_dapr::Mode;
use conveyor_domain::events::{Validate, ValidationError};
use conveyor_runtime::{
    Context, Function, FunctionSpec, HandlerError, Service, TopicHandler, topic,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::harness::{FakeSidecar, TestWorker, config, dapr_event, deliver};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Step {
    order_id: String,
    seq: u32,
}

impl Validate for Step {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

/// (order, step, "start" or "end"), in the order it happened.
type Log = Arc<Mutex<Vec<(String, u32, &'static str)>>>;

/// Records when each step started and ended; takes a while, so overlaps would show.
#[derive(Debug, Default)]
struct SlowSteps {
    log: Log,
}

impl TopicHandler for SlowSteps {
    type Payload = Step;
    const SPEC: FunctionSpec =
        FunctionSpec::on_topics("test-slow-steps", Service::Order, &["test.step"])
            .ordered_by("order_id")
            // No transaction: on the tests' one-connection SQLite store, transactions of
            // different keys would take turns anyway.
            .stateless();

    async fn handle(&self, step: Step, _cx: &mut Context<'_>) -> Result<(), HandlerError> {
        self.log
            .lock()
            .unwrap()
            .push((step.order_id.clone(), step.seq, "start"));
        tokio::time::sleep(Duration::from_millis(40)).await;
        self.log
            .lock()
            .unwrap()
            .push((step.order_id, step.seq, "end"));
        Ok(())
    }
}

#[tokio::test]
async fn concurrent_deliveries_of_one_key_run_one_at_a_time_in_arrival_order() {
    let sidecar = FakeSidecar::start().await;
    let steps = SlowSteps::default();
    let log = Arc::clone(&steps.log);
    let functions: Vec<Arc<dyn Function>> = vec![topic(steps)];
    let worker = Arc::new(
        TestWorker::start(config(Service::Order, Mode::Event, &sidecar), &functions).await,
    );

    let mut calls = Vec::new();
    for seq in 1..=4 {
        for order in ["ord-a", "ord-b"] {
            let worker = Arc::clone(&worker);
            let body = dapr_event(
                &format!("e-{order}-{seq}"),
                "test.step",
                &json!({ "order_id": order, "seq": seq }),
            );
            calls.push(tokio::spawn(async move {
                deliver(&worker, "/test-slow-steps", &body)
                    .await
                    .dapr_status()
            }));
        }
        // The next step arrives while this one runs.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for call in calls {
        assert_eq!(call.await.unwrap(), "SUCCESS");
    }

    let log = log.lock().unwrap().clone();
    for order in ["ord-a", "ord-b"] {
        let own: Vec<(u32, &str)> = log
            .iter()
            .filter(|(o, _, _)| o == order)
            .map(|(_, seq, what)| (*seq, *what))
            .collect();
        let expected: Vec<(u32, &str)> = (1..=4)
            .flat_map(|seq| [(seq, "start"), (seq, "end")])
            .collect();
        assert_eq!(own, expected, "{order}: one at a time, in arrival order");
    }
    // The two orders overlapped: one order's step started while the other's was running.
    let first_end = log.iter().position(|(_, _, w)| *w == "end").unwrap();
    let starts_before = log[..first_end]
        .iter()
        .filter(|(_, _, w)| *w == "start")
        .count();
    assert_eq!(starts_before, 2, "different keys run concurrently: {log:?}");
}
