//! [`InventoryRepository`] on the store's transaction.

use conveyor_domain::warehouse::{AlertKind, AlertStatus, Inventory, InventoryRepository, Product};
use conveyor_domain::{ProductId, Quantity, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::sql_limit;
use crate::{StoreError, Tx};

const INVENTORY_COLUMNS: &str =
    "product_id, on_hand, reserved, low_stock_threshold, version, published_version, updated_at";

impl InventoryRepository for Tx {
    async fn insert_product(
        &mut self,
        product: &Product,
        inventory: &Inventory,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO products (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(product.id.as_str())
        .bind(&product.name)
        .bind(product.created_at.millis())
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(&format!(
            "INSERT INTO inventory ({INVENTORY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(inventory.product_id.as_str())
        .bind(inventory.on_hand.to_i64())
        .bind(inventory.reserved.to_i64())
        .bind(inventory.low_stock_threshold.to_i64())
        .bind(inventory.version)
        .bind(inventory.published_version)
        .bind(inventory.updated_at.millis())
        .execute(self.conn())
        .await?;
        Ok(true)
    }

    async fn product(&mut self, id: &ProductId) -> Result<Option<Product>, StoreError> {
        let row = sqlx::query("SELECT id, name, created_at FROM products WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(self.conn())
            .await?;
        row.map(|r| {
            Ok(Product {
                id: ProductId::parse(r.try_get::<String, _>("id")?)?,
                name: r.try_get("name")?,
                created_at: Timestamp::from_millis(r.try_get("created_at")?),
            })
        })
        .transpose()
    }

    async fn inventory_for_update(
        &mut self,
        id: &ProductId,
    ) -> Result<Option<Inventory>, StoreError> {
        let sql = format!(
            "SELECT {INVENTORY_COLUMNS} FROM inventory WHERE product_id = $1{}",
            self.backend().for_update()
        );
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(inventory_from_row).transpose()
    }

    async fn save_inventory(&mut self, inventory: &Inventory) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE inventory SET on_hand = $1, reserved = $2, low_stock_threshold = $3, version = $4, published_version = $5, updated_at = $6 WHERE product_id = $7",
        )
        .bind(inventory.on_hand.to_i64())
        .bind(inventory.reserved.to_i64())
        .bind(inventory.low_stock_threshold.to_i64())
        .bind(inventory.version)
        .bind(inventory.published_version)
        .bind(inventory.updated_at.millis())
        .bind(inventory.product_id.as_str())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    async fn claim_unpublished_inventory(
        &mut self,
        limit: usize,
    ) -> Result<Vec<Inventory>, StoreError> {
        let sql = format!(
            "SELECT {INVENTORY_COLUMNS} FROM inventory WHERE version <> published_version ORDER BY product_id LIMIT $1{}",
            self.backend().skip_locked()
        );
        claim(self, &sql, limit).await
    }

    async fn claim_low_stock_without_alert(
        &mut self,
        limit: usize,
    ) -> Result<Vec<Inventory>, StoreError> {
        let sql = format!(
            "SELECT {INVENTORY_COLUMNS} FROM inventory i \
             WHERE on_hand - reserved <= low_stock_threshold \
             AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.product_id = i.product_id AND a.kind = '{}' AND a.status = '{}') \
             ORDER BY product_id LIMIT $1{}",
            AlertKind::LowStock.as_str(),
            AlertStatus::Open.as_str(),
            self.backend().skip_locked()
        );
        claim(self, &sql, limit).await
    }
}

async fn claim(tx: &mut Tx, sql: &str, limit: usize) -> Result<Vec<Inventory>, StoreError> {
    let rows = sqlx::query(sql)
        .bind(sql_limit(limit))
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(inventory_from_row).collect()
}

fn inventory_from_row(row: &AnyRow) -> Result<Inventory, StoreError> {
    Ok(Inventory {
        product_id: ProductId::parse(row.try_get::<String, _>("product_id")?)?,
        on_hand: Quantity::from_i64(row.try_get("on_hand")?)?,
        reserved: Quantity::from_i64(row.try_get("reserved")?)?,
        low_stock_threshold: Quantity::from_i64(row.try_get("low_stock_threshold")?)?,
        version: row.try_get("version")?,
        published_version: row.try_get("published_version")?,
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}
