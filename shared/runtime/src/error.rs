//! The one classification every host maps: retry later, or drop to the dead-letter queue.

use std::error::Error as StdError;
use std::fmt;

use conveyor_domain::events::ValidationError;
use conveyor_store::StoreError;

use crate::cloudevent::DecodeError;

/// A boxed error with its cause chain.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A handler's failure, classified once.
#[derive(Debug)]
pub enum HandlerError {
    /// Transient (database down, referenced entity not there yet): retry with backoff, then
    /// dead-letter after the function's maximum deliveries.
    Retry(BoxError),
    /// Poison (undecodable, invalid, impossible): dead-letter at once, never retried.
    Drop(BoxError),
}

impl HandlerError {
    /// A transient failure.
    pub fn retry(e: impl Into<BoxError>) -> Self {
        Self::Retry(e.into())
    }

    /// A permanent failure.
    pub fn drop(e: impl Into<BoxError>) -> Self {
        Self::Drop(e.into())
    }

    /// Whether this is [`HandlerError::Retry`].
    #[must_use]
    pub fn is_retry(&self) -> bool {
        matches!(self, Self::Retry(_))
    }

    /// Stable name of the class: `Retry` or `Drop` (used as Lambda `errorType`, DLQ metadata).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Retry(_) => "Retry",
            Self::Drop(_) => "Drop",
        }
    }

    /// The error and its causes, `: `-separated.
    #[must_use]
    pub fn chain(&self) -> String {
        let (Self::Retry(e) | Self::Drop(e)) = self;
        let mut text = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            let part = s.to_string();
            if !text.contains(&part) {
                text.push_str(": ");
                text.push_str(&part);
            }
            source = s.source();
        }
        text
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind(), self.chain())
    }
}

impl StdError for HandlerError {}

impl From<StoreError> for HandlerError {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            Self::retry(e)
        } else {
            Self::drop(e)
        }
    }
}

impl From<conveyor_domain::fulfillment::LoadShipmentError<StoreError>> for HandlerError {
    fn from(e: conveyor_domain::fulfillment::LoadShipmentError<StoreError>) -> Self {
        use conveyor_domain::fulfillment::LoadShipmentError;
        match e {
            LoadShipmentError::Store(e) => e.into(),
            missing @ LoadShipmentError::MissingPicklist(_) => Self::drop(missing),
        }
    }
}

impl From<DecodeError> for HandlerError {
    fn from(e: DecodeError) -> Self {
        Self::drop(e)
    }
}

impl From<ValidationError> for HandlerError {
    fn from(e: ValidationError) -> Self {
        Self::drop(e)
    }
}

/// What a caught panic said (its `&str` or `String` message), for the error or the log line.
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_store_decode_and_validation_errors() {
        let io = StoreError::Database(sqlx_io());
        assert!(HandlerError::from(io).is_retry());
        assert!(!HandlerError::from(StoreError::corrupt("t", "bad")).is_retry());
        assert!(!HandlerError::from(ValidationError::new("x")).is_retry());
        let e = HandlerError::drop(ValidationError::new("amount -1 is negative"));
        assert_eq!(
            e.to_string(),
            "Drop: invalid payload: amount -1 is negative"
        );
    }

    fn sqlx_io() -> conveyor_store::sqlx::Error {
        conveyor_store::sqlx::Error::PoolTimedOut
    }
}
