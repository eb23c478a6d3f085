//! HTTP edges of the handoff: the visitor's consent and booking (their
//! conversation id and resume token in the body, or the one-time link
//! sent to a LINE visitor: [`VisitorAuth`]), a booking looked up
//! later by reference and PIN (rate-limited), admins' slots and audit log,
//! and intake's view of consented bookings. Every endpoint only parses and
//! calls `service::handoff`; every error is an [`ApiError`].
//!
//! Secrets (tokens, PINs) travel in POST bodies, never in URLs, so no
//! proxy or access log keeps them.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::session::{same_site, staff};
use super::ApiError;
use crate::app::AppState;
use crate::core::handoff::{
    Answer, AuditFilter, CancelReason, Contact, ContactChoice, SlotId, SlotInput,
};
use crate::http::request::client_ip;
use crate::limits::check_keyed;
use crate::model::Role;
use crate::protocol::{ErrorCode, SlotView};
use crate::service::handoff::{Lang, VisitorAuth};

// ------------------------------------------------------------ visitor

/// The checks before any visitor request: `Origin`, and for the link form
/// a rate limit per address (whether or not the link exists, so guessing
/// costs as much as using one).
fn visitor_checks(req: &HttpRequest, app: &AppState, who: &VisitorAuth) -> Result<(), ApiError> {
    same_site(req, app)?;
    if let VisitorAuth::Link { .. } = who {
        if let Some(ip) = client_ip(req, &app.settings) {
            check_keyed(&app.limits.handoff_links_by_ip, &ip).map_err(ApiError::rate_limited)?;
        }
    }
    Ok(())
}

/// `POST /api/handoff`: where this conversation's handoff stands.
pub async fn show(
    req: HttpRequest,
    body: web::Json<VisitorAuth>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    visitor_checks(&req, &app, &body)?;
    let handoff = app.service.visitor_handoff(&body).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "handoff": handoff })))
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AnswerKind {
    Consent,
    Decline,
    Change,
}

#[derive(Deserialize)]
pub struct AnswerBody {
    #[serde(flatten)]
    pub who: VisitorAuth,
    /// The offer version shown.
    pub version: u32,
    /// The consent wording version shown.
    pub wording_version: String,
    pub lang: Lang,
    pub answer: AnswerKind,
    /// With `consent`: the transcript is part of what may be passed on
    /// (only if it was offered).
    #[serde(default)]
    pub transcript: bool,
    /// With `consent`: contact details given with a booking may be passed on.
    #[serde(default)]
    pub contact: bool,
}

/// `POST /api/handoff/answer`: consent, decline, or ask for a change.
pub async fn answer(
    req: HttpRequest,
    body: web::Json<AnswerBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    visitor_checks(&req, &app, &body.who)?;
    let b = body.into_inner();
    let answer = match b.answer {
        AnswerKind::Consent => Answer::Consent {
            transcript: b.transcript,
            contact: b.contact,
        },
        AnswerKind::Decline => Answer::Decline,
        AnswerKind::Change => Answer::RequestChange,
    };
    let handoff = app
        .service
        .answer_handoff(&b.who, b.version, &b.wording_version, b.lang, answer)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "handoff": handoff })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    /// `phone`, `email` or `self` (I will call the centre myself).
    pub kind: String,
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Deserialize)]
pub struct BookBody {
    #[serde(flatten)]
    pub who: VisitorAuth,
    pub slot_id: SlotId,
    /// What they want to be called (optional).
    #[serde(default)]
    pub name: Option<String>,
    pub contact: ContactBody,
    /// How they would like to hear from the centre: `message`, `call`,
    /// `no_contact` or `self_call`; absent: implied by `contact`.
    #[serde(default)]
    pub contact_choice: Option<String>,
    /// The language of the calendar file's title (default `ja`).
    #[serde(default)]
    pub lang: Lang,
}

/// `POST /api/handoff/book`: book a slot under the consent in force. The
/// answer carries the PIN (shown once) and the calendar file.
pub async fn book(
    req: HttpRequest,
    body: web::Json<BookBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    visitor_checks(&req, &app, &body.who)?;
    let b = body.into_inner();
    let contact = Contact::parse(&b.contact.kind, b.contact.value.as_deref())
        .map_err(|e| ApiError(e.into()))?;
    let choice = b
        .contact_choice
        .as_deref()
        .map(ContactChoice::parse)
        .transpose()
        .map_err(|e| ApiError(e.into()))?;
    let receipt = app
        .service
        .book(&b.who, b.slot_id, b.name, contact, choice, b.lang)
        .await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "booking": receipt.booking,
        "pin": receipt.pin,
        "calendar": receipt.calendar,
    })))
}

