//! `GET /metrics`: Prometheus text. Restricted: with `metrics_token` set,
//! only `Authorization: Bearer <token>`; without it, only from loopback
//! addresses (a scraper on the same host or a sidecar).

use actix_web::{web, HttpRequest, HttpResponse};

use super::ApiError;
use crate::app::AppState;
use crate::protocol::ErrorCode;

fn allowed(req: &HttpRequest, app: &AppState) -> Result<(), ApiError> {
    match &app.settings.metrics_token {
        Some(token) => {
            let given = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            let expected = crate::model::hash_token(token.expose());
            match given {
                Some(g) if crate::auth::same_hash(&crate::model::hash_token(g), &expected) => {
                    Ok(())
                }
                _ => Err(ApiError::new(
                    ErrorCode::Unauthorized,
                    "a metrics token is required",
                )),
            }
        }
        None => match req.peer_addr() {
            Some(a) if a.ip().is_loopback() => Ok(()),
            _ => Err(ApiError::new(
                ErrorCode::Forbidden,
                "metrics are served to loopback only unless metrics_token is set",
            )),
        },
    }
}

pub async fn metrics(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    allowed(&req, &app)?;
    let snapshot = app.service.metrics_snapshot(app.hub.counts()).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(app.service.metrics.render(&snapshot)))
}
