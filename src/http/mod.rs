//! HTTP edges: login and sessions, accounts, health, the admin report. Every error is an
//! [`ApiError`]: the same body and codes as WebSocket error frames, with
//! the status the code decides.

pub mod accounts;
pub mod handoff;
pub mod health;
pub mod metrics;
pub mod report;
pub mod request;
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
/// actix's plain text.
pub fn json_config() -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default()
        .limit(16 * 1024)
        .error_handler(|err, _req| {
            ApiError::new(ErrorCode::BadRequest, format!("invalid JSON body: {err}")).into()
        })
}

/// Unknown API paths answer in the same error format as everything else.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(ErrorCode::NotFound, "no such endpoint"))
}
