//! Operator commands: thin calls to a running emulator's HTTP API.

use std::path::Path;

use serde_json::Value;

/// A failed operator command, with a message for the terminal.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The data file could not be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The emulator could not be reached or answered with an error.
    #[error("{0}")]
    Http(String),
}

fn url(api: &str, path: &str) -> String {
    format!("{}{path}", api.trim_end_matches('/'))
}

fn answer(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    api: &str,
) -> Result<Value, ClientError> {
    let mut response = result.map_err(|e| {
        ClientError::Http(format!(
            "cannot reach a running `conveyor up` at {api}: {e}"
        ))
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

/// `GET path`.
///
/// # Errors
/// [`ClientError::Http`].
pub fn get(api: &str, path: &str) -> Result<Value, ClientError> {
    answer(agent().get(url(api, path)).call(), api)
}

/// `POST path` with a JSON body (or none).
///
/// # Errors
/// [`ClientError::Http`].
pub fn post(api: &str, path: &str, body: Option<Vec<u8>>) -> Result<Value, ClientError> {
    let request = agent()
        .post(url(api, path))
        .header("content-type", "application/json");
    answer(request.send(body.unwrap_or_default()), api)
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
