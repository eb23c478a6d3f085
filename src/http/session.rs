//! Login, logout and the session cookie.
//!
//! A session is a random token in an HttpOnly, SameSite=Strict cookie; the
//! store keeps only its hash. Login attempts are limited per client address
//! here; wrong passwords are counted by the service (`login_guard`), and a
//! wrong username costs as much time as a wrong password.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::ApiError;
use crate::app::AppState;
use crate::auth::{session_cookie_name, SECURE_SESSION_COOKIE, SESSION_COOKIE};
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

/// Every session cookie the request carries, under either name (the
/// `__Host-` one first), duplicates included: a browser may send two of
/// one name (set for different paths, or planted), and each is tried.
fn session_cookies(req: &HttpRequest) -> Vec<String> {
    let Ok(all) = req.cookies() else {
        return Vec::new();
    };
    let mut values: Vec<(bool, String)> = all
        .iter()
        .filter(|c| c.name() == SECURE_SESSION_COOKIE || c.name() == SESSION_COOKIE)
        .map(|c| (c.name() != SECURE_SESSION_COOKIE, c.value().to_owned()))
        .collect();
    values.sort_by_key(|(legacy, _)| *legacy);
    values.truncate(4);
    values.into_iter().map(|(_, v)| v).collect()
}

/// The account behind the request's session cookie (the first of its
/// session cookies that names a live session).
pub async fn current_account(
    req: &HttpRequest,
    app: &AppState,
) -> Result<(Account, TokenHash), ApiError> {
    for value in session_cookies(req) {
        let hash = crate::model::hash_token(&value);
        if let Some(account) = app.service.session_account(&hash).await? {
            return Ok((account, hash));
        }
    }
    Err(ApiError::new(ErrorCode::Unauthorized, "please log in"))
}

/// A cookie that tells the browser to forget the session cookie `name`.
fn removal(name: &'static str, secure: bool) -> Cookie<'static> {
    let mut gone = Cookie::build(name, "")
        .path("/")
        .http_only(true)
        .secure(secure || name == SECURE_SESSION_COOKIE)
        .same_site(SameSite::Strict)
        .finish();
    gone.make_removal();
    gone
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
    let address = client_ip(&req, &app.settings);
    if let Some(ip) = address {
        check_keyed(&app.limits.logins_by_ip, &ip).map_err(ApiError::rate_limited)?;
    }
    let LoginRequest { username, password } = body.into_inner();
    // Wrong passwords are counted by the service, per (account, address),
    // per address and per account, in the store (every node alike).
    let (account, token) = app.service.login(&username, password, address).await?;
    let ttl = app.settings.session_ttl_secs;
    let cookie = Cookie::build(session_cookie_name(app.settings.cookie_secure), token)
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
    // Every session cookie sent ends its session (and closes its sockets):
    // with two, the one the browser did not send first must not live on.
    for value in session_cookies(&req) {
        let hash = crate::model::hash_token(&value);
        app.service.logout(&hash).await?;
    }
    let secure = app.settings.cookie_secure;
    let mut res = HttpResponse::NoContent();
    res.cookie(removal(SESSION_COOKIE, secure));
    if secure {
        res.cookie(removal(SECURE_SESSION_COOKIE, secure));
    }
    Ok(res.finish())
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
