//! The directory of partner services (issue 23): `GET /api/partners`
//! (admins and those who counsel; `?age_band=&offer=` keeps the partners
//! that fit), `POST` (admins: add), `PUT` / `DELETE /api/partners/{id}`
//! (admins: edit, delete). Who may do what is the service's decision.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::session::{current_account, same_site};
use super::ApiError;
use crate::app::AppState;
use crate::core::ids::PartnerId;
use crate::core::partners::{PartnerFields, PartnerOffer};
use crate::core::prechat::AgeBand;
use crate::protocol::ErrorCode;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerQuery {
    pub age_band: Option<AgeBand>,
    pub offer: Option<PartnerOffer>,
}

/// The body of `POST` and `PUT`: the whole entry but its id and times.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerBody {
    name_ja: String,
    #[serde(default)]
    name_en: String,
    offers: Vec<PartnerOffer>,
    #[serde(default)]
    area: String,
    #[serde(default)]
    age_bands: Vec<AgeBand>,
    contact: String,
    #[serde(default)]
    note_ja: String,
    #[serde(default)]
    note_en: String,
    #[serde(default)]
    accepts_relays: bool,
}

impl From<PartnerBody> for PartnerFields {
    fn from(b: PartnerBody) -> Self {
        PartnerFields {
            name_ja: b.name_ja,
            name_en: b.name_en,
            offers: b.offers,
            area: b.area,
            age_bands: b.age_bands,
            contact: b.contact,
            note_ja: b.note_ja,
            note_en: b.note_en,
            accepts_relays: b.accepts_relays,
        }
    }
}

fn id_of(path: &str) -> Result<PartnerId, ApiError> {
    path.parse()
        .map_err(|_| ApiError::new(ErrorCode::NotFound, "no such partner"))
}

pub async fn list(
    req: HttpRequest,
    q: web::Query<PartnerQuery>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (who, _) = current_account(&req, &app).await?;
    let all = app.service.partners(&who, q.age_band, q.offer).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "partners": all })))
}

pub async fn create(
    req: HttpRequest,
    body: web::Json<PartnerBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let (who, _) = current_account(&req, &app).await?;
    let p = app
        .service
        .create_partner(&who, body.into_inner().into())
        .await?;
    Ok(HttpResponse::Created().json(p))
}

pub async fn update(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<PartnerBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let (who, _) = current_account(&req, &app).await?;
    let id = id_of(&path)?;
    let p = app
        .service
        .update_partner(&who, id, body.into_inner().into())
        .await?;
    Ok(HttpResponse::Ok().json(p))
}

pub async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let (who, _) = current_account(&req, &app).await?;
    let id = id_of(&path)?;
    app.service.delete_partner(&who, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
