//! Staff accounts: the admin's list, creation and changes (issue 21), the
//! set-up page's password, and a person's own password and "log out
//! everywhere". Who may do what is decided in the service.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::session::{current_account, password_attempt, same_site, staff, AccountView};
use super::ApiError;
use crate::app::AppState;
use crate::core::ids::AccountId;
use crate::model::Role;
use crate::service::accounts::{AccountEdit, SetupCode};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Without one the answer carries a set-up code for the new person.
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditAccount {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub active: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    pub account: String,
    pub code: String,
    pub password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// A set-up code as the admin is shown it, once, with the page's path.
#[derive(Serialize)]
pub struct SetupView {
    pub code: String,
    /// `/setup/#<account id>.<code>`: the code is in the fragment, which
    /// the browser never sends to a server.
    pub path: String,
    pub expires_at: u64,
}

impl From<SetupCode> for SetupView {
    fn from(s: SetupCode) -> Self {
        Self {
            path: format!("/setup/#{}.{}", s.account, s.code),
            code: s.code,
            expires_at: s.expires_at_ms,
        }
    }
}

#[derive(Serialize)]
struct Created {
    #[serde(flatten)]
    account: AccountView,
    #[serde(skip_serializing_if = "Option::is_none")]
    setup: Option<SetupView>,
}

fn account_id(raw: &str) -> Result<AccountId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::new(crate::protocol::ErrorCode::NotFound, "no such account"))
}

pub async fn list(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    staff(&req, &app, Role::Admin).await?;
    let accounts = app.service.accounts().await?;
    let mut views = Vec::with_capacity(accounts.len());
    for a in &accounts {
        views.push(AccountView::read(&app, a).await?);
    }
    Ok(HttpResponse::Ok().json(views))
}

pub async fn create(
    req: HttpRequest,
    body: web::Json<NewAccount>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let by = staff(&req, &app, Role::Admin).await?;
    let NewAccount {
        username,
        display_name,
        role,
        password,
    } = body.into_inner();
    let (account, setup) = app
        .service
        .create_account(&by, username, display_name, role, password)
        .await?;
    Ok(HttpResponse::Created().json(Created {
        account: AccountView::read(&app, &account).await?,
        setup: setup.map(SetupView::from),
    }))
}

pub async fn edit(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<EditAccount>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let (by, _) = current_account(&req, &app).await?;
    let id = account_id(&path)?;
    let EditAccount {
        display_name,
        role,
        active,
    } = body.into_inner();
    let account = app
        .service
        .edit_account(
            &by,
            id,
            AccountEdit {
                display_name,
                role,
                active,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(AccountView::read(&app, &account).await?))
}

pub async fn issue_setup(
    req: HttpRequest,
    path: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let (by, _) = current_account(&req, &app).await?;
    let id = account_id(&path)?;
    let code = app.service.issue_setup(&by, id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(SetupView::from(code)))
}

pub async fn revoke_sessions(
    req: HttpRequest,
    path: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let (by, _) = current_account(&req, &app).await?;
    let id = account_id(&path)?;
    app.service.revoke_sessions(&by, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The set-up page's form: no session; limited per client address like
/// logins.
pub async fn setup(
    req: HttpRequest,
    body: web::Json<SetupRequest>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    password_attempt(&req, &app)?;
    let SetupRequest {
        account,
        code,
        password,
    } = body.into_inner();
    app.service.redeem_setup(&account, &code, password).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn change_password(
    req: HttpRequest,
    body: web::Json<PasswordChange>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let address = password_attempt(&req, &app)?;
    let (me, session) = current_account(&req, &app).await?;
    let PasswordChange {
        current_password,
        new_password,
    } = body.into_inner();
    app.service
        .change_password(&me, session, current_password, new_password, address)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// End every session of one's own account, this one too.
pub async fn logout_everywhere(
    req: HttpRequest,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let (me, _) = current_account(&req, &app).await?;
    app.service.revoke_sessions(&me, me.id).await?;
    Ok(super::session::forget_cookies(&app))
}
