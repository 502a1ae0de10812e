//! The access decision on requests as browsers, curl and the operator commands send them.

use axum::http::{Method, StatusCode};

use super::*;

const LOOPBACK: &str = "127.0.0.1:8790";

fn at(listen: &str, settings: AccessSettings) -> Access {
    Access::new(listen.parse().unwrap(), settings).unwrap()
}

fn token(text: &str) -> AccessSettings {
    AccessSettings {
        token: ApiToken::new(text).unwrap(),
        ..AccessSettings::default()
    }
}

fn get(host: &str) -> Seen<'_> {
    Seen {
        method: &Method::GET,
        path: "/functions",
        host: Some(host),
        origin: None,
        content_type: None,
        authorization: None,
        cookie: None,
        query_token: None,
    }
}

fn post<'a>(host: &'a str, origin: Option<&'a str>, content_type: Option<&'a str>) -> Seen<'a> {
    Seen {
        method: &Method::POST,
        path: "/publish/payment.confirmed",
        origin,
        content_type,
        ..get(host)
    }
}

fn status(verdict: &Verdict) -> Option<StatusCode> {
    match verdict {
        Verdict::Refuse(s, _) => Some(*s),
        _ => None,
    }
}

#[test]
fn loopback_names_with_the_port_are_served_and_others_are_misdirected() {
    let access = at(LOOPBACK, AccessSettings::default());
    for host in [
        "127.0.0.1:8790",
        "localhost:8790",
        "LOCALHOST:8790",
        "[::1]:8790",
    ] {
        assert_eq!(access.judge(&get(host)), Verdict::Pass, "{host}");
    }
    for host in [
        "evil.example:8790",
        "localhost:9999",
        "localhost",
        "127.0.0.1",
        "192.168.1.5:8790",
        "",
        "evil.example:8790/x",
    ] {
        let verdict = access.judge(&get(host));
        assert_eq!(
            status(&verdict),
            Some(StatusCode::MISDIRECTED_REQUEST),
            "{host}"
        );
    }
    let Verdict::Refuse(_, reason) = access.judge(&get("evil.example:8790")) else {
        unreachable!()
    };
    assert!(reason.contains("--http-allowed-host"), "{reason}");
    let no_host = Seen {
        host: None,
        ..get("")
    };
    assert_eq!(
        status(&access.judge(&no_host)),
        Some(StatusCode::MISDIRECTED_REQUEST)
    );
}

#[test]
fn allowed_hosts_are_served_on_any_port_or_on_theirs() {
    let access = at(
        LOOPBACK,
        AccessSettings {
            allowed_hosts: vec!["devbox.local".to_owned(), "localhost:9000".to_owned()],
            ..AccessSettings::default()
        },
    );
    for host in [
        "devbox.local:8790",
        "devbox.local",
        "DevBox.local:1234",
        "localhost:9000",
    ] {
        assert_eq!(access.judge(&get(host)), Verdict::Pass, "{host}");
    }
    assert!(status(&access.judge(&get("localhost:9001"))).is_some());
}

#[test]
fn a_wildcard_address_serves_address_literals_but_not_names() {
    let access = at(
        "0.0.0.0:8790",
        AccessSettings {
            insecure_no_token: true,
            ..AccessSettings::default()
        },
    );
    assert!(access.is_open());
    for host in ["192.168.1.5:8790", "10.0.0.2:8790", "localhost:8790"] {
        assert_eq!(access.judge(&get(host)), Verdict::Pass, "{host}");
    }
    assert!(status(&access.judge(&get("evil.example:8790"))).is_some());
    let bound = at("192.168.1.5:8790", token("t0k3n"));
    assert!(!bound.is_open());
    assert!(status(&bound.judge(&get("10.0.0.2:8790"))).is_some());
}

#[test]
fn state_changes_from_a_foreign_page_or_not_as_json_are_refused() {
    let access = at(LOOPBACK, AccessSettings::default());
    let host = "127.0.0.1:8790";
    let json = Some("application/json");
    // curl and the operator commands: no Origin.
    assert_eq!(access.judge(&post(host, None, json)), Verdict::Pass);
    assert_eq!(
        access.judge(&post(host, None, Some("application/json; charset=utf-8"))),
        Verdict::Pass
    );
    assert_eq!(
        access.judge(&post(host, None, Some("application/cloudevents+json"))),
        Verdict::Pass
    );
    // The dashboard itself.
    assert_eq!(
        access.judge(&post(host, Some("http://127.0.0.1:8790"), json)),
        Verdict::Pass
    );
    let foreign = [
        "http://evil.example",
        "null",
        "http://localhost:8790",
        "http://127.0.0.1:9999",
    ];
    for origin in foreign {
        assert_eq!(
            status(&access.judge(&post(host, Some(origin), json))),
            Some(StatusCode::FORBIDDEN),
            "{origin}"
        );
    }
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
    ] {
        assert_eq!(
            status(&access.judge(&post(host, None, content_type))),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            "{content_type:?}"
        );
    }
    for method in [Method::PUT, Method::DELETE, Method::PATCH] {
        let seen = Seen {
            method: &method,
            ..post(host, None, None)
        };
        assert!(status(&access.judge(&seen)).is_some(), "{method}");
    }
    // A read is not a state change: a page may embed nothing of it anyway (no CORS).
    let read = Seen {
        origin: Some("http://evil.example"),
        ..get(host)
    };
    assert_eq!(access.judge(&read), Verdict::Pass);
}

