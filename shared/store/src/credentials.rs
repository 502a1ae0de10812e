//! Credentials that change while a process runs: a database password rotated in a secrets
//! store.
//!
//! # Where the new password is picked up
//! The pool opens connections lazily and again later (after an idle one is closed, or when
//! more are needed), so a rotation shows as a *new* connection refused with SQLSTATE `28P01`
//! (invalid password) or `28000` (invalid authorization); connections opened before the
//! rotation stay valid, since PostgreSQL checks a password only when a session starts. A store
//! given a [`CredentialSource`] ([`Store::with_credentials`]) reacts to that refusal in
//! [`Store::begin`], the door every handler, job and relay pass through: it reads the
//! credentials again once, replaces the pool's connect options
//! ([`sqlx::Pool::set_connect_options`]: the pool, its connections and its settings stay) and
//! tries once more. Concurrent refusals read the source once: the first takes the lock and
//! reads, the others find the generation moved on and retry with what it read. A refusal with
//! the credentials read again is reported as [`StoreError::CredentialsRefused`], transient, so
//! the delivery is retried rather than dropped while the secret is put right.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::any::AnyConnectOptions;

use crate::{Store, StoreError};

/// What [`CredentialSource::read`] returns: a database URL, or why it could not be read.
pub type ReadFuture<'a> =
    Pin<Box<dyn Future<Output = Result<String, Box<dyn StdError + Send + Sync>>> + Send + 'a>>;

/// Where a store reads its database URL again when the database refuses the one it has.
pub trait CredentialSource: Send + Sync + fmt::Debug {
    /// Where the credentials come from, for messages (never the credentials themselves).
    fn describe(&self) -> String;

    /// Reads the current database URL.
    fn read(&self) -> ReadFuture<'_>;
}

/// A store's credential source and how many times it was read since the store opened.
#[derive(Debug)]
pub(crate) struct Reauth {
    source: Arc<dyn CredentialSource>,
    generation: AtomicU64,
    reading: tokio::sync::Mutex<()>,
}

/// Whether `error` is the database refusing the connection's credentials.
#[must_use]
pub fn is_auth_failure(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e)
        if matches!(e.code().as_deref(), Some("28P01" | "28000")))
}

impl Store {
    /// This store, reading its credentials again from `source` once when the database refuses
    /// them (see the [module docs](self)).
    #[must_use]
    pub fn with_credentials(mut self, source: Arc<dyn CredentialSource>) -> Self {
        self.reauth = Some(Arc::new(Reauth {
            source,
            generation: AtomicU64::new(0),
            reading: tokio::sync::Mutex::new(()),
        }));
        self
    }

    /// How many times the credentials were read again (0 without a source).
    #[must_use]
    pub fn credential_reads(&self) -> u64 {
        self.reauth
            .as_ref()
            .map_or(0, |r| r.generation.load(Ordering::Acquire))
    }

    /// Runs `op`; if the database refuses the credentials and the store has a source, reads
    /// them again (once across concurrent callers) and runs `op` once more.
    pub(crate) async fn reauthenticating<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        let Some(reauth) = &self.reauth else {
            return Ok(op().await?);
        };
        let seen = reauth.generation.load(Ordering::Acquire);
        match op().await {
            Err(e) if is_auth_failure(&e) => {
                tracing::warn!(error = %e, from = %reauth.source.describe(),
                    "the database refused the credentials; reading them again");
                reauth.refresh(self, seen).await?;
                op().await.map_err(|cause| {
                    if is_auth_failure(&cause) {
                        StoreError::CredentialsRefused {
                            from: reauth.source.describe(),
                            cause,
                        }
                    } else {
                        cause.into()
                    }
                })
            }
            other => Ok(other?),
        }
    }
}

impl Reauth {
    /// Reads the credentials and swaps the pool's connect options, unless another caller did
    /// since generation `seen`.
    async fn refresh(&self, store: &Store, seen: u64) -> Result<(), StoreError> {
        let _reading = self.reading.lock().await;
        if self.generation.load(Ordering::Acquire) != seen {
            return Ok(());
        }
        let unavailable = |reason: String| StoreError::CredentialsUnavailable {
            from: self.source.describe(),
            reason,
        };
        let url = self
            .source
            .read()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        // The same check as at connect: a secret that names another backend is a bad secret,
        // and its text (which holds the password) is never repeated.
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(unavailable(
                "it is not a postgres:// URL, the database this store uses".to_owned(),
            ));
        }
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| unavailable(format!("its URL does not parse: {e}")))?;
        store.pool().set_connect_options(options);
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}
