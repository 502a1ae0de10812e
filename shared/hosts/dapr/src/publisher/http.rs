//! Publishing through the sidecar's HTTP API: `POST /v1.0/publish/<pubsub>/<topic>`, one event
//! per request, the full CloudEvent as `application/cloudevents+json`, the trace in the
//! `traceparent` / `tracestate` headers so daprd's publish span joins it.

use conveyor_store::OutboxRow;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{CLOUDEVENTS_CONTENT_TYPE, Failure, Rejected, trace_of};
use crate::config::WorkerConfig;
use crate::protocol::TOKEN_HEADER;

/// The sidecar's HTTP publish API.
#[derive(Debug)]
pub(super) struct HttpTransport {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    pubsub: String,
    token: Option<String>,
}

impl HttpTransport {
    pub(super) fn new(config: &WorkerConfig) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{}", config.sidecar()),
            pubsub: config.pubsub.clone(),
            token: config.dapr_api_token.clone(),
        }
    }

    /// Where events go (in errors).
    pub(super) fn target(&self) -> String {
        format!("{}/v1.0/publish/{}", self.base, self.pubsub)
    }

    /// The publish URL of `topic`.
    pub(super) fn url(&self, topic: &str) -> String {
        format!("{}/{topic}", self.target())
    }

    fn request(&self, row: &OutboxRow) -> Result<Request<Full<Bytes>>, Failure> {
        let mut builder = Request::post(self.url(&row.topic))
            .header(hyper::header::CONTENT_TYPE, CLOUDEVENTS_CONTENT_TYPE);
        let (traceparent, tracestate) = trace_of(row);
        if let Some(tp) = traceparent {
            builder = builder.header("traceparent", tp);
        }
        if let Some(ts) = tracestate {
            builder = builder.header("tracestate", ts);
        }
        if let Some(token) = &self.token {
            builder = builder.header(TOKEN_HEADER, token);
        }
        builder
            .body(Full::new(Bytes::from(row.body.clone())))
            .map_err(|e| Failure::Refused(format!("cannot build the publish request: {e}")))
    }

    /// Publishes `batch` one request per event, in order, up to the first that fails.
    pub(super) async fn send(&self, batch: &[&OutboxRow]) -> Result<(), Rejected> {
        for (i, row) in batch.iter().enumerate() {
            if let Err(failure) = self.send_one(row).await {
                return Err(Rejected {
                    failure,
                    failed: Some((i..batch.len()).collect()),
                });
            }
        }
        Ok(())
    }

    async fn send_one(&self, row: &OutboxRow) -> Result<(), Failure> {
        let request = self.request(row)?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| Failure::Transient(format!("sidecar unreachable: {e}")))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if status.is_success() {
            return Ok(());
        }
        let text = format!(
            "sidecar answered {status}: {}",
            String::from_utf8_lossy(&body).trim()
        );
        Err(
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                Failure::Transient(text)
            } else {
                Failure::Refused(text)
            },
        )
    }
}
