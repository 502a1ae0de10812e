//! `conveyor bench`'s saga scenario, small and in a debug build: 20 checkouts on PostgreSQL via
//! Redis end as the mix calls for (16 completed; 2 declined and 2 out of stock, compensated),
//! and the run reports a rate. Bounded by the count: the scenario returns once every saga in
//! the table has ended (or fails after its own limit).

use conveyor_bench::Transport;
use conveyor_bench::saga::{checkout_sagas, expected};
use conveyor_emulator::benched::Up;

use crate::redis_common::redis_url;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saga_scenario_ends_every_checkout_on_postgres_via_redis() {
    let admin = std::env::var("CONVEYOR_TEST_DATABASE_URL")
        .unwrap_or_else(|_| conveyor_store::testing::DEFAULT_ADMIN_URL.to_owned());
    let run = checkout_sagas(&Up, &Transport::Redis(redis_url()), &admin, 20)
        .await
        .unwrap();
    assert_eq!(expected(20), (16, 4));
    assert_eq!((run.completed, run.compensated), expected(20), "{run:?}");
    assert!(run.throughput.events_per_second > 0.0, "{run:?}");
    assert!(run.throughput.cpu_us_per_event > 0.0, "{run:?}");
}
