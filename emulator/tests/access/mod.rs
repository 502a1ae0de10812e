//! Only its user drives the emulator: a page on another site or behind a rebound DNS name
//! cannot publish, invoke or redrive; a token, when set, is needed on every request, and the
//! operator commands send it; a non-loopback address needs a token or the explicit opt-out.

mod pages;
mod start;
mod token;

use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use conveyor_embedded::consumer::ConsumerSettings;
use conveyor_emulator::api::ApiState;
use conveyor_emulator::up::{self, Running, UpConfig};
use conveyor_runtime::Function;
use serde_json::Value;

use crate::functions::Flaky;

const PING: &str = r#"{"n": 1}"#;

/// An emulator running one topic function that counts its calls.
struct App {
    running: Running,
    state: ApiState,
    calls: Arc<AtomicU32>,
    dir: tempfile::TempDir,
}

async fn spawn_app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let functions: Vec<Arc<dyn Function>> = vec![conveyor_runtime::topic(Flaky {
        calls: Arc::clone(&calls),
        fail_first: 0,
    })];
    let running = up::start(UpConfig {
        database: format!("sqlite://{}", dir.path().join("access.db").display()),
        functions,
        consumer: ConsumerSettings {
            batch: 8,
            idle_poll: Duration::from_millis(20),
        },
        ..UpConfig::default()
    })
    .await
    .unwrap();
    let state = running.api_state();
    App {
        running,
        state,
        calls,
        dir,
    }
}

fn error(v: &Value) -> &str {
    v["error"].as_str().unwrap_or_default()
}
