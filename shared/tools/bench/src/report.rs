//! Runs every scenario several times and prints a Markdown report (machine, command, figures).
//! The plan's types are re-exported here, where the `conveyor` binary reaches them.

pub use super::plan::{BenchPlan, Scenario};

use super::emulator::Emulator;
use super::flow::{payment_flow, payment_flow_sqlite};
use super::lambda::{first_poll, locate};
use super::process::{redis_xadd_ceiling, startup};
use super::{Concurrency, Throughput, Transport, Tuning, latency, spread, throughput};

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    format!("{cores} cores, {cpu}")
}

fn row(name: &str, unit: &str, values: &mut [f64]) -> String {
    let (min, median, max) = spread(values);
    format!("| {name} | {min:.1} | {median:.1} | {max:.1} | {unit} |")
}

/// ` --only a,b` as typed on the command line (empty for all scenarios).
fn only_option(only: &[Scenario]) -> String {
    if only.is_empty() {
        return String::new();
    }
    let names: Vec<String> = only
        .iter()
        .filter_map(|s| clap::ValueEnum::to_possible_value(s).map(|v| v.get_name().to_owned()))
        .collect();
    format!(" --only {}", names.join(","))
}

/// Runs the plan and returns the report.
///
/// # Errors
/// The first scenario that fails.
pub async fn run(plan: &BenchPlan, emulator: &dyn Emulator) -> Result<String, String> {
    let mut lines = vec![
        format!("Machine: {}", machine()),
        format!(
            "Command: `conveyor bench --runs {} --events {} --latency-events {} --rate {}{}{}{}{}` ({} build)",
            plan.runs,
            plan.events,
            plan.latency_events,
            plan.rate,
            plan.redis
                .as_ref()
                .map(|r| format!(" --redis {r}"))
                .unwrap_or_default(),
            plan.postgres
                .as_ref()
                .map(|p| format!(
                    " --postgres {p} --flow-events {}{}",
                    plan.flow_events,
                    if plan.runs(Scenario::Saga) {
                        format!(" --sagas {}", plan.sagas)
                    } else {
                        String::new()
                    }
                ))
                .unwrap_or_default(),
            only_option(&plan.only),
            if plan.runs(Scenario::Lambda) {
                format!(" --lambda-dir {}", plan.lambda_dir.display())
            } else {
                String::new()
            },
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
        ),
        String::new(),
        "| scenario | min | median | max | unit |".to_owned(),
        "|---|---|---|---|---|".to_owned(),
    ];
    let mut transports = Vec::new();
    if plan.runs(Scenario::Embedded) {
        transports.push(("embedded", Transport::Embedded));
    }
    if let Some(url) = plan.redis.as_ref().filter(|_| plan.runs(Scenario::Redis)) {
        transports.push(("redis", Transport::Redis(url.clone())));
    }
    for (name, transport) in &transports {
        let (mut eps, mut cpu, mut rss) = (Vec::new(), Vec::new(), Vec::new());
        let mut kernel = Vec::new();
        let (mut p50, mut p99, mut dash_p99) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..plan.runs {
            let t = throughput(emulator, transport, plan.events, Tuning::default()).await?;
            eps.push(t.events_per_second);
            cpu.push(t.cpu_us_per_event);
            kernel.push(t.kernel_us_per_event);
            rss.push(t.peak_rss_mb);
            let l = latency(emulator, transport, plan.latency_events, plan.rate, false).await?;
            p50.push(l.p50_ms);
            p99.push(l.p99_ms);
            let d = latency(emulator, transport, plan.latency_events, plan.rate, true).await?;
            dash_p99.push(d.p99_ms);
        }
        lines.push(row(
            &format!("{name}: no-op throughput, draining a backlog"),
            "events/s",
            &mut eps,
        ));
        lines.push(row(
            &format!("{name}: worker CPU per event while draining"),
            "µs",
            &mut cpu,
        ));
        lines.push(row(
            &format!("{name}: of which in the kernel"),
            "µs",
            &mut kernel,
        ));
        lines.push(row(
            &format!("{name}: bench process RSS, peak while draining"),
            "MB",
            &mut rss,
        ));
        lines.push(row(
            &format!("{name}: publish -> handler p50 at {}/s", plan.rate),
            "ms",
            &mut p50,
        ));
        lines.push(row(
            &format!("{name}: publish -> handler p99 at {}/s", plan.rate),
            "ms",
            &mut p99,
        ));
        lines.push(row(
            &format!(
                "{name}: p99 at {}/s, dashboard events view loaded 10 times a second",
                plan.rate
            ),
            "ms",
            &mut dash_p99,
        ));
    }
    if let Some(admin) = plan.postgres.as_ref().filter(|_| plan.runs(Scenario::Flow)) {
        let transport = plan
            .redis
            .as_ref()
            .map_or(Transport::Embedded, |url| Transport::Redis(url.clone()));
        let name = if plan.redis.is_some() {
            "redis"
        } else {
            "embedded"
        };
        let mut runs = Vec::new();
        for _ in 0..plan.runs {
            runs.push(
                payment_flow(
                    emulator,
                    &transport,
                    admin,
                    plan.flow_events,
                    Tuning::default(),
                )
                .await?,
            );
        }
        lines.extend(flow_rows(
            &format!("payment flow on PostgreSQL ({name})"),
            &runs,
        ));
    }
    if let Some(admin) = plan
        .postgres
        .as_ref()
        .filter(|_| plan.runs(Scenario::EventStore))
    {
        let transport = plan
            .redis
            .as_ref()
            .map_or(Transport::Embedded, |url| Transport::Redis(url.clone()));
        lines.extend(
            super::store_cost::compare(emulator, &transport, admin, plan.flow_events, plan.runs)
                .await?,
        );
    }
    if plan.runs(Scenario::EmbeddedFlow) {
        let mut runs = Vec::new();
        for _ in 0..plan.runs {
            runs.push(payment_flow_sqlite(emulator, plan.flow_events, Tuning::default()).await?);
        }
        lines.extend(flow_rows(
            "payment flow on the embedded default (SQLite)",
            &runs,
        ));
    }
    if let Some(admin) = plan.postgres.as_ref().filter(|_| plan.runs(Scenario::Saga)) {
        let transport = plan
            .redis
            .as_ref()
            .map_or(Transport::Embedded, |url| Transport::Redis(url.clone()));
        lines.extend(
            super::saga::measure(emulator, &transport, admin, plan.sagas, plan.runs).await?,
        );
    }
    if plan.runs(Scenario::Startup) {
        let (mut ready, mut rss) = (Vec::new(), Vec::new());
        for _ in 0..plan.runs {
            let s = startup()?;
            ready.push(s.ready_ms);
            rss.push(s.idle_rss_mb);
        }
        let name = format!(
            "emulator ({} functions, embedded): spawn -> /healthz",
            conveyor_catalog::all().len()
        );
        lines.push(row(&name, "ms", &mut ready));
        lines.push(row("emulator idle RSS", "MB", &mut rss));
    }
    if let Some(url) = plan.redis.as_ref().filter(|_| plan.runs(Scenario::Ceiling)) {
        let (host, port) = host_port(url);
        let mut ceiling: Vec<f64> = (0..plan.runs)
            .filter_map(|_| redis_xadd_ceiling(&host, port))
            .collect();
        if !ceiling.is_empty() {
            lines.push(row(
                "ceiling: redis-benchmark XADD, pipeline 64",
                "requests/s",
                &mut ceiling,
            ));
        }
    }
    // Tables of their own, after the main one.
    if plan.runs(Scenario::Lambda) {
        lines.extend(lambda(plan)?);
    }
    if plan.runs(Scenario::Tls) {
        lines.extend(super::tls::compare(plan, emulator).await?);
    }
    if let Some(url) = plan
        .redis
        .as_ref()
        .filter(|_| plan.runs(Scenario::Instances))
    {
        lines.extend(instances(plan, emulator, &Transport::Redis(url.clone())).await?);
    }
    if plan.runs(Scenario::Dapr) {
        lines.extend(dapr_host(plan).await?);
    }
    if let Some(url) = plan.redis.as_ref().filter(|_| plan.runs(Scenario::Scaling)) {
        let transport = Transport::Redis(url.clone());
        lines.extend(scaling(plan, emulator, &transport).await?);
        if let Some(admin) = &plan.postgres {
            lines.extend(flow_scaling(plan, emulator, &transport, admin).await?);
        }
    }
    Ok(lines.join("\n"))
}

