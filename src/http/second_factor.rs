//! The second factor's HTTP edges (issue 21): its owner's status, set-up
//! and confirmation; the login's second step; an admin's reset. The
//! rules, the crypto and the rate limits are in the service
//! (`service::second_factor`). Nothing here logs a secret or a code.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::session::{enrolling_account, logged_in, password_attempt, same_site, staff};
use super::ApiError;
use crate::app::AppState;
use crate::core::ids::AccountId;
use crate::model::Role;
use crate::protocol::ErrorCode;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    pub code: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondStepRequest {
    pub pending_login: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub recovery_code: Option<String>,
}

/// `GET /api/second-factor`: the logged-in account's second factor.
pub async fn status(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (account, _) = enrolling_account(&req, &app).await?;
    Ok(HttpResponse::Ok().json(app.service.second_factor_status(&account).await?))
}

/// `POST /api/second-factor/setup`: a new secret, as text and QR code.
pub async fn setup(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let (account, _) = enrolling_account(&req, &app).await?;
    let setup = app.service.begin_second_factor(&account).await?;
    // (Every /api answer is `Cache-Control: no-store`.)
    Ok(HttpResponse::Ok().json(setup))
}

/// `POST /api/second-factor/confirm`: the first code; the recovery codes,
/// shown once.
pub async fn confirm(
    req: HttpRequest,
    body: web::Json<ConfirmRequest>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let (account, _) = enrolling_account(&req, &app).await?;
    let codes = app
        .service
        .confirm_second_factor(&account, &body.code)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "recovery_codes": codes })))
}

/// `POST /api/login/second-factor`: the pending login and a code (or a
/// recovery code); the session cookie, set only now.
pub async fn second_step(
    req: HttpRequest,
    body: web::Json<SecondStepRequest>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let address = password_attempt(&req, &app)?;
    let SecondStepRequest {
        pending_login,
        code,
        recovery_code,
    } = body.into_inner();
    let (account, token) = app
        .service
        .login_second_factor(
            &pending_login,
            code.as_deref(),
            recovery_code.as_deref(),
            address,
        )
        .await?;
    Ok(logged_in(&app, &account, token))
}

/// `POST /api/accounts/{id}/second-factor/reset` (admins): forget that
/// account's second factor; audited.
pub async fn reset(
    req: HttpRequest,
    path: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let admin = staff(&req, &app, Role::Admin).await?;
    let target: AccountId = path
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::NotFound, "no such account"))?;
    let had = app.service.reset_second_factor(&admin, target).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "had_second_factor": had })))
}
