//! Money in integer minor units with an ISO 4217 currency, and the conversion from the float
//! amounts external services send.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Why an amount or currency was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MoneyError {
    /// The amount was NaN or infinite.
    #[error("amount {0} is not a finite number")]
    NotFinite(f64),
    /// The amount was below zero.
    #[error("amount {0} is negative")]
    Negative(f64),
    /// The amount does not fit in minor units.
    #[error("amount {0} is too large")]
    TooLarge(f64),
    /// The currency was not three ASCII letters.
    #[error("currency {0:?} is not a three-letter ISO 4217 code")]
    BadCurrency(String),
}

/// An ISO 4217 currency code, stored upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    /// Parses a three-letter code, accepting any case.
    ///
    /// # Errors
    /// [`MoneyError::BadCurrency`] when the code is not three ASCII letters.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(code.to_ascii_uppercase()))
        } else {
            Err(MoneyError::BadCurrency(code.to_owned()))
        }
    }

    /// The code, upper-case.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, MoneyError> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> String {
        value.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl JsonSchema for Currency {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Currency")
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "pattern": "^[A-Za-z]{3}$", "description": "ISO 4217 code"})
    }
}

/// A non-negative amount in minor units (cents). Two-decimal currencies only, which is what
/// every service of the platform uses.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(i64);

impl Money {
    /// Zero.
    pub const ZERO: Self = Self(0);

    /// From minor units.
    ///
    /// # Errors
    /// [`MoneyError::Negative`] for a negative value.
    pub fn from_minor(minor: i64) -> Result<Self, MoneyError> {
        if minor < 0 {
            #[allow(clippy::cast_precision_loss)]
            return Err(MoneyError::Negative(minor as f64));
        }
        Ok(Self(minor))
    }

    /// From the float major-unit amount an external service sends (e.g. `49.99`), rounded to
    /// the nearest cent.
    ///
    /// # Errors
    /// [`MoneyError`] for NaN, infinite, negative or absurdly large amounts.
    pub fn from_major_f64(amount: f64) -> Result<Self, MoneyError> {
        if !amount.is_finite() {
            return Err(MoneyError::NotFinite(amount));
        }
        if amount < 0.0 {
            return Err(MoneyError::Negative(amount));
        }
        let minor = (amount * 100.0).round();
        // 2^53: beyond this f64 no longer represents every cent.
        if minor > 9_007_199_254_740_992.0 {
            return Err(MoneyError::TooLarge(amount));
        }
        #[allow(clippy::cast_possible_truncation)]
        Ok(Self(minor as i64))
    }

    /// Minor units.
    #[must_use]
    pub fn minor(self) -> i64 {
        self.0
    }

    /// Major units as a float, for wire formats that use one.
    #[must_use]
    pub fn to_major_f64(self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let minor = self.0 as f64;
        minor / 100.0
    }

    /// Sum, or `None` on overflow.
    #[must_use]
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    /// Product with a quantity, or `None` on overflow.
    #[must_use]
    pub fn checked_mul(self, quantity: u32) -> Option<Self> {
        self.0.checked_mul(i64::from(quantity)).map(Self)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl JsonSchema for Money {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Money")
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 0, "description": "Amount in minor units (cents)"})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_float_amounts_to_cents() {
        assert_eq!(Money::from_major_f64(49.99).unwrap().minor(), 4999);
        assert_eq!(Money::from_major_f64(0.1 + 0.2).unwrap().minor(), 30);
        assert_eq!(Money::from_major_f64(10.0).unwrap().to_string(), "10.00");
        assert!(matches!(
            Money::from_major_f64(-1.0),
            Err(MoneyError::Negative(_))
        ));
        assert!(matches!(
            Money::from_major_f64(f64::NAN),
            Err(MoneyError::NotFinite(_))
        ));
        assert!(matches!(
            Money::from_major_f64(1e30),
            Err(MoneyError::TooLarge(_))
        ));
        assert!(Money::from_minor(-5).is_err());
    }

    #[test]
    fn currency_is_normalised() {
        assert_eq!(Currency::parse("usd").unwrap().as_str(), "USD");
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("U$D").is_err());
    }
}
