//! The decision on one request, from the headers that matter ([`Seen`]) to a [`Verdict`].

use axum::http::{Method, StatusCode};
use subtle::ConstantTimeEq;

use super::authority::{self, Authority};
use super::{Access, ApiToken};

/// What the decision reads of a request.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// The method.
    pub method: &'a Method,
    /// The path, without the query.
    pub path: &'a str,
    /// `Host` (or the HTTP/2 authority).
    pub host: Option<&'a str>,
    /// `Origin`.
    pub origin: Option<&'a str>,
    /// `Content-Type`.
    pub content_type: Option<&'a str>,
    /// `Authorization`.
    pub authorization: Option<&'a str>,
    /// `Cookie`.
    pub cookie: Option<&'a str>,
    /// The `token` query parameter of `GET /` (how a browser is given the token once).
    pub query_token: Option<&'a str>,
}

/// What happens to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// On to the route.
    Pass,
    /// The page was opened with the right `?token=`: keep it in this cookie (a `Set-Cookie`
    /// value) and send the browser to the page without it in the address bar.
    RememberToken(String),
    /// Refused with this status and reason.
    Refuse(StatusCode, String),
}

fn changes_state(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// `application/json`, or a JSON type such as `application/cloudevents+json`: types a browser
/// sends cross-site only after a CORS preflight, which this API never grants.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

fn matches(given: &str, expected: &ApiToken) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

const TOKEN_HINT: &str = "send Authorization: Bearer <token> (the operator commands send \
     CONVEYOR_API_TOKEN or --api-token), or open /?token=<token> once in the browser";

impl Access {
    /// The verdict on one request: its `Host`, then its token, then (when it changes state)
    /// its `Origin` and its content type.
    #[must_use]
    pub fn judge(&self, seen: &Seen<'_>) -> Verdict {
        let Some(host) = seen.host else {
            return Verdict::Refuse(
                StatusCode::MISDIRECTED_REQUEST,
                "a request without a Host header is refused".to_owned(),
            );
        };
        let parsed = Authority::parse(host);
        if !parsed.as_ref().is_some_and(|h| self.answers_to(h)) {
            return Verdict::Refuse(
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "this emulator answers to {}, not to Host {host:?} (a page that rebinds its \
                     name to this address is refused): add the name with --http-allowed-host or \
                     CONVEYOR_HTTP_ALLOWED_HOSTS if you reach the emulator through it",
                    self.names()
                ),
            );
        }
        if let Some(expected) = &self.token {
            let given = seen
                .authorization
                .and_then(bearer)
                .or_else(|| seen.cookie.and_then(|c| cookie(c, &self.cookie_name())));
            let opened = *seen.method == Method::GET && seen.path == "/";
            match (given, seen.query_token.filter(|_| opened)) {
                (_, Some(query)) if matches(query, expected) => {
                    return Verdict::RememberToken(format!(
                        "{}={}; HttpOnly; SameSite=Strict; Path=/",
                        self.cookie_name(),
                        expected.0
                    ));
                }
                (Some(given), None) if matches(given, expected) => {}
                (None, None) => {
                    return Verdict::Refuse(
                        StatusCode::UNAUTHORIZED,
                        format!("this emulator needs its API token: {TOKEN_HINT}"),
                    );
                }
                _ => {
                    return Verdict::Refuse(
                        StatusCode::UNAUTHORIZED,
                        format!("wrong API token: {TOKEN_HINT}"),
                    );
                }
            }
        }
        if !changes_state(seen.method) {
            return Verdict::Pass;
        }
        if let Some(origin) = seen.origin
            && !same_origin(origin, parsed.as_ref())
        {
            return Verdict::Refuse(
                StatusCode::FORBIDDEN,
                format!(
                    "a {} from the page at {origin:?} is refused: only this emulator's own pages \
                     and clients that send no Origin (curl, the operator commands) may change its state",
                    seen.method
                ),
            );
        }
        match seen.content_type {
            Some(t) if is_json(t) => Verdict::Pass,
            other => Verdict::Refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "a {} must be sent with Content-Type: application/json (it came with {}), so \
                     that no other web page can send it",
                    seen.method,
                    other.map_or_else(|| "none".to_owned(), |t| format!("{t:?}"))
                ),
            ),
        }
    }
}

/// Whether `origin` is the page the request was sent to: same host, same port.
fn same_origin(origin: &str, host: Option<&Authority>) -> bool {
    let (Some((scheme, origin)), Some(host)) = (authority::origin(origin), host) else {
        return false;
    };
    let default = authority::default_port(scheme);
    origin.host == host.host && origin.port_or(default) == host.port_or(default)
}
