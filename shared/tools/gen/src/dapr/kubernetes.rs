//! The Kubernetes side of `dapr/`: the namespace, and per worker a ServiceAccount, a
//! Deployment, a Service and a NetworkPolicy; and the worker image's Dockerfile.
//!
//! Every worker runs in mode `all` in a cluster (production serves events and jobs from one
//! Deployment per service); the seeds' per-service defaults apply when the mode is not given.
//! The manifests pass `checkov --framework kubernetes`: every container (the init containers
//! too) runs as a non-root user above 10000 with a read-only root filesystem, no capability,
//! no privilege escalation and the runtime's default seccomp profile; no Kubernetes API token
//! is mounted (daprd gets its own projected token from the injector); the database URL and the
//! app token are files from Secrets, not environment values. The one check skipped (the image
//! digest) says why beside the Deployment.
//!
//! The sidecar calls the worker over `dapr.io/app-protocol` ([`Options::app_protocol`]); the
//! injector passes the annotation to the worker as `APP_PROTOCOL`, which `conveyor worker`
//! follows, so no environment entry of the worker's repeats it (one that did would outlive an
//! edit of the annotation).

use std::path::PathBuf;

use conveyor_runtime::Service;
use serde_json::{Value, json};

use super::{GenError, NAMESPACE, Options, Target, metadata, yaml_file};
use conveyor_dapr::AppProtocol;
use conveyor_dapr::Schedules;
use conveyor_dapr::config::DEFAULT_APP_PORT;

/// The worker image the Deployments run.
const IMAGE: &str = "conveyor-worker:0.1.0";
/// The image of the init containers that wait for Redis and PostgreSQL.
const WAIT_IMAGE: &str = "busybox:1.36";
/// The user and group every container runs as (checkov wants a uid above 10000, which also
/// keeps clear of the host's own users).
const UID: u32 = 10001;
/// Where the worker's secrets are mounted.
const SECRETS_DIR: &str = "/var/run/secrets/conveyor";
/// daprd's metrics port (`dapr.io/metrics-port`).
const DAPRD_METRICS_PORT: u16 = 9090;
/// Seconds the kubelet waits after SIGTERM; the worker's own shutdown timeout and daprd's
/// graceful shutdown both fit inside.
const GRACE_SECS: u64 = 45;
/// Seconds the worker waits for in-flight handlers.
const WORKER_SHUTDOWN_SECS: u64 = 25;
/// Seconds daprd waits for in-flight calls to the app on shutdown.
const DAPRD_SHUTDOWN_SECS: u64 = 30;
/// Why the image digest check is skipped, written beside each Deployment (checkov reads the
/// text after the first `=`, which must be the only one).
const SKIP_DIGEST: &str = "CKV_K8S_43=the worker image is built from this repository and pushed by whoever deploys it, so its digest does not exist when these files are generated; pin the worker and busybox images by digest at deploy time with kubectl set image (see dapr/README.md)";

/// A mounted secret: the Secret and key it comes from, the file it becomes, and the variable
/// that names the file for the worker.
struct SecretFile {
    secret: &'static str,
    key: &'static str,
    file: &'static str,
    variable: &'static str,
}

/// The secrets every worker reads, as files (never as environment values).
const SECRETS: [SecretFile; 2] = [
    SecretFile {
        secret: "conveyor-database",
        key: "url",
        file: "database-url",
        variable: "CONVEYOR_DATABASE_URL_FILE",
    },
    SecretFile {
        secret: "conveyor-app-token",
        key: "token",
        file: "app-api-token",
        variable: "APP_API_TOKEN_FILE",
    },
];

fn env(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}

fn labels(name: &str) -> Value {
    json!({
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": "conveyor",
        "app.kubernetes.io/component": "worker",
    })
}

fn named(name: &str) -> Value {
    let mut meta = metadata(name, Target::Kubernetes);
    meta["labels"] = labels(name);
    meta
}

/// The security context of every container, the init containers' as the worker's.
fn hardened() -> Value {
    json!({
        "allowPrivilegeEscalation": false,
        "capabilities": { "drop": ["ALL"] },
        "privileged": false,
        "readOnlyRootFilesystem": true,
        "runAsNonRoot": true,
        "runAsUser": UID,
        "runAsGroup": UID,
        "seccompProfile": { "type": "RuntimeDefault" },
    })
}

