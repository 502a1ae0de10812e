//! The sidecar's side, on loopback: a load generator that calls the worker's app as daprd
//! does (over HTTP a keep-alive HTTP/1.1 client, over gRPC one HTTP/2 connection carrying the
//! `AppCallback` calls, with the requests built as daprd builds them by
//! [`conveyor_dapr::grpc::daprd`]; a bounded number of calls in flight, each answer checked)
//! and a stand-in of the sidecar's publish API, HTTP and gRPC on one port, that accepts what
//! the worker publishes.
//!
//! Every request body is built before the clock starts, so the measured window holds only the
//! calls. A delivery that is not answered `SUCCESS` fails the run: the figures are of a worker
//! that handled every event.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use axum::Router;
use axum::extract::Request as AxumRequest;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use conveyor_dapr::grpc::daprd::{bulk_entry, topic_event};
use conveyor_dapr::grpc::proto::runtime::app_callback_client::AppCallbackClient;
use conveyor_dapr::grpc::proto::runtime::topic_event_response::TopicEventResponseStatus;
use conveyor_dapr::grpc::proto::runtime::{
    BulkPublishRequest, BulkPublishResponse, PublishEventRequest, TopicEventBulkRequest,
    TopicEventRequest,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tonic::server::{Grpc, UnaryService};
use tonic::transport::{Channel, Endpoint};

use super::Delivery;

/// The token daprd sends on every callback (`APP_API_TOKEN`), as the generated Deployments
/// configure it.
pub const APP_TOKEN: &str = "bench-app-token";

/// Entries per bulk delivery: daprd's default `maxMessagesCount`.
pub const BULK_ENTRIES: usize = 100;

/// The pub/sub component daprd names in every delivery.
const PUBSUB: &str = "pubsub-redis";

/// One prepared call of the app.
#[derive(Debug, Clone)]
pub struct Call {
    payload: Payload,
    entries: usize,
}

#[derive(Debug, Clone)]
enum Payload {
    /// An HTTP request body.
    Http(Bytes),
    /// An `OnTopicEvent` request.
    Topic(TopicEventRequest),
    /// An `OnBulkTopicEvent` request.
    Bulk(TopicEventBulkRequest),
}

/// The calls that deliver `events` (CloudEvent JSON bodies) of `topic`, for the subscription
/// routed to `route`, the way `delivery` says.
///
/// # Errors
/// An event that is no CloudEvent object (daprd could not send it over gRPC as one).
pub fn calls(
    delivery: Delivery,
    events: &[String],
    topic: &str,
    route: &str,
) -> Result<Vec<Call>, String> {
    let not_an_object = |n: usize| format!("event {n} is no CloudEvent object");
    Ok(match delivery {
        Delivery::HttpSingle => events
            .iter()
            .map(|e| Call {
                payload: Payload::Http(Bytes::from(e.clone())),
                entries: 1,
            })
            .collect(),
        Delivery::HttpBulk => events
            .chunks(BULK_ENTRIES)
            .enumerate()
            .map(|(i, chunk)| {
                let entries: Vec<Value> = chunk
                    .iter()
                    .enumerate()
                    .map(|(j, e)| {
                        json!({
                            "entryId": format!("{i}-{j}"),
                            "event": serde_json::from_str::<Value>(e).unwrap_or(Value::Null),
                            "contentType": "application/cloudevents+json",
                            "metadata": { "pubsubName": PUBSUB },
                        })
                    })
                    .collect();
                let body = json!({
                    "id": format!("bulk-{i}"),
                    "type": "com.dapr.event.sent.bulk",
                    "topic": topic,
                    "pubsubname": PUBSUB,
                    "metadata": {},
                    "entries": entries,
                });
                Call {
                    payload: Payload::Http(Bytes::from(body.to_string())),
                    entries: chunk.len(),
                }
            })
            .collect(),
        Delivery::GrpcSingle => events
            .iter()
            .enumerate()
            .map(|(n, e)| {
                let request = topic_event(e.as_bytes(), topic, PUBSUB, route)
                    .ok_or_else(|| not_an_object(n))?;
                Ok(Call {
                    payload: Payload::Topic(request),
                    entries: 1,
                })
            })
            .collect::<Result<_, String>>()?,
        Delivery::GrpcBulk => events
            .chunks(BULK_ENTRIES)
            .enumerate()
            .map(|(i, chunk)| Call {
                payload: Payload::Bulk(TopicEventBulkRequest {
                    id: format!("bulk-{i}"),
                    entries: chunk
                        .iter()
                        .enumerate()
                        .map(|(j, e)| bulk_entry(&format!("{i}-{j}"), e.as_bytes()))
                        .collect(),
                    metadata: std::collections::HashMap::new(),
                    topic: topic.to_owned(),
                    pubsub_name: PUBSUB.to_owned(),
                    r#type: "com.dapr.event.sent.bulk".to_owned(),
                    path: route.to_owned(),
                }),
                entries: chunk.len(),
            })
            .collect(),
    })
}

/// Calls the app at `address` (`127.0.0.1:<port>`), its subscription routed to `route`, with
/// every one of `calls`, `in_flight` at a time; the events answered `SUCCESS`.
///
/// # Errors
/// The first call that failed or whose answer was not `SUCCESS` for every event.
pub async fn drive(
    delivery: Delivery,
    address: &str,
    route: &str,
    calls: Arc<Vec<Call>>,
    in_flight: usize,
) -> Result<u64, String> {
    match delivery {
        Delivery::HttpSingle | Delivery::HttpBulk => {
            drive_http(
                delivery,
                &format!("http://{address}{route}"),
                calls,
                in_flight,
            )
            .await
        }
        Delivery::GrpcSingle | Delivery::GrpcBulk => drive_grpc(address, calls, in_flight).await,
    }
}

async fn drive_http(
    delivery: Delivery,
    url: &str,
    calls: Arc<Vec<Call>>,
    in_flight: usize,
) -> Result<u64, String> {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(in_flight)
        .build_http();
    let next = Arc::new(AtomicUsize::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    let content_type = match delivery {
        Delivery::HttpBulk => "application/json",
        _ => "application/cloudevents+json",
    };
    let mut callers = Vec::with_capacity(in_flight);
    for _ in 0..in_flight {
        let (client, calls, next, delivered) = (
            client.clone(),
            Arc::clone(&calls),
            Arc::clone(&next),
            Arc::clone(&delivered),
        );
        let url = url.to_owned();
        callers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(call) = calls.get(i) else {
                    return Ok::<(), String>(());
                };
                let Payload::Http(body) = &call.payload else {
                    return Err(format!("call {i} is no HTTP request"));
                };
                let request = Request::post(&url)
                    .header(header::CONTENT_TYPE, content_type)
                    .header("pubsubname", "pubsub-redis")
                    .header("dapr-api-token", APP_TOKEN)
                    .body(Full::new(body.clone()))
                    .map_err(|e| e.to_string())?;
                let response = client.request(request).await.map_err(|e| e.to_string())?;
                let status = response.status();
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?
                    .to_bytes();
                let succeeded = status == StatusCode::OK && successes(&body) == call.entries;
                if !succeeded {
                    return Err(format!(
                        "call {i} answered {status}: {}",
                        String::from_utf8_lossy(&body)
                    ));
                }
                delivered.fetch_add(call.entries as u64, Ordering::Relaxed);
            }
        }));
    }
    for caller in callers {
        caller.await.map_err(|e| e.to_string())??;
    }
    Ok(delivered.load(Ordering::Relaxed))
}

