//! The embedded broker: `up` on the test's SQLite file, its queue and dead letters in the same
//! database. A crash drops the running emulator (its tasks are aborted, leases stay taken) and
//! starts another on the file, which delivers the message again once its lease runs out.

use std::sync::Arc;
use std::time::Duration;

use conveyor_embedded::consumer::ConsumerSettings;
use conveyor_emulator::up::UpConfig;
use conveyor_runtime::Function;

use crate::db::Db;
use crate::host::{CONFORMING, Differences};
use crate::up::{Flavour, UpHost};

/// `up` on the embedded broker.
pub(crate) type Embedded = UpHost<EmbeddedBroker>;

/// The embedded broker's configuration.
#[derive(Debug)]
pub(crate) struct EmbeddedBroker;

impl Flavour for EmbeddedBroker {
    const NAME: &'static str = "embedded";
    const DIFFERENCES: Differences = Differences {
        // The queue stores each message's outbox id beside its body and a dead letter copies
        // it, so a body that is no CloudEvent is dead-lettered under the id it was queued with.
        raw_letter_keeps_published_id: true,
        ..CONFORMING
    };

    fn configure(db: &Db, functions: Vec<Arc<dyn Function>>) -> (Self, UpConfig) {
        let config = UpConfig {
            database: db.url().to_owned(),
            functions,
            consumer: ConsumerSettings {
                batch: 16,
                idle_poll: Duration::from_millis(20),
            },
            relay_every: Duration::from_millis(200),
            ..UpConfig::default()
        };
        (Self, config)
    }
}
