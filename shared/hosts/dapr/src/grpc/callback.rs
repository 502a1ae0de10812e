//! The services daprd calls on a gRPC app, over the worker's shared state:
//!
//! | service / method | what |
//! |---|---|
//! | `AppCallback.ListTopicSubscriptions` | the worker's subscriptions, as `GET /dapr/subscribe` lists them |
//! | `AppCallback.OnTopicEvent` | one event, answered `SUCCESS` / `RETRY` / `DROP` by [`crate::delivery`] |
//! | `AppCallback.OnBulkTopicEvent`, `AppCallbackAlpha.OnBulkTopicEventAlpha1` | a bulk delivery, one status per entry |
//! | `AppCallback.ListInputBindings`, `AppCallback.OnBindingEvent` | the jobs' cron bindings, one tick per firing |
//! | `AppCallback.OnJobEvent`, `AppCallbackAlpha.OnJobEventAlpha1` | a Scheduler trigger (`--schedules jobs`): one tick, by [`crate::jobs::on_job_event`] |
//! | `AppCallbackHealthCheck.HealthCheck` | daprd's app health probe |
//!
//! With an app token configured, the calls that carry work (`OnTopicEvent`, the bulk calls,
//! `OnBindingEvent`, the job calls) must present it as `dapr-api-token` metadata, or fail `UNAUTHENTICATED`,
//! as the HTTP routes answer 401. daprd sends no token with `ListTopicSubscriptions`,
//! `ListInputBindings` or its health probe (its subscriber, binding and health code call them
//! without one), so those stay open, as `GET /healthz` is on HTTP.
//!
//! An event for a route the worker does not serve is answered `DROP` (to the dead-letter topic,
//! as daprd treats the HTTP 404 for an unknown route); a firing of an unknown binding fails
//! `NOT_FOUND`, and so does a trigger of an unknown job (its message says how to delete it).
//! Service invocation is not served: `UNIMPLEMENTED`, which daprd takes as "not offered".

use dapr::dapr::proto::common::v1::{InvokeRequest, InvokeResponse};
use dapr::dapr::proto::runtime::v1::app_callback_alpha_server::AppCallbackAlpha;
use dapr::dapr::proto::runtime::v1::app_callback_health_check_server::AppCallbackHealthCheck;
use dapr::dapr::proto::runtime::v1::app_callback_server::AppCallback;
use dapr::dapr::proto::runtime::v1::topic_event_bulk_request_entry::Event;
use dapr::dapr::proto::runtime::v1::topic_event_response::TopicEventResponseStatus;
use dapr::dapr::proto::runtime::v1::{
    BindingEventRequest, BindingEventResponse, BulkSubscribeConfig, HealthCheckResponse,
    JobEventRequest, JobEventResponse, ListInputBindingsResponse, ListTopicSubscriptionsResponse,
    TopicEventBulkRequest, TopicEventBulkResponse, TopicEventBulkResponseEntry, TopicEventRequest,
    TopicEventResponse, TopicRoutes, TopicSubscription,
};
use tonic::{Request, Response, Status};

use super::envelope::{self, Fields};
use crate::app::token_accepted;
use crate::bindings::{self, TickOutcome};
use crate::delivery::{self, Status as Delivery};
use crate::jobs;
use crate::protocol::TOKEN_HEADER;
use crate::state::{TopicEntry, WorkerState};
use crate::subscription::Subscription;

/// The gRPC side of a worker.
#[derive(Debug, Clone)]
pub struct Callbacks {
    state: WorkerState,
}

impl Callbacks {
    /// Callbacks over the worker's state.
    #[must_use]
    pub fn new(state: WorkerState) -> Self {
        Self { state }
    }

    /// Refuses a call without the app token, when one is configured.
    fn authorize<T>(&self, request: &Request<T>, call: &str) -> Result<(), Status> {
        let given = request
            .metadata()
            .get(TOKEN_HEADER)
            .map(tonic::metadata::MetadataValue::as_bytes);
        if token_accepted(self.state.app_token(), given) {
            Ok(())
        } else {
            tracing::warn!(call, "callback without a valid dapr-api-token");
            Err(Status::unauthenticated("missing or wrong dapr-api-token"))
        }
    }

