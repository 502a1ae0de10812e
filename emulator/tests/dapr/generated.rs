//! `dapr/`: the checked-in files equal what the generator renders, every YAML file parses, and
//! they name only functions, topics and app ids of the catalog, covering all of them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use conveyor_catalog as catalog;
use conveyor_gen::dapr::{self, Options};
use conveyor_runtime::cron::Schedule;
use conveyor_runtime::{FunctionSpec, Service};
use serde::Deserialize;
use serde_json::Value;

const REGENERATE: &str = "cargo run -p conveyor-emulator -- gen dapr";

fn dapr_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dapr")
}

#[test]
fn checked_in_files_match_the_generator() {
    let dir = dapr_dir();
    if std::env::var_os("CONVEYOR_BLESS").is_some() {
        let touched = dapr::write(&dir, &Options::default()).expect("dapr/ written");
        eprintln!("dapr/: {} file(s) written or removed", touched.len());
    }
    let drift = dapr::check(&dir, &Options::default());
    assert!(
        drift.is_empty(),
        "dapr/ is stale; run `{REGENERATE}` (or CONVEYOR_BLESS=1 cargo test -p conveyor-emulator --test emulator dapr::):\n  {}",
        drift.join("\n  ")
    );
    assert!(
        dir.join("README.md").exists(),
        "the hand-written README stays"
    );
}

#[test]
fn drift_is_detected_and_the_readme_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "# mine\n").unwrap();
    assert!(!dapr::check(dir.path(), &Options::default()).is_empty());
    dapr::write(dir.path(), &Options::default()).unwrap();
    assert!(dapr::check(dir.path(), &Options::default()).is_empty());
    std::fs::write(dir.path().join("components/old-job.yaml"), "x: 1\n").unwrap();
    assert_eq!(
        dapr::check(dir.path(), &Options::default()),
        ["components/old-job.yaml is not generated any more"]
    );
    dapr::write(dir.path(), &Options::default()).unwrap();
    assert!(dapr::check(dir.path(), &Options::default()).is_empty());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("README.md")).unwrap(),
        "# mine\n"
    );
}

/// Every YAML document of every rendered file, with its path.
fn documents() -> Vec<(PathBuf, Value)> {
    let mut docs = Vec::new();
    for (path, text) in dapr::render(&Options::default()).expect("renders") {
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        assert!(text.starts_with(dapr::HEADER), "{}", path.display());
        for doc in serde_norway::Deserializer::from_str(&text) {
            let value =
                Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            docs.push((path.clone(), value));
        }
    }
    docs
}

fn of_kind<'a>(docs: &'a [(PathBuf, Value)], kind: &str, under: &str) -> Vec<&'a Value> {
    docs.iter()
        .filter(|(p, v)| p.starts_with(under) && v["kind"] == kind)
        .map(|(_, v)| v)
        .collect()
}

fn meta<'a>(component: &'a Value, name: &str) -> &'a Value {
    component["spec"]["metadata"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .map_or(&Value::Null, |m| &m["value"])
}

fn app_ids() -> BTreeSet<String> {
    Service::ALL.iter().map(|s| s.app_id().to_owned()).collect()
}

