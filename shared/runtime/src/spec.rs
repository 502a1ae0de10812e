//! What a function is: its name, service, trigger and operational limits.

use std::time::Duration;

/// The services, each with its own tables and its own worker app id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// Orders, sessions, carts.
    Order,
    /// Fulfillments, picklists, packages.
    Fulfillment,
    /// Inventory, reservations, alerts, reports.
    Warehouse,
}

impl Service {
    /// Every service.
    pub const ALL: [Self; 3] = [Self::Order, Self::Fulfillment, Self::Warehouse];

    /// Short name (`order`), used in CLI flags.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Order => "order",
            Self::Fulfillment => "fulfillment",
            Self::Warehouse => "warehouse",
        }
    }

    /// The app id its events carry as CloudEvent `source` (and its Dapr app id).
    #[must_use]
    pub fn app_id(self) -> &'static str {
        match self {
            Self::Order => "order-worker",
            Self::Fulfillment => "fulfillment-worker",
            Self::Warehouse => "warehouse-worker",
        }
    }
}

/// What starts a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Events published to any of these topics.
    Topics(&'static [&'static str]),
    /// A 5-field Unix cron expression, in UTC.
    Schedule(&'static str),
}

/// How often and how patiently a failing event is retried before it goes to the DLQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Deliveries in total (first one included) before the event is dead-lettered.
    pub max_deliveries: u32,
    /// Delay before the second delivery.
    pub initial_backoff: Duration,
    /// Upper bound of the exponential delay.
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// Five deliveries, 200 ms doubling up to 10 s.
    pub const DEFAULT: Self = Self {
        max_deliveries: 5,
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(10),
    };

    /// The delay before delivery number `attempt + 1`, without jitter (hosts add their own).
    #[must_use]
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// A function's declaration. Its name is its crate, binary, Lambda, consumer group, Terraform
/// key and Dapr route: one string everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionSpec {
    /// kebab-case name.
    pub name: &'static str,
    /// Owning service.
    pub service: Service,
    /// Topic subscription or schedule.
    pub trigger: Trigger,
    /// Retry and dead-letter policy.
    pub retry: RetryPolicy,
    /// Longest a single invocation may take.
    pub timeout: Duration,
    /// Most invocations of this function in flight at once per host.
    pub concurrency: u32,
    /// Payload field whose value orders events (events of one key are handled in order).
    pub ordering_key: Option<&'static str>,
    /// Lambda memory size.
    pub memory_mb: u32,
    /// How duplicate deliveries are made harmless.
    pub idempotency: Idempotency,
}

/// How a function makes a duplicate delivery harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// The inbox: the event id is claimed in the same transaction as the effect (the default).
    Inbox,
    /// None needed: the function keeps no state (it touches no database), so a redelivery only
    /// repeats work. Its events are published directly, before the delivery is acknowledged.
    Stateless,
}

impl FunctionSpec {
    /// A topic consumer with default limits.
    #[must_use]
    pub const fn on_topics(
        name: &'static str,
        service: Service,
        topics: &'static [&'static str],
    ) -> Self {
        Self {
            name,
            service,
            trigger: Trigger::Topics(topics),
            retry: RetryPolicy::DEFAULT,
            timeout: Duration::from_secs(30),
            concurrency: 16,
            ordering_key: None,
            memory_mb: 128,
            idempotency: Idempotency::Inbox,
        }
    }

    /// A cron job with default limits (one run at a time; a failed run waits for the next tick
    /// or one retry on hosts that retry).
    #[must_use]
    pub const fn on_schedule(name: &'static str, service: Service, cron: &'static str) -> Self {
        Self {
            name,
            service,
            trigger: Trigger::Schedule(cron),
            retry: RetryPolicy {
                max_deliveries: 2,
                ..RetryPolicy::DEFAULT
            },
            timeout: Duration::from_secs(60),
            concurrency: 1,
            ordering_key: None,
            memory_mb: 128,
            idempotency: Idempotency::Inbox,
        }
    }

    /// Orders events by a payload field.
    #[must_use]
    pub const fn ordered_by(mut self, field: &'static str) -> Self {
        self.ordering_key = Some(field);
        self
    }

    /// Declares the function stateless: no transaction, no inbox (see [`Idempotency::Stateless`]).
    #[must_use]
    pub const fn stateless(mut self) -> Self {
        self.idempotency = Idempotency::Stateless;
        self
    }

    /// Overrides the retry policy.
    #[must_use]
    pub const fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Overrides the timeout.
    #[must_use]
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The topics, empty for a job.
    #[must_use]
    pub fn topics(&self) -> &'static [&'static str] {
        match self.trigger {
            Trigger::Topics(t) => t,
            Trigger::Schedule(_) => &[],
        }
    }

    /// The cron expression, for a job.
    #[must_use]
    pub fn schedule(&self) -> Option<&'static str> {
        match self.trigger {
            Trigger::Schedule(c) => Some(c),
            Trigger::Topics(_) => None,
        }
    }

    /// The dead-letter stream/topic/queue name.
    #[must_use]
    pub fn dlq_name(&self) -> String {
        format!("{}.dlq", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::DEFAULT;
        assert_eq!(p.backoff(1), Duration::from_millis(200));
        assert_eq!(p.backoff(2), Duration::from_millis(400));
        assert_eq!(p.backoff(3), Duration::from_millis(800));
        assert_eq!(p.backoff(30), Duration::from_secs(10));
    }

    #[test]
    fn builders_fill_the_spec() {
        const S: FunctionSpec =
            FunctionSpec::on_topics("f", Service::Order, &["a", "b"]).ordered_by("order_id");
        assert_eq!(S.topics(), &["a", "b"]);
        assert_eq!(S.schedule(), None);
        assert_eq!(S.ordering_key, Some("order_id"));
        assert_eq!(S.dlq_name(), "f.dlq");
        let j = FunctionSpec::on_schedule("j", Service::Warehouse, "*/5 * * * *");
        assert_eq!(j.schedule(), Some("*/5 * * * *"));
        assert!(j.topics().is_empty());
        assert_eq!(Service::Fulfillment.app_id(), "fulfillment-worker");
    }
}
