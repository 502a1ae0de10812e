//! The daprd side of the gRPC tests: a fake of the sidecar's gRPC API (`PublishEvent`,
//! `BulkPublishEvent`, `BulkPublishEventAlpha1`, served by tonic on 127.0.0.1:0) that records
//! what the worker publishes and can be told to fail, and the `AppCallback` clients daprd
//! calls the app with.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use conveyor_dapr::grpc::proto::runtime::app_callback_alpha_client::AppCallbackAlphaClient;
use conveyor_dapr::grpc::proto::runtime::app_callback_client::AppCallbackClient;
use conveyor_dapr::grpc::proto::runtime::app_callback_health_check_client::AppCallbackHealthCheckClient;
use conveyor_dapr::grpc::proto::runtime::{
    BulkPublishRequest, BulkPublishResponse, BulkPublishResponseFailedEntry, PublishEventRequest,
};
use conveyor_dapr::{AppProtocol, Mode, PublisherSettings, WorkerConfig};
use conveyor_runtime::Service;
use serde_json::Value;
use tokio::sync::oneshot;
use tonic::server::{Grpc, UnaryService};
use tonic::transport::Channel;
use tonic::{Code, Status};

/// One event the fake received.
#[derive(Debug, Clone)]
pub(crate) struct GrpcPublished {
    pub(crate) pubsub: String,
    pub(crate) topic: String,
    pub(crate) content_type: String,
    pub(crate) traceparent: Option<String>,
    pub(crate) token: Option<String>,
    pub(crate) body: Value,
    /// Which call carried it: `PublishEvent`, `BulkPublishEvent` or `BulkPublishEventAlpha1`.
    pub(crate) call: &'static str,
    /// Whether the fake accepted it.
    pub(crate) accepted: bool,
}

#[derive(Debug, Default)]
struct ApiState {
    /// The code every call fails with; `Ok` (0) accepts.
    failing: AtomicI32,
    /// Answers `BulkPublishEvent` with `UNIMPLEMENTED`, as a sidecar that predates it.
    alpha_only: AtomicBool,
    /// Bulk entries whose `data.n` is this are refused once each (a partial bulk failure).
    refuse_n_once: Mutex<Option<u64>>,
    received: Mutex<Vec<GrpcPublished>>,
}

/// The sidecar's gRPC publish API.
pub(crate) struct FakeDaprApi {
    pub(crate) port: u16,
    state: Arc<ApiState>,
    _stop: oneshot::Sender<()>,
}

impl FakeDaprApi {
    pub(crate) async fn start() -> Self {
        let state = Arc::new(ApiState::default());
        let app = Router::new()
            .route("/dapr.proto.runtime.v1.Dapr/PublishEvent", post(publish))
            .route(
                "/dapr.proto.runtime.v1.Dapr/BulkPublishEvent",
                post(bulk_stable),
            )
            .route(
                "/dapr.proto.runtime.v1.Dapr/BulkPublishEventAlpha1",
                post(bulk_alpha),
            )
            .with_state(Arc::clone(&state));
        let (port, stop) = super::harness::serve_on_loopback(app).await;
        Self {
            port,
            state,
            _stop: stop,
        }
    }

    /// Fails every call with `code` from now on (`Code::Ok` accepts again).
    pub(crate) fn fail_with(&self, code: Code) {
        self.state.failing.store(code as i32, Ordering::SeqCst);
    }

    /// Answers `BulkPublishEvent` with `UNIMPLEMENTED`.
    pub(crate) fn alpha_only(&self) {
        self.state.alpha_only.store(true, Ordering::SeqCst);
    }

    /// Refuses, once, each bulk entry whose `data.n` is `n`.
    pub(crate) fn refuse_in_bulk_once(&self, n: u64) {
        *self.state.refuse_n_once.lock().unwrap() = Some(n);
    }

    /// Every event received so far.
    pub(crate) fn received(&self) -> Vec<GrpcPublished> {
        self.state.received.lock().unwrap().clone()
    }

    /// The events it accepted.
    pub(crate) fn accepted(&self) -> Vec<GrpcPublished> {
        self.received().into_iter().filter(|p| p.accepted).collect()
    }
}

