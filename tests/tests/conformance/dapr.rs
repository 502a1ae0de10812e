//! The Dapr worker, driven as daprd drives it, over either app protocol: [`DaprHttp`] and
//! [`DaprGrpc`] run the same scenarios. The worker runs in-process on the test's SQLite file,
//! its router served on a loopback port over connections the test can cut; [`Daprd`] plays the
//! sidecar's pub/sub side: it reads the subscriptions (`GET /dapr/subscribe`, or
//! `ListTopicSubscriptions` over gRPC), delivers each published event to the subscribed routes
//! (a CloudEvent POST, or `OnTopicEvent` with the event split as daprd splits it,
//! [`crate::dapr_grpc`]), delivers it again (inline, after a backoff) on `RETRY` or when the
//! app fails to answer, and on `DROP` writes the event as delivered to the subscription's
//! dead-letter topic. It serves the publish API of the protocol too (`POST
//! /v1.0/publish/<pubsub>/<topic>`, or `PublishEvent` / `BulkPublishEvent`): what the
//! worker's functions publish is delivered to the subscribed routes the same way.
//!
//! daprd, not the worker, owns the retry timing and the dead-letter topic: the stand-in uses a
//! short exponential backoff for the `deliveries` policy of `dapr/resiliency.yaml`, and up to
//! ten deliveries in flight at once, as the generated `pubsub-redis` component's `concurrency`.
//! A crash cuts the worker's connections (its handlers are dropped mid-flight), stops it, and
//! starts another worker on the same database, to which daprd's retry goes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use conveyor_dapr::delivery::{Status, StatusBody};
use conveyor_dapr::grpc::proto::runtime::app_callback_client::AppCallbackClient;
use conveyor_dapr::{AppProtocol, Mode, Worker, WorkerConfig};
use conveyor_runtime::{Function, Service};
use conveyor_store::OutboxRow;
use conveyor_transport::metrics::Stats;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{RwLock, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tonic::transport::Channel;

use crate::dapr_grpc;
use crate::db::Db;
use crate::host::{Counters, Differences, Host, Letter};

/// Deliveries daprd has in flight at once (`concurrency` of the generated component).
const CONCURRENCY: usize = 10;
/// Most deliveries of one event before the stand-in gives up on the worker.
const MAX_DELIVERIES: u32 = 20;
/// Between the first deliveries of events published together, so they reach the worker in
/// publish order (daprd's goroutines would race; this keeps the scenarios deterministic).
const STAGGER: Duration = Duration::from_millis(10);

/// The retry delay after delivery `n`: daprd's exponential `deliveries` policy, in
/// milliseconds instead of seconds.
fn backoff(n: u32) -> Duration {
    Duration::from_millis(50 * 2u64.pow(n.saturating_sub(1).min(2)))
}

/// One entry of `GET /dapr/subscribe` (or of `ListTopicSubscriptions`, its route the
/// default of its routes).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Subscription {
    pub(crate) pubsubname: String,
    pub(crate) topic: String,
    pub(crate) route: String,
    #[serde(rename = "deadLetterTopic")]
    pub(crate) dead_letter_topic: String,
}

/// An event daprd wrote to a dead-letter topic: the event as delivered, and (the stand-in's
/// own bookkeeping, not part of daprd's message) how many deliveries it made.
#[derive(Debug, Clone)]
struct DeadEntry {
    event_id: String,
    body: Vec<u8>,
    deliveries: u32,
}

/// Where the worker is: its base URL, and over gRPC the client daprd calls it with.
#[derive(Debug, Clone)]
struct App {
    base: String,
    grpc: Option<AppCallbackClient<Channel>>,
}

impl App {
    fn at(base: &str, protocol: AppProtocol) -> Self {
        Self {
            base: base.to_owned(),
            grpc: (protocol == AppProtocol::Grpc).then(|| dapr_grpc::client(base)),
        }
    }
}

/// The sidecar's pub/sub side.
#[derive(Debug)]
pub(crate) struct Daprd {
    client: Client<HttpConnector, Full<Bytes>>,
    /// The worker; held for writing while the worker restarts, so retries wait.
    app: RwLock<App>,
    subscriptions: Vec<Subscription>,
    slots: Semaphore,
    /// Deliveries not settled yet (in flight or waiting to be retried).
    outstanding: AtomicUsize,
    /// Dead-letter topic -> what was written to it.
    dead: Mutex<HashMap<String, Vec<DeadEntry>>>,
}

