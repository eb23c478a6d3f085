//! Canned replies: `GET /api/canned-replies[?lang=ja|en]` (admins and
//! those who counsel), `POST` (admins: create), `PUT` / `DELETE
//! /api/canned-replies/{id}` (admins: edit, delete). Who may do what is
//! the service's decision.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::session::{current_account, same_site};
use super::ApiError;
use crate::app::AppState;
use crate::core::canned::CannedCategory;
use crate::core::ids::{CannedReplyId, Lang};
use crate::protocol::{CannedReplyView, ErrorCode};
use crate::service::CannedInput;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedBody {
    pub lang: Lang,
    pub category: CannedCategory,
    pub title: String,
    pub body: String,
}

impl From<CannedBody> for CannedInput {
    fn from(b: CannedBody) -> Self {
        CannedInput {
            lang: b.lang,
            category: b.category,
            title: b.title,
            body: b.body,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedQuery {
    pub lang: Option<Lang>,
}

fn id_of(path: &str) -> Result<CannedReplyId, ApiError> {
    path.parse()
        .map_err(|_| ApiError::new(ErrorCode::NotFound, "no such canned reply"))
}

pub async fn list(
    req: HttpRequest,
    q: web::Query<CannedQuery>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (who, _) = current_account(&req, &app).await?;
    let all = app.service.canned_replies(&who, q.lang).await?;
    let views: Vec<CannedReplyView> = all.iter().map(CannedReplyView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

pub async fn create(
    req: HttpRequest,
    body: web::Json<CannedBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let (who, _) = current_account(&req, &app).await?;
    let r = app
        .service
        .create_canned_reply(&who, body.into_inner().into())
        .await?;
    Ok(HttpResponse::Created().json(CannedReplyView::from(&r)))
}

pub async fn update(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<CannedBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let (who, _) = current_account(&req, &app).await?;
    let id = id_of(&path)?;
    let r = app
        .service
        .update_canned_reply(&who, id, body.into_inner().into())
        .await?;
    Ok(HttpResponse::Ok().json(CannedReplyView::from(&r)))
}

pub async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let (who, _) = current_account(&req, &app).await?;
    let id = id_of(&path)?;
    app.service.delete_canned_reply(&who, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