/// `POST /api/handoff/withdraw`: take the consent back (the booking, if
/// any, is cancelled; intake sees nothing from now on).
pub async fn withdraw(
    req: HttpRequest,
    body: web::Json<VisitorAuth>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    visitor_checks(&req, &app, &body)?;
    let handoff = app.service.withdraw_consent(&body).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "handoff": handoff })))
}

/// `POST /api/handoff/pin`: a new PIN for the visitor's booking in force
/// (the old one stops working; a lockout ends). The PIN is in this answer
/// only.
pub async fn new_pin(
    req: HttpRequest,
    body: web::Json<VisitorAuth>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    visitor_checks(&req, &app, &body)?;
    let new = app.service.new_pin(&body).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "reference": new.reference.as_str(),
        "pin": new.pin,
    })))
}

#[derive(Deserialize)]
pub struct RescheduleBody {
    #[serde(flatten)]
    pub who: VisitorAuth,
    pub slot_id: SlotId,
    #[serde(default)]
    pub lang: Lang,
}

/// `POST /api/handoff/reschedule`: move the visitor's booking in force to
/// another free slot in one step (the reference and PIN stay).
pub async fn reschedule(
    req: HttpRequest,
    body: web::Json<RescheduleBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    visitor_checks(&req, &app, &body.who)?;
    let b = body.into_inner();
    let moved = app.service.reschedule(&b.who, b.slot_id, b.lang).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "booking": moved.booking,
        "calendar": moved.calendar,
    })))
}

/// `GET /api/handoff/info`: the deployment's texts around a booking (no
/// personal data): the neutral title, what happens at a first
/// consultation, what to bring, how to reach the centre.
pub async fn info(app: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let h = &app.settings.handoff;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "appointment_title_ja": h.appointment_title_ja,
        "appointment_title_en": h.appointment_title_en,
        "first_consultation_ja": h.first_consultation_ja,
        "first_consultation_en": h.first_consultation_en,
        "bring_ja": h.bring_ja,
        "bring_en": h.bring_en,
        "centre_contact_ja": h.centre_contact_ja,
        "centre_contact_en": h.centre_contact_en,
    })))
}

/// `GET /api/slots`: slots a visitor can book now (no personal data).
pub async fn bookable(app: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(app.service.bookable_slots().await?))
}

// ------------------------------------------------- booking by reference

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinBody {
    pub reference: String,
    pub pin: String,
    /// The language of a calendar file's title (default `ja`).
    #[serde(default)]
    pub lang: Lang,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinRescheduleBody {
    pub reference: String,
    pub pin: String,
    pub slot_id: SlotId,
    #[serde(default)]
    pub lang: Lang,
}

/// `POST /api/booking/reschedule`: move a booking found by reference and
/// PIN to another free slot in one step.
pub async fn reschedule_by_pin(
    req: HttpRequest,
    body: web::Json<PinRescheduleBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let pin = PinBody {
        reference: b.reference,
        pin: b.pin,
        lang: b.lang,
    };
    let (booking, _) = by_pin(&req, &app, &pin).await?;
    let moved = app
        .service
        .reschedule_with_booking(&booking, b.slot_id, b.lang)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "booking": moved.booking,
        "calendar": moved.calendar,
    })))
}

/// The rate limit per address first, then the look-up (which counts
/// wrong PINs per reference for the whole deployment and locks the
/// reference after `limits.booking_pin_failures`; no limit per reference
/// here: it let a stranger keep the owner's right PIN refused).
async fn by_pin(
    req: &HttpRequest,
    app: &AppState,
    body: &PinBody,
) -> Result<(crate::core::handoff::Booking, crate::model::SlotRecord), ApiError> {
    same_site(req, app)?;
    if let Some(ip) = client_ip(req, &app.settings) {
        check_keyed(&app.limits.bookings_by_ip, &ip).map_err(ApiError::rate_limited)?;
    }
    Ok(app
        .service
        .booking_with_pin(&body.reference, &body.pin)
        .await?)
}

/// `POST /api/booking`: a booking, by reference and PIN.
pub async fn lookup(
    req: HttpRequest,
    body: web::Json<PinBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (b, slot) = by_pin(&req, &app, &body).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "reference": b.reference.as_str(),
        "state": if b.active() { "booked" } else { "cancelled" },
        "slot": SlotView::from(&slot),
        "name": b.name,
        "contact": b.contact,
        "contact_choice": b.choice(),
    })))
}