fn scopes(v: &Value) -> BTreeSet<String> {
    v["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn components_name_every_job_with_its_schedule_and_worker() {
    let docs = documents();
    let jobs: Vec<FunctionSpec> = catalog::specs()
        .into_iter()
        .filter(|s| s.schedule().is_some())
        .collect();
    for folder in ["components", "local/resources"] {
        let components = of_kind(&docs, "Component", folder);
        let bindings: Vec<&&Value> = components
            .iter()
            .filter(|c| c["spec"]["type"] == "bindings.cron")
            .collect();
        assert_eq!(bindings.len(), jobs.len(), "{folder}: one binding per job");
        for spec in &jobs {
            let c = bindings
                .iter()
                .find(|c| c["metadata"]["name"] == spec.name)
                .unwrap_or_else(|| panic!("{folder}: no binding for {}", spec.name));
            let dapr_form = Schedule::parse(spec.schedule().unwrap()).unwrap().to_dapr();
            assert_eq!(
                meta(c, "schedule"),
                &Value::from(dapr_form),
                "{}",
                spec.name
            );
            assert_eq!(meta(c, "route"), &Value::from(format!("/{}", spec.name)));
            assert_eq!(
                scopes(c),
                BTreeSet::from([spec.service.app_id().to_owned()])
            );
        }
        for name in ["pubsub-redis", "statestore"] {
            let c = components
                .iter()
                .find(|c| c["metadata"]["name"] == name)
                .unwrap();
            assert!(meta(c, "redisHost").is_string(), "{folder}/{name}");
            assert_eq!(scopes(c), app_ids());
        }
        let pubsub = components
            .iter()
            .find(|c| c["metadata"]["name"] == "pubsub-redis")
            .unwrap();
        assert_eq!(pubsub["spec"]["type"], "pubsub.redis");
        // daprd reads redeliverInterval only as bare milliseconds.
        for key in ["redeliverInterval", "processingTimeout"] {
            let v = meta(pubsub, key).as_str().unwrap();
            assert!(v.parse::<u64>().is_ok(), "{key} {v}");
        }
    }
}

#[test]
fn subscriptions_cover_every_topic_function_with_its_dead_letter_topic() {
    let docs = documents();
    let listed: BTreeSet<(String, String, String, String, String)> =
        of_kind(&docs, "Subscription", "subscriptions")
            .into_iter()
            .map(|s| {
                assert_eq!(s["apiVersion"], "dapr.io/v2alpha1");
                assert_eq!(s["spec"]["pubsubname"], "pubsub-redis");
                let scope: Vec<String> = scopes(s).into_iter().collect();
                assert_eq!(scope.len(), 1);
                let text = |v: &Value| v.as_str().unwrap().to_owned();
                (
                    text(&s["spec"]["topic"]),
                    text(&s["spec"]["routes"]["default"]),
                    text(&s["spec"]["deadLetterTopic"]),
                    scope[0].clone(),
                    text(&s["metadata"]["name"]),
                )
            })
            .collect();
    let expected: BTreeSet<_> = catalog::specs()
        .into_iter()
        .flat_map(|s| {
            s.topics().iter().map(move |t| {
                (
                    (*t).to_owned(),
                    format!("/{}", s.name),
                    format!("{}.dlq", s.name),
                    s.service.app_id().to_owned(),
                    dapr::subscription_name(s.name, t),
                )
            })
        })
        .collect();
    assert_eq!(listed, expected);
}

#[test]
fn deployments_run_one_worker_per_service_with_the_dapr_annotations() {
    let docs = documents();
    let deployments = of_kind(&docs, "Deployment", "kubernetes");
    let mut seen = BTreeSet::new();
    for d in deployments {
        let template = &d["spec"]["template"];
        let a = &template["metadata"]["annotations"];
        let app_id = a["dapr.io/app-id"].as_str().unwrap();
        assert!(app_ids().contains(app_id), "{app_id}");
        assert_eq!(d["metadata"]["name"], app_id);
        assert_eq!(a["dapr.io/enabled"], "true");
        assert_eq!(a["dapr.io/app-port"], "5005");
        assert_eq!(d["spec"]["revisionHistoryLimit"], 1);
        let inits: Vec<&str> = template["spec"]["initContainers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(inits, ["wait-for-redis", "wait-for-postgres"]);
        let container = &template["spec"]["containers"][0];
        assert!(container["resources"]["requests"].is_object());
        let env = container["env"].as_array().unwrap();
        let service = env
            .iter()
            .find(|e| e["name"] == "CONVEYOR_SERVICE")
            .unwrap();
        let service = Service::ALL
            .into_iter()
            .find(|s| service["value"] == s.name())
            .unwrap();
        assert_eq!(service.app_id(), app_id);
        let grace = template["spec"]["terminationGracePeriodSeconds"]
            .as_u64()
            .unwrap();
        let daprd: u64 = a["dapr.io/graceful-shutdown-seconds"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(daprd < grace);
        seen.insert(app_id.to_owned());
    }
    assert_eq!(seen, app_ids());
    assert_eq!(of_kind(&docs, "Service", "kubernetes").len(), 3);
    let resiliency = of_kind(&docs, "Resiliency", "resiliency.yaml");
    assert_eq!(resiliency.len(), 1);
    let targets = resiliency[0]["spec"]["targets"]["components"]
        .as_object()
        .unwrap();
    let names: BTreeSet<&str> = targets.keys().map(String::as_str).collect();
    assert_eq!(names, BTreeSet::from(["pubsub-redis", "statestore"]));
    assert_eq!(
        resiliency[0]["spec"]["policies"]["retries"]["deliveries"]["policy"],
        "exponential"
    );
}

#[test]
fn the_run_file_starts_the_three_workers_on_distinct_ports() {
    let files = dapr::render(&Options::default()).unwrap();
    let run: Value = serde_norway::from_str(&files[Path::new("local/dapr.yaml")]).unwrap();
    let apps = run["apps"].as_array().unwrap();
    let ids: BTreeSet<String> = apps
        .iter()
        .map(|a| a["appID"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, app_ids());
    let ports: BTreeSet<u64> = apps
        .iter()
        .map(|a| a["appPort"].as_u64().unwrap())
        .collect();
    assert_eq!(ports.len(), 3);
    assert!(files.contains_key(Path::new("kubernetes/Dockerfile")));
}

#[test]
fn notification_dispatch_and_order_compensation_subscribe_to_each_of_their_topics() {
    let docs = documents();
    for (name, topics) in [
        (
            "notification-dispatch",
            vec![
                "orders.order.status_changed",
                "payment.confirmed",
                "payment.failed",
                "warehouse.reservation.expiring",
            ],
        ),
        (
            "order-compensation",
            vec![
                "warehouse.reservation.failed",
                "fulfillment.creation_failed",
            ],
        ),
    ] {
        let subscribed: Vec<&str> = of_kind(&docs, "Subscription", "subscriptions")
            .into_iter()
            .filter(|s| s["spec"]["routes"]["default"] == format!("/{name}").as_str())
            .map(|s| {
                assert_eq!(s["scopes"], serde_json::json!(["order-worker"]), "{name}");
                assert_eq!(s["spec"]["deadLetterTopic"], format!("{name}.dlq").as_str());
                s["spec"]["topic"].as_str().unwrap()
            })
            .collect();
        assert_eq!(subscribed, topics, "{name}");
    }
}

#[test]
fn every_cluster_resource_lives_in_the_namespace_and_local_ones_in_none() {
    let docs = documents();
    let namespaces = of_kind(&docs, "Namespace", "kubernetes");
    assert_eq!(namespaces.len(), 1);
    assert_eq!(namespaces[0]["metadata"]["name"], dapr::NAMESPACE);
    for (path, doc) in &docs {
        if doc["kind"] == "Namespace" || path.starts_with("local") {
            assert!(doc["metadata"]["namespace"].is_null(), "{}", path.display());
        } else {
            assert_eq!(
                doc["metadata"]["namespace"],
                dapr::NAMESPACE,
                "{} {}",
                path.display(),
                doc["kind"]
            );
        }
    }
}

fn named<'a>(docs: &'a [(PathBuf, Value)], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .map(|(_, v)| v)
        .find(|v| v["kind"] == kind && v["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn every_container_is_hardened_and_reads_its_secrets_from_files() {
    let docs = documents();
    for d in of_kind(&docs, "Deployment", "kubernetes") {
        let app_id = d["metadata"]["name"].as_str().unwrap();
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["automountServiceAccountToken"], false, "{app_id}");
        assert_eq!(pod["serviceAccountName"], app_id);
        let account = named(&docs, "ServiceAccount", app_id);
        assert_eq!(account["automountServiceAccountToken"], false);
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        let policy = named(&docs, "NetworkPolicy", app_id);
        assert_eq!(
            policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
            app_id
        );
        let worker = &pod["containers"][0];
        let hardened = &worker["securityContext"];
        assert_eq!(hardened["readOnlyRootFilesystem"], true);
        assert_eq!(hardened["allowPrivilegeEscalation"], false);
        assert_eq!(hardened["capabilities"]["drop"], serde_json::json!(["ALL"]));
        assert_eq!(hardened["seccompProfile"]["type"], "RuntimeDefault");
        assert!(hardened["runAsUser"].as_u64().unwrap() > 10_000);
        let inits = pod["initContainers"].as_array().unwrap();
        for c in pod["containers"].as_array().unwrap().iter().chain(inits) {
            let name = c["name"].as_str().unwrap();
            assert_eq!(&c["securityContext"], hardened, "{app_id}/{name}");
            assert_eq!(c["imagePullPolicy"], "Always", "{app_id}/{name}");
            for kind in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    assert!(
                        c["resources"][kind][resource].is_string(),
                        "{app_id}/{name}: {kind}.{resource}"
                    );
                }
            }
        }
        // Secrets arrive as files: no environment value comes from a Secret, and every
        // `_FILE` variable names a file under a read-only mount of a volume made of Secrets.
        let env = worker["env"].as_array().unwrap();
        assert!(env.iter().all(|e| e.get("valueFrom").is_none()), "{app_id}");
        let files: Vec<&str> = env
            .iter()
            .filter(|e| e["name"].as_str().unwrap().ends_with("_FILE"))
            .map(|e| e["value"].as_str().unwrap())
            .collect();
        let names: BTreeSet<&str> = env.iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert!(names.contains("CONVEYOR_DATABASE_URL_FILE"), "{names:?}");
        assert!(names.contains("APP_API_TOKEN_FILE"), "{names:?}");
        assert!(!names.contains("CONVEYOR_DATABASE_URL"), "{names:?}");
        assert!(!names.contains("APP_API_TOKEN"), "{names:?}");
        let mounts = worker["volumeMounts"].as_array().unwrap();
        for file in files {
            let mount = mounts
                .iter()
                .find(|m| file.starts_with(m["mountPath"].as_str().unwrap()))
                .unwrap_or_else(|| panic!("{app_id}: {file} is under no mount"));
            assert_eq!(mount["readOnly"], true);
            let volume = pod["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == mount["name"])
                .unwrap();
            let sources = volume["projected"]["sources"].as_array().unwrap();
            assert!(sources.iter().all(|s| s["secret"]["name"].is_string()));
            let leaf = file.rsplit('/').next().unwrap();
            assert!(
                sources
                    .iter()
                    .any(|s| s["secret"]["items"][0]["path"] == leaf),
                "{app_id}: {file} comes from no secret"
            );
        }
    }
}

#[test]
fn redis_tls_and_host_change_only_the_clusters_redis() {
    let plain = dapr::render(&Options::default()).unwrap();
    let tls = dapr::render(&Options {
        redis_host: "cache.internal:6380".to_owned(),
        redis_tls: true,
        ..Options::default()
    })
    .unwrap();
    let changed: BTreeSet<String> = plain
        .iter()
        .filter(|(path, text)| tls[*path] != **text)
        .map(|(path, _)| path.display().to_string())
        .collect();
    let mut expected = BTreeSet::from([
        "components/pubsub-redis.yaml".to_owned(),
        "components/statestore.yaml".to_owned(),
    ]);
    expected.extend(app_ids().iter().map(|id| format!("kubernetes/{id}.yaml")));
    assert_eq!(changed, expected);
    for name in ["pubsub-redis", "statestore"] {
        let path = PathBuf::from(format!("components/{name}.yaml"));
        let with: Value = serde_norway::from_str(&tls[&path]).unwrap();
        let without: Value = serde_norway::from_str(&plain[&path]).unwrap();
        assert_eq!(meta(&with, "enableTLS"), "true", "{name}");
        assert_eq!(meta(&with, "redisHost"), "cache.internal:6380");
        assert!(meta(&without, "enableTLS").is_null(), "{name}");
        let local = PathBuf::from(format!("local/resources/{name}.yaml"));
        assert!(!tls[&local].contains("enableTLS"));
    }
    assert!(
        tls[Path::new("kubernetes/order-worker.yaml")]
            .contains("until nc -z -w 2 cache.internal 6380;")
    );
    let bad = dapr::render(&Options {
        redis_host: "cache:tls".to_owned(),
        redis_tls: true,
        ..Options::default()
    })
    .unwrap_err();
    assert_eq!(
        bad.to_string(),
        "--redis-host \"cache:tls\" is not host or host:port: give e.g. redis-master:6379"
    );
}
