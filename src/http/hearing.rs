//! The hearing sheet (issue 23): `GET /api/hearing-sheets` (every version
//! the deployment defines), and a conversation's sheet,
//! `GET` / `PUT /api/counsellor/conversations/{id}/hearing`, for the
//! counsellor who holds or held it. Who may do what is the service's
//! decision.

use actix_web::{web, HttpRequest, HttpResponse};

use super::session::{current_account, same_site};
use super::ApiError;
use crate::app::AppState;
use crate::core::ids::ConversationId;
use crate::protocol::ErrorCode;
use crate::service::SaveHearing;

/// The largest sheet a counsellor saves (its body): 80 questions, some of
/// them texts of up to 2,000 characters.
pub const MAX_SHEET_BYTES: usize = 128 * 1024;

fn id_of(path: &str) -> Result<ConversationId, ApiError> {
    path.parse()
        .map_err(|_| ApiError::new(ErrorCode::NotYourConversation, "not your conversation"))
}

pub async fn sheets(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (who, _) = current_account(&req, &app).await?;
    Ok(HttpResponse::Ok().json(app.service.hearing_sheets(&who)?))
}

/// 200 `{"sheet": HearingSheetView | null}`.
pub async fn read(
    req: HttpRequest,
    path: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (who, _) = current_account(&req, &app).await?;
    let sheet = app.service.hearing(id_of(&path)?, &who).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "sheet": sheet })))
}

/// 200 `{"sheet": HearingSheetView}`: saved (a draft unless `complete`).
pub async fn save(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<SaveHearing>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let (who, _) = current_account(&req, &app).await?;
    let id = id_of(&path)?;
    let sheet = app
        .service
        .save_hearing(id, &who, body.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "sheet": sheet })))
}
