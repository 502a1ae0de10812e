//! `dapr/`: the checked-in files equal what the generator renders, every YAML file parses, and
//! they name only functions, topics and app ids of the catalog, covering all of them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use conveyor_emulator::catalog;
use conveyor_emulator::r#gen::dapr;
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
        let touched = dapr::write(&dir).expect("dapr/ written");
        eprintln!("dapr/: {} file(s) written or removed", touched.len());
    }
    let drift = dapr::check(&dir);
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
    assert!(!dapr::check(dir.path()).is_empty());
    dapr::write(dir.path()).unwrap();
    assert!(dapr::check(dir.path()).is_empty());
    std::fs::write(dir.path().join("components/old-job.yaml"), "x: 1\n").unwrap();
    assert_eq!(
        dapr::check(dir.path()),
        ["components/old-job.yaml is not generated any more"]
    );
    dapr::write(dir.path()).unwrap();
    assert!(dapr::check(dir.path()).is_empty());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("README.md")).unwrap(),
        "# mine\n"
    );
}

/// Every YAML document of every rendered file, with its path.
fn documents() -> Vec<(PathBuf, Value)> {
    let mut docs = Vec::new();
    for (path, text) in dapr::render().expect("renders") {
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
    let files = dapr::render().unwrap();
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