fn wait_for(name: &str, host: &str, port: u16) -> Value {
    json!({
        "name": format!("wait-for-{name}"),
        "image": WAIT_IMAGE,
        "imagePullPolicy": "Always",
        "command": [
            "sh", "-c",
            format!("until nc -z -w 2 {host} {port}; do echo waiting for {name} at {host}:{port}; sleep 2; done"),
        ],
        "resources": {
            "requests": { "cpu": "10m", "memory": "16Mi" },
            "limits": { "cpu": "50m", "memory": "32Mi" },
        },
        "securityContext": hardened(),
    })
}

fn worker_container(service: Service, options: &Options) -> Value {
    let port = DEFAULT_APP_PORT.to_string();
    let mut vars = vec![
        env("CONVEYOR_SERVICE", service.name()),
        env("CONVEYOR_WORKER_MODE", "all"),
        env("CONVEYOR_APP_HOST", "0.0.0.0"),
        env("CONVEYOR_APP_PORT", &port),
        env("CONVEYOR_LOG_FORMAT", "json"),
        env(
            "CONVEYOR_SHUTDOWN_TIMEOUT_SECS",
            &WORKER_SHUTDOWN_SECS.to_string(),
        ),
    ];
    if options.schedules != Schedules::default() {
        vars.push(env("CONVEYOR_SCHEDULES", options.schedules.name()));
    }
    if let Some(bulk) = options.bulk_subscribe {
        vars.push(env(
            "CONVEYOR_BULK_MAX_MESSAGES",
            &bulk.max_messages.to_string(),
        ));
        vars.push(env(
            "CONVEYOR_BULK_MAX_AWAIT_MS",
            &bulk.max_await_ms.to_string(),
        ));
    }
    vars.extend(
        SECRETS
            .iter()
            .map(|s| env(s.variable, &format!("{SECRETS_DIR}/{}", s.file))),
    );
    json!({
        "name": "worker",
        "image": IMAGE,
        "imagePullPolicy": "Always",
        "env": vars,
        "volumeMounts": [{ "name": "secrets", "mountPath": SECRETS_DIR, "readOnly": true }],
        "ports": [{ "name": "http", "containerPort": DEFAULT_APP_PORT }],
        "readinessProbe": { "httpGet": { "path": "/healthz", "port": "http" }, "periodSeconds": 5 },
        "livenessProbe": { "httpGet": { "path": "/healthz", "port": "http" }, "periodSeconds": 10, "failureThreshold": 6 },
        "resources": {
            "requests": { "cpu": "100m", "memory": "64Mi" },
            "limits": { "cpu": "1", "memory": "256Mi" },
        },
        "securityContext": hardened(),
    })
}

/// The secrets as one read-only volume: readable by the worker's group only.
fn secrets_volume() -> Value {
    let sources: Vec<Value> = SECRETS
        .iter()
        .map(|s| json!({ "secret": { "name": s.secret, "items": [{ "key": s.key, "path": s.file }] } }))
        .collect();
    // 0o440: owner root, group the pod's fsGroup (the worker's), nobody else.
    json!({ "name": "secrets", "projected": { "defaultMode": 0o440, "sources": sources } })
}

fn deployment(service: Service, options: &Options) -> Result<Value, GenError> {
    let app_id = service.app_id();
    let port = DEFAULT_APP_PORT.to_string();
    let (redis_host, redis_port) = options.redis_endpoint()?;
    // A service with ordered functions runs one replica, replaced (not overlapped) on rollout:
    // replicas sharing a consumer group would each order only their share of a key's events.
    let ordered = conveyor_catalog::of_service(service)
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
    let mut meta = named(app_id);
    meta["annotations"] = json!({ "checkov.io/skip1": SKIP_DIGEST });
    let mut annotations = json!({
        "dapr.io/enabled": "true",
        "dapr.io/app-id": app_id,
        "dapr.io/app-port": port,
        "dapr.io/app-protocol": options.app_protocol.name(),
        "dapr.io/app-token-secret": "conveyor-app-token",
        "dapr.io/enable-app-health-check": "true",
        "dapr.io/graceful-shutdown-seconds": DAPRD_SHUTDOWN_SECS.to_string(),
        "dapr.io/log-as-json": "true",
        "dapr.io/enable-metrics": "true",
        "dapr.io/metrics-port": DAPRD_METRICS_PORT.to_string(),
        "dapr.io/sidecar-cpu-request": "50m",
        "dapr.io/sidecar-memory-request": "64Mi",
        "dapr.io/sidecar-memory-limit": "256Mi",
        "prometheus.io/scrape": "true",
        "prometheus.io/port": port,
        "prometheus.io/path": "/metrics",
    });
    // Over gRPC daprd probes the app with AppCallbackHealthCheck; the path is HTTP's only.
    if options.app_protocol == AppProtocol::Http {
        annotations["dapr.io/app-health-check-path"] = json!("/healthz");
    }
    Ok(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 1,
            "selector": { "matchLabels": { "app.kubernetes.io/name": app_id } },
            "strategy": strategy,
            "template": {
                "metadata": {
                    "labels": labels(app_id),
                    "annotations": annotations,
                },
                "spec": {
                    "serviceAccountName": app_id,
                    "automountServiceAccountToken": false,
                    "terminationGracePeriodSeconds": GRACE_SECS,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": UID,
                        "runAsGroup": UID,
                        "fsGroup": UID,
                        "seccompProfile": { "type": "RuntimeDefault" },
                    },
                    "initContainers": [
                        wait_for("redis", redis_host, redis_port),
                        wait_for("postgres", "postgres", 5432),
                    ],
                    "containers": [worker_container(service, options)],
                    "volumes": [secrets_volume()],
                },
            },
        },
    }))
}

