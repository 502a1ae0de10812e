//! A circuit breaker for the sidecar publisher: after `threshold` consecutive failures it opens
//! for `open_for`, rejecting publishes at once (the events stay in the outbox); then it lets
//! exactly one trial through (half-open). A successful trial closes it, a failed one opens it
//! again. Times are passed in, so the state machine is tested without waiting.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use conveyor_transport::metrics::CircuitState;

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Publishing; `failures` consecutive failures so far.
    Closed {
        /// Consecutive failures.
        failures: u32,
    },
    /// Rejecting until `until`.
    Open {
        /// When a trial may go through.
        until: Instant,
    },
    /// One trial is in flight; everything else is rejected until it reports.
    HalfOpen,
}

impl From<State> for CircuitState {
    fn from(state: State) -> Self {
        match state {
            State::Closed { .. } => Self::Closed,
            State::Open { .. } => Self::Open,
            State::HalfOpen => Self::HalfOpen,
        }
    }
}

/// Whether a publish may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Go ahead (circuit closed).
    Granted,
    /// Go ahead as the one trial (circuit half-open).
    Trial,
    /// Do not publish; retry after about this long.
    Rejected(Duration),
}

/// A thread-safe circuit breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    open_for: Duration,
    state: Mutex<State>,
}

impl CircuitBreaker {
    /// A closed breaker that opens after `threshold` consecutive failures (at least 1).
    #[must_use]
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            open_for,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> State {
        *self.lock()
    }

    /// Asks to publish at `now`.
    pub fn permit(&self, now: Instant) -> Permit {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Permit::Granted,
            State::Open { until } if now >= until => {
                *state = State::HalfOpen;
                Permit::Trial
            }
            State::Open { until } => Permit::Rejected(until - now),
            State::HalfOpen => Permit::Rejected(self.open_for),
        }
    }

    /// Reports a publish that succeeded: the circuit closes.
    pub fn success(&self) {
        *self.lock() = State::Closed { failures: 0 };
    }

    /// Reports a publish that failed at `now`. Returns `true` when this failure opened the
    /// circuit.
    pub fn failure(&self, now: Instant) -> bool {
        let mut state = self.lock();
        let open = State::Open {
            until: now + self.open_for,
        };
        match *state {
            State::Closed { failures } if failures + 1 >= self.threshold => {
                *state = open;
                true
            }
            State::Closed { failures } => {
                *state = State::Closed {
                    failures: failures + 1,
                };
                false
            }
            State::HalfOpen => {
                *state = open;
                true
            }
            // A publish that started before the circuit opened: it stays open as it is.
            State::Open { .. } => false,
        }
    }

    /// Whether publishes are being rejected.
    #[must_use]
    pub fn is_open(&self) -> bool {
        !matches!(self.state(), State::Closed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_then_lets_one_trial_through() {
        let b = CircuitBreaker::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(b.permit(t0), Permit::Granted);
        assert!(!b.failure(t0));
        assert!(!b.failure(t0));
        assert_eq!(b.permit(t0), Permit::Granted);
        assert!(b.failure(t0), "third failure opens");
        assert_eq!(CircuitState::from(b.state()), CircuitState::Open);
        assert_eq!(
            b.permit(t0 + Duration::from_secs(10)),
            Permit::Rejected(Duration::from_secs(50))
        );
        let later = t0 + Duration::from_secs(60);
        assert_eq!(b.permit(later), Permit::Trial);
        assert!(
            matches!(b.permit(later), Permit::Rejected(_)),
            "one trial only"
        );
        assert!(b.failure(later), "a failed trial opens again");
        assert!(matches!(b.permit(later), Permit::Rejected(_)));
        let again = later + Duration::from_secs(60);
        assert_eq!(b.permit(again), Permit::Trial);
        assert_eq!(CircuitState::from(b.state()), CircuitState::HalfOpen);
        b.success();
        assert_eq!(b.state(), State::Closed { failures: 0 });
        assert_eq!(CircuitState::from(b.state()), CircuitState::Closed);
        assert_eq!(b.permit(again), Permit::Granted);
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = CircuitBreaker::new(3, Duration::from_secs(1));
        let t = Instant::now();
        b.failure(t);
        b.failure(t);
        b.success();
        b.failure(t);
        b.failure(t);
        assert!(!b.is_open());
        assert!(b.failure(t));
        assert!(b.is_open());
    }
}
