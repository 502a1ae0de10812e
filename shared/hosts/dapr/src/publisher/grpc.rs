//! Publishing through the sidecar's gRPC API (`DAPR_GRPC_PORT`): `PublishEvent` for one event,
//! `BulkPublishEvent` for a run of events of one topic (falling back to
//! `BulkPublishEventAlpha1` on a sidecar that predates the stable name). Each event is the full
//! CloudEvent with content type `application/cloudevents+json`, as over HTTP, so daprd keeps
//! its id and trace; the token goes as `dapr-api-token` metadata.
//!
//! daprd's bulk publish to a broker without a bulk API of its own (Redis among them) publishes
//! the entries concurrently, so their order on the stream is not the order sent. A topic that
//! a function consumes with an ordering key is therefore never bulk-published: its events go
//! one `PublishEvent` at a time, in order.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};

use conveyor_store::OutboxRow;
use dapr::dapr::proto::runtime::v1::dapr_client::DaprClient;
use dapr::dapr::proto::runtime::v1::{
    BulkPublishRequest, BulkPublishRequestEntry, PublishEventRequest,
};
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request};

use super::{CLOUDEVENTS_CONTENT_TYPE, Failure, Rejected, trace_of};
use crate::config::WorkerConfig;
use crate::protocol::TOKEN_HEADER;

/// Most events in one bulk publish.
pub const MAX_BULK: usize = 100;

/// The sidecar's gRPC publish API.
#[derive(Debug)]
pub(super) struct GrpcTransport {
    client: DaprClient<Channel>,
    target: String,
    pubsub: String,
    token: Option<AsciiMetadataValue>,
    /// Topics consumed with an ordering key: never bulk-published.
    ordered_topics: HashSet<String>,
    /// Set once the sidecar answered `UNIMPLEMENTED` to `BulkPublishEvent`.
    alpha_bulk: AtomicBool,
}

impl GrpcTransport {
    /// A transport to the sidecar `config` names; it connects on first use, so the worker
    /// starts before its sidecar is up.
    pub(super) fn new(config: &WorkerConfig, ordered_topics: HashSet<String>) -> Self {
        let target = format!("http://{}", config.sidecar_grpc());
        let channel = Endpoint::from_shared(target.clone())
            .expect("a socket address makes a valid URI")
            .connect_timeout(config.publisher.request_timeout)
            .connect_lazy();
        let token = config.dapr_api_token.as_deref().and_then(|t| {
            AsciiMetadataValue::try_from(t)
                .inspect_err(|_| {
                    tracing::error!(
                        "DAPR_API_TOKEN is not valid gRPC metadata (visible ASCII only); publishing without it"
                    );
                })
                .ok()
        });
        Self {
            client: DaprClient::new(channel),
            target,
            pubsub: config.pubsub.clone(),
            token,
            ordered_topics,
            alpha_bulk: AtomicBool::new(false),
        }
    }

    /// Where events go (in errors).
    pub(super) fn target(&self) -> String {
        format!("{} (pubsub {})", self.target, self.pubsub)
    }

    /// How many of `rows`, from the first, go in one call: the run of events of the first
    /// one's topic (at most [`MAX_BULK`]), or 1 where that topic is ordered.
    pub(super) fn batch(&self, rows: &[OutboxRow]) -> usize {
        batch_len(rows, &self.ordered_topics)
    }

