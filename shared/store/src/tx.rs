//! The transaction a handler works in: its state change, the inbox row and the outbox rows
//! commit together or not at all.

use sqlx::{Any, AnyConnection, Transaction};

use crate::{Backend, Store, StoreError};

/// An open transaction. Dropped without [`Tx::commit`], it rolls back.
#[derive(Debug)]
pub struct Tx {
    inner: Transaction<'static, Any>,
    backend: Backend,
    event_store: bool,
}

impl Store {
    /// Begins a transaction.
    ///
    /// # Errors
    /// When no connection can be had. With a credential source, a refused connection reads the
    /// credentials again once first ([`crate::credentials`]).
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(Tx {
            inner: self.reauthenticating(|| self.pool().begin()).await?,
            backend: self.backend(),
            event_store: self.keeps_events(),
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

    /// Whether this transaction appends the events it stages to the event store.
    #[must_use]
    pub fn event_store(&self) -> bool {
        self.event_store
    }

    /// Marks a savepoint: a failing statement after it can be undone with
    /// [`Tx::rollback_to_savepoint`] and the transaction used on (PostgreSQL otherwise refuses
    /// every statement after an error). `name` is a plain SQL identifier.
    ///
    /// # Errors
    /// The database error.
    pub async fn savepoint(&mut self, name: &str) -> Result<(), StoreError> {
        let sql = format!("SAVEPOINT {name}");
        sqlx::query(&sql)
            .persistent(false)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Undoes everything since the savepoint `name` (which stays marked).
    ///
    /// # Errors
    /// The database error.
    pub async fn rollback_to_savepoint(&mut self, name: &str) -> Result<(), StoreError> {
        let sql = format!("ROLLBACK TO SAVEPOINT {name}");
        sqlx::query(&sql)
            .persistent(false)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Forgets the savepoint `name`, keeping what was done since.
    ///
    /// # Errors
    /// The database error.
    pub async fn release_savepoint(&mut self, name: &str) -> Result<(), StoreError> {
        let sql = format!("RELEASE SAVEPOINT {name}");
        sqlx::query(&sql)
            .persistent(false)
            .execute(self.conn())
            .await?;
        Ok(())
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
