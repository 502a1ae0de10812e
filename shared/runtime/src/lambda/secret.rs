//! The database secret: read from Secrets Manager at cold start and again when the database
//! refuses its credentials (rotation), never put in the function's environment.
//!
//! # The secret's two forms
//! - a database URL as plain text: `postgres://user:password@host:5432/db?sslmode=verify-full`;
//! - the JSON object RDS and Secrets Manager rotation write and keep up to date:
//!   `{"engine": "postgres", "host", "port", "username", "password", "dbname"}` (`engine`
//!   optional but `postgres` when present, `port` 5432 and `dbname` `postgres` when absent).
//!   The URL is built from it with the user name and password percent-encoded.
//!
//! Connection settings that are not secret (`sslmode`, `sslrootcert`) belong to the deployment,
//! not the secret: [`URL_OPTIONS`] (`CONVEYOR_DATABASE_URL_OPTIONS`, e.g.
//! `sslmode=verify-full&sslrootcert=/var/task/rds-global-bundle.pem`) is appended to the URL of
//! either form. A JSON secret may also carry them in an `"options"` key (same syntax), put
//! before the variable's, so the variable wins where both set one. Rotation rewrites only the
//! password, so both survive it.

use std::fmt;

use aws_sdk_secretsmanager::error::DisplayErrorContext;
use conveyor_store::credentials::{CredentialSource, ReadFuture};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::aws::AwsSettings;

/// Environment variable: the ARN (or name) of the secret holding the database URL.
pub const SECRET_ARN: &str = "CONVEYOR_DATABASE_SECRET_ARN";
/// Environment variable: query options appended to the secret's URL (`sslmode=...&...`).
pub const URL_OPTIONS: &str = "CONVEYOR_DATABASE_URL_OPTIONS";

/// What RFC 3986 lets stand unencoded in a URL's user information.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why the secret gave no database URL. The texts never contain the secret's value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager did not answer with the secret.
    #[error(
        "could not read the secret {arn} from Secrets Manager ({reason}): check {SECRET_ARN} and that the function's role may call secretsmanager:GetSecretValue on it (and kms:Decrypt on its key)"
    )]
    Read {
        /// The secret.
        arn: String,
        /// The service's answer.
        reason: String,
    },
    /// The secret is binary or empty.
    #[error(
        "the secret {arn} has no text value: store the database URL, or the RDS JSON (host, port, username, password, dbname), as its SecretString"
    )]
    NoText {
        /// The secret.
        arn: String,
    },
    /// The text is neither a URL nor a JSON object.
    #[error(
        "the secret is neither a postgres:// URL nor a JSON object: store the database URL, or the RDS JSON (host, port, username, password, dbname)"
    )]
    Shape,
    /// The JSON lacks a field or has one of the wrong type.
    #[error(
        "the secret's JSON has no usable \"{0}\": RDS secrets carry host, username and password as strings and port as a number"
    )]
    Field(&'static str),
    /// The JSON is for another database engine.
    #[error(
        "the secret is for engine {0:?}: conveyor needs a PostgreSQL secret (\"engine\": \"postgres\")"
    )]
    Engine(String),
}

/// The database URL a secret's text stands for, with `options` (the deployment's
/// [`URL_OPTIONS`]) appended.
///
/// # Errors
/// [`SecretError`] for a text that is neither form.
pub fn database_url(text: &str, options: Option<&str>) -> Result<String, SecretError> {
    let text = text.trim();
    let url = if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        text.to_owned()
    } else if text.starts_with('{') {
        from_json(&serde_json::from_str(text).map_err(|_| SecretError::Shape)?)?
    } else {
        return Err(SecretError::Shape);
    };
    Ok(with_options(url, options))
}

fn from_json(secret: &Value) -> Result<String, SecretError> {
    let text = |key: &'static str| secret.get(key).and_then(Value::as_str);
    if let Some(engine) = text("engine").filter(|e| !matches!(*e, "postgres" | "postgresql")) {
        return Err(SecretError::Engine(engine.to_owned()));
    }
    let required = |key: &'static str| {
        text(key)
            .filter(|v| !v.is_empty())
            .ok_or(SecretError::Field(key))
    };
    let (host, username, password) = (
        required("host")?,
        required("username")?,
        required("password")?,
    );
    // RDS writes the port as a number; hand-written secrets often quote it.
    let port = match secret.get("port") {
        None | Some(Value::Null) => Some(5432),
        Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Some(Value::String(s)) => s.parse().ok(),
        Some(_) => None,
    }
    .filter(|p| *p != 0)
    .ok_or(SecretError::Field("port"))?;
    let dbname = text("dbname")
        .filter(|d| !d.is_empty())
        .unwrap_or("postgres");
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let url = format!(
        "postgres://{}:{}@{host}:{port}/{}",
        utf8_percent_encode(username, USERINFO),
        utf8_percent_encode(password, USERINFO),
        utf8_percent_encode(dbname, USERINFO),
    );
    Ok(with_options(url, text("options")))
}