/// Over gRPC: one HTTP/2 connection to the app (daprd keeps one per app), `in_flight` calls
/// multiplexed on it, each with the app token as `dapr-api-token` metadata.
async fn drive_grpc(address: &str, calls: Arc<Vec<Call>>, in_flight: usize) -> Result<u64, String> {
    let channel: Channel = Endpoint::from_shared(format!("http://{address}"))
        .map_err(|e| e.to_string())?
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|e| format!("connecting to the app at {address}: {e}"))?;
    let client = AppCallbackClient::new(channel);
    let next = Arc::new(AtomicUsize::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    let mut callers = Vec::with_capacity(in_flight);
    for _ in 0..in_flight {
        let (mut client, calls, next, delivered) = (
            client.clone(),
            Arc::clone(&calls),
            Arc::clone(&next),
            Arc::clone(&delivered),
        );
        callers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(call) = calls.get(i) else {
                    return Ok::<(), String>(());
                };
                let succeeded = match &call.payload {
                    Payload::Topic(event) => {
                        let answer = client
                            .on_topic_event(with_token(event.clone()))
                            .await
                            .map_err(|e| format!("call {i}: {e}"))?;
                        usize::from(
                            answer.get_ref().status == TopicEventResponseStatus::Success as i32,
                        )
                    }
                    Payload::Bulk(bulk) => {
                        let answer = client
                            .on_bulk_topic_event(with_token(bulk.clone()))
                            .await
                            .map_err(|e| format!("call {i}: {e}"))?;
                        answer
                            .get_ref()
                            .statuses
                            .iter()
                            .filter(|s| s.status == TopicEventResponseStatus::Success as i32)
                            .count()
                    }
                    Payload::Http(_) => return Err(format!("call {i} is no gRPC call")),
                };
                if succeeded != call.entries {
                    return Err(format!(
                        "call {i}: {succeeded} of {} events answered SUCCESS",
                        call.entries
                    ));
                }
                delivered.fetch_add(call.entries as u64, Ordering::Relaxed);
            }
        }));
    }
    for caller in callers {
        caller.await.map_err(|e| e.to_string())??;
    }
    Ok(delivered.load(Ordering::Relaxed))
}

