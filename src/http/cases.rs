//! `GET /api/counsellor/conversations/{id}/case` (issue 22): a returning
//! visitor's anonymous case, for the counsellor who holds the conversation.

use actix_web::{web, HttpRequest, HttpResponse};

use super::session::current_account;
use super::ApiError;
use crate::app::AppState;
use crate::core::ids::ConversationId;
use crate::protocol::ErrorCode;
use crate::service::KeepLongerStep;

/// 200 `{"case": CaseView | null}` (`null`: the visitor took no code);
/// `not_your_conversation` (403) unless the caller holds the
/// conversation; `unauthorized` without a session.
pub async fn case(
    req: HttpRequest,
    path: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (account, _) = current_account(&req, &app).await?;
    if !account.role.counsels() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only for counsellors and supervisors",
        ));
    }
    let id: ConversationId = path
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::NotYourConversation, "not your conversation"))?;
    let case = app.service.case_view(id, account.id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(serde_json::json!({ "case": case })))
}

/// The visitor's conversation, for a request from a page of this site
/// that names it with its resume token (`origin_forbidden`,
/// `resume_failed` otherwise).
pub(super) async fn resumed(
    req: &HttpRequest,
    app: &AppState,
    id: ConversationId,
    token: &str,
) -> Result<crate::model::ConversationRecord, ApiError> {
    super::session::same_site(req, app)?;
    Ok(app.service.resume(id, token).await?)
}

/// A visitor's conversation and its resume token: how a page that has no
/// open socket (after the end, or while it leaves) says whose it is.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeAuth {
    pub conversation_id: ConversationId,
    pub token: String,
}

/// `POST /api/visitor/return-code` (issue 22): a return code for the
/// visitor's conversation, live or ended (the page has closed the socket
/// of an ended one), with its resume token in the body. 200
/// `{"code","retention_days","case_retention"}`; `resume_failed` for a wrong id or token.
pub async fn take(
    req: HttpRequest,
    body: web::Json<ResumeAuth>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rec = resumed(&req, &app, body.conversation_id, &body.token).await?;
    let shown = app.service.take_return_code(rec.id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(serde_json::json!({
            "code": shown.code,
            "retention_days": shown.retention_days,
            "case_retention": shown.case_retention,
        })))
}

/// What `POST /api/visitor/case` does: the socket's case messages, for a
/// page whose socket is closed (after the end).
#[derive(serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CaseStep {
    KeepLonger {
        conversation_id: ConversationId,
        token: String,
        wording_version: String,
        #[serde(default)]
        lang: Option<crate::core::ids::Lang>,
    },
    WithdrawKeepLonger {
        conversation_id: ConversationId,
        token: String,
    },
    EraseCase {
        conversation_id: ConversationId,
        token: String,
    },
}

/// `POST /api/visitor/case` (issue 22): `keep_longer`,
/// `withdraw_keep_longer` or `erase_case` for the visitor's conversation,
/// with its resume token, answered as on the socket (`case_retention`,
/// `case_erased`). `resume_failed` for a wrong id or token.
pub async fn visitor_case(
    req: HttpRequest,
    body: web::Json<CaseStep>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (id, token) = match &*body {
        CaseStep::KeepLonger {
            conversation_id,
            token,
            ..
        }
        | CaseStep::WithdrawKeepLonger {
            conversation_id,
            token,
        }
        | CaseStep::EraseCase {
            conversation_id,
            token,
        } => (*conversation_id, token.as_str()),
    };
    let rec = resumed(&req, &app, id, token).await?;
    let answer = match &*body {
        CaseStep::KeepLonger {
            wording_version,
            lang,
            ..
        } => {
            let step = KeepLongerStep::Give { lang: *lang };
            let v = app
                .service
                .keep_longer(rec.id, step, wording_version)
                .await?;
            serde_json::json!({"type": "case_retention", "case_retention": v})
        }
        CaseStep::WithdrawKeepLonger { .. } => {
            let v = app
                .service
                .keep_longer(rec.id, KeepLongerStep::Withdraw, "")
                .await?;
            serde_json::json!({"type": "case_retention", "case_retention": v})
        }
        CaseStep::EraseCase { .. } => {
            let n = app.service.erase_case(rec.id).await?;
            serde_json::json!({"type": "case_erased", "conversations": n})
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(answer))
}

/// `POST /api/visitor/leave-quickly`: the quick exit, sent by the page with
/// `navigator.sendBeacon` as it replaces itself (a frame on its socket
/// could be lost when the navigation closes the socket first; a beacon is
/// delivered after the page is gone). The same step as the socket's
/// `leave_quickly`: 204; `resume_failed` for a wrong id or token,
/// `conversation_ended` after the end. Takes `text/plain` too (a beacon's
/// string body) besides `application/json`.
pub async fn leave_quickly(
    req: HttpRequest,
    body: web::Json<ResumeAuth>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rec = resumed(&req, &app, body.conversation_id, &body.token).await?;
    app.service.visitor_leave_quickly(rec.id).await?;
    Ok(HttpResponse::NoContent().finish())
}
