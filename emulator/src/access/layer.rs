//! The axum middleware: reads what [`Access::judge`] needs from a request, applies the verdict,
//! and marks every answer as not to be framed by another page (a framed dashboard could be
//! clicked through by the page around it).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{Access, Seen, Verdict};

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Judges `request` by `access`; passes it on or answers for it.
pub async fn guard(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    let verdict = {
        let headers = request.headers();
        let text = |name: HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        let uri = request.uri();
        let query = (uri.path() == "/" && uri.query().is_some())
            .then(|| Query::<TokenQuery>::try_from_uri(uri).ok())
            .flatten()
            .and_then(|q| q.0.token);
        access.judge(&Seen {
            method: request.method(),
            path: uri.path(),
            host: text(header::HOST).or_else(|| uri.authority().map(|a| a.as_str())),
            origin: text(header::ORIGIN),
            content_type: text(header::CONTENT_TYPE),
            authorization: text(header::AUTHORIZATION),
            cookie: text(header::COOKIE),
            query_token: query.as_deref(),
        })
    };
    let mut response = match verdict {
        Verdict::Pass => next.run(request).await,
        Verdict::RememberToken(cookie) => remember(&cookie),
        Verdict::Refuse(status, reason) => {
            tracing::warn!(
                method = %request.method(),
                path = %request.uri().path(),
                status = status.as_u16(),
                reason = %reason,
                "HTTP API request refused"
            );
            refuse(status, &reason)
        }
    };
    not_framed(response.headers_mut());
    response
}

fn remember(cookie: &str) -> Response {
    match HeaderValue::from_str(cookie) {
        Ok(value) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, HeaderValue::from_static("/")),
                (header::SET_COOKIE, value),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        // The token's characters were checked at start; a cookie of them is a valid header.
        Err(_) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "bad token"),
    }
}

fn refuse(status: StatusCode, reason: &str) -> Response {
    let mut response = (status, Json(json!({ "error": reason }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"conveyor\""),
        );
    }
    response
}

fn not_framed(headers: &mut HeaderMap) {
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'none'"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}
