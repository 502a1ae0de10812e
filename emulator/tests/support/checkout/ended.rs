//! How each checkout ended: the saga's state, the services' rows and what the played services
//! saw, per [`Scenario`].

use conveyor_domain::events::checkout::CheckoutOutcome;
use conveyor_domain::fulfillment::{Fulfillment, FulfillmentStatus};
use conveyor_domain::order::{CHECKOUT_COMPENSATED_REASON, CHECKOUT_COMPLETED_REASON, OrderStatus};
use conveyor_domain::warehouse::{Reservation, ReservationStatus};
use conveyor_domain::{OrderId, PaymentId};
use conveyor_runtime::saga::{SagaState, SagaStatus, StepStatus};
use conveyor_store::Store;
use conveyor_testkit::seed;

use super::services::{Log, Seen, values};
use super::{Scenario, saga};

fn statuses(state: &SagaState) -> Vec<StepStatus> {
    state.steps.iter().map(|s| s.status).collect()
}

/// The steps were undone in the order of `path`, one after the other, each compensation sent
/// the number of times given.
fn undone_in_order(state: &SagaState, path: &[(usize, u32)]) {
    let steps: Vec<usize> = path.iter().map(|&(i, _)| i).collect();
    assert_eq!(state.compensation_path, steps, "{}", state.id);
    let settled: Vec<_> = steps
        .iter()
        .map(|&i| state.step(i).settled_at.unwrap())
        .collect();
    assert!(
        settled.windows(2).all(|w| w[0] <= w[1]),
        "{}: {settled:?}",
        state.id
    );
    for &(i, sends) in path {
        let step = state.step(i);
        assert_eq!(step.status, StepStatus::Compensated, "{}", state.id);
        assert_eq!(step.compensation_attempts, sends, "{}", state.id);
    }
}

/// The sagas once ended, and what the played services saw.
pub(super) struct Ended<'a> {
    pub(super) store: &'a Store,
    pub(super) log: &'a Log,
    pub(super) prefix: &'a str,
}

