//! The Kubernetes side of `dapr/`: a Deployment and a Service per worker, the worker image's
//! Dockerfile, and the multi-app run file that starts the same three workers on a laptop.
//!
//! Every worker runs in mode `all` in a cluster (production serves events and jobs from one
//! Deployment per service); the seeds' per-service defaults apply when the mode is not given.

use std::path::PathBuf;

use conveyor_runtime::Service;
use serde_json::{Value, json};

use super::{GenError, yaml_file};
use crate::dapr::config::DEFAULT_APP_PORT;

/// The worker image the Deployments run.
pub(super) const IMAGE: &str = "conveyor-worker:0.1.0";
/// Seconds the kubelet waits after SIGTERM; the worker's own shutdown timeout and daprd's
/// graceful shutdown both fit inside.
const GRACE_SECS: u64 = 45;
/// Seconds the worker waits for in-flight handlers.
const WORKER_SHUTDOWN_SECS: u64 = 25;
/// Seconds daprd waits for in-flight calls to the app on shutdown.
const DAPRD_SHUTDOWN_SECS: u64 = 30;

fn env(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}

fn secret_env(name: &str, secret: &str, key: &str) -> Value {
    json!({ "name": name, "valueFrom": { "secretKeyRef": { "name": secret, "key": key } } })
}

fn wait_for(name: &str, host: &str, port: u16) -> Value {
    json!({
        "name": format!("wait-for-{name}"),
        "image": "busybox:1.36",
        "command": [
            "sh", "-c",
            format!("until nc -z -w 2 {host} {port}; do echo waiting for {name} at {host}:{port}; sleep 2; done"),
        ],
        "resources": {
            "requests": { "cpu": "10m", "memory": "16Mi" },
            "limits": { "memory": "32Mi" },
        },
        "securityContext": { "allowPrivilegeEscalation": false, "runAsNonRoot": true, "runAsUser": 10001 },
    })
}

fn labels(app_id: &str) -> Value {
    json!({
        "app.kubernetes.io/name": app_id,
        "app.kubernetes.io/part-of": "conveyor",
        "app.kubernetes.io/component": "worker",
    })
}

fn deployment(service: Service) -> Value {
    let app_id = service.app_id();
    let port = DEFAULT_APP_PORT.to_string();
    // A service with ordered functions runs one replica, replaced (not overlapped) on rollout:
    // replicas sharing a consumer group would each order only their share of a key's events.
    let ordered = crate::catalog::of_service(service)
        .iter()
        .any(|f| f.spec().ordering_key.is_some());
    let (replicas, strategy) = if ordered {
        (1, json!({ "type": "Recreate" }))
    } else {
        (
            2,
            json!({ "type": "RollingUpdate", "rollingUpdate": { "maxSurge": 1, "maxUnavailable": 0 } }),
        )
    };
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": app_id, "labels": labels(app_id) },
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 1,
            "selector": { "matchLabels": { "app.kubernetes.io/name": app_id } },
            "strategy": strategy,
            "template": {
                "metadata": {
                    "labels": labels(app_id),
                    "annotations": {
                        "dapr.io/enabled": "true",
                        "dapr.io/app-id": app_id,
                        "dapr.io/app-port": port,
                        "dapr.io/app-protocol": "http",
                        "dapr.io/app-token-secret": "conveyor-app-token",
                        "dapr.io/enable-app-health-check": "true",
                        "dapr.io/app-health-check-path": "/healthz",
                        "dapr.io/graceful-shutdown-seconds": DAPRD_SHUTDOWN_SECS.to_string(),
                        "dapr.io/log-as-json": "true",
                        "dapr.io/enable-metrics": "true",
                        "dapr.io/metrics-port": "9090",
                        "dapr.io/sidecar-cpu-request": "50m",
                        "dapr.io/sidecar-memory-request": "64Mi",
                        "dapr.io/sidecar-memory-limit": "256Mi",
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": port,
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "terminationGracePeriodSeconds": GRACE_SECS,
                    "securityContext": { "runAsNonRoot": true, "runAsUser": 10001, "runAsGroup": 10001 },
                    "initContainers": [
                        wait_for("redis", "redis-master", 6379),
                        wait_for("postgres", "postgres", 5432),
                    ],
                    "containers": [{
                        "name": "worker",
                        "image": IMAGE,
                        "imagePullPolicy": "IfNotPresent",
                        "args": ["worker"],
                        "env": [
                            env("CONVEYOR_SERVICE", service.name()),
                            env("CONVEYOR_WORKER_MODE", "all"),
                            env("CONVEYOR_APP_HOST", "0.0.0.0"),
                            env("CONVEYOR_APP_PORT", &port),
                            env("CONVEYOR_LOG_FORMAT", "json"),
                            env("CONVEYOR_SHUTDOWN_TIMEOUT_SECS", &WORKER_SHUTDOWN_SECS.to_string()),
                            secret_env("CONVEYOR_DATABASE_URL", "conveyor-database", "url"),
                            secret_env("APP_API_TOKEN", "conveyor-app-token", "token"),
                        ],
                        "ports": [{ "name": "http", "containerPort": DEFAULT_APP_PORT }],
                        "readinessProbe": { "httpGet": { "path": "/healthz", "port": "http" }, "periodSeconds": 5 },
                        "livenessProbe": { "httpGet": { "path": "/healthz", "port": "http" }, "periodSeconds": 10, "failureThreshold": 6 },
                        "resources": {
                            "requests": { "cpu": "100m", "memory": "64Mi" },
                            "limits": { "memory": "256Mi" },
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "readOnlyRootFilesystem": true,
                            "capabilities": { "drop": ["ALL"] },
                        },
                    }],
                },
            },
        },
    })
}

