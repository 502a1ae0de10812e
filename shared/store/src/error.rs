//! Store errors.

use conveyor_domain::{IdError, QuantityError, UnknownState};

/// Anything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database rejected or could not run a statement, or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        /// Migration number.
        version: i64,
        /// Migration file.
        name: &'static str,
        /// Cause.
        #[source]
        source: sqlx::Error,
    },
    /// The URL names no supported backend.
    #[error("unsupported database url {0:?}: use postgres://... or sqlite:...")]
    UnsupportedUrl(String),
    /// A stored row does not decode into the domain type (corrupt or foreign data).
    #[error("corrupt row in {table}: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What did not decode.
        reason: String,
    },
}

impl StoreError {
    /// A row that does not decode.
    pub fn corrupt(table: &'static str, reason: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            table,
            reason: reason.to_string(),
        }
    }

    /// Whether retrying later may succeed (connection trouble, lock timeouts, serialization
    /// failures) as opposed to a bug or corrupt data.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Database(e) => !matches!(
                e,
                sqlx::Error::ColumnDecode { .. }
                    | sqlx::Error::ColumnNotFound(_)
                    | sqlx::Error::Decode(_)
                    | sqlx::Error::TypeNotFound { .. }
            ),
            Self::Migration { .. } | Self::UnsupportedUrl(_) | Self::Corrupt { .. } => false,
        }
    }
}

macro_rules! corrupt_from {
    ($($err:ty),+) => {$(
        impl From<$err> for StoreError {
            fn from(e: $err) -> Self {
                Self::Corrupt { table: "row", reason: e.to_string() }
            }
        }
    )+};
}
corrupt_from!(IdError, QuantityError, UnknownState, serde_json::Error);
