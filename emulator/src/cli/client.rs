//! Operator commands: thin calls to a running emulator's HTTP API.

use std::path::Path;

use serde_json::Value;

use super::args::ApiArgs;

/// A failed operator command, with a message for the terminal.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The data file could not be read.
    #[error("cannot read --data-file {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// `--api` is no http(s) URL.
    #[error(
        "--api {0:?} is not an http:// URL: set --api or CONVEYOR_API to the address `conveyor up` \
         prints, such as http://127.0.0.1:8790"
    )]
    NotUrl(String),
    /// Nothing answers at `--api`.
    #[error(
        "cannot reach a running `conveyor up` at {api} ({reason}): start one with `conveyor up`, \
         or point --api or CONVEYOR_API at the one you run"
    )]
    Unreachable {
        /// The URL tried.
        api: String,
        /// Why.
        reason: String,
    },
    /// The emulator answered with an error.
    #[error("{0}")]
    Http(String),
    /// Working on a database directly (`--database`) failed, or was refused.
    #[error("{0}")]
    Database(String),
}

fn url(api: &str, path: &str) -> Result<String, ClientError> {
    let base = api.trim_end_matches('/');
    let joined = format!("{base}{path}");
    let scheme = base.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    let parses = joined
        .parse::<ureq::http::Uri>()
        .is_ok_and(|u| u.host().is_some());
    if matches!(scheme.as_deref(), Some("http" | "https")) && parses {
        Ok(joined)
    } else {
        Err(ClientError::NotUrl(api.to_owned()))
    }
}

fn answer(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    api: &str,
) -> Result<Value, ClientError> {
    let mut response = result.map_err(|e| ClientError::Unreachable {
        api: api.to_owned(),
        reason: e.to_string(),
    })?;
    let status = response.status();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| ClientError::Http(e.to_string()))?;
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status.is_success() {
        Ok(value)
    } else {
        let message = value
            .get("error")
            .and_then(Value::as_str)
            .map_or_else(|| value.to_string(), str::to_owned);
        Err(ClientError::Http(format!("{status}: {message}")))
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn bearer(api: &ApiArgs) -> Option<String> {
    api.api_token
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(|t| format!("Bearer {t}"))
}

/// `GET path`.
///
/// # Errors
/// [`ClientError::NotUrl`], [`ClientError::Unreachable`] or [`ClientError::Http`].
pub fn get(api: &ApiArgs, path: &str) -> Result<Value, ClientError> {
    let mut request = agent().get(url(&api.api, path)?);
    if let Some(token) = bearer(api) {
        request = request.header("authorization", token);
    }
    answer(request.call(), &api.api)
}

/// `POST path` with a JSON body (or none: still sent as JSON, since the API takes nothing else).
///
/// # Errors
/// [`ClientError::NotUrl`], [`ClientError::Unreachable`] or [`ClientError::Http`].
pub fn post(api: &ApiArgs, path: &str, body: Option<Vec<u8>>) -> Result<Value, ClientError> {
    let mut request = agent()
        .post(url(&api.api, path)?)
        .header("content-type", "application/json");
    if let Some(token) = bearer(api) {
        request = request.header("authorization", token);
    }
    answer(request.send(body.unwrap_or_default()), &api.api)
}

/// Reads a data file.
///
/// # Errors
/// [`ClientError::File`].
pub fn read(path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|source| ClientError::File {
        path: path.display().to_string(),
        source,
    })
}