/// The worker's own Service: its metrics and health for scrapers and `kubectl port-forward`
/// (daprd's callbacks stay on localhost; the injector adds the `<app-id>-dapr` Service).
fn service(service: Service) -> Value {
    let app_id = service.app_id();
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": app_id, "labels": labels(app_id) },
        "spec": {
            "selector": { "app.kubernetes.io/name": app_id },
            "ports": [{ "name": "http", "port": DEFAULT_APP_PORT, "targetPort": "http" }],
        },
    })
}

const DOCKERFILE: &str = r#"# Generated from the function catalog by `conveyor gen dapr`; do not edit.
# The `conveyor` binary as a worker image. Build from the repository root:
#   docker build -f dapr/kubernetes/Dockerfile -t conveyor-worker:0.1.0 .
FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p conveyor-emulator --bin conveyor

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/conveyor /usr/local/bin/conveyor
USER 10001:10001
ENV CONVEYOR_APP_HOST=0.0.0.0 CONVEYOR_LOG_FORMAT=json
EXPOSE 5005
ENTRYPOINT ["conveyor"]
CMD ["worker"]
"#;

const DOCKERIGNORE: &str =
    "# Generated by `conveyor gen dapr`; do not edit.\n.git\n.conveyor\ntarget\n";

/// The multi-app run file: the three workers on one machine, each with its own app and
/// sidecar ports and its own SQLite file, against the Redis `dapr init` starts.
fn run_file() -> Value {
    let apps: Vec<Value> = Service::ALL
        .iter()
        .zip(0u16..)
        .map(|(service, i)| {
            let app_id = service.app_id();
            let app_port = DEFAULT_APP_PORT + i;
            json!({
                "appID": app_id,
                "appDirPath": "../..",
                "appPort": app_port,
                "daprHTTPPort": 3500 + i,
                "daprGRPCPort": 50001 + i,
                "metricsPort": 9090 + i,
                "appHealthCheckPath": "/healthz",
                "enableAppHealthCheck": true,
                "command": ["./target/debug/conveyor", "worker", "--service", service.name(), "--mode", "all"],
                "env": {
                    "CONVEYOR_APP_PORT": app_port.to_string(),
                    "CONVEYOR_DATABASE_URL": format!("sqlite://.conveyor/{app_id}.db"),
                },
            })
        })
        .collect();
    json!({
        "version": 1,
        "common": { "resourcesPath": "./resources", "logLevel": "info" },
        "apps": apps,
    })
}

/// Adds `kubernetes/` and `local/dapr.yaml` to `files`.
pub(super) fn render(files: &mut super::Files) -> Result<(), GenError> {
    for s in Service::ALL {
        files.insert(
            PathBuf::from(format!("kubernetes/{}.yaml", s.app_id())),
            yaml_file(&[deployment(s), service(s)])?,
        );
    }
    files.insert(
        PathBuf::from("kubernetes/Dockerfile"),
        DOCKERFILE.to_owned(),
    );
    files.insert(
        PathBuf::from("kubernetes/Dockerfile.dockerignore"),
        DOCKERIGNORE.to_owned(),
    );
    files.insert(PathBuf::from("local/dapr.yaml"), yaml_file(&[run_file()])?);
    Ok(())
}
