//! `conveyor saga ... --database <url>`: the binary on a PostgreSQL database with no emulator
//! running, as an operator reaches the sagas of Dapr workers and Lambdas. The real checkout
//! saga is started by its handler; list and show read the table; an abort undoes the awaited
//! payment and leaves the refund in the outbox, which a relay pass then publishes; a refusal and
//! an unknown saga exit non-zero with the reason.

use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use conveyor_domain::SystemClock;
use conveyor_domain::events::checkout::CHECKOUT_REQUESTED;
use conveyor_domain::events::payment::{PAYMENT_REFUND_REQUESTED, RefundRequestedEvent};
use conveyor_domain::events::samples;
use conveyor_runtime::{CloudEvent, Deps, MemoryPublisher, invoke, relay};
use conveyor_store::testing::TestDb;
use order_checkout_saga::OrderCheckoutSaga;
use serde_json::Value;

use super::stdout;

async fn conveyor(database: &str, args: &[&str]) -> Output {
    let args: Vec<&str> = ["saga"].iter().chain(args).copied().collect();
    super::conveyor(&args, &["--database", database]).await
}

fn refused(output: &Output) -> String {
    assert!(!output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn an_operator_aborts_a_checkout_on_the_database_and_a_relay_publishes_the_refund() {
    let db = TestDb::postgres().await;
    let url = db.url().to_owned();
    let publisher = Arc::new(MemoryPublisher::new());
    let deps = Deps {
        store: db.store().clone(),
        publisher: publisher.clone(),
        clock: Arc::new(SystemClock),
    };
    let order = samples::CHECKOUT_ORDER_ID;
    let start = CloudEvent::new(
        CHECKOUT_REQUESTED,
        "order-service",
        &samples::checkout_requested(),
        conveyor_domain::Clock::now(&SystemClock),
    )
    .unwrap();
    invoke::handle_event(&OrderCheckoutSaga::default(), &deps, &start, 1, None)
        .await
        .unwrap();

    let list = stdout(&conveyor(&url, &["list", "--status", "running"]).await);
    let line = list
        .lines()
        .find(|l| l.starts_with(order))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        line.contains("order-checkout") && line.contains("payment"),
        "{line}"
    );
    let shown: Value =
        serde_json::from_str(&stdout(&conveyor(&url, &["show", order]).await)).unwrap();
    assert_eq!(shown["function"], "order-checkout-saga");
    assert_eq!(shown["status"], "running");
    assert_eq!(shown["current_step_name"], "payment");

    let why = refused(&conveyor(&url, &["retry", order]).await);
    assert!(why.contains("only a failed saga"), "{why}");

    let aborted: Value = serde_json::from_str(&stdout(
        &conveyor(&url, &["abort", order, "--reason", "customer called"]).await,
    ))
    .unwrap();
    assert_eq!(aborted["status"], "compensating", "{aborted}");
    assert_eq!(
        aborted["failure"],
        "aborted by an operator: customer called"
    );
    let why = refused(&conveyor(&url, &["abort", order]).await);
    assert!(why.contains("only a running saga can be aborted"), "{why}");
    let why = refused(&conveyor(&url, &["show", "ord-none"]).await);
    assert!(why.contains("no saga ord-none"), "{why}");

    // The refund waits in the outbox until the host's relay publishes it.
    assert_eq!(db.store().outbox_backlog().await.unwrap(), 1);
    let before = publisher.rows().len();
    assert_eq!(
        relay::relay_once(&deps, Duration::ZERO, 10).await.unwrap(),
        1
    );
    let sent = &publisher.rows()[before..];
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].topic, PAYMENT_REFUND_REQUESTED);
    let refund: RefundRequestedEvent = serde_json::from_str(&sent[0].body)
        .map(|e: Value| serde_json::from_value(e["data"].clone()).unwrap())
        .unwrap();
    assert_eq!(refund.payment_id.as_str(), format!("pay-{order}"));
    assert!(
        refund.reason.contains("customer called"),
        "{}",
        refund.reason
    );
    db.close().await;
}