/// `message` with the app token, as daprd sends it on every call.
fn with_token<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "dapr-api-token",
        tonic::metadata::MetadataValue::from_static(APP_TOKEN),
    );
    request
}

/// Events an answer says succeeded: `{"status":"SUCCESS"}` is one, a bulk answer counts its
/// `SUCCESS` statuses.
fn successes(body: &[u8]) -> usize {
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return 0;
    };
    match answer.get("statuses").and_then(Value::as_array) {
        Some(statuses) => statuses.iter().filter(|s| s["status"] == "SUCCESS").count(),
        None => usize::from(answer["status"] == "SUCCESS"),
    }
}

/// The sidecar's publish API: accepts and counts every publish, over HTTP (204) and over gRPC
/// (`PublishEvent`, `BulkPublishEvent`), both on one port (daprd has one for each; the worker
/// is given this one for both).
#[derive(Debug)]
pub struct Sidecar {
    /// Its port on 127.0.0.1.
    pub port: u16,
    published: Arc<AtomicU64>,
    _stop: oneshot::Sender<()>,
}

impl Sidecar {
    /// Serves on a free loopback port.
    ///
    /// # Errors
    /// When it cannot listen.
    pub async fn start() -> Result<Self, String> {
        let published = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&published);
        let (single, bulk) = (Arc::clone(&published), Arc::clone(&published));
        let app = Router::new()
            .route(
                "/v1.0/publish/{pubsub}/{*topic}",
                post(move || {
                    counted.fetch_add(1, Ordering::Relaxed);
                    async { StatusCode::NO_CONTENT }
                }),
            )
            .route(
                "/dapr.proto.runtime.v1.Dapr/PublishEvent",
                post(move |request: AxumRequest| async move {
                    let mut grpc = Grpc::new(tonic_prost::ProstCodec::default());
                    grpc.unary(PublishOne(single), request)
                        .await
                        .into_response()
                }),
            )
            .route(
                "/dapr.proto.runtime.v1.Dapr/BulkPublishEvent",
                post(move |request: AxumRequest| async move {
                    let mut grpc = Grpc::new(tonic_prost::ProstCodec::default());
                    grpc.unary(PublishBulk(bulk), request).await.into_response()
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            port,
            published,
            _stop: stop,
        })
    }

