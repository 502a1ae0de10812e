//! Identifier newtypes. Every id is parsed once at the edge; inside the domain an `OrderId` can
//! never be confused with a `ProductId`, and can never be empty.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Longest accepted identifier; longer values are rejected rather than truncated.
pub const MAX_ID_LEN: usize = 128;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The value was empty or only whitespace.
    #[error("{kind} must not be empty")]
    Empty {
        /// Which identifier was being parsed.
        kind: &'static str,
    },
    /// The value was longer than [`MAX_ID_LEN`].
    #[error("{kind} is {len} characters long, the limit is {MAX_ID_LEN}")]
    TooLong {
        /// Which identifier was being parsed.
        kind: &'static str,
        /// The rejected length.
        len: usize,
    },
    /// The value contained whitespace or a control character.
    #[error("{kind} contains whitespace or a control character")]
    BadCharacter {
        /// Which identifier was being parsed.
        kind: &'static str,
    },
}

pub(crate) fn check_id(kind: &'static str, value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if value.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            kind,
            len: value.len(),
        });
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(IdError::BadCharacter { kind });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses an identifier, rejecting empty, over-long or whitespace-containing values.
            ///
            /// # Errors
            /// [`IdError`] naming what is wrong with the value.
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check_id($kind, &value)?;
                Ok(Self(value))
            }

            /// A fresh random identifier (UUID v7, so ids sort by creation time).
            #[must_use]
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            /// The identifier as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_ID_LEN,
                    "pattern": "^[^\\s]+$",
                    "description": concat!("Identifier (", $kind, ")")
                })
            }
        }
    };
}

id_type!(/// An order of the order service.
    OrderId, "order id");
id_type!(/// A customer (buyer).
    CustomerId, "customer id");
id_type!(/// A product (stock keeping unit) known to the warehouse.
    ProductId, "product id");
id_type!(/// A payment made at the payment service.
    PaymentId, "payment id");
id_type!(/// A fulfillment of one order.
    FulfillmentId, "fulfillment id");
id_type!(/// A picklist of one fulfillment.
    PicklistId, "picklist id");
id_type!(/// A package (parcel) of one fulfillment.
    PackageId, "package id");
id_type!(/// A stock reservation held for one order line.
    ReservationId, "reservation id");
id_type!(/// A storefront session.
    SessionId, "session id");
id_type!(/// A shopping cart.
    CartId, "cart id");
id_type!(/// A warehouse alert (low stock).
    AlertId, "alert id");
id_type!(/// A completed customer return.
    ReturnId, "return id");
id_type!(/// A generated warehouse report.
    ReportId, "report id");
id_type!(/// A customer notification.
    NotificationId, "notification id");
id_type!(/// One run of an orchestrated saga (the checkout saga uses its order's id).
    SagaId, "saga id");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_and_rejects_invalid_ids() {
        assert_eq!(OrderId::parse("ord-1").unwrap().as_str(), "ord-1");
        assert_eq!(OrderId::parse(""), Err(IdError::Empty { kind: "order id" }));
        assert!(matches!(
            OrderId::parse("a b"),
            Err(IdError::BadCharacter { .. })
        ));
        assert!(matches!(
            OrderId::parse("x".repeat(129)),
            Err(IdError::TooLong { len: 129, .. })
        ));
    }

    #[test]
    fn deserializing_checks_the_value() {
        let ok: ProductId = serde_json::from_str("\"sku-1\"").unwrap();
        assert_eq!(ok.to_string(), "sku-1");
        assert!(serde_json::from_str::<ProductId>("\"\"").is_err());
        assert_ne!(OrderId::generate(), OrderId::generate());
    }
}
