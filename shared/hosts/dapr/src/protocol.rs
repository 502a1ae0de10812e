//! Which protocol daprd calls the app with (`dapr.io/app-protocol`), and so which of the
//! sidecar's APIs the worker publishes through.
//!
//! | protocol | daprd calls | the worker publishes through |
//! |---|---|---|
//! | `http` | `GET /dapr/subscribe`, `POST /<function>`, `OPTIONS`/`POST /<job>` | `POST /v1.0/publish/...` on `DAPR_HTTP_PORT` |
//! | `grpc` | the `AppCallback` services ([`crate::grpc`]) | `PublishEvent` / `BulkPublishEvent` on `DAPR_GRPC_PORT` |
//!
//! On both, the app port also answers `GET /healthz` and `GET /metrics` over HTTP/1.1 for the
//! kubelet's probes and Prometheus; with `grpc` the same port takes daprd's HTTP/2 (h2c) calls.
//!
//! The default is `http`: it is daprd's own default when the annotation is absent, so a worker
//! started without the option matches a sidecar started without the annotation. A mismatch is
//! silent in daprd (it finds no subscriptions and logs at debug level), so the generated
//! Deployments set the annotation and daprd's injector hands the same value to the worker as
//! `APP_PROTOCOL`, the variable this option falls back to.

/// The header (HTTP) and metadata key (gRPC) daprd sends the app token in, and the worker sends
/// the API token in to the sidecar.
pub const TOKEN_HEADER: &str = "dapr-api-token";

/// The content type that makes daprd take the body as the CloudEvent itself.
pub const CLOUDEVENTS_CONTENT_TYPE: &str = "application/cloudevents+json";

/// The variable daprd's injector sets from the `dapr.io/app-protocol` annotation.
pub const APP_PROTOCOL_VARIABLE: &str = "APP_PROTOCOL";

/// How daprd talks to the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum AppProtocol {
    /// HTTP/1.1 callbacks; publishing through the sidecar's HTTP API.
    #[default]
    Http,
    /// gRPC (`AppCallback`) callbacks; publishing through the sidecar's gRPC API.
    Grpc,
}

impl AppProtocol {
    /// The option's and the annotation's value.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Grpc => "grpc",
        }
    }
}

impl std::fmt::Display for AppProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn names_are_the_annotations_values() {
        for protocol in AppProtocol::value_variants() {
            let value = protocol.to_possible_value().unwrap();
            assert_eq!(value.get_name(), protocol.name());
        }
        assert_eq!(AppProtocol::default(), AppProtocol::Http);
    }
}
