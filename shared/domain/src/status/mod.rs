//! The statuses the aggregates move through and the events carry (and how an order is paid,
//! carried the same way). They sit below both the service modules ([`crate::order`],
//! [`crate::fulfillment`], [`crate::warehouse`], which re-export them) and the event payloads
//! ([`crate::events`]), so neither side has to import the other for them.

pub mod fulfillment;
pub mod order;
pub mod warehouse;
