//! A catalog function end to end with every connection encrypted: `order-payment-confirmed` in
//! a running emulator on Redis over TLS (a `redis-server` that requires client certificates)
//! and on PostgreSQL over TLS with `sslmode=verify-full`, both serving certificates of a CA the
//! test makes.

use std::time::Duration;

use conveyor_catalog as catalog;
use conveyor_domain::events::payment::{PAYMENT_CONFIRMED, PaymentConfirmedEvent};
use conveyor_domain::events::samples;
use conveyor_domain::order::{OrderStatus, PaymentMethod};
use conveyor_domain::{Clock, OrderId, SystemClock};
use conveyor_emulator::up::{self, UpConfig};
use conveyor_redis::RedisSettings;
use conveyor_redis::tls::{RedisTls, TlsFiles};
use conveyor_runtime::CloudEvent;
use conveyor_testkit::seed;
use conveyor_testkit::tls::TestPki;
use conveyor_testkit::tls::postgres::TlsPostgres;
use conveyor_testkit::tls::redis::TlsRedis;

#[tokio::test]
async fn a_payment_is_handled_over_tls_redis_and_verify_full_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path()).unwrap();
    let pg = TlsPostgres::start(&pki).unwrap_or_else(|e| panic!("TLS PostgreSQL: {e}"));
    let redis = TlsRedis::start(&pki, true).unwrap();
    let tls = RedisTls::load(&TlsFiles {
        ca_cert: Some(pki.ca_cert.clone()),
        client_cert: Some(pki.client_cert.clone()),
        client_key: Some(pki.client_key.clone()),
    })
    .unwrap();
    let settings = RedisSettings {
        tls,
        prefix: format!("tls-flow-{}:", uuid::Uuid::new_v4().simple()),
        block: Duration::from_millis(100),
        ..RedisSettings::new(&redis.url())
    };
    let running = up::start(UpConfig {
        database: pg.url("verify-full", Some(&pki.ca_cert)),
        functions: vec![catalog::find("order-payment-confirmed").unwrap()],
        redis: Some(settings.clone()),
        ..UpConfig::default()
    })
    .await
    .unwrap();
    let store = running.deps.store.clone();
    let order = seed::order::order("ord-7101", PaymentMethod::Prepaid, SystemClock.now());
    seed::order::insert(&store, &order).await;

    let payment = PaymentConfirmedEvent {
        order_id: OrderId::parse("ord-7101").unwrap(),
        ..samples::payment_confirmed()
    };
    let event = CloudEvent::new(PAYMENT_CONFIRMED, "test", &payment, SystemClock.now()).unwrap();
    running
        .broker
        .publish(&[event.into_outbox_row()])
        .await
        .unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status = seed::order::load(&store, &order.id).await.map(|o| o.status);
        if status == Some(OrderStatus::PaymentConfirmed) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the order is still {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Its status change went out on the TLS Redis; nothing was dead-lettered.
    let mut con = settings.connect_once().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let published: i64 = redis::cmd("XLEN")
            .arg(settings.topic_key("orders.order.status_changed"))
            .query_async(&mut con)
            .await
            .unwrap();
        if published == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{published} published"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let letters = running.broker.dead_letters(None, 10).await.unwrap();
    assert!(letters.is_empty(), "{letters:?}");
    running.shutdown().await;
}