/// The Dapr host per function and delivery, as a table of its own: deliveries/s and the
/// worker's CPU per delivery (median, with the spread), the no-op over `--events` events and,
/// with `--postgres`, the payment flow over `--flow-events`.
async fn dapr_host(plan: &BenchPlan) -> Result<Vec<String>, String> {
    use super::dapr::{self, Delivery};
    let mut lines = vec![
        String::new(),
        "| Dapr host: function, delivery | deliveries/s (median) | worker CPU µs/delivery: min | median | max | of which kernel (median) |"
            .to_owned(),
        "|---|---|---|---|---|---|".to_owned(),
    ];
    let cell = |name: &str, runs: &[Throughput]| {
        let column = |f: fn(&Throughput) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
        let (_, eps, _) = spread(&mut column(|t| t.events_per_second));
        let (min, cpu, max) = spread(&mut column(|t| t.cpu_us_per_event));
        let (_, kernel, _) = spread(&mut column(|t| t.kernel_us_per_event));
        format!("| {name} | {eps:.0} | {min:.1} | {cpu:.1} | {max:.1} | {kernel:.1} |")
    };
    for delivery in Delivery::ALL {
        let mut runs = Vec::new();
        for _ in 0..plan.runs {
            runs.push(dapr::noop(delivery, plan.events).await?);
        }
        lines.push(cell(&format!("no-op, {}", delivery.label()), &runs));
    }
    if let Some(admin) = &plan.postgres {
        for delivery in Delivery::ALL {
            let mut runs = Vec::new();
            for _ in 0..plan.runs {
                runs.push(dapr::payment_flow(delivery, admin, plan.flow_events).await?);
            }
            lines.push(cell(
                &format!("payment flow on PostgreSQL, {}", delivery.label()),
                &runs,
            ));
        }
    } else {
        lines.push(String::new());
        lines.push("Dapr host: payment flow skipped, no --postgres given".to_owned());
    }
    Ok(lines)
}

