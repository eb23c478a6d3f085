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
use crate::service::second_factor::LoginStep;

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
    /// `false` once deactivated.
    pub active: bool,
    /// When it last logged in (ms since the epoch), if ever.
    pub last_login_at: Option<u64>,
    /// A second factor is enrolled (`AccountView::read`; `From` alone
    /// cannot know and says `false`).
    pub second_factor: bool,
    /// A password set-up code is in force, until then (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup_expires_at: Option<u64>,
}

impl AccountView {
    /// The view with the second factor read from the store.
    pub async fn read(app: &AppState, a: &Account) -> Result<Self, ApiError> {
        let enrolled = app.service.second_factor_status(a).await?.enrolled;
        Ok(Self {
            second_factor: enrolled,
            ..Self::from(a)
        })
    }
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id,
            username: a.username.clone(),
            display_name: a.display_name.clone(),
            role: a.role,
            active: !a.deactivated,
            last_login_at: a.last_login_ms,
            second_factor: false,
            setup_expires_at: a.setup.map(|t| t.expires_at_ms),
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
/// session cookies that names a live session). An account whose role must
/// use a second factor and has not enrolled is refused
/// (`second_factor_required`): it may only use [`enrolling_account`]'s
/// routes.
pub async fn current_account(
    req: &HttpRequest,
    app: &AppState,
) -> Result<(Account, TokenHash), ApiError> {
    let (account, hash) = enrolling_account(req, app).await?;
    app.service.second_factor_gate(&account).await?;
    Ok((account, hash))
}

/// The account behind the session cookie, enrolled in a second factor or
/// not: for `/api/me`, and setting up the second factor.
pub async fn enrolling_account(
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

/// Every request that tries a password or a code (login, its second step,
/// the set-up link, a password change) counts against the client address's
/// login limit first; the address, for the service's own counts.
pub(crate) fn password_attempt(
    req: &HttpRequest,
    app: &AppState,
) -> Result<Option<std::net::IpAddr>, ApiError> {
    let address = client_ip(req, &app.settings);
    if let Some(ip) = address {
        check_keyed(&app.limits.logins_by_ip, &ip).map_err(ApiError::rate_limited)?;
    }
    Ok(address)
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
    let address = password_attempt(&req, &app)?;
    let LoginRequest { username, password } = body.into_inner();
    // Wrong passwords are counted by the service, per (account, address),
    // per address and per account, in the store (every node alike).
    match app.service.login(&username, password, address).await? {
        LoginStep::Session { account, token } => Ok(logged_in(&app, &account, token)),
        // A second factor: no cookie yet, only the pending login.
        LoginStep::SecondFactor {
            pending_login,
            expires_at_ms,
        } => Ok(HttpResponse::Accepted().json(serde_json::json!({
            "second_factor": "code_needed",
            "pending_login": pending_login,
            "expires_at": expires_at_ms,
        }))),
    }
}

/// The answer to a completed login: the session cookie (set only here,
/// after every step) and the account.
pub(super) fn logged_in(app: &AppState, account: &Account, token: String) -> HttpResponse {
    let ttl = app.settings.session_ttl_secs;
    let cookie = Cookie::build(session_cookie_name(app.settings.cookie_secure), token)
        .path("/")
        .http_only(true)
        .secure(app.settings.cookie_secure)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::seconds(ttl as i64))
        .finish();
    HttpResponse::Ok()
        .cookie(cookie)
        .json(AccountView::from(account))
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
    Ok(forget_cookies(&app))
}

/// 204 telling the browser to forget its session cookies.
pub fn forget_cookies(app: &AppState) -> HttpResponse {
    let secure = app.settings.cookie_secure;
    let mut res = HttpResponse::NoContent();
    res.cookie(removal(SESSION_COOKIE, secure));
    if secure {
        res.cookie(removal(SECURE_SESSION_COOKIE, secure));
    }
    res.finish()
}

pub async fn me(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // Also before a required second factor is set up: the page must know
    // who is logged in to offer the set-up.
    let (account, _) = enrolling_account(&req, &app).await?;
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