fn with_options(mut url: String, options: Option<&str>) -> String {
    if let Some(options) = options
        .map(|o| o.trim().trim_start_matches('?'))
        .filter(|o| !o.is_empty())
    {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(options);
    }
    url
}

/// The function's database secret in Secrets Manager.
#[derive(Clone)]
pub struct DatabaseSecret {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
    options: Option<String>,
}

impl fmt::Debug for DatabaseSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSecret")
            .field("arn", &self.arn)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl DatabaseSecret {
    /// The secret `arn`, read with a client built from `aws`; `options` as [`URL_OPTIONS`].
    #[must_use]
    pub fn new(arn: &str, options: Option<String>, aws: &AwsSettings) -> Self {
        Self {
            client: aws.secretsmanager_client(),
            arn: arn.to_owned(),
            options,
        }
    }

    /// The secret's ARN.
    #[must_use]
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// Reads the secret's current value and turns it into a database URL.
    ///
    /// # Errors
    /// [`SecretError`]: the call failed, or the value is neither form.
    pub async fn read_url(&self) -> Result<String, SecretError> {
        let answer = self
            .client
            .get_secret_value()
            .secret_id(&self.arn)
            .send()
            .await
            .map_err(|e| SecretError::Read {
                arn: self.arn.clone(),
                reason: DisplayErrorContext(&e).to_string(),
            })?;
        let text = answer
            .secret_string()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| SecretError::NoText {
                arn: self.arn.clone(),
            })?;
        database_url(text, self.options.as_deref())
    }
}

impl CredentialSource for DatabaseSecret {
    fn describe(&self) -> String {
        format!("the secret {}", self.arn)
    }

    fn read(&self) -> ReadFuture<'_> {
        Box::pin(async move { Ok(self.read_url().await?) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_used_as_it_is_with_the_options_appended() {
        let url = "postgres://app:pw@db:5432/app";
        assert_eq!(database_url(url, None).unwrap(), url);
        assert_eq!(
            database_url(
                &format!(" {url}?application_name=x\n"),
                Some("sslmode=require")
            )
            .unwrap(),
            format!("{url}?application_name=x&sslmode=require")
        );
    }

    #[test]
    fn the_rds_json_becomes_a_url_with_encoded_credentials() {
        let secret = r#"{"engine":"postgres","host":"db.example.internal","port":5432,
            "username":"app","password":"p@ss:w/rd?#%","dbname":"orders"}"#;
        assert_eq!(
            database_url(secret, Some("?sslmode=verify-full")).unwrap(),
            "postgres://app:p%40ss%3Aw%2Frd%3F%23%25@db.example.internal:5432/orders?sslmode=verify-full"
        );
        let minimal = r#"{"host":"::1","port":"6432","username":"u","password":"p","options":"sslmode=disable"}"#;
        assert_eq!(
            database_url(minimal, Some("application_name=f")).unwrap(),
            "postgres://u:p@[::1]:6432/postgres?sslmode=disable&application_name=f"
        );
    }

    #[test]
    fn bad_secrets_are_named_without_their_value() {
        let cases = [
            (
                "mysql://u:hunter2@h/db",
                "neither a postgres:// URL nor a JSON object",
            ),
            (
                "{not json hunter2",
                "neither a postgres:// URL nor a JSON object",
            ),
            (
                r#"{"engine":"mysql","host":"h","username":"u","password":"hunter2"}"#,
                "engine \"mysql\"",
            ),
            (r#"{"host":"h","username":"u"}"#, "no usable \"password\""),
            (
                r#"{"host":"h","username":"u","password":"hunter2","port":70000}"#,
                "no usable \"port\"",
            ),
        ];
        for (secret, expected) in cases {
            let text = database_url(secret, None).unwrap_err().to_string();
            assert!(text.contains(expected), "{secret}: {text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
    }
}
