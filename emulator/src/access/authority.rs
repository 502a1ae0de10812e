//! The `host[:port]` part of a `Host` header, an `Origin` or an `--http-allowed-host` entry,
//! parsed so that `LOCALHOST:8790`, `localhost:8790` and `[::1]:8790` compare as a browser
//! means them.

use std::net::{IpAddr, Ipv6Addr};

/// A host: an IP address, or a name in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An address literal (`127.0.0.1`, `[::1]`).
    Ip(IpAddr),
    /// A DNS name (`localhost`, `devbox.local`).
    Name(String),
}

/// A host and, when one was written, a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// The host.
    pub host: Host,
    /// The port, if written.
    pub port: Option<u16>,
}

impl Authority {
    /// Parses `host`, `host:port`, `[v6]` or `[v6]:port`; a bare IPv6 address too, as a user
    /// may write one in `--http-allowed-host`. `None` for anything else (a URL, a path, an
    /// empty string, characters no host name has).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Some(Self {
                host: Host::Ip(ip),
                port: None,
            });
        }
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (v6, after) = rest.split_once(']')?;
            let ip: Ipv6Addr = v6.parse().ok()?;
            (Host::Ip(IpAddr::V6(ip)), after)
        } else {
            let end = text.find(':').unwrap_or(text.len());
            (name(&text[..end])?, &text[end..])
        };
        let port = match port {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        Some(Self { host, port })
    }

    /// The port, or `default` when none was written.
    #[must_use]
    pub fn port_or(&self, default: u16) -> u16 {
        self.port.unwrap_or(default)
    }
}

fn name(text: &str) -> Option<Host> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(Host::Ip(ip));
    }
    let valid = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    valid.then(|| Host::Name(text.to_ascii_lowercase()))
}

/// The scheme and authority of an `Origin` header (`http://localhost:8790`); `None` for
/// `null` and anything that is not an http(s) origin.
#[must_use]
pub fn origin(text: &str) -> Option<(&str, Authority)> {
    let (scheme, rest) = text.split_once("://")?;
    let scheme = match scheme {
        s if s.eq_ignore_ascii_case("http") => "http",
        s if s.eq_ignore_ascii_case("https") => "https",
        _ => return None,
    };
    Some((scheme, Authority::parse(rest)?))
}

/// The port a URL of `scheme` means when it names none.
#[must_use]
pub fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Option<(Host, Option<u16>)> {
        Authority::parse(text).map(|a| (a.host, a.port))
    }

    #[test]
    fn parses_names_addresses_and_ports() {
        let localhost = Host::Name("localhost".to_owned());
        assert_eq!(
            parsed("LocalHost:8790"),
            Some((localhost.clone(), Some(8790)))
        );
        assert_eq!(parsed("localhost"), Some((localhost, None)));
        assert_eq!(
            parsed("127.0.0.1:80"),
            Some((Host::Ip([127, 0, 0, 1].into()), Some(80)))
        );
        assert_eq!(
            parsed("[::1]:8790"),
            Some((Host::Ip(Ipv6Addr::LOCALHOST.into()), Some(8790)))
        );
        assert_eq!(
            parsed("::1"),
            Some((Host::Ip(Ipv6Addr::LOCALHOST.into()), None))
        );
    }

    #[test]
    fn refuses_what_is_no_host() {
        for bad in [
            "",
            ":8790",
            "http://devbox",
            "devbox/x",
            "devbox:",
            "devbox:port",
            "devbox:99999",
            "[::1",
            "[nope]:1",
            "a b",
        ] {
            assert_eq!(Authority::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reads_origins() {
        let (scheme, a) = origin("http://127.0.0.1:8790").unwrap();
        assert_eq!((scheme, a.port), ("http", Some(8790)));
        assert_eq!(origin("HTTPS://devbox").unwrap().0, "https");
        assert!(origin("null").is_none());
        assert!(origin("file://x").is_none());
    }
}