/// What one delivery came to.
pub(crate) enum Answer {
    Status(Status),
    /// No answer: the connection failed or was cut.
    Failed(String),
}

impl Daprd {
    /// Delivers `body` once, over the worker's protocol.
    async fn send(&self, subscription: &Subscription, body: &[u8]) -> Answer {
        let app = self.app.read().await.clone();
        match app.grpc {
            Some(client) => dapr_grpc::deliver(client, subscription, body).await,
            None => self.post(&app.base, &subscription.route, body).await,
        }
    }

    async fn post(&self, base: &str, route: &str, body: &[u8]) -> Answer {
        let url = format!("{base}{route}");
        let request = hyper::Request::post(url)
            .header("content-type", "application/cloudevents+json")
            .body(Full::new(Bytes::from(body.to_vec())))
            .expect("a valid request");
        let response = match self.client.request(request).await {
            Ok(response) => response,
            Err(e) => return Answer::Failed(e.to_string()),
        };
        let status = response.status();
        let bytes = match response.into_body().collect().await {
            Ok(body) => body.to_bytes(),
            Err(e) => return Answer::Failed(e.to_string()),
        };
        assert!(
            status.is_success(),
            "the worker answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        let answer: StatusBody = serde_json::from_slice(&bytes).expect("a status body");
        Answer::Status(answer.status)
    }

    /// Delivers `body` to `subscription` until the worker settles it, as daprd does with a
    /// resiliency policy: retries inline, the event's other subscriptions unaffected.
    async fn deliver(&self, subscription: &Subscription, body: Vec<u8>) {
        let _slot = self.slots.acquire().await.expect("the slots stay open");
        let mut deliveries = 0;
        loop {
            deliveries += 1;
            let answer = self.send(subscription, &body).await;
            match answer {
                Answer::Status(Status::Success) => break,
                Answer::Status(Status::Drop) => {
                    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let entry = DeadEntry {
                        event_id: event["id"].as_str().unwrap_or_default().to_owned(),
                        body,
                        deliveries,
                    };
                    self.dead
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .entry(subscription.dead_letter_topic.clone())
                        .or_default()
                        .push(entry);
                    break;
                }
                Answer::Status(Status::Retry) | Answer::Failed(_) => {
                    let last = match answer {
                        Answer::Failed(why) => why,
                        Answer::Status(_) => "RETRY".to_owned(),
                    };
                    assert!(
                        deliveries < MAX_DELIVERIES,
                        "{}: the worker never settled the event after {deliveries} deliveries (last: {last})",
                        subscription.route
                    );
                    tokio::time::sleep(backoff(deliveries)).await;
                }
            }
        }
        self.outstanding.fetch_sub(1, Ordering::SeqCst);
    }

    /// The event as daprd delivers it from `subscription`'s topic: the published CloudEvent
    /// with daprd's `pubsubname` and `topic`.
    fn as_delivered(subscription: &Subscription, published: &[u8]) -> Vec<u8> {
        let mut event: Value = serde_json::from_slice(published).expect("a CloudEvent");
        event["pubsubname"] = Value::from(subscription.pubsubname.as_str());
        event["topic"] = Value::from(subscription.topic.as_str());
        serde_json::to_vec(&event).expect("JSON")
    }

    /// A CloudEvent the worker published on `topic`: delivered to every route subscribed to it.
    pub(crate) fn accept_published(self: &Arc<Self>, topic: &str, body: &[u8]) {
        for subscription in self.subscriptions.iter().filter(|s| s.topic == topic) {
            let delivered = Self::as_delivered(subscription, body);
            self.dispatch(subscription.clone(), delivered);
        }
    }

    /// Starts delivering `body` to `subscription` in the background.
    fn dispatch(self: &Arc<Self>, subscription: Subscription, body: Vec<u8>) {
        self.outstanding.fetch_add(1, Ordering::SeqCst);
        let daprd = Arc::clone(self);
        tokio::spawn(async move { daprd.deliver(&subscription, body).await });
    }

    fn dead_letter_topic(&self, function: &str) -> String {
        let route = format!("/{function}");
        self.subscriptions
            .iter()
            .find(|s| s.route == route)
            .map(|s| s.dead_letter_topic.clone())
            .unwrap_or_else(|| panic!("no subscription routes to {route}"))
    }
}

/// The sidecar's daprd, once it knows the subscriptions.
pub(crate) type Slot = Arc<OnceLock<Arc<Daprd>>>;

/// `POST /v1.0/publish/<pubsub>/<topic>`: the published CloudEvent goes to every route
/// subscribed to the topic.
async fn accept_publish(
    State(slot): State<Slot>,
    Path((_pubsub, topic)): Path<(String, String)>,
    body: Bytes,
) -> StatusCode {
    let Some(daprd) = slot.get() else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    daprd.accept_published(&topic, &body);
    StatusCode::NO_CONTENT
}

/// Serves the publish API on a loopback port of its own; returns the port and the serving task.
async fn serve_publish_api(slot: Slot) -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("an address").port();
    let app = Router::new()
        .route("/v1.0/publish/{pubsub}/{*topic}", post(accept_publish))
        .with_state(slot);
    let serving = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (port, serving)
}

