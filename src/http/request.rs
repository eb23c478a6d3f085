//! What a request says about its client: the address used as a rate-limit
//! key, and whether a browser's `Origin` is ours. One place for every edge,
//! HTTP and sockets alike.

use std::net::IpAddr;

use actix_web::HttpRequest;

use crate::config::Settings;

/// The client address used as a rate-limit key. Never logged or stored.
pub fn client_ip(req: &HttpRequest, settings: &Settings) -> Option<IpAddr> {
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
pub fn origin_allowed(req: &HttpRequest, settings: &Settings) -> bool {
    let Some(origin) = req.headers().get("origin").and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if settings.allowed_origins.iter().any(|o| o == origin) {
        return true;
    }
    let host = req.headers().get("host").and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((host, origin_host), (Some(h), Some(o)) if h.eq_ignore_ascii_case(o))
}
