//! The sidecar's Jobs API as the worker uses it: read a job, schedule (or overwrite) one.
//!
//! [`JobsApi`] is what [`super::register`] needs; [`HttpJobsApi`] implements it over the HTTP
//! API (`GET` and `POST /v1.0/jobs/<name>`; the body of a `POST` is the job: `schedule`,
//! `overwrite`, optional `dueTime`, `repeats`, `ttl`, `data`). A gRPC client of
//! `GetJob`/`ScheduleJob` can implement it too.

use conveyor_runtime::publish::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};

use crate::config::WorkerConfig;

/// A job as the worker schedules it: a name and a recurring schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The job's name: the function's.
    #[serde(default, skip_serializing)]
    pub name: String,
    /// Dapr's 6-field form, seconds first, pinned to UTC (`CRON_TZ=UTC 0 */5 * * * *`).
    #[serde(default)]
    pub schedule: String,
}

/// Why the Jobs API did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobsApiError {
    /// The sidecar could not be reached (not started yet, or gone).
    #[error("the sidecar's Jobs API at {target} is unreachable: {reason}")]
    Unreachable {
        /// Where.
        target: String,
        /// Why.
        reason: String,
    },
    /// The sidecar answered with an error (no Scheduler, a schedule it refuses, a wrong token).
    #[error("the sidecar refused to schedule {job}: {status} {body}")]
    Refused {
        /// The job.
        job: String,
        /// Its answer's status.
        status: u16,
        /// Its answer's body.
        body: String,
    },
}

/// The Jobs API of the worker's sidecar.
pub trait JobsApi: Send + Sync {
    /// The job called `name` as the Scheduler has it; `None` when it has none of that name.
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<JobSpec>, JobsApiError>>;

    /// Schedules `job`, replacing any job of its name.
    fn schedule<'a>(&'a self, job: &'a JobSpec) -> BoxFuture<'a, Result<(), JobsApiError>>;
}

/// The Jobs API over the sidecar's HTTP port.
#[derive(Debug)]
pub struct HttpJobsApi {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    token: Option<String>,
}

impl HttpJobsApi {
    /// The Jobs API of the worker's sidecar.
    #[must_use]
    pub fn new(config: &WorkerConfig) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{}/v1.0/jobs", config.sidecar()),
            token: config.dapr_api_token.clone(),
        }
    }

    fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    async fn send(
        &self,
        method: Method,
        name: &str,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Bytes), JobsApiError> {
        let mut request = Request::builder()
            .method(method)
            .uri(self.url(name))
            .header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(token) = &self.token {
            request = request.header("dapr-api-token", token);
        }
        let unreachable = |reason: String| JobsApiError::Unreachable {
            target: self.url(name),
            reason,
        };
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| unreachable(e.to_string()))?;
        let call = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| unreachable(e.to_string()))?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), call)
            .await
            .map_err(|_| unreachable("no answer within 10 s".to_owned()))?
    }
}

impl JobsApi for HttpJobsApi {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<JobSpec>, JobsApiError>> {
        Box::pin(async move {
            let (status, body) = self.send(Method::GET, name, Vec::new()).await?;
            // daprd answers a job it does not know with 404 or, in older versions, 500: either
            // way the job is (re)scheduled, and a Scheduler that is really down refuses that.
            if status != StatusCode::OK {
                tracing::debug!(job = name, %status, "the sidecar has no such job (or cannot tell)");
                return Ok(None);
            }
            Ok(serde_json::from_slice::<JobSpec>(&body)
                .ok()
                .map(|job| JobSpec {
                    name: name.to_owned(),
                    ..job
                }))
        })
    }

    fn schedule<'a>(&'a self, job: &'a JobSpec) -> BoxFuture<'a, Result<(), JobsApiError>> {
        Box::pin(async move {
            let body = serde_json::json!({ "schedule": job.schedule, "overwrite": true });
            let (status, answer) = self
                .send(Method::POST, &job.name, body.to_string().into_bytes())
                .await?;
            if status.is_success() {
                Ok(())
            } else {
                Err(JobsApiError::Refused {
                    job: job.name.clone(),
                    status: status.as_u16(),
                    body: String::from_utf8_lossy(&answer).trim().to_owned(),
                })
            }
        })
    }
}