    /// The topic function an event for `path` (the subscription's route) and `topic` goes
    /// to: by route, else the one function subscribed to the topic.
    fn route(&self, path: &str, topic: &str) -> Option<&std::sync::Arc<TopicEntry>> {
        if !path.is_empty() {
            return self.state.topic_at(path);
        }
        let mut subscribed = self
            .state
            .topics()
            .iter()
            .filter(|e| e.function.spec().topics().contains(&topic));
        match (subscribed.next(), subscribed.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }

    /// A Scheduler trigger: one tick of the job the request names, through
    /// [`jobs::on_job_event`] as `POST /job/<name>` runs it. An empty answer when the tick ran
    /// (or was a duplicate, or skipped), `INTERNAL` when it failed (the Scheduler retries it
    /// under the job's failure policy), `NOT_FOUND` naming the job when the worker serves none
    /// of that name.
    async fn job(
        &self,
        request: Request<JobEventRequest>,
        call: &str,
    ) -> Result<Response<JobEventResponse>, Status> {
        self.authorize(&request, call)?;
        // daprd sends the job's name, its data and `method: job/<name>`; the name is enough.
        let name = request.into_inner().name;
        match jobs::on_job_event(&self.state, &name).await {
            Ok(TickOutcome::Failed { tick, error }) => Err(Status::internal(format!(
                "{name}: the tick of {} failed: {error}",
                tick.to_rfc3339()
            ))),
            Ok(TickOutcome::Ran { .. } | TickOutcome::Skipped) => {
                Ok(Response::new(JobEventResponse {}))
            }
            Err(unknown) => {
                tracing::warn!(job = %name, call, error = %unknown, "job callback for a job this worker does not serve");
                Err(Status::not_found(unknown.to_string()))
            }
        }
    }

    async fn bulk(
        &self,
        request: Request<TopicEventBulkRequest>,
    ) -> Result<Response<TopicEventBulkResponse>, Status> {
        self.authorize(&request, "OnBulkTopicEvent")?;
        let bulk = request.into_inner();
        let Some(entry) = self.route(&bulk.path, &bulk.topic).cloned() else {
            tracing::warn!(path = %bulk.path, topic = %bulk.topic, "bulk delivery for a route the worker does not serve; dropping it");
            let statuses = bulk
                .entries
                .into_iter()
                .map(|e| status_entry(e.entry_id, Delivery::Drop))
                .collect();
            return Ok(Response::new(TopicEventBulkResponse { statuses }));
        };
        let entries = bulk.entries.into_iter().map(|item| {
            let decoded = match &item.event {
                Some(Event::CloudEvent(ce)) => envelope::cloud_event(&Fields {
                    id: &ce.id,
                    source: &ce.source,
                    ty: &ce.r#type,
                    spec_version: &ce.spec_version,
                    data_content_type: &ce.data_content_type,
                    data: &ce.data,
                    topic: &bulk.topic,
                    pubsub_name: &bulk.pubsub_name,
                    extensions: ce.extensions.as_ref(),
                }),
                // A raw payload: the bytes as published, which conveyor's events never are,
                // unless a publisher wrote the CloudEvent itself raw.
                Some(Event::Bytes(bytes)) => conveyor_runtime::CloudEvent::decode(bytes),
                None => conveyor_runtime::CloudEvent::decode(&[]),
            };
            (item.entry_id, decoded)
        });
        let statuses = delivery::deliver_entries(&self.state, &entry, entries)
            .await
            .into_iter()
            .map(|(id, status)| status_entry(id, status))
            .collect();
        Ok(Response::new(TopicEventBulkResponse { statuses }))
    }
}

fn status_code(status: Delivery) -> i32 {
    let status = match status {
        Delivery::Success => TopicEventResponseStatus::Success,
        Delivery::Retry => TopicEventResponseStatus::Retry,
        Delivery::Drop => TopicEventResponseStatus::Drop,
    };
    status as i32
}

fn status_entry(entry_id: String, status: Delivery) -> TopicEventBulkResponseEntry {
    TopicEventBulkResponseEntry {
        entry_id,
        status: status_code(status),
    }
}

/// A subscription as `ListTopicSubscriptions` lists it: the route as the default of `routes`
/// (gRPC subscriptions have no single `route`), sent back as each event's `path`.
fn topic_subscription(s: Subscription) -> TopicSubscription {
    TopicSubscription {
        pubsub_name: s.pubsubname,
        topic: s.topic,
        metadata: std::collections::HashMap::new(),
        routes: Some(TopicRoutes {
            rules: Vec::new(),
            default: s.route,
        }),
        dead_letter_topic: s.dead_letter_topic,
        bulk_subscribe: s.bulk_subscribe.map(|b| BulkSubscribeConfig {
            enabled: b.enabled,
            max_messages_count: i32::try_from(b.max_messages_count).unwrap_or(i32::MAX),
            max_await_duration_ms: i32::try_from(b.max_await_duration_ms).unwrap_or(i32::MAX),
        }),
    }
}

#[tonic::async_trait]
impl AppCallback for Callbacks {
    async fn on_invoke(
        &self,
        _request: Request<InvokeRequest>,
    ) -> Result<Response<InvokeResponse>, Status> {
        Err(Status::unimplemented(
            "the worker serves no service invocation",
        ))
    }