    fn metadata(&self, row: Option<&OutboxRow>) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        if let Some(token) = &self.token {
            metadata.insert(TOKEN_HEADER, token.clone());
        }
        if let Some(row) = row {
            let (traceparent, tracestate) = trace_of(row);
            let ascii = |s: String| AsciiMetadataValue::try_from(s).ok();
            if let Some(tp) = traceparent.and_then(ascii) {
                metadata.insert("traceparent", tp);
            }
            if let Some(ts) = tracestate.and_then(ascii) {
                metadata.insert("tracestate", ts);
            }
        }
        metadata
    }

    fn request<T>(&self, message: T, row: Option<&OutboxRow>) -> Request<T> {
        let mut request = Request::new(message);
        *request.metadata_mut() = self.metadata(row);
        request
    }

    /// Publishes `batch` (all of one topic): one event with `PublishEvent`, several with a
    /// bulk publish. A bulk that the sidecar took in part names the entries it refused.
    pub(super) async fn send(&self, batch: &[&OutboxRow]) -> Result<(), Rejected> {
        match batch {
            [] => Ok(()),
            [row] => self.publish_one(row).await,
            rows => self.publish_bulk(rows).await,
        }
    }

    async fn publish_one(&self, row: &OutboxRow) -> Result<(), Rejected> {
        let message = PublishEventRequest {
            pubsub_name: self.pubsub.clone(),
            topic: row.topic.clone(),
            data: row.body.clone().into_bytes(),
            data_content_type: CLOUDEVENTS_CONTENT_TYPE.to_owned(),
            metadata: HashMap::new(),
        };
        self.client
            .clone()
            .publish_event(self.request(message, Some(row)))
            .await
            .map(drop)
            .map_err(|status| Rejected::all(failure(&status)))
    }

    async fn publish_bulk(&self, rows: &[&OutboxRow]) -> Result<(), Rejected> {
        let message = BulkPublishRequest {
            pubsub_name: self.pubsub.clone(),
            topic: rows[0].topic.clone(),
            entries: rows
                .iter()
                .map(|row| BulkPublishRequestEntry {
                    entry_id: row.id.clone(),
                    event: row.body.clone().into_bytes(),
                    content_type: CLOUDEVENTS_CONTENT_TYPE.to_owned(),
                    metadata: HashMap::new(),
                })
                .collect(),
            metadata: HashMap::new(),
        };
        let mut client = self.client.clone();
        // The Alpha1 name is deprecated in the protos and kept for sidecars that predate the
        // stable one; it is only called after the stable one answered UNIMPLEMENTED.
        #[allow(deprecated)]
        let answer = if self.alpha_bulk.load(Ordering::Relaxed) {
            client
                .bulk_publish_event_alpha1(self.request(message, None))
                .await
        } else {
            match client
                .bulk_publish_event(self.request(message.clone(), None))
                .await
            {
                Err(status) if status.code() == Code::Unimplemented => {
                    tracing::info!(
                        "the sidecar has no BulkPublishEvent; using BulkPublishEventAlpha1"
                    );
                    self.alpha_bulk.store(true, Ordering::Relaxed);
                    client
                        .bulk_publish_event_alpha1(self.request(message, None))
                        .await
                }
                other => other,
            }
        };
        let failed_entries = answer
            .map_err(|status| Rejected::all(failure(&status)))?
            .into_inner()
            .failed_entries;
        let Some(first) = failed_entries.first() else {
            return Ok(());
        };
        let reason = format!(
            "the sidecar refused {} of {} events, first {}: {}",
            failed_entries.len(),
            rows.len(),
            first.entry_id,
            first.error
        );
        let failed: HashSet<&str> = failed_entries.iter().map(|e| e.entry_id.as_str()).collect();
        let indexes: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| failed.contains(r.id.as_str()))
            .map(|(i, _)| i)
            .collect();
        // daprd reports a component's publish errors per entry; those pass. Entries it names
        // by ids that were not sent leave no way to tell which failed: all count as failed.
        Err(Rejected {
            failure: Failure::Transient(reason),
            failed: (!indexes.is_empty()).then_some(indexes),
        })
    }
}

fn batch_len(rows: &[OutboxRow], ordered_topics: &HashSet<String>) -> usize {
    let Some(first) = rows.first() else {
        return 0;
    };
    if ordered_topics.contains(&first.topic) {
        return 1;
    }
    rows.iter()
        .take(MAX_BULK)
        .take_while(|r| r.topic == first.topic)
        .count()
}

/// A gRPC error as a publish failure: what a retry may cure (unavailable, deadline, internal,
/// resource exhausted, ...) or what it will not (bad request, unknown pubsub, not allowed).
fn failure(status: &tonic::Status) -> Failure {
    let text = format!("sidecar answered {:?}: {}", status.code(), status.message());
    match status.code() {
        Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::Unauthenticated
        | Code::FailedPrecondition
        | Code::OutOfRange
        | Code::Unimplemented => Failure::Refused(text),
        _ => Failure::Transient(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(topics: &[&str]) -> Vec<OutboxRow> {
        topics
            .iter()
            .enumerate()
            .map(|(i, t)| OutboxRow::bare(format!("e-{i}"), (*t).to_owned(), "{}".to_owned()))
            .collect()
    }

    #[test]
    fn a_bulk_is_a_run_of_one_unordered_topic() {
        let ordered: HashSet<String> = ["orders.order.status_changed".to_owned()].into();
        let r = rows(&["a", "a", "a", "b", "a"]);
        assert_eq!(batch_len(&r, &ordered), 3);
        assert_eq!(batch_len(&r[3..], &ordered), 1);
        let r = rows(&["orders.order.status_changed", "orders.order.status_changed"]);
        assert_eq!(
            batch_len(&r, &ordered),
            1,
            "an ordered topic goes one by one"
        );
        let many = rows(&["a"; MAX_BULK + 5]);
        assert_eq!(batch_len(&many, &ordered), MAX_BULK);
        assert_eq!(batch_len(&[], &ordered), 0);
    }

    #[test]
    fn only_transient_codes_are_retried() {
        for code in [
            Code::Unavailable,
            Code::Internal,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
            Code::Unknown,
        ] {
            assert!(
                matches!(
                    failure(&tonic::Status::new(code, "x")),
                    Failure::Transient(_)
                ),
                "{code:?}"
            );
        }
        for code in [
            Code::InvalidArgument,
            Code::NotFound,
            Code::PermissionDenied,
            Code::Unauthenticated,
        ] {
            assert!(
                matches!(failure(&tonic::Status::new(code, "x")), Failure::Refused(_)),
                "{code:?}"
            );
        }
    }
}
