//! Events of the payment service. External wire types: `amount` is a float in major units.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Validate, ValidationError, fixed_topic};
use crate::{Currency, Money, OrderId, PaymentId, Timestamp};

/// A payment succeeded.
pub const PAYMENT_CONFIRMED: &str = "payment.confirmed";
/// A payment failed.
pub const PAYMENT_FAILED: &str = "payment.failed";
/// The order service asks the payment service to refund a captured payment (published by the
/// order service when a paid order cannot be fulfilled or was paid after it was cancelled).
pub const PAYMENT_REFUND_REQUESTED: &str = "payment.refund_requested";
/// The checkout saga asks the payment service to capture an order's payment (its replies are
/// `payment.confirmed` / `payment.failed`).
pub const PAYMENT_PROCESS_REQUESTED: &str = "payment.process_requested";
/// The payment service refunded a payment (its reply to `payment.refund_requested`).
pub const PAYMENT_REFUNDED: &str = "payment.refunded";

/// `payment.confirmed`: the payment service captured the money for an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentConfirmedEvent {
    /// The order paid for.
    pub order_id: OrderId,
    /// The payment.
    pub payment_id: PaymentId,
    /// Amount in major units, as the payment service sends it.
    pub amount: f64,
    /// ISO 4217.
    pub currency: Currency,
    /// Card, wallet, bank transfer, ... (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    /// The provider's transaction reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// When the payment was confirmed.
    pub timestamp: Timestamp,
}

impl PaymentConfirmedEvent {
    /// The amount in minor units.
    ///
    /// # Errors
    /// When the float is negative, NaN or too large.
    pub fn amount_minor(&self) -> Result<Money, ValidationError> {
        Money::from_major_f64(self.amount).map_err(|e| ValidationError::new(e.to_string()))
    }
}

impl Validate for PaymentConfirmedEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        self.amount_minor().map(|_| ())
    }
}

fixed_topic!(PaymentConfirmedEvent => PAYMENT_CONFIRMED);

/// `payment.failed`: the payment service gave up on a payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentFailedEvent {
    /// The order.
    pub order_id: OrderId,
    /// The payment attempt.
    pub payment_id: PaymentId,
    /// Amount in major units.
    pub amount: f64,
    /// ISO 4217.
    pub currency: Currency,
    /// Human-readable reason ("card declined").
    pub failure_reason: String,
    /// Provider error code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// When the payment failed.
    pub timestamp: Timestamp,
}

impl Validate for PaymentFailedEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        Money::from_major_f64(self.amount).map_err(|e| ValidationError::new(e.to_string()))?;
        if self.failure_reason.trim().is_empty() {
            return Err(ValidationError::new("failure_reason must not be empty"));
        }
        Ok(())
    }
}

fixed_topic!(PaymentFailedEvent => PAYMENT_FAILED);

/// `payment.refund_requested`: published once per payment by the order service. Sent in the
/// payment service's wire convention (`amount` as a float in major units).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RefundRequestedEvent {
    /// The order the payment was for.
    pub order_id: OrderId,
    /// The payment to refund.
    pub payment_id: PaymentId,
    /// Amount to refund in major units.
    pub amount: f64,
    /// ISO 4217.
    pub currency: Currency,
    /// Why ("order cancelled before the payment was confirmed", "fulfillment could not be
    /// created: ...").
    pub reason: String,
    /// When the refund was requested.
    pub timestamp: Timestamp,
}

impl Validate for RefundRequestedEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        Money::from_major_f64(self.amount).map_err(|e| ValidationError::new(e.to_string()))?;
        if self.reason.trim().is_empty() {
            return Err(ValidationError::new("reason must not be empty"));
        }
        Ok(())
    }
}

fixed_topic!(RefundRequestedEvent => PAYMENT_REFUND_REQUESTED);

impl RefundRequestedEvent {
    /// The payment service's `payment.refunded` for this request; the refund's id is
    /// `re-<payment id>` (one refund per payment).
    #[must_use]
    pub fn refunded(&self, at: Timestamp) -> PaymentRefundedEvent {
        PaymentRefundedEvent {
            refund_id: format!("re-{}", self.payment_id),
            order_id: self.order_id.clone(),
            payment_id: self.payment_id.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            timestamp: at,
        }
    }
}

/// `payment.process_requested`: the checkout saga's payment command, in the payment service's
/// wire convention. The saga names the payment (`payment_id`): the payment service captures
/// under that id (its idempotency key: every send of the command carries the same id) and its
/// replies carry it. So a payment step that timed out without a reply is still refunded by
/// its id; the payment service refunds nothing for an id it never captured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProcessPaymentRequestedEvent {
    /// The order to pay for.
    pub order_id: OrderId,
    /// The payment's id, chosen by the saga.
    pub payment_id: PaymentId,
    /// Amount in major units.
    pub amount: f64,
    /// ISO 4217.
    pub currency: Currency,
    /// Which send this is (1 = first).
    pub attempt: u32,
    /// When the checkout was requested (the same in every send of the command).
    pub timestamp: Timestamp,
}

impl Validate for ProcessPaymentRequestedEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        Money::from_major_f64(self.amount).map_err(|e| ValidationError::new(e.to_string()))?;
        Ok(())
    }
}

fixed_topic!(ProcessPaymentRequestedEvent => PAYMENT_PROCESS_REQUESTED);

impl ProcessPaymentRequestedEvent {
    /// The payment service's `payment.confirmed` for this request: captured under the id the
    /// request names, for its amount.
    #[must_use]
    pub fn confirmed(&self, at: Timestamp) -> PaymentConfirmedEvent {
        PaymentConfirmedEvent {
            order_id: self.order_id.clone(),
            payment_id: self.payment_id.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            payment_method: None,
            transaction_id: None,
            timestamp: at,
        }
    }

    /// The payment service's `payment.failed` for this request, with `reason`.
    #[must_use]
    pub fn failed(&self, reason: &str, at: Timestamp) -> PaymentFailedEvent {
        PaymentFailedEvent {
            order_id: self.order_id.clone(),
            payment_id: self.payment_id.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            failure_reason: reason.to_owned(),
            error_code: None,
            timestamp: at,
        }
    }
}

/// `payment.refunded`: the payment service refunded (or had nothing to refund for) a payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentRefundedEvent {
    /// The order the payment was for.
    pub order_id: OrderId,
    /// The payment refunded.
    pub payment_id: PaymentId,
    /// The provider's refund reference.
    pub refund_id: String,
    /// Amount refunded in major units (0 when nothing had been captured).
    pub amount: f64,
    /// ISO 4217.
    pub currency: Currency,
    /// When it was refunded.
    pub timestamp: Timestamp,
}

impl Validate for PaymentRefundedEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        Money::from_major_f64(self.amount).map_err(|e| ValidationError::new(e.to_string()))?;
        if self.refund_id.trim().is_empty() {
            return Err(ValidationError::new("refund_id must not be empty"));
        }
        Ok(())
    }
}

fixed_topic!(PaymentRefundedEvent => PAYMENT_REFUNDED);
