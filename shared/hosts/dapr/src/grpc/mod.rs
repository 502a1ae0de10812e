//! The worker as a gRPC app (`--app-protocol grpc`): daprd calls the `AppCallback`,
//! `AppCallbackAlpha` and `AppCallbackHealthCheck` services of Dapr's
//! `dapr/proto/runtime/v1/appcallback.proto` on the app port, over HTTP/2 without TLS (h2c).
//! The same port keeps answering `GET /healthz` and `GET /metrics` over HTTP/1.1, for the
//! kubelet's probes and Prometheus.
//!
//! The protos are Dapr's own, as the `dapr` crate (Dapr's Rust SDK) ships them already
//! generated for tonic: no `protoc` at build time, and the messages are the SDK's.
//!
//! # Layout
//! - [`callback`] — the services, over the worker's state and [`crate::delivery`]
//! - [`envelope`] — the CloudEvent of a gRPC delivery, put back together
//! - [`daprd`] — the other way: what daprd sends for a CloudEvent

pub mod callback;
pub mod daprd;
pub mod envelope;

use dapr::dapr::proto::runtime::v1::app_callback_alpha_server::AppCallbackAlphaServer;
use dapr::dapr::proto::runtime::v1::app_callback_health_check_server::AppCallbackHealthCheckServer;
use dapr::dapr::proto::runtime::v1::app_callback_server::AppCallbackServer;

pub use callback::Callbacks;

use axum::response::IntoResponse;

use crate::state::WorkerState;

/// Dapr's generated messages and services (`dapr.proto.runtime.v1`, `dapr.proto.common.v1`),
/// for callers that speak to the worker or play its sidecar.
pub mod proto {
    pub use dapr::dapr::proto::common::v1 as common;
    pub use dapr::dapr::proto::runtime::v1 as runtime;
}

/// The app port's router with `--app-protocol grpc`: daprd's gRPC services, and the probes.
pub fn router(state: WorkerState) -> axum::Router {
    let callbacks = Callbacks::new(state.clone());
    let services = tonic::service::Routes::new(AppCallbackServer::new(callbacks.clone()))
        .add_service(AppCallbackAlphaServer::new(callbacks.clone()))
        .add_service(AppCallbackHealthCheckServer::new(callbacks))
        .into_axum_router()
        .fallback(unknown);
    crate::app::probes(state).merge(services)
}

/// A path the app does not serve: `UNIMPLEMENTED` for a gRPC call (daprd reads it as "not
/// offered"), 404 for anything else (an HTTP callback sent to a gRPC app).
async fn unknown(request: axum::extract::Request) -> axum::response::Response {
    let is_grpc = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if is_grpc {
        tonic::Status::unimplemented(format!("the worker serves no {}", request.uri().path()))
            .into_http::<axum::body::Body>()
    } else {
        axum::http::StatusCode::NOT_FOUND.into_response()
    }
}