impl Ended<'_> {
    pub(super) async fn check(&self, scenario: Scenario) {
        use StepStatus::{Compensated, Completed, Failed, Pending, TimedOut};
        let order = scenario.order(self.prefix);
        let order = order.as_str();
        let s = saga(self.store, order).await.unwrap();
        let log = self.log;
        let outcome = if matches!(scenario, Scenario::Ok | Scenario::PayTwice) {
            CheckoutOutcome::Completed
        } else {
            CheckoutOutcome::Compensated
        };
        assert_eq!(
            values(&log.finished, order),
            [outcome],
            "{order}: finished once"
        );
        let sends = |seen: &Seen<()>| values(seen, order).len();
        let refunds = values(&log.refunds, order);
        let payment = format!("pay-{order}");
        match scenario {
            Scenario::Ok | Scenario::PayTwice => {
                assert_eq!(s.status, SagaStatus::Completed, "{order}");
                assert_eq!(statuses(&s), [Completed; 4], "{order}");
                assert!(s.steps.iter().all(|st| st.attempts == 1), "{order}: {s:?}");
                assert_eq!(s.step(0).result.as_deref(), Some(payment.as_str()));
                let held = self.reservations(order).await;
                assert_eq!(held.len(), 1, "{order}");
                assert_eq!(held[0].status, ReservationStatus::Confirmed, "{order}");
                let f = self.fulfillment(order).await.unwrap();
                assert_eq!(f.status, FulfillmentStatus::Created, "{order}");
                assert_eq!(s.step(2).result.as_deref(), Some(f.id.as_str()));
                assert_eq!(values(&log.payments, order), [1], "{order}: one payment");
                assert_eq!(sends(&log.reserves), 1, "{order}");
                assert_eq!(sends(&log.creates), 1, "{order}");
                assert_eq!(sends(&log.confirmations), 1, "{order}");
                assert!(refunds.is_empty(), "{order}");
            }
            // Step 1 fails: nothing to undo.
            Scenario::PayDeclined => {
                assert_eq!(statuses(&s), [Failed, Pending, Pending, Pending]);
                assert!(s.compensation_path.is_empty());
                assert!(refunds.is_empty(), "{order}");
                assert!(self.reservations(order).await.is_empty());
            }
            // Step 2 fails: the payment is refunded (a refund request that fails transiently
            // once is delivered again; one left unanswered is sent again).
            Scenario::StockShort | Scenario::RefundFlaky | Scenario::RefundMute => {
                assert_eq!(
                    statuses(&s),
                    [Compensated, Failed, Pending, Pending],
                    "{order}"
                );
                let refund_sends = u32::from(scenario == Scenario::RefundMute) + 1;
                undone_in_order(&s, &[(0, refund_sends)]);
                assert_eq!(refunds, [payment.as_str()], "{order}");
                // The flaky one's request failed on its first delivery and was taken on the
                // next; the unanswered one was sent again.
                let mute = scenario == Scenario::RefundMute;
                assert_eq!(
                    sends(&log.refund_requests),
                    1 + usize::from(mute),
                    "{order}"
                );
                let failures = log.refund_failures.get(order).cloned().unwrap_or_default();
                if scenario == Scenario::RefundFlaky {
                    assert_eq!(failures.len(), 1, "{order}");
                    assert_eq!(failures[0].1, 1, "{order}: failed on its first delivery");
                    assert_eq!(failures[0].0, log.refunds[order][0].0, "{order}");
                } else {
                    assert!(failures.is_empty(), "{order}: {failures:?}");
                }
                assert!(
                    self.reservations(order)
                        .await
                        .iter()
                        .all(|r| r.status == ReservationStatus::Released),
                    "{order}"
                );
            }
            // Step 3 fails: the stock is released, then the payment refunded.
            Scenario::FulReject => {
                assert_eq!(statuses(&s), [Compensated, Compensated, Failed, Pending]);
                undone_in_order(&s, &[(1, 1), (0, 1)]);
                assert_eq!(refunds, [payment.as_str()], "{order}");
                assert!(self.fulfillment(order).await.is_none());
                self.released(order).await;
            }
            // Step 1 never answers (nor, for the late one, until the saga ended): sent twice,
            // then refunded by the id the saga gave the payment. The late reply changed
            // nothing: no reservation was asked for.
            Scenario::PaySilent | Scenario::PayLate => {
                assert_eq!(s.status, SagaStatus::Compensated, "{order}");
                assert_eq!(statuses(&s), [Compensated, Pending, Pending, Pending]);
                assert_eq!(s.step(0).attempts, 2);
                assert_eq!(values(&log.payments, order), [1, 2], "{order}");
                undone_in_order(&s, &[(0, 1)]);
                assert_eq!(refunds, [payment.as_str()], "{order}");
                assert!(self.reservations(order).await.is_empty());
                assert_eq!(sends(&log.reserves), 0, "{order}");
                let late = sends(&log.late);
                assert_eq!(late, usize::from(scenario == Scenario::PayLate), "{order}");
            }
            // Step 2 never answers: sent twice, then released (nothing held) and refunded.
            Scenario::StockSilent => {
                assert_eq!(statuses(&s), [Compensated, Compensated, Pending, Pending]);
                assert_eq!(s.step(1).attempts, 2);
                assert_eq!(sends(&log.reserves), 2, "{order}");
                undone_in_order(&s, &[(1, 1), (0, 1)]);
                assert!(self.reservations(order).await.is_empty());
                assert_eq!(refunds, [payment.as_str()], "{order}");
            }
            // Step 3 never answers: sent twice, then cancelled (nothing created), the stock
            // released and the payment refunded.
            Scenario::FulSilent => {
                assert_eq!(
                    statuses(&s),
                    [Compensated, Compensated, Compensated, Pending]
                );
                assert_eq!(s.step(2).attempts, 2);
                assert_eq!(sends(&log.creates), 2, "{order}");
                undone_in_order(&s, &[(2, 1), (1, 1), (0, 1)]);
                assert!(self.fulfillment(order).await.is_none());
                self.released(order).await;
                assert_eq!(refunds, [payment.as_str()], "{order}");
            }
            // Step 4 never answers: sent twice, then fulfillment, stock and payment undone.
            Scenario::ConfirmMute => {
                assert_eq!(statuses(&s)[..3], [Compensated; 3]);
                assert_eq!(s.step(3).status, TimedOut);
                assert_eq!(s.step(3).attempts, 2);
                assert_eq!(sends(&log.confirmations), 2, "{order}");
                undone_in_order(&s, &[(2, 1), (1, 1), (0, 1)]);
                let f = self.fulfillment(order).await.unwrap();
                assert_eq!(f.status, FulfillmentStatus::Cancelled);
                self.released(order).await;
                assert_eq!(refunds, [payment.as_str()], "{order}");
            }
        }
        if outcome == CheckoutOutcome::Compensated {
            assert_eq!(s.status, SagaStatus::Compensated, "{order}");
        }
        self.order_ended(order, outcome).await;
    }

    /// The order's status and its one history row: the saga's outcome recorded once by
    /// order-checkout-finished, and nothing else (the choreographed payment functions skipped
    /// it).
    async fn order_ended(&self, order: &str, outcome: CheckoutOutcome) {
        let id = OrderId::parse(order).unwrap();
        let row = seed::order::load(self.store, &id).await.unwrap();
        let history = seed::order::history(self.store, &id).await;
        assert_eq!(history.len(), 1, "{order}: {history:?}");
        let change = &history[0];
        assert_eq!(change.from, OrderStatus::Pending, "{order}");
        match outcome {
            CheckoutOutcome::Completed => {
                assert_eq!(row.status, OrderStatus::Confirmed, "{order}");
                let paid = PaymentId::parse(format!("pay-{order}")).unwrap();
                assert_eq!(row.payment_id.as_ref(), Some(&paid), "{order}");
                assert_eq!(change.reason, CHECKOUT_COMPLETED_REASON, "{order}");
            }
            CheckoutOutcome::Compensated => {
                assert_eq!(row.status, OrderStatus::Cancelled, "{order}");
                assert_eq!(row.payment_id, None, "{order}");
                assert!(
                    change.reason.starts_with(CHECKOUT_COMPENSATED_REASON),
                    "{order}: {}",
                    change.reason
                );
            }
        }
    }

    async fn reservations(&self, order: &str) -> Vec<Reservation> {
        seed::warehouse::reservations(self.store, order).await
    }

    /// The order's one reservation was released.
    async fn released(&self, order: &str) {
        let held = self.reservations(order).await;
        assert_eq!(held.len(), 1, "{order}");
        assert_eq!(held[0].status, ReservationStatus::Released, "{order}");
    }

    async fn fulfillment(&self, order: &str) -> Option<Fulfillment> {
        seed::fulfillment::of_order(self.store, &OrderId::parse(order).unwrap()).await
    }
}
