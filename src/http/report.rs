//! `GET /api/admin/report?period=..&format=json|csv` (admins only): the
//! published statistics of a period; see docs/PROTOCOL.md, "Report".

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::session::staff;
use super::ApiError;
use crate::app::AppState;
use crate::model::Role;
use crate::protocol::ErrorCode;
use crate::service::report::report_csv;

#[derive(Deserialize)]
pub struct ReportQuery {
    pub period: Option<String>,
    pub format: Option<String>,
}

pub async fn report(
    req: HttpRequest,
    q: web::Query<ReportQuery>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    staff(&req, &app, Role::Admin).await?;
    let csv = match q.format.as_deref().unwrap_or("json") {
        "json" => false,
        "csv" => true,
        _ => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "format must be json or csv",
            ))
        }
    };
    let report = app
        .service
        .report(q.period.as_deref().unwrap_or_default())
        .await?;
    if !csv {
        return Ok(HttpResponse::Ok().json(report));
    }
    let name = format!("tsunagu-report-{}.csv", report.period);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(report_csv(&report)))
}
