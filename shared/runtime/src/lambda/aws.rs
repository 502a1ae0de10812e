//! How the AWS service clients are built (region, credentials, endpoint override, retries and
//! timeouts), once per cold start: the SQS, EventBridge and Secrets Manager clients share it.

use std::fmt;
use std::time::Duration;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Attempts per AWS call (the SDK's standard retry mode) unless configured otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Longest one AWS call may take, retries included, unless configured otherwise.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How an AWS service client is built: region, static credentials (what Lambda puts in the
/// environment), an optional endpoint override, and retry and timeout limits. A hung endpoint
/// must fail one record, not time out the whole invocation, hence the call timeout.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// Region.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key (never printed).
    pub secret_access_key: String,
    /// Session token of temporary credentials (never printed).
    pub session_token: Option<String>,
    /// Endpoint override, for local and test endpoints.
    pub endpoint_url: Option<String>,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Longest one call may take, retries included.
    pub call_timeout: Duration,
}

impl fmt::Debug for AwsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSettings")
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("endpoint_url", &self.endpoint_url)
            .field("max_attempts", &self.max_attempts)
            .field("call_timeout", &self.call_timeout)
            .finish()
    }
}

impl AwsSettings {
    /// Reads the standard AWS variables: `AWS_REGION` (else `AWS_DEFAULT_REGION`, else
    /// `us-east-1`), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, and the
    /// endpoint `AWS_ENDPOINT_URL_<service>` (else `AWS_ENDPOINT_URL`). `service` is the
    /// variable suffix: `SQS`, `EVENTBRIDGE`, `SECRETS_MANAGER`.
    #[must_use]
    pub fn from_env(service: &str) -> Self {
        Self {
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_owned()),
            access_key_id: var("AWS_ACCESS_KEY_ID").unwrap_or_default(),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
            session_token: var("AWS_SESSION_TOKEN"),
            endpoint_url: var(&format!("AWS_ENDPOINT_URL_{service}"))
                .or_else(|| var("AWS_ENDPOINT_URL")),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            call_timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    /// Settings for an AWS-compatible endpoint at `endpoint_url` (a local stand-in), with
    /// placeholder credentials in `us-east-1`.
    #[must_use]
    pub fn local(endpoint_url: &str) -> Self {
        Self {
            region: "us-east-1".to_owned(),
            access_key_id: "local".to_owned(),
            secret_access_key: "local".to_owned(),
            session_token: None,
            endpoint_url: Some(endpoint_url.to_owned()),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            call_timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    /// The same settings with `max_attempts` attempts per call.
    #[must_use]
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }
}

/// Builds a service client from [`AwsSettings`]; the SDKs share these builder methods.
macro_rules! client_from_settings {
    ($sdk:ident, $settings:expr) => {{
        let settings: &$crate::lambda::aws::AwsSettings = $settings;
        let credentials = $sdk::config::Credentials::new(
            settings.access_key_id.clone(),
            settings.secret_access_key.clone(),
            settings.session_token.clone(),
            None,
            "conveyor",
        );
        let timeouts = $sdk::config::timeout::TimeoutConfig::builder()
            .connect_timeout(std::time::Duration::from_secs(3))
            .operation_timeout(settings.call_timeout)
            .build();
        let retries =
            $sdk::config::retry::RetryConfig::standard().with_max_attempts(settings.max_attempts);
        let mut builder = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new(settings.region.clone()))
            .credentials_provider(credentials)
            .retry_config(retries)
            .timeout_config(timeouts);
        if let Some(url) = &settings.endpoint_url {
            builder = builder.endpoint_url(url.clone());
        }
        $sdk::Client::from_conf(builder.build())
    }};
}
pub(crate) use client_from_settings;

impl AwsSettings {
    /// An SQS client built from these settings.
    #[must_use]
    pub fn sqs_client(&self) -> aws_sdk_sqs::Client {
        client_from_settings!(aws_sdk_sqs, self)
    }

    /// An EventBridge client built from these settings.
    #[must_use]
    pub fn eventbridge_client(&self) -> aws_sdk_eventbridge::Client {
        client_from_settings!(aws_sdk_eventbridge, self)
    }

    /// A Secrets Manager client built from these settings.
    #[must_use]
    pub fn secretsmanager_client(&self) -> aws_sdk_secretsmanager::Client {
        client_from_settings!(aws_sdk_secretsmanager, self)
    }
}
