//! The multi-app run file (`dapr run -f dapr/local/dapr.yaml`): the three workers on one
//! machine, each with its own app and sidecar ports and its own SQLite file, against the plain
//! Redis `dapr init` starts. Secrets are not needed there, so none are mounted or read.
//!
//! With `--app-protocol grpc` each app says `appProtocol: grpc` and its worker gets
//! `APP_PROTOCOL=grpc` (no injector runs here to pass it on).

use conveyor_dapr::AppProtocol;
use conveyor_runtime::Service;
use serde_json::{Value, json};

use conveyor_dapr::Schedules;
use conveyor_dapr::config::DEFAULT_APP_PORT;

use super::Options;

/// The run file's only document, its sidecars calling the workers over the options' app
/// protocol and its workers told how the jobs are fired.
pub(super) fn run_file(options: &Options) -> Value {
    let apps: Vec<Value> = Service::ALL
        .iter()
        .zip(0u16..)
        .map(|(service, i)| {
            let app_id = service.app_id();
            let app_port = DEFAULT_APP_PORT + i;
            let mut env = json!({
                "CONVEYOR_APP_PORT": app_port.to_string(),
                "CONVEYOR_DATABASE_URL": format!("sqlite://.conveyor/{app_id}.db"),
            });
            if options.schedules != Schedules::default() {
                env["CONVEYOR_SCHEDULES"] = json!(options.schedules.name());
            }
            if let Some(bulk) = options.bulk_subscribe {
                env["CONVEYOR_BULK_MAX_MESSAGES"] = json!(bulk.max_messages.to_string());
                env["CONVEYOR_BULK_MAX_AWAIT_MS"] = json!(bulk.max_await_ms.to_string());
            }
            let protocol = options.app_protocol;
            if protocol == AppProtocol::Grpc {
                env["APP_PROTOCOL"] = json!(protocol.name());
            }
            let mut app = json!({
                "appID": app_id,
                "appDirPath": "../..",
                "appPort": app_port,
                "daprHTTPPort": 3500 + i,
                "daprGRPCPort": 50001 + i,
                "metricsPort": 9090 + i,
                "appHealthCheckPath": "/healthz",
                "enableAppHealthCheck": true,
                "command": ["./target/debug/conveyor", "worker", "--service", service.name(), "--mode", "all"],
                "env": env,
            });
            if protocol == AppProtocol::Grpc {
                // daprd probes a gRPC app with its health check service, not a path.
                app["appProtocol"] = json!(protocol.name());
                if let Some(app) = app.as_object_mut() {
                    app.remove("appHealthCheckPath");
                }
            }
            app
        })
        .collect();
    json!({
        "version": 1,
        "common": { "resourcesPath": "./resources", "logLevel": "info" },
        "apps": apps,
    })
}
