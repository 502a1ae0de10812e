//! SQS through the Lambda adapter: `up --transport sqs` on the suite's moto server, with queues
//! of the test's own prefix created as the Terraform creates them (an ordered function's queue
//! FIFO, message group = its key), each long-polled by the local event source mapping and every
//! batch run through `conveyor_runtime::lambda::sqs::SqsHost`. Retries are SQS's: a failed
//! record comes back when its visibility timeout runs out, and its receive count is the attempt.
//! A crash drops the running emulator with a batch in flight; the next incarnation receives the
//! message again once its visibility timeout has passed.

use std::sync::Arc;
use std::time::Duration;

use conveyor_emulator::up::UpConfig;
use conveyor_runtime::Function;
use conveyor_sqs::SqsSettings;

use crate::db::Db;
use crate::host::{CONFORMING, Differences};
use crate::moto::moto;
use crate::up::{Flavour, UpHost};

/// Longer than the suite's longest function timeout (a message must not come back while its
/// handler still runs), short enough that retries come quickly.
const VISIBILITY: Duration = Duration::from_secs(2);

/// `up` on SQS queues.
pub(crate) type Sqs = UpHost<Queues>;

/// SQS queues of the test's own prefix on the suite's moto server.
#[derive(Debug)]
pub(crate) struct Queues;

impl Flavour for Queues {
    const NAME: &'static str = "sqs";
    const DIFFERENCES: Differences = CONFORMING;

    fn configure(db: &Db, functions: Vec<Arc<dyn Function>>) -> (Self, UpConfig) {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let sqs = SqsSettings {
            queue_prefix: format!("c{}-", &id[..12]),
            wait_seconds: 1,
            // One message per receive. moto's FIFO queues clear in-flight messages lazily: when
            // several messages of one group failed together and come back, it hands out the
            // later ones before the first (SQS keeps their order). One at a time keeps moto in
            // order; the adapter's grouping of a batch is covered by the SQS transport's tests.
            batch_size: 1,
            create_queues: true,
            visibility_timeout: Some(VISIBILITY),
            ..SqsSettings::new(moto().aws())
        };
        let config = UpConfig {
            database: db.url().to_owned(),
            functions,
            relay_every: Duration::from_millis(200),
            sqs: Some(sqs),
            ..UpConfig::default()
        };
        (Self, config)
    }
}