#[test]
fn a_token_is_needed_on_every_request_when_set() {
    let access = at(LOOPBACK, token("s3cret"));
    let host = "127.0.0.1:8790";
    assert_eq!(
        status(&access.judge(&get(host))),
        Some(StatusCode::UNAUTHORIZED)
    );
    for authorization in ["Bearer nope", "Bearer s3cret2", "Basic s3cret", "s3cret"] {
        let seen = Seen {
            authorization: Some(authorization),
            ..get(host)
        };
        assert_eq!(
            status(&access.judge(&seen)),
            Some(StatusCode::UNAUTHORIZED),
            "{authorization}"
        );
    }
    let bearer = Seen {
        authorization: Some("bearer s3cret"),
        ..post(host, None, Some("application/json"))
    };
    assert_eq!(access.judge(&bearer), Verdict::Pass);
    let cookie = Seen {
        cookie: Some("other=1; conveyor_token_8790=s3cret"),
        ..get(host)
    };
    assert_eq!(access.judge(&cookie), Verdict::Pass);
    // Another emulator's cookie on the same host is not this one's.
    let elsewhere = Seen {
        cookie: Some("conveyor_token_8791=s3cret"),
        ..get(host)
    };
    assert!(status(&access.judge(&elsewhere)).is_some());
    // The token still does not open a foreign Host.
    let rebound = Seen {
        authorization: Some("Bearer s3cret"),
        ..get("evil.example:8790")
    };
    assert_eq!(
        status(&access.judge(&rebound)),
        Some(StatusCode::MISDIRECTED_REQUEST)
    );
}

#[test]
fn opening_the_page_with_the_token_sets_a_strict_cookie() {
    let access = at(LOOPBACK, token("s3cret"));
    let page = |query| Seen {
        path: "/",
        query_token: Some(query),
        ..get("localhost:8790")
    };
    let Verdict::RememberToken(cookie) = access.judge(&page("s3cret")) else {
        panic!("the right token sets the cookie")
    };
    assert_eq!(
        cookie,
        "conveyor_token_8790=s3cret; HttpOnly; SameSite=Strict; Path=/"
    );
    assert_eq!(
        status(&access.judge(&page("wrong"))),
        Some(StatusCode::UNAUTHORIZED)
    );
    // Only the page takes the token from its address.
    let elsewhere = Seen {
        path: "/functions",
        ..page("s3cret")
    };
    assert!(status(&access.judge(&elsewhere)).is_some());
}

#[test]
fn a_non_loopback_address_needs_a_token_or_the_opt_out() {
    for listen in ["0.0.0.0:8790", "[::]:8790", "192.168.1.5:8790"] {
        let error = Access::new(listen.parse().unwrap(), AccessSettings::default()).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("CONVEYOR_API_TOKEN") && text.contains("--http-insecure-no-token"),
            "{text}"
        );
        assert!(Access::new(listen.parse().unwrap(), token("t")).is_ok());
    }
    for listen in [LOOPBACK, "[::1]:8790", "127.0.0.2:8790"] {
        let access = Access::new(listen.parse().unwrap(), AccessSettings::default()).unwrap();
        assert!(!access.is_open() && !access.needs_token());
    }
}

#[test]
fn bad_settings_are_named() {
    let bad_host = Access::new(
        LOOPBACK.parse().unwrap(),
        AccessSettings {
            allowed_hosts: vec!["http://devbox".to_owned()],
            ..AccessSettings::default()
        },
    )
    .unwrap_err();
    assert!(bad_host.to_string().contains("\"http://devbox\""));
    assert!(matches!(ApiToken::new("a b"), Err(AccessError::BadToken)));
    assert!(matches!(ApiToken::new("a;b"), Err(AccessError::BadToken)));
    assert!(matches!(ApiToken::new(""), Ok(None)));
    assert_eq!(
        format!("{:?}", ApiToken::new("s3cret").unwrap().unwrap()),
        "ApiToken(***)"
    );
}
