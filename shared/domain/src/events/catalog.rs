//! Events of the product catalog.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Validate, ValidationError, fixed_topic};
use crate::{ProductId, Quantity, Timestamp};

/// A product was added to the catalog.
pub const PRODUCT_CREATED: &str = "product.created";

/// `product.created`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProductCreatedEvent {
    /// The product.
    pub product_id: ProductId,
    /// Its display name.
    pub name: String,
    /// Units received with the product.
    #[serde(default)]
    pub initial_stock: Quantity,
    /// Available level at or below which a low-stock alert is raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_stock_threshold: Option<Quantity>,
    /// When.
    pub timestamp: Timestamp,
}

impl Validate for ProductCreatedEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.name.trim().is_empty() {
            return Err(ValidationError::new("name must not be empty"));
        }
        Ok(())
    }
}

fixed_topic!(ProductCreatedEvent => PRODUCT_CREATED);
