//! The checkout saga's steps: payment, inventory, fulfillment, confirmation, each with its
//! command, replies, timeout, retry policy and compensation.

use std::time::Duration;

use conveyor_domain::events::checkout::{
    CONFIRMATION_REQUESTED, CONFIRMATION_SENT, FULFILLMENT_CANCEL_REQUESTED, FULFILLMENT_CANCELLED,
    FULFILLMENT_CREATE_REJECTED, FULFILLMENT_CREATE_REQUESTED, FULFILLMENT_CREATED,
    INVENTORY_RELEASE_REQUESTED, INVENTORY_RELEASED, INVENTORY_RESERVE_REJECTED,
    INVENTORY_RESERVE_REQUESTED, INVENTORY_RESERVED,
};
use conveyor_domain::events::payment::{
    PAYMENT_CONFIRMED, PAYMENT_FAILED, PAYMENT_PROCESS_REQUESTED, PAYMENT_REFUND_REQUESTED,
    PAYMENT_REFUNDED,
};
use conveyor_runtime::saga::{Compensation, DefinitionError, Retry, SagaDefinition, Step};

/// The saga's name (its rows and timers are keyed by it).
pub const NAME: &str = conveyor_domain::events::checkout::CHECKOUT_SAGA;

/// Index of the payment step.
pub const PAYMENT: usize = 0;
/// Index of the inventory step.
pub const INVENTORY: usize = 1;
/// Index of the fulfillment step.
pub const FULFILLMENT: usize = 2;
/// Index of the confirmation step.
pub const CONFIRMATION: usize = 3;

/// How long the saga waits, and how often it sends again: one policy for every step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// How long to wait for the reply to one send of a step's command (or a compensation).
    pub reply_timeout: Duration,
    /// How often a step's command is sent, and the wait between sends.
    pub retry: Retry,
}

impl Timings {
    /// The platform's: 30 s per reply, three sends 1 s then 2 s apart (a step gives up after
    /// about 93 s).
    pub const DEFAULT: Self = Self {
        reply_timeout: Duration::from_secs(30),
        retry: Retry {
            attempts: 3,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        },
    };
}

impl Default for Timings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The checkout saga with `timings`.
///
/// # Errors
/// [`DefinitionError`] if the steps below were inconsistent (a test proves they are not).
pub fn checkout(timings: Timings) -> Result<SagaDefinition, DefinitionError> {
    let step = |name, command, completed_by, failed_by| {
        Step::new(name, command, completed_by)
            .failed_by(failed_by)
            .timeout(timings.reply_timeout)
            .retry(timings.retry)
    };
    let undo = |command, completed_by| {
        Compensation::new(command, completed_by)
            .timeout(timings.reply_timeout)
            .backoff(timings.retry)
    };
    SagaDefinition::new(
        NAME,
        vec![
            step(
                "payment",
                PAYMENT_PROCESS_REQUESTED,
                &[PAYMENT_CONFIRMED],
                &[PAYMENT_FAILED],
            )
            .compensated_by(undo(PAYMENT_REFUND_REQUESTED, &[PAYMENT_REFUNDED])),
            step(
                "inventory",
                INVENTORY_RESERVE_REQUESTED,
                &[INVENTORY_RESERVED],
                &[INVENTORY_RESERVE_REJECTED],
            )
            .compensated_by(undo(INVENTORY_RELEASE_REQUESTED, &[INVENTORY_RELEASED])),
            step(
                "fulfillment",
                FULFILLMENT_CREATE_REQUESTED,
                &[FULFILLMENT_CREATED],
                &[FULFILLMENT_CREATE_REJECTED],
            )
            .compensated_by(undo(FULFILLMENT_CANCEL_REQUESTED, &[FULFILLMENT_CANCELLED])),
            step(
                "confirmation",
                CONFIRMATION_REQUESTED,
                &[CONFIRMATION_SENT],
                &[],
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use conveyor_runtime::saga::Phase;

    use super::*;

    #[test]
    fn the_checkout_definition_is_valid_and_routes_every_reply() {
        let def = checkout(Timings::DEFAULT).unwrap();
        assert_eq!(def.steps().len(), 4);
        assert_eq!(def.steps()[CONFIRMATION].name, "confirmation");
        let refunded = def.route(PAYMENT_REFUNDED).unwrap();
        assert_eq!(
            (refunded.step, refunded.phase),
            (PAYMENT, Phase::Compensate)
        );
        assert_eq!(
            def.route(FULFILLMENT_CREATE_REJECTED).unwrap().step,
            FULFILLMENT
        );
        assert_eq!(def.route(INVENTORY_RESERVED).unwrap().step, INVENTORY);
        assert_eq!(def.reply_topics().len(), 10);
    }
}