/// One worker process: the worker and the task serving its router.
#[derive(Debug)]
struct Incarnation {
    worker: Worker,
    base: String,
    /// Accepts connections and owns them: aborting it cuts every connection.
    serving: JoinHandle<()>,
}

impl Incarnation {
    async fn start(config: WorkerConfig, functions: &[Arc<dyn Function>]) -> Self {
        let worker = Worker::start(config, functions)
            .await
            .expect("the worker starts");
        let router = worker.router();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let serving = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let service = TowerToHyperService::new(router.clone());
                        // HTTP/1.1 and HTTP/2 (h2c, daprd's gRPC calls) alike.
                        connections.spawn(async move {
                            let _ = auto::Builder::new(TokioExecutor::new())
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Self {
            worker,
            base,
            serving,
        }
    }

    /// Cuts every connection (handlers in flight are dropped where they are), then stops the
    /// worker's relay and closes its store.
    async fn end(self) {
        self.serving.abort();
        let _ = self.serving.await;
        self.worker.stop().await;
    }
}

/// The Dapr worker behind the stand-in sidecar, called over gRPC when `GRPC` is set, else
/// over HTTP.
#[derive(Debug)]
pub(crate) struct Dapr<const GRPC: bool> {
    config: WorkerConfig,
    functions: Vec<Arc<dyn Function>>,
    daprd: Arc<Daprd>,
    incarnation: Option<Incarnation>,
    /// Every incarnation's metrics.
    stats: Vec<Arc<Stats>>,
    /// Serves the sidecar's publish API.
    publish_api: JoinHandle<()>,
}

/// The worker called over HTTP.
pub(crate) type DaprHttp = Dapr<false>;
/// The worker called over gRPC (`--app-protocol grpc`).
pub(crate) type DaprGrpc = Dapr<true>;

impl<const GRPC: bool> Dapr<GRPC> {
    const PROTOCOL: AppProtocol = if GRPC {
        AppProtocol::Grpc
    } else {
        AppProtocol::Http
    };
}

/// The worker's subscriptions, read as daprd reads them from an HTTP app at start.
async fn discover(client: &Client<HttpConnector, Full<Bytes>>, base: &str) -> Vec<Subscription> {
    let response = client
        .get(format!("{base}/dapr/subscribe").parse().expect("a URI"))
        .await
        .expect("the worker lists its subscriptions");
    let body = response.into_body().collect().await.expect("a body");
    serde_json::from_slice(&body.to_bytes()).expect("subscriptions")
}

impl<const GRPC: bool> Host for Dapr<GRPC> {
    const NAME: &'static str = if GRPC { "dapr-grpc" } else { "dapr" };
    const DIFFERENCES: Differences = Differences {
        // daprd writes the event as delivered to the dead-letter topic; the worker's reason
        // (the policy's words) is only logged.
        letter_reasons: false,
        // daprd does not tell the app which delivery this is: the worker counts deliveries per
        // process, so a restarted worker sees the redelivery as its first.
        attempt_after_crash: 1,
        // The worker runs one delivery of a key at a time, but daprd retries a failed event
        // inline while its other goroutines deliver the later events of the key: they do not
        // wait for it (`concurrency: "1"` on the component would serialise the whole topic).
        key_held_until_resolved: false,
        // Conforming: the dead-letter topic gets the body as delivered, and a body that is no
        // CloudEvent carries no id.
        raw_letter_keeps_published_id: false,
    };

    async fn start(db: &Db, functions: Vec<Arc<dyn Function>>) -> Self {
        let slot = Slot::default();
        let base = WorkerConfig {
            mode: Mode::Event,
            database: db.url().to_owned(),
            app_protocol: Self::PROTOCOL,
            relay_every: Duration::from_millis(100),
            shutdown_timeout: Duration::from_secs(5),
            ..WorkerConfig::new(Service::Order)
        };
        let (config, publish_api) = if GRPC {
            let (port, api) = dapr_grpc::serve_publish_api(Arc::clone(&slot)).await;
            let config = WorkerConfig {
                dapr_grpc_port: port,
                ..base
            };
            (config, api)
        } else {
            let (port, api) = serve_publish_api(Arc::clone(&slot)).await;
            let config = WorkerConfig {
                dapr_http_port: port,
                ..base
            };
            (config, api)
        };
        let incarnation = Incarnation::start(config.clone(), &functions).await;
        let client = Client::builder(TokioExecutor::new()).build_http();
        let subscriptions = if GRPC {
            dapr_grpc::discover(&incarnation.base).await
        } else {
            discover(&client, &incarnation.base).await
        };
        let daprd = Arc::new(Daprd {
            client,
            app: RwLock::new(App::at(&incarnation.base, Self::PROTOCOL)),
            subscriptions,
            slots: Semaphore::new(CONCURRENCY),
            outstanding: AtomicUsize::new(0),
            dead: Mutex::default(),
        });
        slot.set(Arc::clone(&daprd))
            .expect("daprd is set once, at start");
        Self {
            daprd,
            stats: vec![Arc::clone(incarnation.worker.state.stats())],
            incarnation: Some(incarnation),
            config,
            functions,
            publish_api,
        }
    }

    async fn publish(&self, events: &[OutboxRow]) {
        for (i, row) in events.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(STAGGER).await;
            }
            for subscription in self
                .daprd
                .subscriptions
                .iter()
                .filter(|s| s.topic == row.topic)
            {
                let body = Daprd::as_delivered(subscription, row.body.as_bytes());
                self.daprd.dispatch(subscription.clone(), body);
            }
        }
    }

