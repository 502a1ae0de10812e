//! daprd's pub/sub side over the fake sidecar, for several workers: it reads each worker's
//! `GET /dapr/subscribe`, then takes every publish the sidecar accepted and delivers the
//! CloudEvent, with daprd's `topic` and `pubsubname`, to the route of every subscription on
//! its topic, concurrently, as daprd does. A `RETRY` answer (or a failed call) is delivered
//! again after [`BACKOFF`], at most [`DELIVERIES`] times in all; a `DROP` answer, or the last
//! retry spent, goes to the subscription's dead-letter topic, recorded here.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::harness::{FakeSidecar, Published, TestWorker, call};

/// The wait before a delivery answered `RETRY` is delivered again.
pub(crate) const BACKOFF: Duration = Duration::from_millis(100);
/// Most deliveries of one event to one subscription.
pub(crate) const DELIVERIES: u32 = 5;
/// How often the sidecar's requests are read.
const POLL: Duration = Duration::from_millis(10);

/// One subscription a worker listed (`GET /dapr/subscribe`).
#[derive(Debug, Clone, Deserialize)]
struct Subscription {
    pubsubname: String,
    topic: String,
    route: String,
    #[serde(rename = "deadLetterTopic")]
    dead_letter_topic: String,
}

/// One delivery and the worker's answer (`SUCCESS`, `RETRY`, `DROP`, or the HTTP failure).
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) route: String,
    pub(crate) topic: String,
    pub(crate) id: String,
    pub(crate) status: String,
}

/// An event sent to a dead-letter topic.
#[derive(Debug, Clone)]
pub(crate) struct DeadLetter {
    pub(crate) dead_letter_topic: String,
    pub(crate) delivery: Delivery,
}

#[derive(Debug, Default)]
struct Shared {
    /// Per worker: its base URL and subscriptions.
    subscribers: Vec<(String, Vec<Subscription>)>,
    /// Sidecar requests taken so far.
    taken: AtomicUsize,
    /// Deliveries started and not yet settled (answered `SUCCESS` or dead-lettered).
    in_flight: AtomicUsize,
    deliveries: Mutex<Vec<Delivery>>,
    dead_letters: Mutex<Vec<DeadLetter>>,
}

/// The router, running until dropped or stopped.
pub(crate) struct Daprd {
    sidecar: Arc<FakeSidecar>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    routing: Option<JoinHandle<()>>,
}

impl Daprd {
    /// Reads the subscriptions of `workers` and starts routing what `sidecar` accepts.
    pub(crate) async fn start(sidecar: Arc<FakeSidecar>, workers: &[&TestWorker]) -> Self {
        let mut subscribers = Vec::new();
        for worker in workers {
            let answer = call("GET", &worker.url("/dapr/subscribe"), &[], b"").await;
            assert_eq!(answer.status, 200);
            let list: Vec<Subscription> = serde_json::from_value(answer.json()).unwrap();
            subscribers.push((worker.base.clone(), list));
        }
        let shared = Arc::new(Shared {
            subscribers,
            ..Shared::default()
        });
        let (stop, stopped) = watch::channel(false);
        let routing = tokio::spawn(route(Arc::clone(&sidecar), Arc::clone(&shared), stopped));
        Self {
            sidecar,
            shared,
            stop,
            routing: Some(routing),
        }
    }

    /// Whether every request the sidecar received was taken and every delivery settled.
    pub(crate) fn idle(&self) -> bool {
        // In-flight first: a delivery settles after the handler's publishes reached the
        // sidecar, which are then counted below.
        self.shared.in_flight.load(Ordering::SeqCst) == 0
            && self.shared.taken.load(Ordering::SeqCst) == self.sidecar.request_count()
    }

    /// Every delivery so far.
    pub(crate) fn deliveries(&self) -> Vec<Delivery> {
        self.shared.deliveries.lock().unwrap().clone()
    }

    /// Every dead letter so far.
    pub(crate) fn dead_letters(&self) -> Vec<DeadLetter> {
        self.shared.dead_letters.lock().unwrap().clone()
    }

    /// Stops routing (deliveries in flight finish on their own).
    pub(crate) async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(routing) = self.routing.take() {
            routing.await.unwrap();
        }
    }
}

/// Takes the sidecar's new requests every [`POLL`] and delivers each accepted one.
async fn route(sidecar: Arc<FakeSidecar>, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    loop {
        let from = shared.taken.load(Ordering::SeqCst);
        let new = sidecar.requests_since(from);
        for published in &new {
            if (200..300).contains(&published.status) {
                fan_out(&shared, published);
            }
        }
        // Counted once their deliveries are in flight: `idle` never sees a gap.
        shared.taken.fetch_add(new.len(), Ordering::SeqCst);
        tokio::select! {
            _ = stopped.changed() => return,
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// An event as daprd delivers it: the published CloudEvent with daprd's `topic` and
/// `pubsubname`, and the headers daprd sends.
struct Message {
    id: String,
    body: Vec<u8>,
    pubsub: String,
    traceparent: Option<String>,
}

/// Starts one delivery of `published` per subscription on its topic.
fn fan_out(shared: &Arc<Shared>, published: &Published) {
    let mut event = published.body.clone();
    event["topic"] = Value::from(published.topic.as_str());
    event["pubsubname"] = Value::from(published.pubsub.as_str());
    let message = Arc::new(Message {
        id: event["id"].as_str().unwrap_or_default().to_owned(),
        body: event.to_string().into_bytes(),
        pubsub: published.pubsub.clone(),
        traceparent: published.traceparent.clone(),
    });
    for (base, subscriptions) in &shared.subscribers {
        for s in subscriptions
            .iter()
            .filter(|s| s.topic == published.topic && s.pubsubname == published.pubsub)
        {
            shared.in_flight.fetch_add(1, Ordering::SeqCst);
            let (shared, message) = (Arc::clone(shared), Arc::clone(&message));
            let (url, subscription) = (format!("{base}{}", s.route), s.clone());
            tokio::spawn(async move {
                deliver(&shared, &url, &subscription, &message).await;
                shared.in_flight.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }
}

/// Delivers `message` to `url` (`subscription`'s route) until it is answered `SUCCESS` or
/// dead-lettered.
async fn deliver(shared: &Shared, url: &str, subscription: &Subscription, message: &Message) {
    let mut headers = vec![
        ("content-type", "application/cloudevents+json"),
        ("pubsubName", message.pubsub.as_str()),
    ];
    if let Some(t) = message.traceparent.as_deref() {
        headers.push(("traceparent", t));
    }
    for n in 1..=DELIVERIES {
        let answer = call("POST", url, &headers, &message.body).await;
        let status = if answer.status == 200 {
            answer.json()["status"].as_str().unwrap_or("?").to_owned()
        } else {
            format!("HTTP {}", answer.status)
        };
        let delivery = Delivery {
            route: subscription.route.clone(),
            topic: subscription.topic.clone(),
            id: message.id.clone(),
            status,
        };
        shared.deliveries.lock().unwrap().push(delivery.clone());
        let retry = !matches!(delivery.status.as_str(), "SUCCESS" | "DROP");
        if retry && n < DELIVERIES {
            tokio::time::sleep(BACKOFF).await;
            continue;
        }
        if delivery.status != "SUCCESS" {
            shared.dead_letters.lock().unwrap().push(DeadLetter {
                dead_letter_topic: subscription.dead_letter_topic.clone(),
                delivery,
            });
        }
        return;
    }
}
