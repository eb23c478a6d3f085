//! Staff accounts (admin only): list and create.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::session::AccountView;
use super::session::{same_site, staff};
use super::ApiError;
use crate::app::AppState;
use crate::auth;
use crate::core::ids::AccountId;
use crate::model::Account;
use crate::model::Role;
use crate::protocol::ErrorCode;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password: String,
}

pub async fn list(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    staff(&req, &app, Role::Admin).await?;
    let accounts = app
        .service
        .store
        .accounts()
        .await
        .map_err(|e| ApiError(e.into()))?;
    let views: Vec<AccountView> = accounts.iter().map(AccountView::from).collect();
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
    if !crate::model::valid_username(&username) {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "username: 3-32 characters of a-z, 0-9, '.', '_' or '-'",
        ));
    }
    let display_name = display_name.trim().to_owned();
    if display_name.is_empty() || display_name.chars().count() > 40 {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "display_name: 1-40 characters",
        ));
    }
    let password_hash = web::block(move || auth::hash_password(&password))
        .await
        .map_err(|_| ApiError::new(ErrorCode::Internal, "hashing failed"))?
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, e.to_string()))?;
    let account = Account {
        id: AccountId::new_random(),
        username,
        display_name,
        role,
        password_hash,
    };
    app.service
        .store
        .create_account(account.clone())
        .await
        .map_err(|e| ApiError(e.into()))?;
    tracing::info!(by = %by.id, account = %account.id, role = ?account.role, "account created");
    Ok(HttpResponse::Created().json(AccountView::from(&account)))
}
