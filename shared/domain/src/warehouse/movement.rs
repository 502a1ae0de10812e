//! The stock ledger: one movement per change of a product's levels, summarised by the reports.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::state::status_names;
use crate::{ProductId, Quantity, Timestamp};

/// What a movement records. Its `delta` is signed units: the change of `on_hand` for
/// `init`, `restock`, `return` and `deduct`; the change of available stock for `reserve` and
/// `release`; `confirm` moves nothing and records 0.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// The product's initial stock.
    Init,
    /// Units held for an order (negative).
    Reserve,
    /// Held units given back: payment failed, cancelled, expired (positive).
    Release,
    /// A hold became firm (0).
    Confirm,
    /// Held units shipped (negative).
    Deduct,
    /// Units received from a supplier (positive).
    Restock,
    /// Units a customer sent back (positive).
    Return,
}

status_names!(MovementKind {
    Init => "init",
    Reserve => "reserve",
    Release => "release",
    Confirm => "confirm",
    Deduct => "deduct",
    Restock => "restock",
    Return => "return",
});

impl MovementKind {
    /// The signed delta of moving `quantity` units this way.
    #[must_use]
    pub fn delta(self, quantity: Quantity) -> i64 {
        match self {
            Self::Init | Self::Release | Self::Restock | Self::Return => quantity.to_i64(),
            Self::Reserve | Self::Deduct => -quantity.to_i64(),
            Self::Confirm => 0,
        }
    }
}

/// One entry of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockMovement {
    /// Id (UUID v7 text: sorts by time).
    pub id: String,
    /// The product.
    pub product_id: ProductId,
    /// Signed units (see [`MovementKind`]).
    pub delta: i64,
    /// What happened.
    pub kind: MovementKind,
    /// The order or return behind it.
    pub reference: Option<String>,
    /// When.
    pub at: Timestamp,
}

impl StockMovement {
    /// A movement of `quantity` units of `product_id`, with its signed delta.
    #[must_use]
    pub fn new(
        product_id: ProductId,
        kind: MovementKind,
        quantity: Quantity,
        reference: Option<&str>,
        at: Timestamp,
    ) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            product_id,
            delta: kind.delta(quantity),
            kind,
            reference: reference.map(str::to_owned),
            at,
        }
    }
}

/// The movements of one product and kind over a period: one line of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MovementSummary {
    /// The product.
    pub product_id: ProductId,
    /// The kind.
    pub kind: MovementKind,
    /// How many movements.
    pub movements: u64,
    /// Sum of their deltas.
    pub units: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_are_signed_by_direction() {
        let q = Quantity::new(3);
        let deltas: Vec<i64> = MovementKind::ALL.iter().map(|k| k.delta(q)).collect();
        assert_eq!(deltas, vec![3, -3, 3, 0, -3, 3, 3]);
        assert_eq!("return".parse::<MovementKind>(), Ok(MovementKind::Return));
        let m = StockMovement::new(
            ProductId::parse("sku-1").unwrap(),
            MovementKind::Deduct,
            q,
            Some("ord-1"),
            Timestamp::from_millis(9),
        );
        assert_eq!((m.delta, m.reference.as_deref()), (-3, Some("ord-1")));
    }
}
