//! The function catalog: every function of the platform, in one place. Hosts (the emulator, the
//! Dapr worker), generators (Terraform, dapr/, events/) and tests all read this list.

use std::sync::Arc;

use conveyor_runtime::{Function, FunctionSpec, Service};

/// Every function, in a stable order (order, fulfillment, warehouse; topics before jobs).
#[must_use]
pub fn all() -> Vec<Arc<dyn Function>> {
    vec![
        order_payment_confirmed::function(),
        order_payment_failed::function(),
        order_compensation::function(),
        notification_dispatch::function(),
        order_checkout_saga::function(),
        order_checkout_confirmation::function(),
        order_checkout_finished::function(),
        order_session_cleanup::function(),
        order_cart_cleanup::function(),
        order_order_cleanup::function(),
        order_reservation_cleanup::function(),
        order_cod_auto_confirm::function(),
        conveyor_maintenance::function(),
        fulfillment_order_status_changed::function(),
        fulfillment_picklist_status_changed::function(),
        fulfillment_checkout_fulfillment::function(),
        warehouse_order_status_changed::function(),
        warehouse_product_created::function(),
        warehouse_fulfillment_status_changed::function(),
        warehouse_return_completed::function(),
        warehouse_checkout_inventory::function(),
        warehouse_stock_change_detector::function(),
        warehouse_alert_cleanup::function(),
        warehouse_daily_summary::function(),
        warehouse_weekly_report::function(),
        warehouse_reservation_expiry::function(),
        warehouse_reservation_warning::function(),
    ]
}

/// The specs of [`all`].
#[must_use]
pub fn specs() -> Vec<FunctionSpec> {
    all().iter().map(|f| f.spec()).collect()
}

/// One function by name.
#[must_use]
pub fn find(name: &str) -> Option<Arc<dyn Function>> {
    all().into_iter().find(|f| f.spec().name == name)
}

/// The functions subscribed to `topic`.
#[must_use]
pub fn subscribers(topic: &str) -> Vec<Arc<dyn Function>> {
    all()
        .into_iter()
        .filter(|f| f.spec().topics().contains(&topic))
        .collect()
}

/// The functions of one service.
#[must_use]
pub fn of_service(service: Service) -> Vec<Arc<dyn Function>> {
    all()
        .into_iter()
        .filter(|f| f.spec().service == service)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use conveyor_runtime::cron::Schedule;

    use super::*;

    #[test]
    fn names_are_unique_kebab_case_and_prefixed_by_their_service() {
        let specs = specs();
        assert_eq!(specs.len(), 27);
        let names: BTreeSet<&str> = specs.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), specs.len(), "duplicate function names");
        for s in &specs {
            assert!(
                s.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                s.name
            );
            // notification-dispatch keeps the name the product gives it; the order service,
            // which knows each order's customer, runs it. conveyor-maintenance prunes the
            // runtime's tables, no service's; the order service's worker runs it.
            let prefix = match s.name {
                "notification-dispatch" => "notification-".to_owned(),
                "conveyor-maintenance" => "conveyor-".to_owned(),
                _ => format!("{}-", s.service.name()),
            };
            assert!(
                s.name.starts_with(&prefix),
                "{} is not prefixed by {prefix}",
                s.name,
            );
        }
    }

    #[test]
    fn every_topic_is_known_and_every_schedule_translates() {
        for s in specs() {
            for topic in s.topics() {
                assert!(
                    conveyor_domain::events::ALL_TOPICS.contains(topic),
                    "{} subscribes to unknown {topic}",
                    s.name
                );
            }
            if let Some(cron) = s.schedule() {
                let schedule = Schedule::parse(cron).unwrap_or_else(|e| panic!("{}: {e}", s.name));
                schedule
                    .to_eventbridge()
                    .unwrap_or_else(|e| panic!("{}: {e}", s.name));
            }
        }
    }

    /// Every job's schedule and its EventBridge and Dapr translations, job by job.
    #[test]
    fn job_schedules_and_their_eventbridge_and_dapr_forms() {
        let expected = [
            (
                "order-session-cleanup",
                "0 * * * *",
                "cron(0 * * * ? *)",
                "CRON_TZ=UTC 0 0 * * * *",
            ),
            (
                "order-cart-cleanup",
                "0 * * * *",
                "cron(0 * * * ? *)",
                "CRON_TZ=UTC 0 0 * * * *",
            ),
            (
                "order-order-cleanup",
                "0 * * * *",
                "cron(0 * * * ? *)",
                "CRON_TZ=UTC 0 0 * * * *",
            ),
            (
                "order-reservation-cleanup",
                "*/30 * * * *",
                "cron(*/30 * * * ? *)",
                "CRON_TZ=UTC 0 */30 * * * *",
            ),
            (
                "order-cod-auto-confirm",
                "*/5 * * * *",
                "cron(*/5 * * * ? *)",
                "CRON_TZ=UTC 0 */5 * * * *",
            ),
            (
                "conveyor-maintenance",
                "*/5 * * * *",
                "cron(*/5 * * * ? *)",
                "CRON_TZ=UTC 0 */5 * * * *",
            ),
            (
                "warehouse-stock-change-detector",
                "*/5 * * * *",
                "cron(*/5 * * * ? *)",
                "CRON_TZ=UTC 0 */5 * * * *",
            ),
            (
                "warehouse-alert-cleanup",
                "0 3 * * *",
                "cron(0 3 * * ? *)",
                "CRON_TZ=UTC 0 0 3 * * *",
            ),
            (
                "warehouse-daily-summary",
                "5 0 * * *",
                "cron(5 0 * * ? *)",
                "CRON_TZ=UTC 0 5 0 * * *",
            ),
            (
                "warehouse-weekly-report",
                "15 0 * * 1",
                "cron(15 0 ? * MON *)",
                "CRON_TZ=UTC 0 15 0 * * 1",
            ),
            (
                "warehouse-reservation-expiry",
                "* * * * *",
                "cron(* * * * ? *)",
                "CRON_TZ=UTC 0 * * * * *",
            ),
            (
                "warehouse-reservation-warning",
                "*/5 * * * *",
                "cron(*/5 * * * ? *)",
                "CRON_TZ=UTC 0 */5 * * * *",
            ),
        ];
        let jobs: Vec<FunctionSpec> = specs()
            .into_iter()
            .filter(|s| s.schedule().is_some())
            .collect();
        assert_eq!(jobs.len(), expected.len());
        for (name, cron, eventbridge, dapr) in expected {
            let spec = jobs
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("no job {name}"));
            assert_eq!(spec.schedule(), Some(cron), "{name}");
            let schedule = Schedule::parse(cron).unwrap();
            assert_eq!(schedule.to_eventbridge().unwrap(), eventbridge, "{name}");
            assert_eq!(schedule.to_dapr(), dapr, "{name}");
        }
    }
}
