//! Staff accounts (admin only): list and create.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::session::AccountView;
use super::session::{same_site, staff};
use super::ApiError;
use crate::app::AppState;
use crate::model::Role;

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
    let accounts = app.service.accounts().await?;
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
    let account = app
        .service
        .create_account(by.id, username, display_name, role, password)
        .await?;
    Ok(HttpResponse::Created().json(AccountView::from(&account)))
}