    async fn list_topic_subscriptions(
        &self,
        _request: Request<()>,
    ) -> Result<Response<ListTopicSubscriptionsResponse>, Status> {
        let subscriptions = self
            .state
            .subscriptions()
            .into_iter()
            .map(topic_subscription)
            .collect();
        Ok(Response::new(ListTopicSubscriptionsResponse {
            subscriptions,
        }))
    }

    async fn on_topic_event(
        &self,
        request: Request<TopicEventRequest>,
    ) -> Result<Response<TopicEventResponse>, Status> {
        self.authorize(&request, "OnTopicEvent")?;
        let event = request.into_inner();
        let status = match self.route(&event.path, &event.topic) {
            Some(entry) => {
                let decoded = envelope::cloud_event(&Fields {
                    id: &event.id,
                    source: &event.source,
                    ty: &event.r#type,
                    spec_version: &event.spec_version,
                    data_content_type: &event.data_content_type,
                    data: &event.data,
                    topic: &event.topic,
                    pubsub_name: &event.pubsub_name,
                    extensions: event.extensions.as_ref(),
                });
                delivery::deliver_event(&self.state, entry, decoded).await
            }
            None => {
                tracing::warn!(path = %event.path, topic = %event.topic, event_id = %event.id, "event for a route the worker does not serve; dropping it");
                Delivery::Drop
            }
        };
        Ok(Response::new(TopicEventResponse {
            status: status_code(status),
        }))
    }

    async fn list_input_bindings(
        &self,
        _request: Request<()>,
    ) -> Result<Response<ListInputBindingsResponse>, Status> {
        let bindings = self
            .state
            .bindings()
            .into_iter()
            .map(str::to_owned)
            .collect();
        Ok(Response::new(ListInputBindingsResponse { bindings }))
    }

    async fn on_binding_event(
        &self,
        request: Request<BindingEventRequest>,
    ) -> Result<Response<BindingEventResponse>, Status> {
        self.authorize(&request, "OnBindingEvent")?;
        let name = request.into_inner().name;
        let Some(job) = self.state.job(&name) else {
            return Err(Status::not_found(format!(
                "the worker serves no binding named {name:?}"
            )));
        };
        let (code, axum::Json(report)) =
            bindings::fire(self.state.deps(), self.state.stats(), job).await;
        if code.is_success() {
            Ok(Response::new(BindingEventResponse::default()))
        } else {
            let error = report["error"].as_str().unwrap_or("the tick failed");
            Err(Status::internal(format!("{name}: {error}")))
        }
    }

    async fn on_bulk_topic_event(
        &self,
        request: Request<TopicEventBulkRequest>,
    ) -> Result<Response<TopicEventBulkResponse>, Status> {
        self.bulk(request).await
    }

    async fn on_job_event(
        &self,
        request: Request<JobEventRequest>,
    ) -> Result<Response<JobEventResponse>, Status> {
        self.job(request, "OnJobEvent").await
    }
}

#[tonic::async_trait]
impl AppCallbackAlpha for Callbacks {
    async fn on_bulk_topic_event_alpha1(
        &self,
        request: Request<TopicEventBulkRequest>,
    ) -> Result<Response<TopicEventBulkResponse>, Status> {
        self.bulk(request).await
    }

    async fn on_job_event_alpha1(
        &self,
        request: Request<JobEventRequest>,
    ) -> Result<Response<JobEventResponse>, Status> {
        self.job(request, "OnJobEventAlpha1").await
    }
}

#[tonic::async_trait]
impl AppCallbackHealthCheck for Callbacks {
    async fn health_check(
        &self,
        _request: Request<()>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse {}))
    }
}
