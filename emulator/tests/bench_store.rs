//! `conveyor bench`'s event store scenario, small and in a debug build: the payment flow on
//! PostgreSQL with the event store on and off, in turn, gives both modes' rows and the cost.

use conveyor_bench::Transport;
use conveyor_emulator::benched::Up;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_store_scenario_measures_the_flow_with_the_store_on_and_off() {
    let admin = std::env::var("CONVEYOR_TEST_DATABASE_URL")
        .unwrap_or_else(|_| conveyor_store::testing::DEFAULT_ADMIN_URL.to_owned());
    let lines = conveyor_bench::store_cost::compare(&Up, &Transport::Embedded, &admin, 40, 1)
        .await
        .unwrap();
    assert_eq!(lines.len(), 5, "{lines:#?}");
    for (line, starts) in lines.iter().zip([
        "| payment flow on PostgreSQL, event store on: payment.confirmed handled |",
        "| payment flow on PostgreSQL, event store off: payment.confirmed handled |",
        "| payment flow on PostgreSQL, event store on: worker CPU per event |",
        "| payment flow on PostgreSQL, event store off: worker CPU per event |",
        "| event store cost (events/s lost, per pair of runs) |",
    ]) {
        assert!(line.starts_with(starts), "{line}");
    }
    // Both modes drained every payment: a rate above zero.
    for line in &lines[..2] {
        let rate: f64 = line.split('|').nth(3).unwrap().trim().parse().unwrap();
        assert!(rate > 0.0, "{line}");
    }
}
