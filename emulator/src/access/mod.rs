//! Who may drive `conveyor up`'s HTTP API and dashboard. Every request is judged here, in one
//! pure function ([`Access::judge`]), before any route sees it:
//!
//! - its `Host` must be the address the emulator listens on, `localhost` / `127.0.0.1` /
//!   `[::1]` with its port, or a name the user allowed: a web page that rebinds its own DNS name
//!   to 127.0.0.1 reaches the port but not the API;
//! - with a token configured, it must carry it (`Authorization: Bearer`, or the dashboard's
//!   cookie, set by opening `/?token=...` once);
//! - a request that changes state (POST, PUT, PATCH, DELETE) must come from no page (curl, the
//!   operator commands) or from the emulator's own, and must be JSON: a cross-site form or
//!   `text/plain` request, which a browser sends without asking, is refused.
//!
//! Listening on a non-loopback address needs a token or an explicit opt-out
//! ([`Access::new`]).
//!
//! # Layout
//! - [`authority`] — parsing `Host`, `Origin` and allowed host names
//! - [`layer`] — the axum middleware that applies the verdict

pub mod authority;
pub mod layer;
mod verdict;

use std::fmt;
use std::net::SocketAddr;

use authority::{Authority, Host};

pub use verdict::{Seen, Verdict};

/// The token that opens the API: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    /// A token; `None` when `text` is empty, so an empty variable means "no token".
    ///
    /// # Errors
    /// [`AccessError::BadToken`] when it holds characters a header or cookie cannot carry.
    pub fn new(text: &str) -> Result<Option<Self>, AccessError> {
        if text.is_empty() {
            return Ok(None);
        }
        // A cookie value and a bearer token may both carry these (RFC 6265 cookie-octet).
        let carried = text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b';' | b'\\'));
        if carried {
            Ok(Some(Self(text.to_owned())))
        } else {
            Err(AccessError::BadToken)
        }
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(***)")
    }
}

/// What the user configured: the token, more host names, and the opt-out.
#[derive(Debug, Clone, Default)]
pub struct AccessSettings {
    /// The token every request must carry (optional on loopback).
    pub token: Option<ApiToken>,
    /// More names (or `name:port`) the emulator is reached through, e.g. behind a port forward.
    pub allowed_hosts: Vec<String>,
    /// Listen on a non-loopback address without a token.
    pub insecure_no_token: bool,
}

/// Why the API's access settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// A non-loopback address without a token or the opt-out.
    #[error(
        "--http {0} is not a loopback address, so the API needs a token: set CONVEYOR_API_TOKEN \
         (or --api-token), or pass --http-insecure-no-token (CONVEYOR_HTTP_INSECURE_NO_TOKEN=true) \
         to let anyone who can reach it drive the emulator"
    )]
    NoToken(SocketAddr),
    /// An allowed host that is no host name.
    #[error(
        "--http-allowed-host {0:?} is not a host name: give a name or name:port such as \
         devbox.local or devbox.local:8790 (CONVEYOR_HTTP_ALLOWED_HOSTS takes a comma-separated list)"
    )]
    BadHost(String),
    /// A token a header or cookie cannot carry.
    #[error(
        "CONVEYOR_API_TOKEN (--api-token) must be printable ASCII without spaces, quotes, commas, \
         semicolons or backslashes: use e.g. the output of `openssl rand -hex 32`"
    )]
    BadToken,
}

/// The access policy of one listening API.
#[derive(Debug, Clone)]
pub struct Access {
    listen: SocketAddr,
    allowed: Vec<Authority>,
    token: Option<ApiToken>,
}

impl Access {
    /// The policy for an API on `listen`.
    ///
    /// # Errors
    /// [`AccessError::NoToken`] for a non-loopback address with neither a token nor the
    /// opt-out; [`AccessError::BadHost`] for an allowed host that is no host name.
    pub fn new(listen: SocketAddr, settings: AccessSettings) -> Result<Self, AccessError> {
        if !listen.ip().is_loopback() && settings.token.is_none() && !settings.insecure_no_token {
            return Err(AccessError::NoToken(listen));
        }
        let allowed = settings
            .allowed_hosts
            .iter()
            .map(|h| Authority::parse(h.trim()).ok_or_else(|| AccessError::BadHost(h.clone())))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            listen,
            allowed,
            token: settings.token,
        })
    }

    /// An API on a loopback address, without a token: what tests and the bench serve.
    #[must_use]
    pub fn local(listen: SocketAddr) -> Self {
        Self {
            listen,
            allowed: Vec::new(),
            token: None,
        }
    }

    /// The same policy for the address actually bound (`--http 127.0.0.1:0` picks a port).
    #[must_use]
    pub fn listening_on(self, listen: SocketAddr) -> Self {
        Self { listen, ..self }
    }

    /// Whether anyone who reaches the address may drive the emulator: a non-loopback address
    /// without a token. The caller warns.
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.token.is_none() && !self.listen.ip().is_loopback()
    }

    /// Whether requests must carry a token.
    #[must_use]
    pub fn needs_token(&self) -> bool {
        self.token.is_some()
    }

    /// Whether a request for `host` (a `Host` header) is meant for this emulator.
    fn answers_to(&self, host: &Authority) -> bool {
        let port = host.port_or(80);
        let allowed = self
            .allowed
            .iter()
            .any(|a| a.host == host.host && a.port.is_none_or(|p| p == port));
        if allowed {
            return true;
        }
        if port != self.listen.port() {
            return false;
        }
        let bound = self.listen.ip();
        match &host.host {
            Host::Name(name) => name == "localhost",
            // An address literal cannot be rebound: a browser sends one only to that address.
            Host::Ip(ip) => ip.is_loopback() || *ip == bound || bound.is_unspecified(),
        }
    }

    /// The names a user reaches this emulator through, for messages.
    fn names(&self) -> String {
        let port = self.listen.port();
        let mut names = vec![format!("localhost:{port}"), self.listen.to_string()];
        names.extend(self.allowed.iter().map(|a| match (&a.host, a.port) {
            (Host::Name(n), Some(p)) => format!("{n}:{p}"),
            (Host::Name(n), None) => n.clone(),
            (Host::Ip(ip), p) => p.map_or_else(|| ip.to_string(), |p| format!("{ip}:{p}")),
        }));
        names.join(", ")
    }

    /// The cookie the dashboard keeps the token in. Cookies are shared across a host's ports,
    /// so each emulator's is named after its own.
    fn cookie_name(&self) -> String {
        format!("conveyor_token_{}", self.listen.port())
    }
}

#[cfg(test)]
mod tests;
