//! What the configurations that hold a database or Redis URL, or a token, show of themselves
//! through `Debug`: URLs with their passwords masked ([`conveyor_store::redact`]), tokens never.
//!
//! These types derive everything but `Debug`, which is written here, in one place, as an allow
//! list: a field added later (a token, say) stays out of a log line until it is named here, so a
//! new secret cannot leak by default.

use std::fmt;

use conveyor_store::redact::Redacted;

use crate::cli::args::{ApiArgs, Command, EventsCommand, ReplayArgs, TransportArgs, UpArgs};
use crate::up::UpConfig;

fn url(value: Option<&String>) -> Option<Redacted<'_>> {
    value.map(|v| Redacted(v))
}

impl fmt::Debug for UpArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpArgs")
            .field("database", &Redacted(&self.database))
            .field("transport", &self.transport)
            .field("redis", &url(self.redis.as_ref()))
            .field("redis_prefix", &self.redis_prefix)
            .field("functions", &self.functions)
            .field("service", &self.service)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ReplayArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayArgs")
            .field("topic", &self.topic)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("function", &self.function)
            .field("as_new", &self.as_new)
            .field("database", &Redacted(&self.database))
            .field("redis", &url(self.redis.as_ref()))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ApiArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiArgs")
            .field("api", &Redacted(&self.api))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for TransportArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportArgs")
            .field("api", &self.api)
            .field("redis", &url(self.redis.as_ref()))
            .field("redis_prefix", &self.redis_prefix)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Up(args) => f.debug_tuple("Up").field(args).finish(),
            Self::Worker(args) => f.debug_tuple("Worker").field(args).finish(),
            Self::Publish { topic, to, .. } => f
                .debug_struct("Publish")
                .field("topic", topic)
                .field("to", to)
                .finish_non_exhaustive(),
            Self::Invoke { function, api, .. } => f
                .debug_struct("Invoke")
                .field("function", function)
                .field("api", api)
                .finish_non_exhaustive(),
            Self::Bench {
                redis, postgres, ..
            } => f
                .debug_struct("Bench")
                .field("redis", &url(redis.as_ref()))
                .field("postgres", &url(postgres.as_ref()))
                .finish_non_exhaustive(),
            Self::Migrate { database, .. } => f
                .debug_struct("Migrate")
                .field("database", &url(database.as_ref()))
                .finish_non_exhaustive(),
            Self::Functions => f.write_str("Functions"),
            Self::Cron { .. } => f.write_str("Cron { .. }"),
            Self::Dlq { .. } => f.write_str("Dlq { .. }"),
            Self::Saga { .. } => f.write_str("Saga { .. }"),
            Self::Gen { .. } => f.write_str("Gen { .. }"),
            Self::Events {
                command: EventsCommand::Replay(args),
            } => f.debug_tuple("EventsReplay").field(args).finish(),
        }
    }
}

impl fmt::Debug for UpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpConfig")
            .field("database", &Redacted(&self.database))
            .field("functions", &self.functions.len())
            .field("redis", &self.redis)
            .field("sqs", &self.sqs)
            .field("relay_every", &self.relay_every)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::args::Cli;
    use crate::up::UpConfig;
    use conveyor_redis::RedisSettings;

    const SECRET: &str = "pw-4711-never-shown";

    fn shown(text: &str) {
        assert!(!text.contains(SECRET), "the password leaked: {text}");
        assert!(text.contains("***"), "nothing was masked: {text}");
    }

    #[test]
    fn parsed_commands_mask_urls_and_tokens() {
        let db = format!("postgres://app:{SECRET}@db.example:5432/app?sslmode=verify-full");
        let redis = format!("rediss://default:{SECRET}@cache.example:6380");
        for args in [
            vec!["up", "--database", &db, "--redis", &redis],
            vec!["worker", "--service", "order", "--database", &db],
            vec![
                "worker",
                "--dapr-api-token",
                SECRET,
                "--app-api-token",
                SECRET,
            ],
            vec!["publish", "t", "--data-file", "x.json", "--redis", &redis],
            vec!["dlq", "list", "--redis", &redis],
            vec!["bench", "--redis", &redis, "--postgres", &db],
            vec!["migrate", "--database", &db],
            vec![
                "events",
                "replay",
                "--topic",
                "t",
                "--from",
                "2026-12-05T00:00:00Z",
                "--to",
                "2026-12-06T00:00:00Z",
                "--database",
                &db,
                "--redis",
                &redis,
            ],
        ] {
            let cli = Cli::try_parse_from(std::iter::once("conveyor").chain(args.clone()))
                .unwrap_or_else(|e| panic!("{args:?}: {e}"));
            let text = format!("{cli:?}");
            if args[0] == "dlq" {
                // Cron and dead-letter commands show their name only.
                assert!(!text.contains(SECRET), "{text}");
            } else {
                shown(&text);
            }
        }
    }

    #[test]
    fn configurations_mask_urls_and_tokens() {
        let up = UpConfig {
            database: format!("postgres://app:{SECRET}@db/app"),
            redis: Some(RedisSettings::new(&format!("redis://:{SECRET}@cache:6379"))),
            ..UpConfig::default()
        };
        let text = format!("{up:?}");
        shown(&text);
        assert!(text.contains("redis://:***@cache:6379"), "{text}");
    }
}
