//! The Redis no-op drain with several instances on one consumer group: 1, 2 and 4 emulators,
//! each with a consumer name of its own, started in this process over the same backlog (the
//! group spreads the entries over them). On one machine the sum cannot grow much beyond what
//! its cores give; the figure shows what the coordination (the heartbeat on held entries, the
//! reclaim checks) costs per event.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use conveyor_redis::RedisSettings;

use super::emulator::{Emulator, Running, Setup};
use super::{
    CpuTime, Recorder, Throughput, Transport, Tuning, clean_up, database, ping, prefill,
    redis_settings, wait_until,
};
use conveyor_embedded::consumer::ConsumerSettings;

/// The instance counts measured.
pub const COUNTS: [usize; 3] = [1, 2, 4];

/// Publishes a backlog of `events`, starts `instances` emulators on it and times the drain from
/// the moment all of them run until the last event is handled (at most 5 minutes), counting
/// only the events handled in that time (the first instances start while the others are
/// starting); the CPU figure is this process's (all the instances') over the same time.
///
/// # Errors
/// A start or publish failure, or the time limit.
pub async fn drain(
    emulator: &dyn Emulator,
    transport: &Transport,
    events: u64,
    instances: usize,
) -> Result<Throughput, String> {
    let tuning = Tuning::default();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let recorder = Arc::new(Recorder::until(events));
    let prefix = format!("bench-{}:", uuid::Uuid::new_v4().simple());
    let noop = [tuning.function(&Arc::new(Recorder::default()))];
    prefill(
        transport,
        &database(dir.path()),
        &prefix,
        &noop,
        events,
        |n| Ok(ping(n)),
    )
    .await?;
    let mut running: Vec<Box<dyn Running>> = Vec::with_capacity(instances);
    for i in 0..instances {
        let Some(settings) = redis_settings(transport, &prefix, tuning) else {
            return Err("the instances scenario runs on Redis".to_owned());
        };
        let setup = Setup {
            // A database each, as separate machines would have (the function is stateless).
            database: format!(
                "sqlite://{}",
                dir.path().join(format!("bench-{i}.db")).display()
            ),
            functions: vec![tuning.function(&recorder)],
            consumer: ConsumerSettings::default(),
            redis: Some(RedisSettings {
                instance: format!("{}-{i}", settings.instance),
                ..settings
            }),
            event_store: tuning.event_store,
        };
        match emulator.start(setup).await {
            Ok(r) => running.push(r),
            Err(e) => {
                for r in running {
                    r.shutdown().await;
                }
                clean_up(transport, &prefix).await;
                return Err(e);
            }
        }
    }
    let (cpu0, t0) = (CpuTime::now(), Instant::now());
    let before = recorder.handled.load(Ordering::Relaxed);
    let (done, peak_rss_mb) = wait_until(
        || recorder.handled.load(Ordering::Relaxed),
        events,
        Duration::from_secs(300),
        Some(&recorder.reached),
    )
    .await;
    let (elapsed, cpu) = (t0.elapsed().as_secs_f64(), CpuTime::now().since(cpu0));
    for r in running {
        r.shutdown().await;
    }
    clean_up(transport, &prefix).await;
    if !done {
        return Err(format!(
            "only {} of {events} handled in 5 minutes by {instances} instances",
            recorder.handled.load(Ordering::Relaxed)
        ));
    }
    Ok(Throughput::of(
        events.saturating_sub(before),
        elapsed,
        cpu,
        peak_rss_mb,
    ))
}
