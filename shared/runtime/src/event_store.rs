//! The event store's switch, read the same way by every host: `CONVEYOR_EVENT_STORE` (`true`,
//! the default, or `false`). Off, published events are not appended to the event store
//! ([`conveyor_store::events`]); the outbox and delivery are unchanged. Its retention is
//! [`crate::maintenance::Retention::events`].

/// Environment variable: `false` stops appending published events to the event store.
pub const EVENT_STORE: &str = "CONVEYOR_EVENT_STORE";

/// A switch value that is neither `true` nor `false`. Its `Debug` is its sentence too.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{EVENT_STORE} is {0:?}: set it to false to keep no event store, or true (the default)")]
pub struct SwitchError(String);

impl std::fmt::Debug for SwitchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Whether the event store is on, from [`EVENT_STORE`] as `lookup` finds it (unset or empty:
/// on).
///
/// # Errors
/// A value other than `true` or `false`.
pub fn enabled(lookup: impl Fn(&str) -> Option<String>) -> Result<bool, SwitchError> {
    match lookup(EVENT_STORE).as_deref().map(str::trim) {
        None | Some("" | "true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(SwitchError(other.to_owned())),
    }
}

/// [`enabled`] from the process's environment.
///
/// # Errors
/// As [`enabled`].
pub fn enabled_from_env() -> Result<bool, SwitchError> {
    enabled(|name| std::env::var(name).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_unless_switched_off_and_a_bad_value_is_named() {
        assert_eq!(enabled(|_| None), Ok(true));
        assert_eq!(enabled(|_| Some(" true ".to_owned())), Ok(true));
        assert_eq!(enabled(|_| Some("false".to_owned())), Ok(false));
        let e = enabled(|_| Some("off".to_owned())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "CONVEYOR_EVENT_STORE is \"off\": set it to false to keep no event store, or true (the default)"
        );
    }
}
