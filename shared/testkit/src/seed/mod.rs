//! Seed data: the rows a scenario starts from, written through the store's repositories.
//!
//! # Layout
//! - [`order`] — orders, sessions, carts of the order service
//! - [`fulfillment`] — fulfillments, picklists and packages
//! - [`warehouse`] — products, inventory, reservations
//! - [`saga`] — started sagas

pub mod fulfillment;
pub mod order;
pub mod saga;
pub mod warehouse;
