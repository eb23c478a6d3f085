//! `GET /api/floor` (admins and supervisors): the floor now (hours open,
//! counsellors taking chats, visitors waiting, the longest wait) and the
//! recent empty-floor episodes with their durations, so that an admin who
//! has no console sees what supervisors are alerted to. Who may read it is
//! the service's decision.

use actix_web::{web, HttpRequest, HttpResponse};

use super::session::current_account;
use super::ApiError;
use crate::app::AppState;

pub async fn floor(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (me, _) = current_account(&req, &app).await?;
    Ok(HttpResponse::Ok().json(app.service.floor_state(&me).await?))
}