/// The report's rows of a payment flow's runs.
fn flow_rows(name: &str, runs: &[Throughput]) -> Vec<String> {
    let column = |f: fn(&Throughput) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
    vec![
        row(
            &format!("{name}: payment.confirmed handled"),
            "events/s",
            &mut column(|t| t.events_per_second),
        ),
        row(
            &format!("{name}: worker CPU per event"),
            "µs",
            &mut column(|t| t.cpu_us_per_event),
        ),
        row(
            &format!("{name}: of which in the kernel"),
            "µs",
            &mut column(|t| t.kernel_us_per_event),
        ),
        row(
            &format!("{name}: bench process RSS, peak"),
            "MB",
            &mut column(|t| t.peak_rss_mb),
        ),
    ]
}

/// Runs `scenario` `runs` times: the medians of its events/s and worker CPU µs per event.
async fn medians<F, Fut>(runs: usize, mut scenario: F) -> Result<(f64, f64), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Throughput, String>>,
{
    let (mut eps, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = scenario().await?;
        eps.push(t.events_per_second);
        cpu.push(t.cpu_us_per_event);
    }
    Ok((spread(&mut eps).1, spread(&mut cpu).1))
}

/// The payment flow on Redis across transaction batch sizes (1: a transaction per event), as a
/// table of medians.
async fn flow_scaling(
    plan: &BenchPlan,
    emulator: &dyn Emulator,
    transport: &Transport,
    admin: &str,
) -> Result<Vec<String>, String> {
    let mut lines = vec![
        String::new(),
        "| payment flow: events per transaction | events/s (median) | worker CPU µs/event (median) |"
            .to_owned(),
        "|---|---|---|".to_owned(),
    ];
    for tx_batch in [1, 8, 32, 128] {
        let tuning = Tuning {
            tx_batch,
            ..Tuning::default()
        };
        let (eps, cpu) = medians(plan.runs, || {
            payment_flow(emulator, transport, admin, plan.flow_events, tuning)
        })
        .await?;
        lines.push(format!("| {tx_batch} | {eps:.0} | {cpu:.0} |"));
    }
    Ok(lines)
}

/// The no-op drain with 1, 2 and 4 instances on one consumer group, as a table of medians
/// (appended after the main table, so it starts with a blank line).
async fn instances(
    plan: &BenchPlan,
    emulator: &dyn Emulator,
    transport: &Transport,
) -> Result<Vec<String>, String> {
    let mut lines = vec![
        String::new(),
        "| instances on one group | events/s (median) | worker CPU µs/event (median, all instances) |"
            .to_owned(),
        "|---|---|---|".to_owned(),
    ];
    for count in super::instances::COUNTS {
        let (eps, cpu) = medians(plan.runs, || {
            super::instances::drain(emulator, transport, plan.events, count)
        })
        .await?;
        lines.push(format!("| {count} | {eps:.0} | {cpu:.1} |"));
    }
    Ok(lines)
}

