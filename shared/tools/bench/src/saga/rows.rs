//! The saga scenario's rows in the report: each figure's spread over the runs.

use super::{EVERY, SagaRun, checkout_sagas, expected};
use crate::emulator::Emulator;
use crate::{Transport, spread};

/// The report's rows of `runs` runs of `sagas` checkouts each: sagas ended per second, worker
/// CPU per saga and its kernel part, peak RSS, and the sagas compensated (against the count the
/// mix calls for: more means steps timed out).
///
/// # Errors
/// The first run that fails.
pub async fn measure(
    emulator: &dyn Emulator,
    transport: &Transport,
    admin_url: &str,
    sagas: u64,
    runs: usize,
) -> Result<Vec<String>, String> {
    let mut all = Vec::new();
    for _ in 0..runs.max(1) {
        all.push(checkout_sagas(emulator, transport, admin_url, sagas).await?);
    }
    let on = match transport {
        Transport::Embedded => "embedded",
        Transport::Redis(_) | Transport::RedisTls(..) => "redis",
    };
    Ok(rows(
        &format!("checkout saga on PostgreSQL ({on})"),
        sagas,
        &all,
    ))
}

fn rows(name: &str, sagas: u64, runs: &[SagaRun]) -> Vec<String> {
    let column = |f: fn(&SagaRun) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
    let row = |what: &str, unit: &str, mut values: Vec<f64>| {
        let (min, median, max) = spread(&mut values);
        format!("| {name}: {what} | {min:.1} | {median:.1} | {max:.1} | {unit} |")
    };
    #[allow(clippy::cast_precision_loss)]
    let compensated = column(|r| r.compensated as f64);
    vec![
        row(
            &format!("{sagas} checkouts, sagas ended"),
            "sagas/s",
            column(|r| r.throughput.events_per_second),
        ),
        row(
            "worker CPU per saga",
            "µs",
            column(|r| r.throughput.cpu_us_per_event),
        ),
        row(
            "of which in the kernel",
            "µs",
            column(|r| r.throughput.kernel_us_per_event),
        ),
        row(
            "bench process RSS, peak",
            "MB",
            column(|r| r.throughput.peak_rss_mb),
        ),
        row(
            &format!(
                "sagas compensated (1 in {EVERY} declined, 1 in {EVERY} out of stock: {})",
                expected(sagas).1
            ),
            "sagas",
            compensated,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CpuTime, Throughput};

    #[test]
    fn the_rows_give_the_spread_of_the_runs() {
        let run = |per_second, compensated| SagaRun {
            throughput: Throughput::of(100, 100.0 / per_second, CpuTime::default(), 40.0),
            completed: 100 - compensated,
            compensated,
        };
        let lines = rows(
            "checkout saga on PostgreSQL (redis)",
            100,
            &[run(300.0, 20), run(100.0, 21), run(200.0, 20)],
        );
        assert_eq!(lines.len(), 5);
        assert_eq!(
            lines[0],
            "| checkout saga on PostgreSQL (redis): 100 checkouts, sagas ended | 100.0 | 200.0 | 300.0 | sagas/s |"
        );
        assert_eq!(
            lines[4],
            "| checkout saga on PostgreSQL (redis): sagas compensated (1 in 10 declined, 1 in 10 out of stock: 20) | 20.0 | 20.0 | 21.0 | sagas |"
        );
    }
}
