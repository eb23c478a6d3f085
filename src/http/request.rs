//! What a request says about its client: the address used as a rate-limit
//! key, and whether a browser's `Origin` is ours. One place for every edge,
//! HTTP and sockets alike.

use std::net::IpAddr;

use actix_web::HttpRequest;

use crate::config::Settings;
use crate::limits::address_key;

/// The client's address key ([`address_key`]: IPv6 by its /64), the key
/// of every per-address limit. Never logged or stored.
pub fn client_ip(req: &HttpRequest, settings: &Settings) -> Option<IpAddr> {
    client_addr(req, settings).map(address_key)
}

/// The client's address as given (the balancer's `X-Forwarded-For` when
/// trusted, else the peer).
fn client_addr(req: &HttpRequest, settings: &Settings) -> Option<IpAddr> {
    if settings.trust_forwarded_for {
        if let Some(ip) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
        {
            return Some(ip);
        }
    }
    req.peer_addr().map(|a| a.ip())
}

/// A browser's `Origin` must be this site's or one the deployment allows.
/// Requests without `Origin` (non-browser clients) are let through: the
/// check protects browsers' users from other sites, it is not authentication.
///
/// "This site" is scheme, host and port: the request's `Host`, with
/// `https` when TLS terminates in front (`cookie_secure`, or
/// `X-Forwarded-Proto` from a trusted balancer), else `http`. A page served
/// over plain HTTP on the same host cannot act for the HTTPS site.
pub fn origin_allowed(req: &HttpRequest, settings: &Settings) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let Some(origin) = header("origin") else {
        return true;
    };
    if settings.allowed_origins.iter().any(|o| o == origin) {
        return true;
    }
    let forwarded = settings
        .trust_forwarded_for
        .then(|| header("x-forwarded-proto"))
        .flatten()
        .map(|p| p.trim().to_ascii_lowercase());
    let scheme = match forwarded.as_deref() {
        Some("https") => "https",
        Some("http") => "http",
        _ if settings.cookie_secure => "https",
        _ => "http",
    };
    match (header("host"), parse_origin(origin)) {
        (Some(host), Some(origin)) => origin == site(scheme, host),
        _ => false,
    }
}

/// `scheme://host:port`, lower case, with the scheme's default port made
/// explicit, so `https://a.jp` and `https://a.jp:443` are one site.
fn site(scheme: &str, host: &str) -> String {
    let host = host.to_ascii_lowercase();
    // `[::1]` has colons but no port: a port is digits after the last one.
    let has_port = host
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if has_port {
        format!("{scheme}://{host}")
    } else {
        let port = if scheme == "https" { 443 } else { 80 };
        format!("{scheme}://{host}:{port}")
    }
}

/// An `Origin` header as [`site`] writes it; `None` for `null` or garbage.
fn parse_origin(origin: &str) -> Option<String> {
    let (scheme, host) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https") || host.is_empty() || host.contains('/') {
        return None;
    }
    Some(site(&scheme, host))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn allowed(settings: &Settings, host: &str, origin: &str, proto: Option<&str>) -> bool {
        let mut req = TestRequest::default()
            .insert_header(("host", host))
            .insert_header(("origin", origin));
        if let Some(p) = proto {
            req = req.insert_header(("x-forwarded-proto", p));
        }
        origin_allowed(&req.to_http_request(), settings)
    }

    #[test]
    fn the_sites_own_origin_is_scheme_host_and_port() {
        let plain = Settings::default();
        assert!(allowed(
            &plain,
            "127.0.0.1:8080",
            "http://127.0.0.1:8080",
            None
        ));
        assert!(allowed(
            &plain,
            "chat.example.jp",
            "http://chat.example.jp:80",
            None
        ));
        assert!(allowed(
            &plain,
            "Chat.Example.jp",
            "http://chat.example.jp",
            None
        ));
        // Another scheme, port or host is another site.
        assert!(!allowed(
            &plain,
            "127.0.0.1:8080",
            "https://127.0.0.1:8080",
            None
        ));
        assert!(!allowed(
            &plain,
            "127.0.0.1:8080",
            "http://127.0.0.1:8081",
            None
        ));
        assert!(!allowed(
            &plain,
            "chat.example.jp",
            "http://chat.example.jp.evil",
            None
        ));
        assert!(!allowed(&plain, "chat.example.jp", "null", None));
        // Behind TLS: only https.
        let tls = Settings {
            cookie_secure: true,
            ..Settings::default()
        };
        assert!(allowed(
            &tls,
            "chat.example.jp",
            "https://chat.example.jp",
            None
        ));
        assert!(!allowed(
            &tls,
            "chat.example.jp",
            "http://chat.example.jp",
            None
        ));
        // A trusted balancer says which scheme the browser used.
        let balanced = Settings {
            trust_forwarded_for: true,
            ..Settings::default()
        };
        assert!(allowed(
            &balanced,
            "chat.example.jp",
            "https://chat.example.jp",
            Some("https")
        ));
        assert!(!allowed(
            &balanced,
            "chat.example.jp",
            "http://chat.example.jp",
            Some("https")
        ));
        // An untrusted client's header is ignored.
        assert!(!allowed(
            &plain,
            "chat.example.jp",
            "https://chat.example.jp",
            Some("https")
        ));
    }
}
