//! Letters (issue 22). The visitor: `POST /api/letters` (write one) and
//! `POST /api/letters/read` (read theirs with the return code: in the
//! body, never in a URL). Counsellors and supervisors: `GET
//! /api/counsellor/letters` (the letters queue) and `POST
//! /api/counsellor/letters/{id}/answer`. The rules are the service's
//! (`service/letters.rs`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::request::client_ip;
use super::session::{current_account, same_site};
use super::ApiError;
use crate::app::AppState;
use crate::core::ids::{ClientMsgId, ConversationId, Lang};
use crate::protocol::ErrorCode;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteBody {
    text: String,
    #[serde(default)]
    lang: Option<Lang>,
    /// The writer's return code, if they have one.
    #[serde(default)]
    return_code: Option<String>,
}

/// 201 with the receipt (`letter_id`, a new `return_code` when none was
/// given, `ahead`, `answer_expected_at`, `retention_days`,
/// `safety_info`; with `services` when `safety_info`).
pub async fn write(
    req: HttpRequest,
    body: web::Json<WriteBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let ip = client_ip(&req, &app.settings);
    let WriteBody {
        text,
        lang,
        return_code,
    } = body.into_inner();
    let receipt = app
        .service
        .write_letter(text, lang, return_code.as_deref(), ip)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(receipt))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    return_code: String,
}

/// 200 `{"letters": [LetterView]}`; a wrong code: `resume_failed` (403),
/// `return_code_locked` (429) after too many from one address.
pub async fn read(
    req: HttpRequest,
    body: web::Json<ReadBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let ip = client_ip(&req, &app.settings);
    let letters = app.service.read_letters(&body.return_code, ip).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(serde_json::json!({ "letters": letters })))
}

/// 200 `{"letters": [WaitingLetterView]}` in the queue's order (urgent
/// first, then oldest); `forbidden` unless the caller counsels.
pub async fn queue(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (who, _) = current_account(&req, &app).await?;
    if !who.role.counsels() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only for counsellors and supervisors",
        ));
    }
    let letters = app.service.waiting_letters().await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(serde_json::json!({ "letters": letters })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    client_id: String,
    text: String,
}

/// 200 `{"seq"}` (the answer's sequence number in the letter);
/// `letter_answered` (409) if answered or erased meanwhile, `not_found`
/// for an id that is no letter.
pub async fn answer(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<AnswerBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let (who, _) = current_account(&req, &app).await?;
    let id: ConversationId = path
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::NotFound, "no such letter"))?;
    let AnswerBody { client_id, text } = body.into_inner();
    let client_id = ClientMsgId::parse(&client_id)
        .map_err(|e| ApiError::new(ErrorCode::InvalidMessage, e.to_string()))?;
    let seq = app.service.answer_letter(id, &who, client_id, text).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(serde_json::json!({ "seq": seq })))
}

/// `GET /api/counsellor/letters/{id}/case`: the case of a waiting letter
/// (`{"case": CaseView | null}`, as for a conversation), for anyone who
/// counsels; `not_found` unless it is a letter still waiting.
pub async fn case(
    req: HttpRequest,
    path: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (who, _) = current_account(&req, &app).await?;
    let id: ConversationId = path
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::NotFound, "no such letter"))?;
    let case = app.service.letter_case_view(id, &who).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(serde_json::json!({ "case": case })))
}
