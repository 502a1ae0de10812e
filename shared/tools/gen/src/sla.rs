//! The platform's SLA alert thresholds (its event-workflow specification, "Targets, SLAs and
//! alert thresholds"), shared by the alerts both deployments get: the Prometheus rules of
//! `dapr/` ([`crate::dapr::alerts`]) and the CloudWatch alarms of `infra/terraform`
//! ([`crate::terraform`]).

/// Event lag (or age of the oldest queued message) above which an alert fires, in seconds;
/// the target is under 1 s.
pub const EVENT_LAG_SECONDS: u64 = 10;
/// Dead letters per function above which an alert fires; the target is under 100.
pub const DLQ_DEPTH: u64 = 500;
/// Processing p95 target, in seconds.
pub const PROCESSING_P95_SECONDS: f64 = 0.1;
/// Publishing p95 target, in seconds.
pub const PUBLISHING_P95_SECONDS: f64 = 0.01;
/// Delivery success target: deliveries that are not dead-lettered.
pub const DELIVERY_SUCCESS: f64 = 0.999;
/// Processing success target: deliveries handled, neither retried nor dead-lettered.
pub const PROCESSING_SUCCESS: f64 = 0.995;
