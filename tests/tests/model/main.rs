//! The whole catalog under generated sequences of steps (a model-based, stateful property test):
//! products created and restocked; orders placed (prepaid or cash on delivery, one or several
//! lines, quantities beyond the stock); payments confirmed, failed, late (held back) and
//! duplicated; customer cancellations; picklist progress up to shipping; cash-on-delivery
//! deliveries verified; returns completed on either topic name; the clock moved past each job's
//! window with every job ticking; events delivered again (same id, later attempt), sent again
//! under a new id, held back and delivered out of order, or committed by a handler that crashed
//! before publishing (the outbox relay publishes them). After every step, and again once
//! everything held is delivered and every clock-driven rule has run out, the invariants of
//! [`invariants`] are checked on the database.
//!
//! Built on proptest's state-machine testing (`proptest-state-machine`): the reference state
//! decides which steps are valid next, and a failing sequence shrinks to a minimal one (steps
//! dropped, then each step simplified) that still breaks a rule. Each sequence it found is kept
//! in [`regressions`] as a named test.
//!
//! Runs on SQLite with a few cases in the default test run (seconds), and with more on
//! PostgreSQL: a few by default, more when `CONVEYOR_TEST_DATABASE_URL` names the server (as CI
//! may), and `CONVEYOR_MODEL_CASES` sets the number for both.
//!
//! # Layout
//! - [`steps`] — the steps and the reference state that generates them
//! - [`system`] — the catalog on a fresh database driven as the hosts drive it;
//!   `system::outside` — the outside world acting on it
//! - [`invariants`] — the rules checked after each step
//! - [`schemas`] — `events/schemas`, which every published event must match
//! - [`regressions`] — sequences the model found, kept as named tests

mod invariants;
mod regressions;
mod schemas;
mod steps;
mod system;

use std::cell::Cell;

use conveyor_store::Backend;
use proptest::test_runner::{Config, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};

use crate::schemas::Schemas;
use crate::steps::{Plan, Step};
use crate::system::System;

thread_local! {
    /// The backend the cases of this thread run on.
    static BACKEND: Cell<Backend> = const { Cell::new(Backend::Sqlite) };
}

/// The catalog, as proptest's state machine sees it.
#[derive(Debug)]
struct Catalog;

/// The system and the runtime it runs on.
#[derive(Debug)]
struct Running {
    rt: tokio::runtime::Runtime,
    sys: System,
}

impl Running {
    fn start(backend: Backend) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let sys = rt.block_on(System::new(backend, Schemas::get()));
        Self { rt, sys }
    }

    fn check(&self, when: &str) {
        let found = self.rt.block_on(invariants::broken(&self.sys));
        assert!(
            found.is_empty(),
            "{when} on {:?}:\n  {}",
            self.sys.backend(),
            found.join("\n  ")
        );
    }

    fn finish(mut self) {
        self.rt.block_on(self.sys.quiesce());
        self.check("at quiescence");
        self.rt.block_on(self.sys.h.close());
    }
}

impl StateMachineTest for Catalog {
    type SystemUnderTest = Running;
    type Reference = Plan;

    fn init_test(_: &Plan) -> Running {
        Running::start(BACKEND.get())
    }

    fn apply(mut running: Running, _: &Plan, step: Step) -> Running {
        running.rt.block_on(running.sys.apply(&step));
        running
    }

    fn check_invariants(running: &Running, _: &Plan) {
        running.check("after a step");
    }

    fn teardown(running: Running) {
        running.finish();
    }
}

/// Cases to run: `CONVEYOR_MODEL_CASES`, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("CONVEYOR_MODEL_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// Runs `cases` generated sequences of up to 50 steps on `backend`; a failure is shrunk and
/// reported with its minimal sequence.
fn run(backend: Backend, cases: u32) {
    BACKEND.set(backend);
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config.clone());
    let result = runner.run(
        &Plan::sequential_strategy(1..50),
        |(initial, steps, seen)| {
            Catalog::test_sequential(config.clone(), initial, steps, seen);
            Ok(())
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Replays a fixed sequence on `backend` (the regression tests).
fn replay(backend: Backend, steps: &[Step]) {
    let mut running = Running::start(backend);
    running.check("at the start");
    for step in steps {
        running.rt.block_on(running.sys.apply(step));
        running.check(&format!("after {step:?}"));
    }
    running.finish();
}

#[test]
fn the_rules_hold_under_generated_sequences_on_sqlite() {
    run(Backend::Sqlite, cases(12));
}

#[test]
fn the_rules_hold_under_generated_sequences_on_postgres() {
    let given = std::env::var_os("CONVEYOR_TEST_DATABASE_URL").is_some();
    run(Backend::Postgres, cases(if given { 48 } else { 4 }));
}
