//! The gRPC side of the stand-in sidecar ([`crate::dapr`]) for a worker started with
//! `--app-protocol grpc`: the `AppCallback` client daprd calls the app with (subscriptions,
//! `OnTopicEvent` with the event split into fields as daprd splits it), and the sidecar's gRPC
//! publish API (`PublishEvent`, `BulkPublishEvent`), whose events go to the subscribed routes
//! like those of the HTTP publish API.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use conveyor_dapr::delivery::Status;
use conveyor_dapr::grpc::daprd;
use conveyor_dapr::grpc::proto::runtime::app_callback_client::AppCallbackClient;
use conveyor_dapr::grpc::proto::runtime::topic_event_response::TopicEventResponseStatus as Wire;
use conveyor_dapr::grpc::proto::runtime::{
    BulkPublishRequest, BulkPublishResponse, PublishEventRequest, TopicEventRequest,
};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::server::{Grpc, UnaryService};
use tonic::transport::{Channel, Endpoint};

use crate::dapr::{Answer, Slot, Subscription};

/// A lazily connecting client of the app at `base` (`http://127.0.0.1:<port>`).
pub(crate) fn client(base: &str) -> AppCallbackClient<Channel> {
    AppCallbackClient::new(
        Endpoint::from_shared(base.to_owned())
            .expect("a URI")
            .connect_lazy(),
    )
}

/// The worker's subscriptions, read as daprd reads them from a gRPC app at start.
pub(crate) async fn discover(base: &str) -> Vec<Subscription> {
    client(base)
        .list_topic_subscriptions(())
        .await
        .expect("the worker lists its subscriptions")
        .into_inner()
        .subscriptions
        .into_iter()
        .map(|s| Subscription {
            pubsubname: s.pubsub_name,
            topic: s.topic,
            route: s.routes.map(|r| r.default).unwrap_or_default(),
            dead_letter_topic: s.dead_letter_topic,
        })
        .collect()
}

/// Raw bodies sent so far (each gets an id of its own, as daprd gives a raw payload).
static RAW: AtomicUsize = AtomicUsize::new(0);

/// `OnTopicEvent` for `body` delivered from `subscription`, as daprd makes it; a body that is
/// no CloudEvent object goes as daprd sends a raw payload: binary data under a new id.
pub(crate) async fn deliver(
    mut app: AppCallbackClient<Channel>,
    subscription: &Subscription,
    body: &[u8],
) -> Answer {
    let request = daprd::topic_event(
        body,
        &subscription.topic,
        &subscription.pubsubname,
        &subscription.route,
    )
    .unwrap_or_else(|| TopicEventRequest {
        id: format!("raw-{}", RAW.fetch_add(1, Ordering::SeqCst)),
        source: "Dapr".to_owned(),
        r#type: "com.dapr.event.sent".to_owned(),
        spec_version: "1.0".to_owned(),
        data_content_type: "application/octet-stream".to_owned(),
        data: body.to_vec(),
        topic: subscription.topic.clone(),
        pubsub_name: subscription.pubsubname.clone(),
        path: subscription.route.clone(),
        extensions: None,
    });
    match app.on_topic_event(request).await {
        Ok(answer) => match Wire::try_from(answer.into_inner().status) {
            Ok(Wire::Success) => Answer::Status(Status::Success),
            Ok(Wire::Retry) => Answer::Status(Status::Retry),
            Ok(Wire::Drop) => Answer::Status(Status::Drop),
            Err(e) => Answer::Failed(format!("unknown status: {e}")),
        },
        Err(status) => Answer::Failed(status.to_string()),
    }
}

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Hands each published event to the stand-in, which delivers it to the subscribed routes.
fn accept(slot: &Slot, topic: &str, body: &[u8]) -> Result<(), tonic::Status> {
    let Some(daprd) = slot.get() else {
        return Err(tonic::Status::unavailable("the sidecar is starting"));
    };
    daprd.accept_published(topic, body);
    Ok(())
}

#[derive(Clone)]
struct Publish(Slot);

impl UnaryService<PublishEventRequest> for Publish {
    type Response = ();
    type Future = Boxed<Result<tonic::Response<()>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<PublishEventRequest>) -> Self::Future {
        let slot = self.0.clone();
        Box::pin(async move {
            let message = request.into_inner();
            accept(&slot, &message.topic, &message.data)?;
            Ok(tonic::Response::new(()))
        })
    }
}

#[derive(Clone)]
struct BulkPublish(Slot);

impl UnaryService<BulkPublishRequest> for BulkPublish {
    type Response = BulkPublishResponse;
    type Future = Boxed<Result<tonic::Response<BulkPublishResponse>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<BulkPublishRequest>) -> Self::Future {
        let slot = self.0.clone();
        Box::pin(async move {
            let message = request.into_inner();
            for entry in &message.entries {
                accept(&slot, &message.topic, &entry.event)?;
            }
            Ok(tonic::Response::new(BulkPublishResponse::default()))
        })
    }
}

async fn publish(State(slot): State<Slot>, request: Request) -> Response {
    let mut grpc = Grpc::new(tonic_prost::ProstCodec::default());
    grpc.unary(Publish(slot), request).await.into_response()
}

async fn bulk_publish(State(slot): State<Slot>, request: Request) -> Response {
    let mut grpc = Grpc::new(tonic_prost::ProstCodec::default());
    grpc.unary(BulkPublish(slot), request).await.into_response()
}

/// Serves the gRPC publish API on a loopback port of its own; returns the port and the task.
pub(crate) async fn serve_publish_api(slot: Slot) -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("an address").port();
    let app = Router::new()
        .route("/dapr.proto.runtime.v1.Dapr/PublishEvent", post(publish))
        .route(
            "/dapr.proto.runtime.v1.Dapr/BulkPublishEvent",
            post(bulk_publish),
        )
        .with_state(slot);
    let serving = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (port, serving)
}
