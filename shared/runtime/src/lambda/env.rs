//! The environment variables a Lambda's configuration is read from (the database secret's are
//! with [`super::secret`]), and the bounds of the connection pool they size: named once, for
//! [`super::config`], which reads them, and for the errors that say what to set.

/// Environment variable: the database URL, for local runs (on AWS the secret is used instead).
pub const DATABASE_URL: &str = "DATABASE_URL";
/// Environment variable: the EventBridge bus outgoing events go to.
pub const EVENT_BUS: &str = "CONVEYOR_EVENT_BUS";
/// Environment variable: `outbox` keeps outgoing events in the outbox for a relay instead.
pub const PUBLISH: &str = "CONVEYOR_PUBLISH";
/// Environment variable: the function's dead-letter queue URL.
pub const DLQ_URL: &str = "CONVEYOR_DLQ_URL";
/// Environment variable: `false` skips migrations at cold start.
pub const MIGRATE: &str = "CONVEYOR_MIGRATE";
/// Environment variable: most database connections one execution environment opens.
pub const POOL_SIZE: &str = "CONVEYOR_DB_POOL_SIZE";
/// Environment variable: milliseconds a handler waits for a database connection.
pub const ACQUIRE_TIMEOUT_MS: &str = "CONVEYOR_DB_ACQUIRE_TIMEOUT_MS";
/// A Lambda handles one batch at a time: two connections serve it and its publisher.
pub const DEFAULT_POOL_SIZE: u32 = 2;
/// The largest [`POOL_SIZE`] accepted.
pub const MAX_POOL_SIZE: u32 = 100;