/// The worker's own identity: no role is bound to it and its token is never mounted.
fn service_account(service: Service) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": named(service.app_id()),
        "automountServiceAccountToken": false,
    })
}

/// The worker's own Service: its metrics and health for scrapers and `kubectl port-forward`
/// (daprd's callbacks stay on localhost; the injector adds the `<app-id>-dapr` Service).
fn service(service: Service) -> Value {
    let app_id = service.app_id();
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": named(app_id),
        "spec": {
            "selector": { "app.kubernetes.io/name": app_id },
            "ports": [{ "name": "http", "port": DEFAULT_APP_PORT, "targetPort": "http" }],
        },
    })
}

/// Only the worker's port (health, metrics) and daprd's metrics port are open, to pods of the
/// cluster; daprd's own ports stay closed (the worker uses neither service invocation nor
/// actors). Egress is left to the cluster: Redis, PostgreSQL and Dapr's control plane live
/// wherever the deployer put them.
fn network_policy(service: Service) -> Value {
    let app_id = service.app_id();
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": named(app_id),
        "spec": {
            "podSelector": { "matchLabels": { "app.kubernetes.io/name": app_id } },
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{ "namespaceSelector": {} }],
                "ports": [
                    { "protocol": "TCP", "port": DEFAULT_APP_PORT },
                    { "protocol": "TCP", "port": DAPRD_METRICS_PORT },
                ],
            }],
        },
    })
}

/// The namespace: pods must meet the baseline Pod Security Standard, and anything short of
/// the restricted one is reported (daprd's injected container is the deployer's to tune).
fn namespace() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": NAMESPACE,
            "labels": {
                "app.kubernetes.io/part-of": "conveyor",
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            },
        },
    })
}

const DOCKERFILE: &str = r#"# Generated from the function catalog by `conveyor gen dapr`; do not edit.
# The worker image: the `conveyor-worker` binary only (no emulator, dashboard, bench or
# generators). Build from the repository root:
#   docker build -f dapr/kubernetes/Dockerfile -t conveyor-worker:0.1.0 .
FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p conveyor-dapr --bin conveyor-worker

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/conveyor-worker /usr/local/bin/conveyor-worker
USER 10001:10001
ENV CONVEYOR_APP_HOST=0.0.0.0 CONVEYOR_LOG_FORMAT=json
EXPOSE 5005
ENTRYPOINT ["conveyor-worker"]
"#;

const DOCKERIGNORE: &str =
    "# Generated by `conveyor gen dapr`; do not edit.\n.git\n.conveyor\ntarget\n";

/// Adds `kubernetes/` and the run file `local/dapr.yaml` to `files`.
pub(super) fn render(files: &mut super::Files, options: &Options) -> Result<(), GenError> {
    files.insert(
        PathBuf::from("kubernetes/namespace.yaml"),
        yaml_file(&[namespace()])?,
    );
    for s in Service::ALL {
        let docs = [
            service_account(s),
            deployment(s, options)?,
            service(s),
            network_policy(s),
        ];
        files.insert(
            PathBuf::from(format!("kubernetes/{}.yaml", s.app_id())),
            yaml_file(&docs)?,
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
    files.insert(
        PathBuf::from("local/dapr.yaml"),
        yaml_file(&[super::local::run_file(options)])?,
    );
    Ok(())
}
