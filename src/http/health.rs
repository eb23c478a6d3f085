//! `/api/info`: what the public pages show. `/healthz`: the process answers. `/readyz`: it can serve (the store
//! answers); a load balancer sends traffic only while this says ready.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::app::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

pub async fn readyz(app: web::Data<AppState>) -> HttpResponse {
    let store = app.service.ping_store().await;
    let ready = store == "ok" && !app.draining();
    let (visitors, counsellors) = app.hub.counts();
    let persistence = match ready {
        true => app.service.persistence().await,
        false => None,
    };
    // Always, ready or not: during a failover it says which primary the
    // node still uses and that it is moving.
    let replication = app.service.replication().await;
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "store": store,
        "store_kind": app.store_kind,
        "persistence": persistence,
        "replication": replication,
        "draining": app.draining(),
        "sockets": { "visitors": visitors, "counsellors": counsellors },
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Public facts for the visitor page: the centre, its hours (and whether a
/// chat can start now), the round-the-clock alternatives and the limits a
/// client should respect.
pub async fn info(app: web::Data<AppState>) -> HttpResponse {
    let s = &app.settings;
    HttpResponse::Ok().json(json!({
        "site": s.site,
        "alternatives": &*app.service.alternatives(),
        "max_text_chars": s.limits.max_text_chars,
        "letters": {"enabled": s.letters.enabled, "max_chars": s.letters.max_chars},
        "matching": s.matching,
        "hours": app.service.hours_view(),
        "protocol": crate::protocol::PROTOCOL_VERSION,
    }))
}
