//! The conformance suite: one set of delivery scenarios, written once in [`scenarios`] and run
//! the same way against every host through the [`host::Host`] trait: the embedded broker, Redis
//! Streams, SQS through the Lambda adapter (on moto), and the Dapr worker driven as daprd drives
//! it, over HTTP and over gRPC. Every scenario asserts the same final state (effects recorded
//! through the inbox), the same dead letters (reason and attempts, as `conveyor_runtime::delivery` words them) and the
//! same counters (handled, retried, dead-lettered) on every host. Where a host genuinely
//! differs, its `Host` impl declares it in [`host::Differences`], with the reason beside it.
//!
//! `cargo test -p conveyor-tests --test conformance` runs it: Redis at
//! `CONVEYOR_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`) and moto (`MOTO_SERVER`, the
//! project's `.venv`, or `moto_server` on `PATH`; `scripts/install-dev-tools.sh` installs it)
//! are required, and a missing one fails the suite rather than skipping it.
//!
//! # Layout
//! - [`functions`] — the suite's test functions and the events they take
//! - [`db`] — the database of one test: its effects table and how it is read
//! - [`host`] — the `Host` trait, dead letters, counters and declared differences
//! - [`scenarios`] — the scenarios, generic over the host
//! - [`up`] — the `Host` impl of the hosts `up` runs, over a flavour per transport
//! - [`embedded`], [`redis`], [`sqs`] — those flavours; [`dapr`] — the Dapr worker's `Host`,
//!   over HTTP and (with [`dapr_grpc`]) over gRPC
//! - [`moto`] — the suite's moto server

mod dapr;
mod dapr_grpc;
mod db;
mod embedded;
mod functions;
mod host;
mod moto;
mod redis;
mod scenarios;
mod sqs;
mod up;

/// One test per scenario for the host type `$host`, in a module named `$name`.
macro_rules! conformance {
    ($name:ident, $host:ty) => {
        mod $name {
            use crate::scenarios;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_good_event_is_handled_once() {
                scenarios::good_event::<$host>().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_transient_failure_is_retried_until_it_succeeds() {
                scenarios::transient_failure_then_success::<$host>().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn poison_is_dead_lettered_at_once() {
                scenarios::poison::<$host>().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_body_that_is_no_cloudevent_is_dead_lettered_at_once_by_every_subscriber() {
                scenarios::not_a_cloudevent::<$host>().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_event_delivered_twice_takes_effect_once() {
                scenarios::delivered_twice::<$host>().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_handler_past_its_timeout_is_rolled_back_and_retried() {
                scenarios::past_its_timeout::<$host>().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_crash_mid_handler_is_redelivered_and_takes_effect_once() {
                scenarios::crash_mid_handler::<$host>().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_handler_that_panics_is_rolled_back_and_redelivered() {
                scenarios::handler_panics::<$host>().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn each_keys_events_and_their_follow_ups_take_effect_in_publish_order() {
                scenarios::ordering_per_key::<$host>().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_redriven_dead_letter_is_handled_once_fixed_by_its_function_only() {
                scenarios::redrive::<$host>().await;
            }
        }
    };
}

conformance!(on_embedded, crate::embedded::Embedded);
conformance!(on_redis, crate::redis::Redis);
conformance!(on_sqs, crate::sqs::Sqs);
conformance!(on_dapr, crate::dapr::DaprHttp);
conformance!(on_dapr_grpc, crate::dapr::DaprGrpc);
