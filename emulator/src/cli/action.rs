//! The operator commands that need only the transport (publish, dead letters, redrive), run
//! either on Redis directly (`--redis`: no emulator needs to run) or through a running
//! `conveyor up`'s HTTP API. Both answer with the same JSON ([`crate::operations`]).

use serde_json::{Value, json};

use conveyor_domain::{Clock, SystemClock};

use super::args::{ApiArgs, TransportArgs};
use super::client::{self, ClientError};
use crate::operations;
use conveyor_catalog as catalog;
use conveyor_redis::RedisSettings;
use conveyor_redis::broker::RedisBroker;
use conveyor_redis::tls::RedisTls;
use conveyor_transport::broker::BrokerError;

/// What to do.
#[derive(Debug, Clone)]
pub enum Action {
    /// Publish `body` (a payload or a CloudEvent) to `topic`.
    Publish {
        /// The topic.
        topic: String,
        /// The file's bytes.
        body: Vec<u8>,
    },
    /// List dead letters (of one function, or all).
    DeadLetters {
        /// Only this function.
        function: Option<String>,
    },
    /// Redrive dead letters of `function` (all, or `ids`) to that function only.
    Redrive {
        /// The function.
        function: String,
        /// Only these entries.
        ids: Vec<String>,
    },
}

/// Runs `action` where `to` says and returns the answer.
///
/// # Errors
/// [`ClientError::Http`] with the reason (unreachable, refused, unknown function).
pub fn perform(to: &TransportArgs, action: Action) -> Result<Value, ClientError> {
    match &to.redis {
        Some(url) => {
            // Read once: the connection to Redis and anything it reconnects share it.
            let tls = to
                .redis_tls
                .load(url)
                .map_err(|e| ClientError::Http(e.to_string()))?;
            on_redis(url, &to.redis_prefix, tls, action)
        }
        None => over_http(&to.api, action),
    }
}

fn over_http(api: &ApiArgs, action: Action) -> Result<Value, ClientError> {
    match action {
        Action::Publish { topic, body } => {
            client::post(api, &format!("/publish/{topic}"), Some(body))
        }
        Action::DeadLetters { function } => {
            let path = function.map_or_else(|| "/dlq".to_owned(), |f| format!("/dlq/{f}"));
            client::get(api, &path)
        }
        Action::Redrive { function, ids } => {
            let body = (!ids.is_empty()).then(|| json!({ "ids": ids }).to_string().into_bytes());
            client::post(api, &format!("/dlq/{function}/redrive"), body)
        }
    }
}

fn known(function: &str) -> Result<(), ClientError> {
    if catalog::find(function).is_some() {
        Ok(())
    } else {
        Err(ClientError::Http(format!(
            "no function named {function}: `conveyor functions` lists them"
        )))
    }
}

fn on_redis(url: &str, prefix: &str, tls: RedisTls, action: Action) -> Result<Value, ClientError> {
    let failed = |e: BrokerError| ClientError::Http(e.to_string());
    if let Action::DeadLetters {
        function: Some(function),
    }
    | Action::Redrive { function, .. } = &action
    {
        known(function)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClientError::Http(e.to_string()))?;
    runtime.block_on(async {
        let settings = RedisSettings {
            prefix: prefix.to_owned(),
            tls,
            ..RedisSettings::new(url)
        };
        let broker = RedisBroker::connect(settings, &catalog::all())
            .await
            .map_err(|e| {
                ClientError::Http(format!(
                    "cannot reach Redis at {} ({e}): check --redis or CONVEYOR_REDIS_URL, or leave \
                     them unset to go through a running `conveyor up`",
                    super::commands::redact(url)
                ))
            })?;
        match action {
            Action::Publish { topic, body } => {
                operations::publish(&broker, None, &topic, &body, SystemClock.now())
                    .await
                    .map_err(|e| ClientError::Http(e.to_string()))
            }
            Action::DeadLetters { function } => {
                operations::dead_letters(&broker, function.as_deref())
                    .await
                    .map_err(failed)
            }
            Action::Redrive { function, ids } => {
                let ids = (!ids.is_empty()).then_some(ids);
                operations::redrive(&broker, &function, ids.as_deref())
                    .await
                    .map_err(failed)
            }
        }
    })
}
