//! `POST /api/visitor/way-back`: a way-back code for a new resume token.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::session::same_site;
use super::ApiError;
use crate::app::AppState;
use crate::http::request::client_ip;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WayBackBody {
    code: String,
}

/// 200 `{"conversation_id", "token"}`: the page resumes with them (the
/// `resume` message). `way_back_failed` (404) for any code that does not
/// lead back; `way_back_locked` (429, `retry_after_ms`) for an address
/// after too many wrong codes.
pub async fn redeem(
    req: HttpRequest,
    body: web::Json<WayBackBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let ip = client_ip(&req, &app.settings);
    let (id, token) = app.service.redeem_way_back(&body.code, ip).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(serde_json::json!({
            "conversation_id": id,
            "token": token,
        })))
}
