//! The hot paths every host runs per event: CloudEvent decode and encode, payload decode and
//! validation, and the Lambda SQS batch adapter on 10 and 1,000 records (a stateless no-op
//! function, so the figures are the adapter's own cost, not a database's).
//!
//! `cargo bench -p conveyor-runtime --features lambda --bench hot_paths`

use std::hint::black_box;
use std::sync::Arc;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use conveyor_domain::events::Validate;
use conveyor_domain::events::payment::{PAYMENT_CONFIRMED, PaymentConfirmedEvent};
use conveyor_domain::events::samples;
use conveyor_domain::{SystemClock, Timestamp};
use conveyor_runtime::lambda::sqs::SqsHost;
use conveyor_runtime::{
    CloudEvent, Context, Deps, FunctionSpec, HandlerError, MemoryPublisher, Service, TopicHandler,
};
use conveyor_store::Store;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lambda_runtime::LambdaEvent;

/// Does nothing with a payment: what remains is the adapter.
#[derive(Debug)]
struct Noop;

impl TopicHandler for Noop {
    type Payload = PaymentConfirmedEvent;
    const SPEC: FunctionSpec = FunctionSpec {
        concurrency: 64,
        ..FunctionSpec::on_topics("bench-noop", Service::Order, &[PAYMENT_CONFIRMED]).stateless()
    };

    async fn handle(
        &self,
        payment: PaymentConfirmedEvent,
        _cx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        black_box(payment);
        Ok(())
    }
}

fn event() -> CloudEvent {
    let mut ce = CloudEvent::new(
        PAYMENT_CONFIRMED,
        "payment-service",
        &samples::payment_confirmed(),
        Timestamp::from_millis(1_795_341_600_000),
    )
    .expect("a sample serialises");
    ce.traceparent = Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned());
    ce.correlationid = Some("corr-1".to_owned());
    ce
}

fn cloudevent(c: &mut Criterion) {
    let ce = event();
    let json = ce.to_json();
    let mut group = c.benchmark_group("cloudevent");
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("decode", |b| {
        b.iter(|| CloudEvent::decode(black_box(json.as_bytes())).expect("decodes"));
    });
    group.bench_function("encode", |b| b.iter(|| black_box(&ce).to_json()));
    group.finish();
}

fn payload(c: &mut Criterion) {
    let ce = event();
    c.bench_function("payload/decode_and_validate", |b| {
        b.iter(|| {
            let p: PaymentConfirmedEvent = black_box(&ce).payload().expect("decodes");
            p.validate().expect("valid");
        });
    });
}

fn record(n: usize, body: &str) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(format!("m-{n}"));
    m.body = Some(body.to_owned());
    m.event_source = Some("aws:sqs".to_owned());
    m.event_source_arn = Some("arn:aws:sqs:us-east-1:000000000000:bench".to_owned());
    m.attributes
        .insert("ApproximateReceiveCount".to_owned(), "1".to_owned());
    m
}

fn lambda_batch(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let store = runtime
        .block_on(Store::open("sqlite::memory:"))
        .expect("an in-memory store");
    let deps = Deps {
        store,
        publisher: Arc::new(MemoryPublisher::new()),
        clock: Arc::new(SystemClock),
    };
    let host = SqsHost::new(conveyor_runtime::topic(Noop), deps, None);
    let body = event().to_json();
    let mut group = c.benchmark_group("lambda_batch");
    for size in [10_usize, 1_000] {
        let mut batch = SqsEvent::default();
        batch.records = (0..size).map(|n| record(n, &body)).collect();
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &batch, |b, batch| {
            b.to_async(&runtime).iter(|| async {
                let response = host
                    .handle_batch(LambdaEvent::new(
                        batch.clone(),
                        lambda_runtime::Context::default(),
                    ))
                    .await;
                assert!(response.batch_item_failures.is_empty());
            });
        });
    }
    group.finish();
}

criterion_group!(benches, cloudevent, payload, lambda_batch);
criterion_main!(benches);