fn metadata(request: &tonic::Request<impl Sized>, key: &str) -> Option<String> {
    request
        .metadata()
        .get(key)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn failure(state: &ApiState) -> Option<Status> {
    let code = Code::from_i32(state.failing.load(Ordering::SeqCst));
    (code != Code::Ok).then(|| Status::new(code, "the fake sidecar is failing"))
}

#[derive(Clone)]
struct PublishCall(Arc<ApiState>);

impl UnaryService<PublishEventRequest> for PublishCall {
    type Response = ();
    type Future = futures_like::Boxed<Result<tonic::Response<()>, Status>>;

    fn call(&mut self, request: tonic::Request<PublishEventRequest>) -> Self::Future {
        let state = Arc::clone(&self.0);
        Box::pin(async move {
            let fail = failure(&state);
            let traceparent = metadata(&request, "traceparent");
            let token = metadata(&request, "dapr-api-token");
            let message = request.into_inner();
            state.received.lock().unwrap().push(GrpcPublished {
                pubsub: message.pubsub_name,
                topic: message.topic,
                content_type: message.data_content_type,
                traceparent,
                token,
                body: serde_json::from_slice(&message.data).unwrap_or(Value::Null),
                call: "PublishEvent",
                accepted: fail.is_none(),
            });
            match fail {
                Some(status) => Err(status),
                None => Ok(tonic::Response::new(())),
            }
        })
    }
}

#[derive(Clone)]
struct BulkCall(Arc<ApiState>, &'static str);

impl UnaryService<BulkPublishRequest> for BulkCall {
    type Response = BulkPublishResponse;
    type Future = futures_like::Boxed<Result<tonic::Response<BulkPublishResponse>, Status>>;

    fn call(&mut self, request: tonic::Request<BulkPublishRequest>) -> Self::Future {
        let (state, call) = (Arc::clone(&self.0), self.1);
        Box::pin(async move {
            if call == "BulkPublishEvent" && state.alpha_only.load(Ordering::SeqCst) {
                return Err(Status::unimplemented("unknown method BulkPublishEvent"));
            }
            let fail = failure(&state);
            let token = metadata(&request, "dapr-api-token");
            let message = request.into_inner();
            let mut failed_entries = Vec::new();
            let mut refuse = state.refuse_n_once.lock().unwrap();
            for entry in message.entries {
                let body: Value = serde_json::from_slice(&entry.event).unwrap_or(Value::Null);
                let refused =
                    fail.is_none() && refuse.is_some() && body["data"]["n"].as_u64() == *refuse;
                if refused {
                    failed_entries.push(BulkPublishResponseFailedEntry {
                        entry_id: entry.entry_id.clone(),
                        error: "the fake refused it".to_owned(),
                    });
                }
                state.received.lock().unwrap().push(GrpcPublished {
                    pubsub: message.pubsub_name.clone(),
                    topic: message.topic.clone(),
                    content_type: entry.content_type,
                    traceparent: None,
                    token: token.clone(),
                    body,
                    call,
                    accepted: fail.is_none() && !refused,
                });
            }
            if !failed_entries.is_empty() {
                *refuse = None;
            }
            match fail {
                Some(status) => Err(status),
                None => Ok(tonic::Response::new(BulkPublishResponse { failed_entries })),
            }
        })
    }
}

/// Boxed futures for the fake's unary services.
mod futures_like {
    pub(crate) type Boxed<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;
}

async fn publish(State(state): State<Arc<ApiState>>, request: Request) -> Response {
    let mut grpc = Grpc::new(tonic_prost::ProstCodec::default());
    grpc.unary(PublishCall(state), request)
        .await
        .into_response()
}

async fn bulk_stable(State(state): State<Arc<ApiState>>, request: Request) -> Response {
    let mut grpc = Grpc::new(tonic_prost::ProstCodec::default());
    grpc.unary(BulkCall(state, "BulkPublishEvent"), request)
        .await
        .into_response()
}

async fn bulk_alpha(State(state): State<Arc<ApiState>>, request: Request) -> Response {
    let mut grpc = Grpc::new(tonic_prost::ProstCodec::default());
    grpc.unary(BulkCall(state, "BulkPublishEventAlpha1"), request)
        .await
        .into_response()
}

/// Quick settings for a gRPC worker publishing to `api`: short relay, breaker open for 800 ms.
pub(crate) fn grpc_config(service: Service, mode: Mode, api: &FakeDaprApi) -> WorkerConfig {
    WorkerConfig {
        mode,
        app_protocol: AppProtocol::Grpc,
        dapr_grpc_port: api.port,
        relay_every: Duration::from_millis(100),
        shutdown_timeout: Duration::from_secs(5),
        publisher: PublisherSettings {
            attempts: 2,
            backoff: Duration::from_millis(5),
            request_timeout: Duration::from_secs(2),
            failure_threshold: 3,
            open_for: Duration::from_millis(800),
        },
        ..WorkerConfig::new(service)
    }
}

/// The clients daprd calls a gRPC app with.
pub(crate) struct Daprd {
    pub(crate) app: AppCallbackClient<Channel>,
    pub(crate) alpha: AppCallbackAlphaClient<Channel>,
    pub(crate) health: AppCallbackHealthCheckClient<Channel>,
}

impl Daprd {
    /// Connects to the app at `base` (`http://127.0.0.1:<port>`), as daprd does (h2c).
    pub(crate) async fn connect(base: &str) -> Self {
        let channel = tonic::transport::Endpoint::from_shared(base.to_owned())
            .unwrap()
            .connect()
            .await
            .expect("the worker takes gRPC connections");
        Self {
            app: AppCallbackClient::new(channel.clone()),
            alpha: AppCallbackAlphaClient::new(channel.clone()),
            health: AppCallbackHealthCheckClient::new(channel),
        }
    }
}

/// `message` as a request carrying the app token `token`, if any.
pub(crate) fn with_token<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("dapr-api-token", token.parse().unwrap());
    }
    request
}
