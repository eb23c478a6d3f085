//! Login, logout and the session cookie.
//!
//! A session is a random token in an HttpOnly, SameSite=Strict cookie; the
//! store keeps only its hash. Login attempts are limited per client address
//! and per username, and a wrong username costs as much time as a wrong
//! password.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::ApiError;
use crate::app::AppState;
use crate::auth::SESSION_COOKIE;
use crate::core::ids::AccountId;
use crate::http::request::{client_ip, origin_allowed};
use crate::limits::check_keyed;
use crate::model::Role;
use crate::model::{Account, TokenHash};
use crate::protocol::ErrorCode;

#[derive(Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize)]
pub struct AccountView {
    pub id: AccountId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id,
            username: a.username.clone(),
            display_name: a.display_name.clone(),
            role: a.role,
        }
    }
}

/// The account behind the request's session cookie.
pub async fn current_account(
    req: &HttpRequest,
    app: &AppState,
) -> Result<(Account, TokenHash), ApiError> {
    let unauthorized = || ApiError::new(ErrorCode::Unauthorized, "please log in");
    let cookie = req.cookie(SESSION_COOKIE).ok_or_else(unauthorized)?;
    let hash = crate::model::hash_token(cookie.value());
    let account = app
        .service
        .session_account(&hash)
        .await?
        .ok_or_else(unauthorized)?;
    Ok((account, hash))
}

pub async fn login(
    req: HttpRequest,
    body: web::Json<LoginRequest>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !origin_allowed(&req, &app.settings) {
        return Err(ApiError::new(
            ErrorCode::OriginForbidden,
            "this origin may not log in",
        ));
    }
    if let Some(ip) = client_ip(&req, &app.settings) {
        check_keyed(&app.limits.logins_by_ip, &ip).map_err(ApiError::rate_limited)?;
    }
    let LoginRequest { username, password } = body.into_inner();
    check_keyed(&app.limits.logins_by_account, &username).map_err(ApiError::rate_limited)?;

    let (account, token) = app.service.login(&username, password).await?;
    let ttl = app.settings.session_ttl_secs;
    let cookie = Cookie::build(SESSION_COOKIE, token)
        .path("/")
        .http_only(true)
        .secure(app.settings.cookie_secure)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::seconds(ttl as i64))
        .finish();
    Ok(HttpResponse::Ok()
        .cookie(cookie)
        .json(AccountView::from(&account)))
}

pub async fn logout(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !origin_allowed(&req, &app.settings) {
        return Err(ApiError::new(
            ErrorCode::OriginForbidden,
            "this origin may not log out",
        ));
    }
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        let hash = crate::model::hash_token(cookie.value());
        app.service.logout(&hash).await?;
    }
    let mut gone = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .finish();
    gone.make_removal();
    Ok(HttpResponse::NoContent().cookie(gone).finish())
}

pub async fn me(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (account, _) = current_account(&req, &app).await?;
    Ok(HttpResponse::Ok().json(AccountView::from(&account)))
}

/// Refuse a request whose `Origin` is another site's (see
/// `ws::origin_allowed`): every state-changing `POST` of the staff and
/// visitor APIs goes through this.
pub fn same_site(req: &HttpRequest, app: &AppState) -> Result<(), ApiError> {
    if origin_allowed(req, &app.settings) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::OriginForbidden,
            "this origin may not do this",
        ))
    }
}

/// The logged-in account, if its role is `role` (`unauthorized` without a
/// session, `forbidden` for another role).
pub async fn staff(req: &HttpRequest, app: &AppState, role: Role) -> Result<Account, ApiError> {
    let (account, _) = current_account(req, app).await?;
    if account.role != role {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("only for the {role:?} role").to_lowercase(),
        ));
    }
    Ok(account)
}