    async fn publish_raw(&self, _id: &str, topic: &str, body: &str) {
        // The body reaches each subscribed route as it is (daprd does not pass a transport's
        // message id on): whichever way it got past daprd, the worker must drop it.
        for subscription in self.daprd.subscriptions.iter().filter(|s| s.topic == topic) {
            self.daprd
                .dispatch(subscription.clone(), body.as_bytes().to_vec());
        }
    }

    async fn idle(&self) -> bool {
        self.daprd.outstanding.load(Ordering::SeqCst) == 0
    }

    async fn dead_letters(&self, function: &'static str) -> Vec<Letter> {
        let topic = self.daprd.dead_letter_topic(function);
        let dead = self
            .daprd
            .dead
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<Letter> = dead
            .get(&topic)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|e| Letter {
                event_id: e.event_id.clone(),
                reason: None,
                attempts: e.deliveries,
            })
            .collect();
        out.sort();
        out
    }

    async fn redrive(&self, function: &'static str) -> usize {
        // Dapr has no redrive of its own: the events of the dead-letter topic are delivered to
        // the function's route again, as new deliveries.
        let topic = self.daprd.dead_letter_topic(function);
        let route = format!("/{function}");
        let subscription = self
            .daprd
            .subscriptions
            .iter()
            .find(|s| s.route == route)
            .cloned()
            .expect("the function's subscription");
        let entries = self
            .daprd
            .dead
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&topic)
            .unwrap_or_default();
        for entry in &entries {
            self.daprd
                .dispatch(subscription.clone(), entry.body.clone());
        }
        entries.len()
    }

    fn counters(&self, function: &'static str) -> Counters {
        Counters::sum(&self.stats, function)
    }

    async fn crash(&mut self) {
        // daprd's retries wait until the new worker listens.
        let mut app = self.daprd.app.write().await;
        if let Some(old) = self.incarnation.take() {
            old.end().await;
        }
        let incarnation = Incarnation::start(self.config.clone(), &self.functions).await;
        self.stats
            .push(Arc::clone(incarnation.worker.state.stats()));
        *app = App::at(&incarnation.base, Self::PROTOCOL);
        self.incarnation = Some(incarnation);
    }

    async fn stop(mut self) {
        if let Some(incarnation) = self.incarnation.take() {
            incarnation.end().await;
        }
        self.publish_api.abort();
    }
}
