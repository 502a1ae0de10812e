//! Sagas: a started saga's row, as an orchestrator's first transaction leaves it.

use std::time::Duration;

use conveyor_domain::events::checkout::CHECKOUT_SAGA;
use conveyor_domain::{SagaId, Timestamp};
use conveyor_runtime::saga::{Engine, SagaDefinition, SagaRepository, Step};
use conveyor_store::Store;

/// Starts an `order-checkout` saga for `order` (a one-step stand-in definition: the
/// choreographed functions only ask whether the saga exists).
///
/// # Panics
/// On a store error, or when the saga exists already.
pub async fn checkout_started(store: &Store, order: &str, at: Timestamp) {
    let definition = SagaDefinition::new(
        CHECKOUT_SAGA,
        vec![Step::new("payment", "test.pay", &["test.paid"]).timeout(Duration::from_secs(30))],
    )
    .expect("a valid one-step definition");
    let saga = SagaId::parse(order).expect("an order id is a saga id");
    let started = Engine::new(&definition).start(saga, serde_json::json!({}), at);
    let mut tx = store.begin().await.expect("begin");
    assert!(
        tx.create_saga(&started.state).await.expect("create saga"),
        "saga {order} seeded twice"
    );
    tx.commit().await.expect("commit");
}
