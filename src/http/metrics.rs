//! `GET /metrics`: Prometheus text. Restricted: with `metrics_token` set,
//! only `Authorization: Bearer <token>`; without it, only from loopback
//! addresses (a scraper on the same host or a sidecar).

use actix_web::{web, HttpRequest, HttpResponse};

use super::ApiError;
use crate::app::AppState;
use crate::clock::now_ms;
use crate::metrics::Snapshot;
use crate::model::Availability;
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
    let store = &app.service.store;
    let queue = store.queue().await.map_err(|e| ApiError(e.into()))?;
    let counsellors = store.counsellors().await.map_err(|e| ApiError(e.into()))?;
    let now = now_ms();
    let (visitors, counsellor_sockets) = app.hub.counts();
    let online = |c: &&crate::model::CounsellorRecord| c.connections > 0;
    let snapshot = Snapshot {
        queue_length: queue.len(),
        longest_wait_secs: queue
            .iter()
            .map(|r| now.saturating_sub(r.queued_since_ms))
            .max()
            .unwrap_or(0) as f64
            / 1000.0,
        conversations_active: counsellors.iter().map(|c| c.active as usize).sum(),
        counsellors_available: counsellors
            .iter()
            .filter(online)
            .filter(|c| c.status == Availability::Available)
            .count(),
        counsellors_away: counsellors
            .iter()
            .filter(online)
            .filter(|c| c.status == Availability::Away)
            .count(),
        counsellors_offline: counsellors.iter().filter(|c| c.connections == 0).count(),
        sockets_visitor: visitors,
        sockets_counsellor: counsellor_sockets,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(app.service.metrics.render(&snapshot)))
}
