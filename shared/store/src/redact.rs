//! Connection URLs with their secrets masked, for logs and errors.
//!
//! Database and Redis URLs carry passwords (`postgres://user:pass@host/db`,
//! `redis://:pass@host`, `?password=...`). Anything that shows such a URL to a person (a log
//! line, an error, a `Debug` print of a configuration) shows [`url`]'s result instead: the same
//! text with every password replaced by `***`, so the host and options stay readable and the
//! secret never leaves the process.
//!
//! Written by hand rather than through the `url` crate because the crate reformats what it
//! parses and rejects malformed input, while a redacted URL must keep the user's own spelling and
//! must hide the password even of a URL that does not parse (an unencoded `@` or `/` in it).

use std::fmt;

/// What replaces every secret.
pub const MASK: &str = "***";

/// `raw` with the password of its user info and the values of its `password` query parameters
/// (any parameter whose name contains `password`, such as `sslpassword`) replaced by [`MASK`].
#[must_use]
pub fn url(raw: &str) -> String {
    let without_userinfo = mask_userinfo(raw);
    mask_query(&without_userinfo)
}

/// A URL that prints redacted (through [`url`]) with `Display` and `Debug`, for tracing fields
/// and `Debug` implementations: `tracing::info!(database = %Redacted(&url))`.
#[derive(Clone, Copy)]
pub struct Redacted<'a>(pub &'a str);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&url(self.0))
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&url(self.0), f)
    }
}

fn mask_userinfo(raw: &str) -> String {
    let Some(start) = raw.find("://").map(|i| i + 3) else {
        return raw.to_owned();
    };
    let rest = &raw[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    // A well-formed URL's user info ends at the authority's last `@`. A password with an
    // unencoded delimiter (`/`, `?`, `#`) ends the authority early; then the last `@` anywhere
    // after a `:` is taken, which may hide a host but never shows a password.
    let at = authority
        .rfind('@')
        .or_else(|| rest.rfind('@').filter(|&at| rest[..at].contains(':')));
    let Some(at) = at else {
        return raw.to_owned();
    };
    let userinfo = &rest[..at];
    let Some(colon) = userinfo.find(':') else {
        return raw.to_owned();
    };
    format!(
        "{}{}:{MASK}{}",
        &raw[..start],
        &userinfo[..colon],
        &rest[at..]
    )
}

fn mask_query(raw: &str) -> String {
    let Some(question) = raw.find('?') else {
        return raw.to_owned();
    };
    let (head, tail) = raw.split_at(question + 1);
    let (query, fragment) = tail.split_at(tail.find('#').unwrap_or(tail.len()));
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.to_ascii_lowercase().contains("password") => {
                format!("{key}={MASK}")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{head}{}{fragment}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_password_of_a_database_url() {
        assert_eq!(
            url("postgres://conveyor:s3cret@db.example:5432/app?sslmode=verify-full"),
            "postgres://conveyor:***@db.example:5432/app?sslmode=verify-full"
        );
        assert_eq!(
            url("postgresql://u:p%40ss@[::1]/db"),
            "postgresql://u:***@[::1]/db"
        );
    }

    #[test]
    fn masks_redis_passwords_with_or_without_a_user() {
        assert_eq!(
            url("redis://:s3cret@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(
            url("rediss://default:s3cret@cache.example:6380"),
            "rediss://default:***@cache.example:6380"
        );
    }

    #[test]
    fn masks_password_query_parameters() {
        assert_eq!(
            url("postgres://db/app?user=u&password=s3cret&sslmode=require"),
            "postgres://db/app?user=u&password=***&sslmode=require"
        );
        assert_eq!(
            url("postgres://u:a@db/app?sslpassword=k3y#frag"),
            "postgres://u:***@db/app?sslpassword=***#frag"
        );
    }

    #[test]
    fn masks_a_password_with_unencoded_delimiters() {
        for raw in [
            "postgres://u:pa/ss@db/app",
            "postgres://u:pa?ss@db/app",
            "postgres://u:pa#ss@db/app",
            "postgres://u:p@ss@db/app",
        ] {
            let shown = url(raw);
            assert!(
                !shown.contains("pa") && !shown.contains("ss@"),
                "{raw} -> {shown}"
            );
            assert!(shown.ends_with("@db/app"), "{raw} -> {shown}");
        }
    }

    #[test]
    fn leaves_urls_without_secrets_alone() {
        for raw in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgres://db:5432/app?sslrootcert=/certs/rds.pem",
            "sqlite://.conveyor/state.db?mode=rwc",
            "sqlite::memory:",
            "redis://127.0.0.1:6379",
            "not a url",
        ] {
            assert_eq!(url(raw), raw);
        }
    }

    #[test]
    fn is_idempotent_and_prints_through_the_wrapper() {
        let once = url("redis://:s3cret@cache?password=x");
        assert_eq!(url(&once), once);
        assert_eq!(
            Redacted("redis://:s3cret@cache").to_string(),
            "redis://:***@cache"
        );
        assert_eq!(
            format!("{:?}", Redacted("redis://:p@c")),
            "\"redis://:***@c\""
        );
    }
}
