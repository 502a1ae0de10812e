//! Typed event payloads and their topics: the contracts between services.
//!
//! Every payload is decoded from the CloudEvent `data` at the edge, then checked with
//! [`Validate`]. Topic names are constants beside their payloads; [`ALL_TOPICS`] lists them.
//!
//! # Layout
//! - [`payment`] — `payment.confirmed`, `payment.failed` (external, float amounts) and the
//!   order service's `payment.refund_requested`
//! - [`order`] — `orders.order.status_changed`
//! - [`fulfillment`] — fulfillment, picklist and package status changes; creation failures
//! - [`warehouse`] — reservation lifecycle (and failure), inventory updates, low-stock alerts
//! - [`catalog`] — `product.created`
//! - [`returns`] — `order.return.completed` (and its older name `return.completed`)
//! - [`checkout`] — the orchestrated checkout: its request, the saga's commands and
//!   replies, its end
//! - [`saga`] — `saga.timer_fired`
//! - [`samples`] — one sample payload per topic (fixtures, docs, `events/`)

pub mod catalog;
pub mod checkout;
pub mod fulfillment;
pub mod order;
pub mod payment;
pub mod returns;
pub mod saga;
pub mod samples;
pub mod warehouse;

use serde::Serialize;

/// A payload that arrived well-formed but says something impossible (a negative amount, an
/// order without lines). Such events are never retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid payload: {0}")]
pub struct ValidationError(pub String);

impl ValidationError {
    /// A validation error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Semantic checks beyond what the types already enforce.
pub trait Validate {
    /// # Errors
    /// [`ValidationError`] describing the first problem found.
    fn validate(&self) -> Result<(), ValidationError>;
}

/// A payload this platform publishes.
pub trait DomainEvent: Serialize {
    /// The topic it goes to (for some payloads it depends on the content).
    fn topic(&self) -> &'static str;
}

/// Implements [`DomainEvent`] for payloads with one fixed topic.
macro_rules! fixed_topic {
    ($ty:ty => $topic:expr) => {
        impl $crate::events::DomainEvent for $ty {
            fn topic(&self) -> &'static str {
                $topic
            }
        }
    };
}
pub(crate) use fixed_topic;

/// Every topic the platform knows, consumed or produced.
pub const ALL_TOPICS: &[&str] = &[
    payment::PAYMENT_CONFIRMED,
    payment::PAYMENT_FAILED,
    payment::PAYMENT_REFUND_REQUESTED,
    order::ORDER_STATUS_CHANGED,
    order::ORDER_RESERVATION_EXPIRED,
    fulfillment::FULFILLMENT_STATUS_CHANGED,
    fulfillment::FULFILLMENT_CREATION_FAILED,
    fulfillment::PICKLIST_STATUS_CHANGED,
    fulfillment::PACKAGE_STATUS_CHANGED,
    warehouse::RESERVATION_CREATED,
    warehouse::RESERVATION_CONFIRMED,
    warehouse::RESERVATION_RELEASED,
    warehouse::RESERVATION_EXPIRED,
    warehouse::RESERVATION_EXPIRING,
    warehouse::RESERVATION_FAILED,
    warehouse::INVENTORY_UPDATED,
    warehouse::INVENTORY_LOW_STOCK,
    catalog::PRODUCT_CREATED,
    returns::ORDER_RETURN_COMPLETED,
    returns::RETURN_COMPLETED_LEGACY,
    payment::PAYMENT_PROCESS_REQUESTED,
    payment::PAYMENT_REFUNDED,
    checkout::CHECKOUT_REQUESTED,
    checkout::CHECKOUT_FINISHED,
    checkout::INVENTORY_RESERVE_REQUESTED,
    checkout::INVENTORY_RESERVED,
    checkout::INVENTORY_RESERVE_REJECTED,
    checkout::INVENTORY_RELEASE_REQUESTED,
    checkout::INVENTORY_RELEASED,
    checkout::FULFILLMENT_CREATE_REQUESTED,
    checkout::FULFILLMENT_CREATED,
    checkout::FULFILLMENT_CREATE_REJECTED,
    checkout::FULFILLMENT_CANCEL_REQUESTED,
    checkout::FULFILLMENT_CANCELLED,
    checkout::CONFIRMATION_REQUESTED,
    checkout::CONFIRMATION_SENT,
    saga::TIMER_FIRED,
];

/// Topics whose payload schema had a breaking change, with their current major version; every
/// other topic of [`ALL_TOPICS`] is at version 1. A change a consumer of the current version
/// cannot read (a field removed, newly required or narrowed) needs the next version here, and
/// consumers that read both versions while producers switch (see `events/README.md`).
const SCHEMA_VERSIONS: &[(&str, u32)] = &[];

/// The current major version of `topic`'s payload schema, `None` for a topic the platform does
/// not know. Every event carries it in its CloudEvent `dataschema`.
#[must_use]
pub fn schema_version(topic: &str) -> Option<u32> {
    if !ALL_TOPICS.contains(&topic) {
        return None;
    }
    Some(
        SCHEMA_VERSIONS
            .iter()
            .find(|(t, _)| *t == topic)
            .map_or(1, |(_, v)| *v),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_topic_has_a_schema_version_and_only_those() {
        for topic in ALL_TOPICS {
            assert!(schema_version(topic).is_some_and(|v| v >= 1), "{topic}");
        }
        assert_eq!(schema_version("no.such.topic"), None);
        for (topic, version) in SCHEMA_VERSIONS {
            assert!(ALL_TOPICS.contains(topic), "{topic} is not a known topic");
            assert!(*version >= 2, "{topic}: version 1 is the default");
        }
    }
}
