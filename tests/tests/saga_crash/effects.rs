//! What the checkout sagas left in the database once every one ended: each saga completed or
//! compensated as a whole, and each command and compensation applied at most once, matching
//! the saga's end (a reservation, a fulfillment, a confirmation, a refund); the order records
//! that end once (confirmed or cancelled).

use std::collections::BTreeMap;

use conveyor_domain::fulfillment::FulfillmentStatus;
use conveyor_domain::order::OrderStatus;
use conveyor_domain::warehouse::{MovementKind, ReservationStatus};
use conveyor_domain::{OrderId, SagaId};
use conveyor_runtime::saga::{SagaRepository, SagaState, SagaStatus, StepStatus};
use conveyor_store::Store;
use conveyor_testkit::seed;
use order_checkout_saga::NAME;
use order_checkout_saga::definition::{FULFILLMENT, PAYMENT};

use super::payments::Ledger;
use super::{Checkout, Kind, SKU, STOCK};

/// How the sagas ended.
#[derive(Debug, Default)]
pub(super) struct Ends {
    /// Sagas completed.
    pub(super) completed: usize,
    /// Sagas compensated.
    pub(super) compensated: usize,
}

async fn saga(store: &Store, order: &str) -> SagaState {
    let mut tx = store.begin().await.unwrap();
    let state = tx
        .load_saga(NAME, &SagaId::parse(order).unwrap())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no saga for {order}"));
    tx.rollback().await.unwrap();
    state
}

/// Confirmations sent, per order.
async fn confirmations(store: &Store) -> BTreeMap<String, i64> {
    conveyor_store::sqlx::query_as::<_, (String, i64)>(
        "SELECT order_id, COUNT(*) FROM notifications GROUP BY order_id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap()
    .into_iter()
    .collect()
}

/// Stock movements of the checkouts' product, per (order, kind).
async fn movements(store: &Store) -> BTreeMap<(String, MovementKind), usize> {
    let mut by: BTreeMap<(String, MovementKind), usize> = BTreeMap::new();
    for m in seed::warehouse::movements(store, SKU).await {
        if m.kind != MovementKind::Init {
            *by.entry((m.reference.unwrap_or_default(), m.kind))
                .or_default() += 1;
        }
    }
    by
}

/// A compensated saga: undone as a whole, latest step first, each undone step once.
fn assert_undone(s: &SagaState) {
    let path = &s.compensation_path;
    assert!(path.windows(2).all(|w| w[0] > w[1]), "{}: {path:?}", s.id);
    for (i, step) in s.steps.iter().enumerate() {
        if path.contains(&i) {
            assert_eq!(step.status, StepStatus::Compensated, "{}: step {i}", s.id);
        } else {
            assert!(
                matches!(step.status, StepStatus::Pending | StepStatus::Failed),
                "{}: step {i} left {:?}",
                s.id,
                step.status
            );
        }
    }
}

/// Checks every checkout's saga and effects; how they ended.
pub(super) async fn assert_whole(store: &Store, checkouts: &[Checkout], ledger: &Ledger) -> Ends {
    let confirmations = confirmations(store).await;
    let movements = movements(store).await;
    let mut ends = Ends::default();
    for c in checkouts {
        let id = c.order.as_str();
        let s = saga(store, id).await;
        let held = seed::warehouse::reservations(store, id).await;
        assert!(held.len() <= 1, "{id}: {held:?}");
        let fulfillment = seed::fulfillment::of_order(store, &OrderId::parse(id).unwrap()).await;
        let confirmed = confirmations.get(id).copied().unwrap_or(0);
        let moved = |kind| movements.get(&(id.to_owned(), kind)).copied().unwrap_or(0);
        assert!(moved(MovementKind::Reserve) <= 1, "{id} reserved twice");
        assert!(moved(MovementKind::Release) <= 1, "{id} released twice");
        assert!(confirmed <= 1, "{id} confirmed {confirmed} times");
        let order = OrderId::parse(id).unwrap();
        let history = seed::order::history(store, &order).await;
        assert_eq!(
            history.len(),
            1,
            "{id}: the outcome recorded once: {history:?}"
        );
        let status = seed::order::load(store, &order).await.unwrap().status;
        match s.status {
            SagaStatus::Completed => {
                ends.completed += 1;
                assert_eq!(c.kind, Kind::Paid, "{id} completed");
                assert!(s.steps.iter().all(|st| st.status == StepStatus::Completed));
                assert!(ledger.captured.contains(id) && !ledger.refunded.contains(id));
                assert_eq!(held[0].status, ReservationStatus::Confirmed, "{id}");
                assert_eq!(moved(MovementKind::Reserve), 1, "{id}");
                assert_eq!(moved(MovementKind::Release), 0, "{id}");
                let f = fulfillment.unwrap_or_else(|| panic!("{id}: no fulfillment"));
                assert_eq!(f.status, FulfillmentStatus::Created, "{id}");
                assert_eq!(s.step(FULFILLMENT).result.as_deref(), Some(f.id.as_str()));
                assert_eq!(confirmed, 1, "{id}");
                assert_eq!(status, OrderStatus::Confirmed, "{id}");
            }
            SagaStatus::Compensated => {
                ends.compensated += 1;
                assert_undone(&s);
                let expected: &[usize] = match c.kind {
                    Kind::Declined => &[],
                    Kind::Short => &[PAYMENT],
                    Kind::Paid => panic!("{id} compensated: {s:?}"),
                };
                assert_eq!(s.compensation_path, expected, "{id}");
                assert_eq!(
                    ledger.refunded.contains(id),
                    s.compensation_path.contains(&PAYMENT),
                    "{id}: refunded exactly when its payment was undone"
                );
                assert!(held.iter().all(|r| r.status == ReservationStatus::Released));
                assert_eq!(moved(MovementKind::Reserve), moved(MovementKind::Release));
                assert!(
                    fulfillment.is_none_or(|f| f.status == FulfillmentStatus::Cancelled),
                    "{id}"
                );
                assert_eq!(confirmed, 0, "{id}");
                assert_eq!(status, OrderStatus::Cancelled, "{id}");
            }
            other => panic!("{id} ended {other:?}, neither completed nor compensated: {s:?}"),
        }
    }
    let inventory = seed::warehouse::inventory(store, SKU).await;
    assert_eq!(inventory.on_hand.get(), STOCK);
    assert_eq!(
        inventory.reserved.get() as usize,
        ends.completed,
        "one unit held per completed checkout"
    );
    ends
}