/// `POST /api/booking/cancel`: the visitor cancels (the consent stays).
pub async fn cancel(
    req: HttpRequest,
    body: web::Json<PinBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (b, _) = by_pin(&req, &app, &body).await?;
    app.service
        .cancel_booking(&b, CancelReason::Visitor)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "state": "cancelled" })))
}

/// `POST /api/booking/withdraw`: the visitor withdraws their consent with
/// the booking's reference and PIN (the booking is cancelled with it).
pub async fn withdraw_by_pin(
    req: HttpRequest,
    body: web::Json<PinBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (b, _) = by_pin(&req, &app, &body).await?;
    let handoff = app.service.withdraw_with_booking(&b).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "handoff": handoff })))
}

/// `POST /api/booking/calendar`: the booking as an `.ics` file.
pub async fn calendar(
    req: HttpRequest,
    body: web::Json<PinBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (b, slot) = by_pin(&req, &app, &body).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/calendar; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}.ics\"", b.reference.as_str()),
        ))
        .body(app.service.calendar_of(&b, &slot, body.lang)))
}

// --------------------------------------------------------------- admin

#[derive(Deserialize)]
pub struct SlotsQuery {
    /// ms since the epoch; default: 30 days ago.
    pub from: Option<u64>,
}

/// `GET /api/admin/slots`
pub async fn admin_slots(
    req: HttpRequest,
    q: web::Query<SlotsQuery>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    staff(&req, &app, Role::Admin).await?;
    let from = q
        .from
        .unwrap_or_else(|| app.service.now_ms().saturating_sub(30 * 86_400_000));
    Ok(HttpResponse::Ok().json(app.service.all_slots(from).await?))
}

/// `POST /api/admin/slots`
pub async fn create_slot(
    req: HttpRequest,
    body: web::Json<SlotInput>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let admin = staff(&req, &app, Role::Admin).await?;
    let slot = app.service.create_slot(&admin, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(slot))
}

/// `POST /api/admin/slots/{slot_id}/cancel`
pub async fn cancel_slot(
    req: HttpRequest,
    path: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let admin = staff(&req, &app, Role::Admin).await?;
    let id: SlotId = path
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::NotFound, "no such slot"))?;
    Ok(HttpResponse::Ok().json(app.service.cancel_slot(&admin, id).await?))
}

/// `GET /api/admin/audit?action=&account=&conversation=&since=&until=&limit=`
/// (every filter optional; see `AuditFilter::parse`). A filter that does
/// not parse is `invalid_filter` (400), naming it.
pub async fn audit(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    staff(&req, &app, Role::Admin).await?;
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|_| ApiError::new(ErrorCode::InvalidFilter, "the query string does not parse"))?;
    let filter =
        AuditFilter::parse(&pairs).map_err(|m| ApiError::new(ErrorCode::InvalidFilter, m))?;
    Ok(HttpResponse::Ok().json(app.service.audit_log(filter).await?))
}

// -------------------------------------------------------------- intake

/// `GET /api/intake/bookings`
pub async fn intake_bookings(
    req: HttpRequest,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let me = staff(&req, &app, Role::Intake).await?;
    Ok(HttpResponse::Ok().json(app.service.intake_bookings(&me).await?))
}

/// `GET /api/intake/bookings/{reference}/transcript`
pub async fn intake_transcript(
    req: HttpRequest,
    path: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let me = staff(&req, &app, Role::Intake).await?;
    let messages = app.service.intake_transcript(&me, &path).await?;
    let lines: Vec<_> = messages
        .iter()
        .map(|m| {
            serde_json::json!({
                "seq": m.seq,
                "from": m.from,
                "name": m.author_name,
                "text": m.text,
                "sent_at": m.at_ms,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(lines))
}

/// `POST /api/intake/bookings/{reference}/cancel`
pub async fn intake_cancel(
    req: HttpRequest,
    path: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let me = staff(&req, &app, Role::Intake).await?;
    app.service.intake_cancel(&me, &path).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "state": "cancelled" })))
}

/// `POST /api/intake/bookings/{reference}/pin`: a new PIN for a booking
/// in force, to tell the visitor (shown once; audited).
pub async fn intake_new_pin(
    req: HttpRequest,
    path: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let me = staff(&req, &app, Role::Intake).await?;
    let new = app.service.intake_new_pin(&me, &path).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "reference": new.reference.as_str(),
        "pin": new.pin,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttendedBody {
    pub attended: bool,
}

/// `POST /api/intake/bookings/{reference}/attended`
pub async fn intake_attended(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<AttendedBody>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    same_site(&req, &app)?;
    let me = staff(&req, &app, Role::Intake).await?;
    app.service
        .intake_attended(&me, &path, body.attended)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "attended": body.attended })))
}