    /// Publishes accepted so far.
    #[must_use]
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
}

/// Counts each `PublishEvent`.
#[derive(Clone)]
struct PublishOne(Arc<AtomicU64>);

/// Counts each `BulkPublishEvent`'s entries.
#[derive(Clone)]
struct PublishBulk(Arc<AtomicU64>);

type Answer<T> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>> + Send>,
>;

impl UnaryService<PublishEventRequest> for PublishOne {
    type Response = ();
    type Future = Answer<()>;

    fn call(&mut self, _request: tonic::Request<PublishEventRequest>) -> Self::Future {
        self.0.fetch_add(1, Ordering::Relaxed);
        Box::pin(async { Ok(tonic::Response::new(())) })
    }
}

impl UnaryService<BulkPublishRequest> for PublishBulk {
    type Response = BulkPublishResponse;
    type Future = Answer<BulkPublishResponse>;

    fn call(&mut self, request: tonic::Request<BulkPublishRequest>) -> Self::Future {
        self.0
            .fetch_add(request.get_ref().entries.len() as u64, Ordering::Relaxed);
        Box::pin(async { Ok(tonic::Response::new(BulkPublishResponse::default())) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_calls_carry_up_to_a_hundred_entries_as_objects() {
        let events: Vec<String> = (0..250).map(|n| format!(r#"{{"id":"e{n}"}}"#)).collect();
        let bulk = calls(Delivery::HttpBulk, &events, "t", "/f").unwrap();
        assert_eq!(
            bulk.iter().map(|c| c.entries).collect::<Vec<_>>(),
            [100, 100, 50]
        );
        let Payload::Http(body) = &bulk[2].payload else {
            panic!("an HTTP body");
        };
        let body: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(body["entries"][49]["event"]["id"], "e249");
        assert_eq!(body["type"], "com.dapr.event.sent.bulk");
        assert_eq!(
            calls(Delivery::HttpSingle, &events, "t", "/f")
                .unwrap()
                .len(),
            250
        );
    }

    #[test]
    fn grpc_calls_are_built_as_daprd_builds_them() {
        let events: Vec<String> = (0..150)
            .map(|n| format!(r#"{{"id":"e{n}","source":"s","type":"x","specversion":"1.0","datacontenttype":"application/json","data":{{"n":{n}}}}}"#))
            .collect();
        let single = calls(Delivery::GrpcSingle, &events, "t", "/f").unwrap();
        assert_eq!(single.len(), 150);
        let Payload::Topic(event) = &single[7].payload else {
            panic!("an OnTopicEvent request");
        };
        assert_eq!((event.id.as_str(), event.path.as_str()), ("e7", "/f"));
        assert_eq!(
            (event.topic.as_str(), event.pubsub_name.as_str()),
            ("t", PUBSUB)
        );
        assert_eq!(event.data, br#"{"n":7}"#);
        let bulk = calls(Delivery::GrpcBulk, &events, "t", "/f").unwrap();
        assert_eq!(
            bulk.iter().map(|c| c.entries).collect::<Vec<_>>(),
            [100, 50]
        );
        let Payload::Bulk(request) = &bulk[1].payload else {
            panic!("an OnBulkTopicEvent request");
        };
        assert_eq!(request.entries.len(), 50);
        assert_eq!(request.entries[49].entry_id, "1-49");
        assert_eq!(request.path, "/f");
        let not_an_object = [r#"["e"]"#.to_owned()];
        assert!(calls(Delivery::GrpcSingle, &not_an_object, "t", "/f").is_err());
    }

    #[test]
    fn counts_successes_of_single_and_bulk_answers() {
        assert_eq!(successes(br#"{"status":"SUCCESS"}"#), 1);
        assert_eq!(successes(br#"{"status":"RETRY"}"#), 0);
        assert_eq!(
            successes(br#"{"statuses":[{"entryId":"a","status":"SUCCESS"},{"entryId":"b","status":"DROP"}]}"#),
            1
        );
        assert_eq!(successes(b"oops"), 0);
    }
}
