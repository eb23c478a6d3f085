//! HTTP edges: login and sessions, accounts, health, the admin report. Every error is an
//! [`ApiError`]: the same body and codes as WebSocket error frames, with
//! the status the code decides.

pub mod accounts;
pub mod canned;
pub mod cases;
pub mod floor;
pub mod handoff;
pub mod health;
pub mod hearing;
pub mod letters;
pub mod metrics;
pub mod partners;
pub mod relays;
pub mod report;
pub mod request;
pub mod second_factor;
pub mod session;
pub mod way_back;

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::protocol::{ErrorBody, ErrorCode};

pub use session::current_account;

#[derive(Debug)]
pub struct ApiError(pub ErrorBody);

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(ErrorBody::new(code, message))
    }

    pub fn rate_limited(wait: Duration) -> Self {
        let mut e = ErrorBody::new(ErrorCode::RateLimited, "too many requests; try again later");
        e.retry_after_ms = Some(wait.as_millis() as u64 + 1);
        Self(e)
    }
}

impl From<ErrorBody> for ApiError {
    fn from(e: ErrorBody) -> Self {
        Self(e)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.code.as_str(), self.0.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status_code());
        if let Some(ms) = self.0.retry_after_ms {
            r.insert_header(("Retry-After", ms.div_ceil(1000).to_string()));
        }
        let mut res = r.json(&self.0);
        // Read by the refusal-counting middleware (startup.rs).
        res.extensions_mut().insert(self.0.code);
        res
    }
}

/// JSON bodies that do not parse answer `bad_request` in our format, not
/// actix's plain text; a body over the limit answers 413 `body_too_large`.
pub fn json_config() -> actix_web::web::JsonConfig {
    use actix_web::error::JsonPayloadError;
    actix_web::web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|err, _req| match err {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                ApiError::new(
                    ErrorCode::BodyTooLarge,
                    format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
                )
                .into()
            }
            err => ApiError::new(ErrorCode::BadRequest, format!("invalid JSON body: {err}")).into(),
        })
}

/// The largest JSON request body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A query string that does not parse (`?limit=abc`) answers `bad_request`
/// in our format too.
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|err, _req| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("invalid query string: {err}"),
        )
        .into()
    })
}

/// And a path segment that does not parse.
pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default().error_handler(|err, _req| {
        ApiError::new(ErrorCode::BadRequest, format!("invalid path: {err}")).into()
    })
}

/// Every API path and the methods it takes (`{}` matches one segment).
/// `not_found` answers 405 with `Allow` for a known path and another
/// method; tests/api/contract/http.rs checks this table against the
/// routes in docs/openapi.yaml, so a route added in `startup` and not here
/// (or there) fails the suite.
pub const API_ROUTES: &[(&str, &str)] = &[
    ("/api/info", "GET"),
    ("/api/login", "POST"),
    ("/api/logout", "POST"),
    ("/api/me", "GET"),
    ("/api/accounts", "GET, POST"),
    ("/api/handoff", "POST"),
    ("/api/handoff/answer", "POST"),
    ("/api/handoff/book", "POST"),
    ("/api/handoff/withdraw", "POST"),
    ("/api/handoff/pin", "POST"),
    ("/api/handoff/reschedule", "POST"),
    ("/api/handoff/info", "GET"),
    ("/api/visitor/way-back", "POST"),
    ("/api/slots", "GET"),
    ("/api/booking", "POST"),
    ("/api/booking/cancel", "POST"),
    ("/api/booking/reschedule", "POST"),
    ("/api/booking/calendar", "POST"),
    ("/api/booking/withdraw", "POST"),
    ("/api/admin/slots", "GET, POST"),
    ("/api/admin/slots/{}/cancel", "POST"),
    ("/api/admin/audit", "GET"),
    ("/api/admin/report", "GET"),
    ("/api/intake/bookings", "GET"),
    ("/api/intake/bookings/{}/transcript", "GET"),
    ("/api/intake/bookings/{}/cancel", "POST"),
    ("/api/intake/bookings/{}/pin", "POST"),
    ("/api/intake/bookings/{}/attended", "POST"),
    // Second factor (issue 21).
    ("/api/login/second-factor", "POST"),
    ("/api/second-factor", "GET"),
    ("/api/second-factor/setup", "POST"),
    ("/api/second-factor/confirm", "POST"),
    ("/api/accounts/{}/second-factor/reset", "POST"),
    // Staff accounts run from the product (issue 21).
    ("/api/accounts/{}", "POST"),
    ("/api/accounts/{}/setup", "POST"),
    ("/api/accounts/{}/revoke-sessions", "POST"),
    ("/api/setup", "POST"),
    ("/api/me/password", "POST"),
    ("/api/me/logout-everywhere", "POST"),
    ("/api/canned-replies", "GET, POST"),
    ("/api/canned-replies/{}", "PUT, DELETE"),
    ("/api/counsellor/conversations/{}/case", "GET"),
    ("/api/visitor/return-code", "POST"),
    // The floor and its empty-floor episodes (issue 20).
    ("/api/floor", "GET"),
    ("/api/visitor/case", "POST"),
    ("/api/visitor/leave-quickly", "POST"),
    // Letters (issue 22).
    ("/api/letters", "POST"),
    ("/api/letters/read", "POST"),
    ("/api/counsellor/letters", "GET"),
    ("/api/counsellor/letters/{}/answer", "POST"),
    ("/api/counsellor/letters/{}/case", "GET"),
    // The directory of partner services (issue 23).
    ("/api/partners", "GET, POST"),
    ("/api/partners/{}", "PUT, DELETE"),
    // The hearing sheet (issue 23).
    ("/api/hearing-sheets", "GET"),
    ("/api/counsellor/conversations/{}/hearing", "GET, PUT"),
    // Relay sheets (issue 23).
    ("/api/counsellor/conversations/{}/relays", "GET, POST"),
    ("/api/counsellor/conversations/{}/relays/{}/link", "POST"),
    ("/api/counsellor/conversations/{}/relays/{}/print", "GET"),
    ("/api/visitor/relays", "POST"),
    ("/api/visitor/relays/answer", "POST"),
    ("/api/visitor/relays/withdraw", "POST"),
    ("/api/relay/view", "POST"),
];

/// The methods `path` takes, if it is an API path.
pub fn allowed_methods(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    API_ROUTES.iter().find_map(|(pattern, methods)| {
        let p: Vec<&str> = pattern.split('/').collect();
        let same = p.len() == segments.len()
            && p.iter()
                .zip(&segments)
                .all(|(a, b)| *a == *b || (*a == "{}" && !b.is_empty()));
        same.then_some(*methods)
    })
}

/// 405 in our error format, with `Allow`.
pub fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut res = ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("this path takes {allow}"),
    )
    .error_response();
    res.headers_mut().insert(
        actix_web::http::header::ALLOW,
        actix_web::http::header::HeaderValue::from_static(allow),
    );
    res
}

/// A handler for a path that only takes GET (the sockets, health, metrics).
pub async fn get_only() -> HttpResponse {
    method_not_allowed("GET")
}

/// A handler for a path that only takes POST (the LINE webhook).
pub async fn post_only() -> HttpResponse {
    method_not_allowed("POST")
}

/// Unknown API paths answer in the same error format as everything else;
/// a known path with a method it does not take answers 405.
pub async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    match allowed_methods(req.path()) {
        Some(allow) => Ok(method_not_allowed(allow)),
        None => Err(ApiError::new(ErrorCode::NotFound, "no such endpoint")),
    }
}
