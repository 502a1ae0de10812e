//! The pure domain of conveyor: identifiers, money and quantities, the order, fulfillment and
//! warehouse aggregates with their state machines, the typed event payloads that travel between
//! services, and the ports (repositories, clock) that adapters implement. No I/O lives here.
//!
//! # Layout
//! - [`ids`], [`money`], [`quantity`], [`time`]: newtypes parsed at the edge
//! - [`state`] — the transition rule all state machines share
//! - [`status`] — the state machines themselves, shared by the services and the events
//! - [`order`], [`fulfillment`], [`warehouse`]: one module per service
//! - [`notification`] — customer notifications rendered from events, and their ports
//! - [`events`] — payloads and topic constants

pub mod events;
pub mod fulfillment;
pub mod ids;
pub mod money;
pub mod notification;
pub mod order;
pub mod quantity;
pub mod state;
pub mod status;
pub mod time;
pub mod warehouse;

pub use ids::{
    AlertId, CartId, CustomerId, FulfillmentId, IdError, NotificationId, OrderId, PackageId,
    PaymentId, PicklistId, ProductId, ReportId, ReservationId, ReturnId, SagaId, SessionId,
};
pub use money::{Currency, Money, MoneyError};
pub use quantity::{Quantity, QuantityError};
pub use state::{InvalidTransition, StateMachine, Transition, UnknownState};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
