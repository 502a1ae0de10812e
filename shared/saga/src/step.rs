//! A step of a saga: its command, the replies that settle it, its timeout and retry policy,
//! and the compensation that undoes it.

use std::time::Duration;

/// How often a command is sent before its step is given up, and how long to wait between sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Sends in total, the first included (at least 1).
    pub attempts: u32,
    /// Wait before the second send.
    pub backoff: Duration,
    /// Upper bound of the doubling wait.
    pub max_backoff: Duration,
}

impl Retry {
    /// Three sends, 1 s doubling up to 30 s.
    pub const DEFAULT: Self = Self {
        attempts: 3,
        backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(30),
    };

    /// One send, never repeated.
    pub const ONCE: Self = Self {
        attempts: 1,
        backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
    };

    /// The wait after send number `sent` (1 = after the first), doubling and capped.
    #[must_use]
    pub fn backoff_after(&self, sent: u32) -> Duration {
        let factor = 2u32.saturating_pow(sent.saturating_sub(1));
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// What undoes a completed step. By default a compensation is retried until it succeeds (with
/// the backoff of its [`Retry`], whose `attempts` is ignored): a saga must end fully
/// compensated, so its consumers must make compensations idempotent and able to succeed
/// eventually. With [`Compensation::gives_up_after`] it is sent at most that many times; then
/// the saga stops as [`SagaStatus::Failed`](crate::SagaStatus::Failed) until an operator
/// retries it (which grants it as many sends again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compensation {
    /// The topic of the compensating command.
    pub command: &'static str,
    /// Replies that say it was done.
    pub completed_by: &'static [&'static str],
    /// Replies that say it failed for now (it is sent again after the backoff).
    pub retried_on: &'static [&'static str],
    /// How long to wait for a reply before sending it again.
    pub timeout: Duration,
    /// The wait between sends.
    pub backoff: Retry,
    /// Sends after which the saga stops as failed instead of sending again (`None`: never).
    pub gives_up_after: Option<u32>,
}

impl Compensation {
    /// A compensation sending `command` and done on any of `completed_by`; 30 s timeout,
    /// default backoff, no failure replies.
    #[must_use]
    pub const fn new(command: &'static str, completed_by: &'static [&'static str]) -> Self {
        Self {
            command,
            completed_by,
            retried_on: &[],
            timeout: Duration::from_secs(30),
            backoff: Retry::DEFAULT,
            gives_up_after: None,
        }
    }

    /// Sends it at most `sends` times (at least 1), then stops the saga as failed.
    #[must_use]
    pub const fn gives_up_after(mut self, sends: u32) -> Self {
        self.gives_up_after = Some(if sends == 0 { 1 } else { sends });
        self
    }

    /// Replies that report a failure to retry.
    #[must_use]
    pub const fn retried_on(mut self, topics: &'static [&'static str]) -> Self {
        self.retried_on = topics;
        self
    }

    /// The reply timeout.
    #[must_use]
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The wait between sends.
    #[must_use]
    pub const fn backoff(mut self, backoff: Retry) -> Self {
        self.backoff = backoff;
        self
    }
}

/// One step: a command to a service and the replies that settle it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Short name, unique in the saga (`payment`, `inventory`, ...).
    pub name: &'static str,
    /// The topic of the command.
    pub command: &'static str,
    /// Replies that complete the step (the reply may carry an id the compensation needs).
    pub completed_by: &'static [&'static str],
    /// Replies that fail it for good: the saga compensates the steps before it.
    pub failed_by: &'static [&'static str],
    /// How long to wait for a reply to one send.
    pub timeout: Duration,
    /// How often the command is sent before the step is given up as timed out.
    pub retry: Retry,
    /// What undoes it; required of every step but the last.
    pub compensation: Option<Compensation>,
}

impl Step {
    /// A step sending `command`, completed by `completed_by`; 30 s timeout, default retry,
    /// no failure replies, no compensation.
    #[must_use]
    pub const fn new(
        name: &'static str,
        command: &'static str,
        completed_by: &'static [&'static str],
    ) -> Self {
        Self {
            name,
            command,
            completed_by,
            failed_by: &[],
            timeout: Duration::from_secs(30),
            retry: Retry::DEFAULT,
            compensation: None,
        }
    }

    /// Replies that fail the step.
    #[must_use]
    pub const fn failed_by(mut self, topics: &'static [&'static str]) -> Self {
        self.failed_by = topics;
        self
    }

    /// The reply timeout of one send.
    #[must_use]
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The retry policy.
    #[must_use]
    pub const fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// The compensation.
    #[must_use]
    pub const fn compensated_by(mut self, compensation: Compensation) -> Self {
        self.compensation = Some(compensation);
        self
    }
}