/// Throughput of the no-op function across read batch sizes and concurrency limits, as a table
/// of medians (appended after the main table, so it starts with a blank line).
async fn scaling(
    plan: &BenchPlan,
    emulator: &dyn Emulator,
    transport: &Transport,
) -> Result<Vec<String>, String> {
    let mut lines = vec![
        String::new(),
        "| read batch | concurrency | events/s (median) | worker CPU µs/event (median) |"
            .to_owned(),
        "|---|---|---|---|".to_owned(),
    ];
    for batch in [10, 100, 500, 1000] {
        for concurrency in [Concurrency::Default, Concurrency::Wide] {
            let tuning = Tuning {
                batch,
                concurrency,
                ..Tuning::default()
            };
            let (eps, cpu) = medians(plan.runs, || {
                throughput(emulator, transport, plan.events, tuning)
            })
            .await?;
            lines.push(format!(
                "| {batch} | {} | {eps:.0} | {cpu:.1} |",
                concurrency.limit()
            ));
        }
    }
    Ok(lines)
}

/// The release Lambda binaries: size and spawn -> first poll per function, then the spread over
/// all of them. Skipped with a note when none is built, unless asked for by `--only lambda`.
fn lambda(plan: &BenchPlan) -> Result<Vec<String>, String> {
    let binaries = locate(&plan.lambda_dir);
    if binaries.is_empty() {
        let why = format!(
            "no release Lambda binaries in {}: build them with `cargo lambda build --release` \
             (or `cargo build --release` and `--lambda-dir target/release`)",
            plan.lambda_dir.display()
        );
        return if plan.only.contains(&Scenario::Lambda) {
            Err(why)
        } else {
            Ok(vec![String::new(), format!("Lambda: skipped, {why}")])
        };
    }
    let mut lines = vec![
        String::new(),
        format!(
            "Lambda binaries in {} ({} of {} functions)",
            plan.lambda_dir.display(),
            binaries.len(),
            conveyor_catalog::all().len()
        ),
        String::new(),
        "| function | size | spawn -> first Runtime API poll (median) |".to_owned(),
        "|---|---|---|".to_owned(),
    ];
    let (mut sizes, mut polls) = (Vec::new(), Vec::new());
    for binary in &binaries {
        let mut own = (0..plan.runs)
            .map(|_| first_poll(binary))
            .collect::<Result<Vec<f64>, String>>()?;
        polls.extend_from_slice(&own);
        #[allow(clippy::cast_precision_loss)]
        let mb = binary.bytes as f64 / (1024.0 * 1024.0);
        sizes.push(mb);
        let (_, median, _) = spread(&mut own);
        lines.push(format!("| {} | {mb:.1} MB | {median:.1} ms |", binary.name));
    }
    lines.push(String::new());
    lines.push("| all functions | min | median | max | unit |".to_owned());
    lines.push("|---|---|---|---|---|".to_owned());
    lines.push(row("binary size", "MB", &mut sizes));
    lines.push(row("spawn -> first Runtime API poll", "ms", &mut polls));
    Ok(lines)
}

fn host_port(url: &str) -> (String, u16) {
    let rest = url.trim_start_matches("redis://");
    let hostport = rest.split(['/', '?']).next().unwrap_or(rest);
    let hostport = hostport.rsplit('@').next().unwrap_or(hostport);
    match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_owned(), p.parse().unwrap_or(6379)),
        None => (hostport.to_owned(), 6379),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_names_scenarios_as_typed() {
        assert_eq!(
            super::only_option(&[super::Scenario::EmbeddedFlow, super::Scenario::EventStore]),
            " --only embedded-flow,event-store"
        );
        assert_eq!(super::only_option(&[]), "");
    }

    #[test]
    fn finds_host_and_port() {
        assert_eq!(
            super::host_port("redis://127.0.0.1:6380/0"),
            ("127.0.0.1".to_owned(), 6380)
        );
        assert_eq!(
            super::host_port("redis://localhost"),
            ("localhost".to_owned(), 6379)
        );
    }
}
