//! Stock quantities: whole units, never negative.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Why a quantity was rejected or an operation on quantities failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// A line quantity of zero (an order line, a reservation) is meaningless.
    #[error("quantity must be at least 1")]
    Zero,
    /// The value was negative.
    #[error("quantity {0} is negative")]
    Negative(i64),
    /// The value does not fit.
    #[error("quantity {0} is too large")]
    TooLarge(i64),
}

/// A count of units (0 allowed: stock levels). Lines use [`Quantity::positive`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Quantity(u32);

impl Quantity {
    /// Zero units.
    pub const ZERO: Self = Self(0);

    /// Any count, zero included.
    #[must_use]
    pub const fn new(units: u32) -> Self {
        Self(units)
    }

    /// A count of at least one.
    ///
    /// # Errors
    /// [`QuantityError::Zero`] for zero.
    pub fn positive(units: u32) -> Result<Self, QuantityError> {
        if units == 0 {
            Err(QuantityError::Zero)
        } else {
            Ok(Self(units))
        }
    }

    /// From a database integer.
    ///
    /// # Errors
    /// [`QuantityError`] when negative or above `u32::MAX`.
    pub fn from_i64(value: i64) -> Result<Self, QuantityError> {
        if value < 0 {
            return Err(QuantityError::Negative(value));
        }
        u32::try_from(value)
            .map(Self)
            .map_err(|_| QuantityError::TooLarge(value))
    }

    /// The count.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// As a database integer.
    #[must_use]
    pub fn to_i64(self) -> i64 {
        i64::from(self.0)
    }

    /// Sum, or `None` on overflow.
    #[must_use]
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    /// Difference, or `None` if it would go below zero.
    #[must_use]
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).map(Self)
    }

    /// Difference floored at zero.
    #[must_use]
    pub fn saturating_sub(self, other: Self) -> Self {
        Self(self.0.saturating_sub(other.0))
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl JsonSchema for Quantity {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Quantity")
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 0, "maximum": u32::MAX})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_never_goes_negative() {
        let five = Quantity::new(5);
        assert_eq!(five.checked_sub(Quantity::new(6)), None);
        assert_eq!(five.saturating_sub(Quantity::new(6)), Quantity::ZERO);
        assert_eq!(five.checked_add(Quantity::new(1)), Some(Quantity::new(6)));
        assert_eq!(Quantity::positive(0), Err(QuantityError::Zero));
        assert_eq!(Quantity::from_i64(-1), Err(QuantityError::Negative(-1)));
        assert_eq!(Quantity::from_i64(7).unwrap().to_i64(), 7);
    }

    #[test]
    fn negative_json_is_rejected() {
        assert!(serde_json::from_str::<Quantity>("-1").is_err());
        assert_eq!(serde_json::from_str::<Quantity>("3").unwrap().get(), 3);
    }
}
