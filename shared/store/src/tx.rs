//! The transaction a handler works in: its state change, the inbox row and the outbox rows
//! commit together or not at all.

use sqlx::{Any, AnyConnection, Transaction};

use crate::{Backend, Store, StoreError};

/// An open transaction. Dropped without [`Tx::commit`], it rolls back.
#[derive(Debug)]
pub struct Tx {
    inner: Transaction<'static, Any>,
    backend: Backend,
}

impl Store {
    /// Begins a transaction.
    ///
    /// # Errors
    /// When no connection can be had.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(Tx {
            inner: self.pool().begin().await?,
            backend: self.backend(),
        })
    }
}

impl Tx {
    /// The connection, to run statements on: `query.execute(tx.conn())`.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }

    /// The backend, for the few statements that differ (row claims).
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Commits.
    ///
    /// # Errors
    /// The database error; nothing was committed.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.inner.commit().await?;
        Ok(())
    }

    /// Rolls back explicitly (dropping does the same, later).
    ///
    /// # Errors
    /// The database error.
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.inner.rollback().await?;
        Ok(())
    }
}
