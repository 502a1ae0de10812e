//! What the event store costs: the payment flow on PostgreSQL (`order-payment-confirmed`, whose
//! handler publishes `orders.order.status_changed`, appended to the store in its transaction)
//! with the store on and off, measured in turn in one run (on, off, on, off, ...) so both see
//! the same machine, and the cost per pair of runs as the drop in events per second.

use super::flow::payment_flow;
use super::{Throughput, Transport, Tuning, spread};
use crate::emulator::Emulator;

/// The report's rows: each mode's events per second and worker CPU per event, then the cost.
///
/// # Errors
/// The first run that fails.
pub async fn compare(
    emulator: &dyn Emulator,
    transport: &Transport,
    admin_url: &str,
    events: u64,
    runs: usize,
) -> Result<Vec<String>, String> {
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        for (event_store, into) in [(true, &mut on), (false, &mut off)] {
            let tuning = Tuning {
                event_store,
                ..Tuning::default()
            };
            into.push(payment_flow(emulator, transport, admin_url, events, tuning).await?);
        }
    }
    Ok(rows(&on, &off))
}

fn row(name: &str, unit: &str, values: &mut [f64]) -> String {
    let (min, median, max) = spread(values);
    format!("| {name} | {min:.1} | {median:.1} | {max:.1} | {unit} |")
}

/// Rows of runs made in pairs (`on[i]` beside `off[i]`).
fn rows(on: &[Throughput], off: &[Throughput]) -> Vec<String> {
    let column = |runs: &[Throughput], f: fn(&Throughput) -> f64| -> Vec<f64> {
        runs.iter().map(f).collect()
    };
    let mut cost: Vec<f64> = on
        .iter()
        .zip(off)
        .map(|(on, off)| {
            if off.events_per_second > 0.0 {
                100.0 * (off.events_per_second - on.events_per_second) / off.events_per_second
            } else {
                0.0
            }
        })
        .collect();
    let name = "payment flow on PostgreSQL, event store";
    vec![
        row(
            &format!("{name} on: payment.confirmed handled"),
            "events/s",
            &mut column(on, |t| t.events_per_second),
        ),
        row(
            &format!("{name} off: payment.confirmed handled"),
            "events/s",
            &mut column(off, |t| t.events_per_second),
        ),
        row(
            &format!("{name} on: worker CPU per event"),
            "µs",
            &mut column(on, |t| t.cpu_us_per_event),
        ),
        row(
            &format!("{name} off: worker CPU per event"),
            "µs",
            &mut column(off, |t| t.cpu_us_per_event),
        ),
        row(
            "event store cost (events/s lost, per pair of runs)",
            "%",
            &mut cost,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(events_per_second: f64, cpu_us_per_event: f64) -> Throughput {
        Throughput {
            events_per_second,
            cpu_us_per_event,
            kernel_us_per_event: 0.0,
            peak_rss_mb: 0.0,
        }
    }

    #[test]
    fn the_cost_is_the_drop_of_each_pair() {
        let lines = rows(
            &[at(900.0, 110.0), at(800.0, 120.0), at(850.0, 115.0)],
            &[at(1000.0, 100.0), at(1000.0, 100.0), at(1000.0, 100.0)],
        );
        assert_eq!(lines.len(), 5);
        assert_eq!(
            lines[0],
            "| payment flow on PostgreSQL, event store on: payment.confirmed handled | 800.0 | 850.0 | 900.0 | events/s |"
        );
        assert_eq!(
            lines[4],
            "| event store cost (events/s lost, per pair of runs) | 10.0 | 15.0 | 20.0 | % |"
        );
    }
}
