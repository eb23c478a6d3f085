//! Relay sheets (issue 23). The counsellor's side:
//! `POST`/`GET /api/counsellor/conversations/{id}/relays` (prepare, list),
//! `POST …/relays/{relay_id}/link` (a partner's link, shown once),
//! `GET …/relays/{relay_id}/print?partner_id=` (the printed sheet). The
//! visitor's, with the resume token: `POST /api/visitor/relays`,
//! `/answer`, `/withdraw`. A partner's: `POST /api/relay/view` with the
//! link's token. Who may do what is the service's decision.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::cases::resumed;
use super::session::{current_account, same_site};
use super::ApiError;
use crate::app::AppState;
use crate::core::ids::{ConversationId, PartnerId, RelayId};
use crate::http::request::client_ip;
use crate::limits::check_keyed;
use crate::protocol::ErrorCode;
use crate::service::PrepareRelay;

fn conversation_of(path: &str) -> Result<ConversationId, ApiError> {
    path.parse()
        .map_err(|_| ApiError::new(ErrorCode::NotYourConversation, "not your conversation"))
}

fn relay_of(path: &str) -> Result<RelayId, ApiError> {
    path.parse()
        .map_err(|_| ApiError::new(ErrorCode::NotFound, "no such relay"))
}

// ------------------------------------------------------------ counsellor

/// 201 `{"relay": RelayView}`.
pub async fn prepare(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<PrepareRelay>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let (who, _) = current_account(&req, &app).await?;
    let id = conversation_of(&path)?;
    let relay = app
        .service
        .prepare_relay(id, &who, body.into_inner())
        .await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "relay": relay })))
}

/// 200 `{"relays": [RelayView]}`, oldest first.
pub async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (who, _) = current_account(&req, &app).await?;
    let relays = app
        .service
        .counsellor_relays(conversation_of(&path)?, &who)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "relays": relays })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerBody {
    partner_id: PartnerId,
}

/// 200 `{"link": "/relay/#<token>", "expires_at"}`: shown once; a new one
/// replaces it.
pub async fn link(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<PartnerBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let (who, _) = current_account(&req, &app).await?;
    let (id, relay) = (conversation_of(&path.0)?, relay_of(&path.1)?);
    let (token, expires_at) = app
        .service
        .issue_relay_link(id, &who, relay, body.partner_id)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "link": format!("/relay/#{token}"),
        "expires_at": expires_at,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrintQuery {
    partner_id: PartnerId,
}

/// 200 `{"sheet": PartnerSheetView}`: what a consented partner gets, to
/// print.
pub async fn print(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    q: web::Query<PrintQuery>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (who, _) = current_account(&req, &app).await?;
    let (id, relay) = (conversation_of(&path.0)?, relay_of(&path.1)?);
    let sheet = app
        .service
        .print_relay(id, &who, relay, q.partner_id)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "sheet": sheet })))
}

// ------------------------------------------------------------ visitor

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    conversation_id: ConversationId,
    token: String,
    relay_id: RelayId,
    wording_version: String,
    consents: BTreeMap<PartnerId, bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawBody {
    conversation_id: ConversationId,
    token: String,
    relay_id: RelayId,
    /// None: every partner the consent was given to.
    #[serde(default)]
    partner_id: Option<PartnerId>,
}

/// 200 `{"relays": [RelayView]}`.
pub async fn visitor_list(
    req: HttpRequest,
    body: web::Json<super::cases::ResumeAuth>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rec = resumed(&req, &app, body.conversation_id, &body.token).await?;
    let relays = app.service.visitor_relays(&rec);
    Ok(HttpResponse::Ok().json(serde_json::json!({ "relays": relays })))
}

/// 200 `{"relay": RelayView}`.
pub async fn answer(
    req: HttpRequest,
    body: web::Json<AnswerBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rec = resumed(&req, &app, body.conversation_id, &body.token).await?;
    let relay = app
        .service
        .answer_relay(&rec, body.relay_id, &body.wording_version, &body.consents)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "relay": relay })))
}

/// 200 `{"relay": RelayView}`.
pub async fn withdraw(
    req: HttpRequest,
    body: web::Json<WithdrawBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rec = resumed(&req, &app, body.conversation_id, &body.token).await?;
    let relay = app
        .service
        .withdraw_relay(&rec, body.relay_id, body.partner_id)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "relay": relay })))
}

// ------------------------------------------------------------ partner

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    link: String,
}

/// 200 `{"sheet": PartnerSheetView}`. Rate-limited per address like the
/// handoff's links (whether or not the link exists).
pub async fn view(
    req: HttpRequest,
    body: web::Json<LinkBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    if let Some(ip) = client_ip(&req, &app.settings) {
        check_keyed(&app.limits.handoff_links_by_ip, &ip).map_err(ApiError::rate_limited)?;
    }
    let sheet = app.service.view_relay_link(&body.link).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "sheet": sheet })))
}
