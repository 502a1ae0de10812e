//! Events of returns (published by the order service).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Validate, ValidationError, fixed_topic};
use crate::{OrderId, ProductId, Quantity, ReturnId, Timestamp};

/// A return was received and accepted.
pub const ORDER_RETURN_COMPLETED: &str = "order.return.completed";
/// The older name some producers still use for [`ORDER_RETURN_COMPLETED`].
pub const RETURN_COMPLETED_LEGACY: &str = "return.completed";

/// One returned line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReturnLine {
    /// The product.
    pub product_id: ProductId,
    /// Units returned to stock.
    pub quantity: Quantity,
}

/// `order.return.completed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReturnCompletedEvent {
    /// The return.
    pub return_id: ReturnId,
    /// The original order.
    pub order_id: OrderId,
    /// What came back.
    pub items: Vec<ReturnLine>,
    /// When.
    pub timestamp: Timestamp,
}

impl Validate for ReturnCompletedEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.items.is_empty() {
            return Err(ValidationError::new("a return must have at least one item"));
        }
        if self.items.iter().any(|l| l.quantity.get() == 0) {
            return Err(ValidationError::new("returned quantity must be at least 1"));
        }
        Ok(())
    }
}

fixed_topic!(ReturnCompletedEvent => ORDER_RETURN_COMPLETED);
