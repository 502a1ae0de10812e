//! [`CartRepository`] on the store's transaction.

use conveyor_domain::order::{Cart, CartItem, CartRepository, CartStatus};
use conveyor_domain::{CartId, CustomerId, ProductId, Quantity, Timestamp};
use sqlx::Row;

use super::{count, placeholders, sql_limit};
use crate::{StoreError, Tx};

impl CartRepository for Tx {
    type Error = StoreError;

    async fn insert_cart(&mut self, cart: &Cart) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO carts (id, customer_id, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(cart.id.as_str())
        .bind(cart.customer_id.as_str())
        .bind(cart.status.as_str())
        .bind(cart.created_at.millis())
        .bind(cart.updated_at.millis())
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        for item in &cart.items {
            sqlx::query(
                "INSERT INTO cart_items (cart_id, product_id, quantity) VALUES ($1, $2, $3)",
            )
            .bind(cart.id.as_str())
            .bind(item.product_id.as_str())
            .bind(item.quantity.to_i64())
            .execute(self.conn())
            .await?;
        }
        Ok(true)
    }

    async fn get_cart(&mut self, id: &CartId) -> Result<Option<Cart>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT id, customer_id, status, created_at, updated_at FROM carts WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(self.conn())
        .await?
        else {
            return Ok(None);
        };
        let items = sqlx::query(
            "SELECT product_id, quantity FROM cart_items WHERE cart_id = $1 ORDER BY product_id",
        )
        .bind(id.as_str())
        .fetch_all(self.conn())
        .await?
        .iter()
        .map(|r| {
            Ok(CartItem {
                product_id: ProductId::parse(r.try_get::<String, _>("product_id")?)?,
                quantity: Quantity::from_i64(r.try_get("quantity")?)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(Cart {
            id: CartId::parse(row.try_get::<String, _>("id")?)?,
            customer_id: CustomerId::parse(row.try_get::<String, _>("customer_id")?)?,
            status: row.try_get::<String, _>("status")?.parse::<CartStatus>()?,
            items,
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
            updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
        }))
    }

    async fn delete_abandoned_carts(
        &mut self,
        updated_before: Timestamp,
        limit: usize,
    ) -> Result<usize, StoreError> {
        // Claim first (skipping carts an overlapping run holds), then delete exactly those
        // carts' items and the carts themselves.
        let claim = format!(
            "SELECT id FROM carts WHERE status = $1 AND updated_at < $2 ORDER BY updated_at, id LIMIT $3{}",
            self.backend().skip_locked()
        );
        let ids: Vec<String> = sqlx::query_scalar(&claim)
            .bind(CartStatus::Active.as_str())
            .bind(updated_before.millis())
            .bind(sql_limit(limit))
            .fetch_all(self.conn())
            .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let list = placeholders(1, ids.len());
        let items = format!("DELETE FROM cart_items WHERE cart_id IN ({list})");
        let carts = format!("DELETE FROM carts WHERE id IN ({list})");
        let mut delete_items = sqlx::query(&items);
        let mut delete_carts = sqlx::query(&carts);
        for id in &ids {
            delete_items = delete_items.bind(id.as_str());
            delete_carts = delete_carts.bind(id.as_str());
        }
        delete_items.execute(self.conn()).await?;
        let done = delete_carts.execute(self.conn()).await?;
        Ok(count(done.rows_affected()))
    }
}
