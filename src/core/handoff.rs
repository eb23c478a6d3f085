//! The consent-gated handoff, pure: appointment slots, the offer, the
//! visitor's answer, the consent record, the booking, and what intake may
//! see. No I/O, no clock, no randomness: "now" and random bytes come in as
//! arguments, so every rule is tested here and the stores only guard the
//! two invariants that need atomicity (the record's revision, a slot's
//! capacity).
//!
//! The flow mirrors the relay sheet (つなぐシート) of `shared/DOMAIN.md`:
//! a counsellor offers a summary, the visitor reads exactly that text, who
//! would receive it, why and for how long, and consents (or declines, or
//! asks for a change). Only a consent that is not withdrawn lets a booking
//! exist and lets intake see anything, and only what its scope names.

use serde::{Deserialize, Serialize};

use super::hours::{Schedule, Status};
use super::ids::{AccountId, ConversationId};

/// Appointment-slot id (random, so a slot cannot be guessed; slots are not
/// secret, though: free slots are listed publicly).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SlotId(pub uuid::Uuid);

impl std::str::FromStr for SlotId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s).map(SlotId)
    }
}

impl std::fmt::Display for SlotId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

// -------------------------------------------------------------- limits

pub const SUMMARY_MAX_CHARS: usize = 2000;
pub const PLACE_MAX_CHARS: usize = 200;
pub const NAME_MAX_CHARS: usize = 40;
pub const SLOT_MIN_MINUTES: u32 = 15;
pub const SLOT_MAX_MINUTES: u32 = 240;
pub const SLOT_MAX_CAPACITY: u32 = 20;
pub const SLOT_MAX_STAFF: u32 = 5;

/// Why a handoff step is refused. Each maps to one wire error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandoffError {
    #[error("no handoff has been offered in this conversation")]
    NoOffer,
    #[error("the offer changed; read it again before answering")]
    OfferChanged,
    #[error("the offer was already answered")]
    AlreadyAnswered,
    #[error("consent was given already; it must be withdrawn before a new offer")]
    AlreadyConsented,
    #[error("no consent: book only after agreeing to the handoff")]
    NoConsent,
    #[error("contact details are outside what was agreed")]
    OutsideConsent,
    #[error("the transcript was not offered, so it cannot be agreed to")]
    TranscriptNotOffered,
    #[error("this conversation has a booking already")]
    AlreadyBooked,
    #[error("there is no booking to cancel")]
    NoBooking,
    #[error("that slot is full")]
    SlotFull,
    #[error("that slot is in the past, cancelled or unknown")]
    SlotUnavailable,
    #[error("{0}")]
    InvalidContact(String),
    #[error("{0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> HandoffError {
    HandoffError::Invalid(msg.into())
}

/// A text a person typed for a form: no control characters other than
/// line breaks and tabs, not blank, at most `max` characters.
pub fn form_text(raw: &str, field: &str, max: usize) -> Result<String, HandoffError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(invalid(format!("{field}: must not be empty")));
    }
    if t.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(invalid(format!("{field}: no control characters")));
    }
    if t.chars().count() > max {
        return Err(invalid(format!("{field}: at most {max} characters")));
    }
    Ok(t.to_owned())
}

// --------------------------------------------------------------- slots

/// Where a first consultation takes place (the four forms in DOMAIN.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotKind {
    /// At the support centre.
    Centre,
    /// At a ward health-welfare centre.
    WardOffice,
    /// An outreach visit at home.
    HomeVisit,
    Online,
}

/// One appointment slot for first consultations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub id: SlotId,
    /// ms since the epoch.
    pub starts_at_ms: u64,
    pub duration_mins: u32,
    pub kind: SlotKind,
    /// Where (an address, a room, "a video link is sent by phone").
    pub place: String,
    /// Bookings this slot takes.
    pub capacity: u32,
    /// Staff who attend (two, in principle, for a first consultation).
    pub staff: u32,
    pub created_by: AccountId,
    pub created_at_ms: u64,
    /// Cancelled by an admin; no new bookings.
    #[serde(default)]
    pub cancelled_at_ms: Option<u64>,
}

impl Slot {
    pub fn ends_at_ms(&self) -> u64 {
        self.starts_at_ms + u64::from(self.duration_mins) * 60_000
    }

    /// May a booking be made for this slot at `now_ms` with `booked`
    /// bookings already held?
    pub fn bookable(&self, booked: u32, now_ms: u64) -> Result<(), HandoffError> {
        if self.cancelled_at_ms.is_some() || self.starts_at_ms <= now_ms {
            return Err(HandoffError::SlotUnavailable);
        }
        if booked >= self.capacity {
            return Err(HandoffError::SlotFull);
        }
        Ok(())
    }
}

/// What an admin sends to create a slot.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotInput {
    /// ms since the epoch.
    pub starts_at: u64,
    pub duration_mins: u32,
    pub kind: SlotKind,
    pub place: String,
    pub capacity: u32,
    #[serde(default = "two")]
    pub staff: u32,
}

fn two() -> u32 {
    2
}

impl SlotInput {
    /// Check the input against the rules and the opening hours: in the
    /// future, 15-240 minutes, within one opening window of the schedule
    /// (starting and ending while the centre is open), capacity 1-20,
    /// staff 1-5, a place.
    pub fn validate(
        self,
        id: SlotId,
        by: AccountId,
        now_ms: u64,
        schedule: &Schedule,
    ) -> Result<Slot, HandoffError> {
        if self.starts_at <= now_ms {
            return Err(invalid("starts_at: must be in the future"));
        }
        if !(SLOT_MIN_MINUTES..=SLOT_MAX_MINUTES).contains(&self.duration_mins) {
            return Err(invalid(format!(
                "duration_mins: {SLOT_MIN_MINUTES}-{SLOT_MAX_MINUTES}"
            )));
        }
        if !(1..=SLOT_MAX_CAPACITY).contains(&self.capacity) {
            return Err(invalid(format!("capacity: 1-{SLOT_MAX_CAPACITY}")));
        }
        if !(1..=SLOT_MAX_STAFF).contains(&self.staff) {
            return Err(invalid(format!("staff: 1-{SLOT_MAX_STAFF}")));
        }
        let place = form_text(&self.place, "place", PLACE_MAX_CHARS)?;
        let ends = self.starts_at + u64::from(self.duration_mins) * 60_000;
        let within_hours = match schedule.status(self.starts_at) {
            Status::AlwaysOpen => true,
            Status::Open { closes_at, .. } | Status::LastEntryPassed { closes_at, .. } => {
                ends <= closes_at
            }
            Status::Closed { .. } => false,
        };
        if !within_hours {
            return Err(invalid(
                "the slot must start and end within the opening hours (Japan time)",
            ));
        }
        Ok(Slot {
            id,
            starts_at_ms: self.starts_at,
            duration_mins: self.duration_mins,
            kind: self.kind,
            place,
            capacity: self.capacity,
            staff: self.staff,
            created_by: by,
            created_at_ms: now_ms,
            cancelled_at_ms: None,
        })
    }
}

// ------------------------------------------------------------- contact

/// How intake may reach the visitor: the only personal data the service
/// ever holds, and only when the visitor chose to give it for a booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Contact {
    /// "I will call the centre myself": nothing to reach them by.
    SelfCall,
    Phone(String),
    Email(String),
}

impl Contact {
    pub fn parse(kind: &str, value: Option<&str>) -> Result<Contact, HandoffError> {
        match kind {
            "self" | "self_call" => Ok(Contact::SelfCall),
            "phone" => parse_phone(value.unwrap_or("")).map(Contact::Phone),
            "email" => parse_email(value.unwrap_or("")).map(Contact::Email),
            _ => Err(HandoffError::InvalidContact(
                "contact.kind: phone, email or self".into(),
            )),
        }
    }

    /// Is this personal data (needs the consent's `contact` scope)?
    pub fn is_personal(&self) -> bool {
        !matches!(self, Contact::SelfCall)
    }
}

/// A phone number: digits with optional `+` at the start and `-`, spaces,
/// or parentheses between; 10 to 15 digits (Japanese numbers have 10 or
/// 11). Stored as typed (trimmed), so intake sees what the person wrote.
pub fn parse_phone(raw: &str) -> Result<String, HandoffError> {
    let t = raw.trim();
    let body = t.strip_prefix('+').unwrap_or(t);
    let ok_chars = body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | ' ' | '(' | ')'));
    let digits = body.chars().filter(|c| c.is_ascii_digit()).count();
    if ok_chars && (10..=15).contains(&digits) && t.len() <= 24 {
        Ok(t.to_owned())
    } else {
        Err(HandoffError::InvalidContact(
            "contact: a phone number of 10-15 digits (e.g. 090-1234-5678)".into(),
        ))
    }
}

/// An e-mail address, checked for shape only (one `@`, a dotted domain,
/// no spaces or control characters, at most 254 characters): whether it
/// reaches someone only a message can tell.
pub fn parse_email(raw: &str) -> Result<String, HandoffError> {
    let t = raw.trim();
    let bad =
        || HandoffError::InvalidContact("contact: an e-mail address like name@example.jp".into());
    if t.len() > 254 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = t.split_once('@').ok_or_else(bad)?;
    let labels_ok = domain.split('.').count() >= 2
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'));
    if local.is_empty() || local.len() > 64 || domain.contains('@') || !labels_ok {
        return Err(bad());
    }
    Ok(t.to_owned())
}

// ---------------------------------------------------- booking reference

/// A booking's public reference, e.g. `K7QP-M3XW`: 8 characters from an
/// alphabet without look-alikes (no 0/O, 1/I/L), 40 bits. On its own it
/// reveals nothing (a booking shows only with its PIN), and lookups are
/// rate-limited, so it need not be a secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BookingRef(String);

const REF_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ9";

impl BookingRef {
    /// Build from 8 random bytes (the caller draws them from the OS).
    pub fn from_random(bytes: [u8; 8]) -> BookingRef {
        // 31 distinct symbols: the last '9' repeats so indexing by 5 bits
        // never goes out of range; the bias is irrelevant next to the PIN.
        let mut s = String::with_capacity(9);
        for (i, b) in bytes.iter().enumerate() {
            if i == 4 {
                s.push('-');
            }
            s.push(REF_ALPHABET[usize::from(b & 31)] as char);
        }
        BookingRef(s)
    }

    /// Parse what a person typed: case and a missing or extra dash or
    /// space do not matter.
    pub fn parse(raw: &str) -> Result<BookingRef, HandoffError> {
        let chars: Vec<char> = raw
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let ok = chars.len() == 8 && chars.iter().all(|c| REF_ALPHABET.contains(&(*c as u8)));
        if !ok || !chars.iter().all(char::is_ascii) {
            return Err(invalid("reference: 8 letters and digits, e.g. K7QP-M3XW"));
        }
        let mut s: String = chars[..4].iter().collect();
        s.push('-');
        s.extend(&chars[4..]);
        Ok(BookingRef(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A 6-digit PIN from 4 random bytes (shown once; stored hashed).
pub fn pin_from_random(bytes: [u8; 4]) -> String {
    format!("{:06}", u32::from_le_bytes(bytes) % 1_000_000)
}

/// A PIN as typed: exactly six digits.
pub fn valid_pin(raw: &str) -> bool {
    raw.len() == 6 && raw.bytes().all(|b| b.is_ascii_digit())
}

// ------------------------------------------------------------- handoff

/// Where a conversation's handoff stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffState {
    /// Offered; waiting for the visitor's answer.
    Offered,
    /// The visitor asked the counsellor to change the summary.
    ChangeRequested,
    /// The visitor said no. Nothing leaves the chat.
    Declined,
    /// The visitor agreed; a booking may follow.
    Consented,
    /// The visitor took the consent back: intake sees nothing, the
    /// booking is cancelled.
    Withdrawn,
}

impl HandoffState {
    pub fn name(self) -> &'static str {
        match self {
            HandoffState::Offered => "offered",
            HandoffState::ChangeRequested => "change_requested",
            HandoffState::Declined => "declined",
            HandoffState::Consented => "consented",
            HandoffState::Withdrawn => "withdrawn",
        }
    }
}

/// What the counsellor offers to pass on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// 1 for the first offer, +1 for each revision.
    pub version: u32,
    /// The relay sheet: what the visitor wants the centre to know.
    pub summary: String,
    /// The chat transcript is part of what is offered (default: not).
    pub include_transcript: bool,
    pub by: AccountId,
    pub at_ms: u64,
}

/// What a consent covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentScope {
    /// The summary, word for word as shown. Always part of a consent.
    pub summary: bool,
    pub transcript: bool,
    /// Contact details given with a booking.
    pub contact: bool,
}

/// The record of an agreement: what, to whom, why, for how long, which
/// wording, when. Never changed afterwards except for the moment it was
/// withdrawn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub offer_version: u32,
    pub scope: ConsentScope,
    /// The exact summary agreed to.
    pub summary: String,
    pub recipient: String,
    pub purpose: String,
    pub retention_days: u32,
    /// The version of the consent wording the visitor was shown.
    pub wording_version: String,
    pub at_ms: u64,
    #[serde(default)]
    pub withdrawn_at_ms: Option<u64>,
}

/// What the visitor is shown with an offer, from the deployment's
/// settings; recorded with a consent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Terms {
    pub recipient: String,
    pub purpose: String,
    pub retention_days: u32,
    pub wording_version: String,
}

/// A conversation's handoff: at most one per conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffRecord {
    pub conversation: ConversationId,
    /// Bumped by every change; stores write only over the revision the
    /// change was computed from (compare-and-set).
    pub rev: u64,
    pub state: HandoffState,
    pub offer: Offer,
    pub offered_at_first_ms: u64,
    /// Every consent given, oldest first (a new offer after a withdrawal
    /// adds a second one; none is ever removed).
    pub consents: Vec<ConsentRecord>,
    /// The booking in force, if any.
    pub booking: Option<BookingRef>,
    /// Bookings ever made for this handoff (for the statistics).
    #[serde(default)]
    pub bookings_made: u32,
    pub answered_at_ms: Option<u64>,
    /// Set when the conversation's transcript was purged: when this record
    /// (with its consent records) is removed too (see `Store::purge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
}

/// The visitor's answer to an offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Consent { transcript: bool, contact: bool },
    Decline,
    RequestChange,
}

impl HandoffRecord {
    /// The consent in force (given and not withdrawn).
    pub fn consent(&self) -> Option<&ConsentRecord> {
        match self.state {
            HandoffState::Consented => self.consents.last().filter(|c| c.withdrawn_at_ms.is_none()),
            _ => None,
        }
    }

    /// May intake see this handoff at all?
    pub fn visible_to_intake(&self) -> bool {
        self.consent().is_some()
    }
}

/// A new offer, or a revision of the current one. Refused while a consent
/// is in force (withdraw first: what was agreed to stays what was agreed).
pub fn offer(
    prev: Option<&HandoffRecord>,
    conversation: ConversationId,
    summary: &str,
    include_transcript: bool,
    by: AccountId,
    now_ms: u64,
) -> Result<HandoffRecord, HandoffError> {
    let summary = form_text(summary, "summary", SUMMARY_MAX_CHARS)?;
    let new_offer = |version| Offer {
        version,
        summary,
        include_transcript,
        by,
        at_ms: now_ms,
    };
    Ok(match prev {
        None => HandoffRecord {
            conversation,
            rev: 1,
            state: HandoffState::Offered,
            offer: new_offer(1),
            offered_at_first_ms: now_ms,
            consents: Vec::new(),
            booking: None,
            bookings_made: 0,
            answered_at_ms: None,
            expires_at_ms: None,
        },
        Some(p) if p.state == HandoffState::Consented => {
            return Err(HandoffError::AlreadyConsented)
        }
        Some(p) => HandoffRecord {
            rev: p.rev + 1,
            state: HandoffState::Offered,
            offer: new_offer(p.offer.version + 1),
            answered_at_ms: None,
            ..p.clone()
        },
    })
}

/// The visitor answers offer `version`, having been shown `terms`
/// (`shown_wording` is the wording version their screen displayed).
pub fn answer(
    rec: &HandoffRecord,
    version: u32,
    shown_wording: &str,
    answer: Answer,
    terms: &Terms,
    now_ms: u64,
) -> Result<HandoffRecord, HandoffError> {
    if version != rec.offer.version || shown_wording != terms.wording_version {
        return Err(HandoffError::OfferChanged);
    }
    if !matches!(
        rec.state,
        HandoffState::Offered | HandoffState::ChangeRequested
    ) {
        return Err(HandoffError::AlreadyAnswered);
    }
    let mut next = rec.clone();
    next.rev += 1;
    next.answered_at_ms = Some(now_ms);
    match answer {
        Answer::Consent {
            transcript,
            contact,
        } => {
            if transcript && !rec.offer.include_transcript {
                return Err(HandoffError::TranscriptNotOffered);
            }
            next.state = HandoffState::Consented;
            next.consents.push(ConsentRecord {
                offer_version: rec.offer.version,
                scope: ConsentScope {
                    summary: true,
                    transcript,
                    contact,
                },
                summary: rec.offer.summary.clone(),
                recipient: terms.recipient.clone(),
                purpose: terms.purpose.clone(),
                retention_days: terms.retention_days,
                wording_version: terms.wording_version.clone(),
                at_ms: now_ms,
                withdrawn_at_ms: None,
            });
        }
        Answer::Decline => next.state = HandoffState::Declined,
        Answer::RequestChange => next.state = HandoffState::ChangeRequested,
    }
    Ok(next)
}

/// Book `slot` (holding `booked` bookings) under the consent in force.
pub fn book(
    rec: &HandoffRecord,
    slot: &Slot,
    booked: u32,
    contact: &Contact,
    reference: BookingRef,
    now_ms: u64,
) -> Result<HandoffRecord, HandoffError> {
    let consent = rec.consent().ok_or(HandoffError::NoConsent)?;
    if rec.booking.is_some() {
        return Err(HandoffError::AlreadyBooked);
    }
    if contact.is_personal() && !consent.scope.contact {
        return Err(HandoffError::OutsideConsent);
    }
    slot.bookable(booked, now_ms)?;
    let mut next = rec.clone();
    next.rev += 1;
    next.booking = Some(reference);
    next.bookings_made += 1;
    Ok(next)
}

/// Cancel the booking in force (the visitor with their PIN, or intake);
/// the consent stays, so the visitor may book another slot.
pub fn cancel_booking(rec: &HandoffRecord) -> Result<HandoffRecord, HandoffError> {
    if rec.booking.is_none() {
        return Err(HandoffError::NoBooking);
    }
    let mut next = rec.clone();
    next.rev += 1;
    next.booking = None;
    Ok(next)
}

/// Withdraw the consent in force: intake sees nothing from now on and the
/// booking (returned, if any) must be cancelled in the same step.
pub fn withdraw(
    rec: &HandoffRecord,
    now_ms: u64,
) -> Result<(HandoffRecord, Option<BookingRef>), HandoffError> {
    if rec.consent().is_none() {
        return Err(HandoffError::NoConsent);
    }
    let mut next = rec.clone();
    next.rev += 1;
    next.state = HandoffState::Withdrawn;
    if let Some(c) = next.consents.last_mut() {
        c.withdrawn_at_ms = Some(now_ms);
    }
    let cancelled = next.booking.take();
    Ok((next, cancelled))
}

// ----------------------------------------------------------- bookings

/// Why a booking stopped being in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The visitor cancelled it (reference and PIN).
    Visitor,
    /// The visitor withdrew their consent.
    ConsentWithdrawn,
    /// Intake or an admin cancelled it.
    Staff,
}

/// A booked first consultation. `name` and `contact` are the only personal
/// data in the service, given by the visitor for this booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    pub reference: BookingRef,
    /// SHA-256 of the PIN.
    pub pin_hash: [u8; 32],
    pub slot: SlotId,
    pub conversation: ConversationId,
    /// What they want to be called (optional).
    pub name: Option<String>,
    pub contact: Contact,
    pub created_at_ms: u64,
    pub cancelled_at_ms: Option<u64>,
    pub cancel_reason: Option<CancelReason>,
    /// Intake marked whether the person came.
    #[serde(default)]
    pub attended: Option<bool>,
}

impl Booking {
    pub fn active(&self) -> bool {
        self.cancelled_at_ms.is_none()
    }
}

// ------------------------------------------------------ one-time links

/// How long a handoff link works after it was sent, unless configured
/// (`handoff.link_valid_secs`).
pub const LINK_VALID_SECS: u64 = 7 * 86_400;

/// A one-time link to a conversation's handoff page, for a visitor whose
/// channel cannot show the consent and booking screens (LINE). The link
/// carries only a random token; the store keeps its SHA-256 and the one
/// conversation it opens, so a link can never name another conversation.
///
/// At most one link per conversation is in force: a revised offer gets a
/// fresh link and the earlier one stops working. "Spent" is not a flag
/// written after the fact but read from the handoff record itself, so it
/// is exactly as atomic as the booking: see [`HandoffLink::check`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffLink {
    pub conversation: ConversationId,
    /// SHA-256 of the token (`auth::hash_token`); the token itself is only
    /// ever in the message sent to the visitor.
    pub token_hash: [u8; 32],
    /// The offer version the link was sent for.
    pub offer_version: u32,
    /// The handoff's `bookings_made` when the link was made: a booking
    /// made after it spends the link.
    pub bookings_at_issue: u32,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
    /// The message carrying it was accepted by the channel. A link never
    /// confirmed sent is replaced by a fresh one (its token is gone).
    #[serde(default)]
    pub sent: bool,
}

/// Why a link that exists authorises nothing any more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("this link has been used: a booking was made with it, or the offer was declined or withdrawn")]
    Spent,
    #[error("this link has expired")]
    Expired,
}

impl HandoffLink {
    /// May this link act on its conversation's handoff `rec` at `now_ms`?
    /// Spent once a booking was made after it was issued (cancelling that
    /// booking later does not revive it), or once the visitor declined or
    /// withdrew (a new offer comes with a new link); otherwise expired
    /// at `expires_at_ms`.
    pub fn check(&self, rec: Option<&HandoffRecord>, now_ms: u64) -> Result<(), LinkError> {
        let Some(rec) = rec else {
            return Err(LinkError::Spent);
        };
        if rec.bookings_made > self.bookings_at_issue
            || matches!(rec.state, HandoffState::Declined | HandoffState::Withdrawn)
        {
            return Err(LinkError::Spent);
        }
        if now_ms >= self.expires_at_ms {
            return Err(LinkError::Expired);
        }
        Ok(())
    }

    /// Does this link need (re)sending for `rec`: a link for an older
    /// offer, or one never confirmed sent, while the offer awaits an answer?
    pub fn stale_for(link: Option<&HandoffLink>, rec: &HandoffRecord) -> bool {
        rec.state == HandoffState::Offered
            && link.is_none_or(|l| l.offer_version != rec.offer.version || !l.sent)
    }
}

// ---------------------------------------------------------------- audit

/// What a staff member did with handoff data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// Intake listed bookings (the references shown are recorded).
    ListBookings,
    /// Intake read a consented transcript.
    ViewTranscript,
    /// Intake or an admin cancelled a booking.
    CancelBooking,
    MarkAttended,
    CreateSlot,
    CancelSlot,
}

/// One line of the audit log: who did what with which record, when.
/// Never the data itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at_ms: u64,
    pub account: AccountId,
    pub action: AuditAction,
    /// The bookings concerned.
    #[serde(default)]
    pub references: Vec<BookingRef>,
    #[serde(default)]
    pub slot: Option<SlotId>,
}

/// A calendar file (RFC 5545) for a booking, in UTC. Contains no personal
/// data: the reference, the kind and the place only.
pub fn ics(
    reference: &BookingRef,
    slot: &Slot,
    summary_title: &str,
    organiser: &str,
    now_ms: u64,
) -> String {
    fn stamp(ms: u64) -> String {
        let t = time::OffsetDateTime::from_unix_timestamp((ms / 1000) as i64)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
    // RFC 5545 3.3.11: backslash, semicolon and comma are escaped, line
    // breaks become \n.
    fn text(s: &str) -> String {
        s.replace('\\', "\\\\")
            .replace(';', "\\;")
            .replace(',', "\\,")
            .replace("\r\n", "\\n")
            .replace(['\n', '\r'], "\\n")
    }
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Tsunagu//Booking//JA".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}@tsunagu", reference.as_str()),
        format!("DTSTAMP:{}", stamp(now_ms)),
        format!("DTSTART:{}", stamp(slot.starts_at_ms)),
        format!("DTEND:{}", stamp(slot.ends_at_ms())),
        format!("SUMMARY:{}", text(summary_title)),
        format!("LOCATION:{}", text(&slot.place)),
        format!(
            "DESCRIPTION:{}",
            text(&format!("{organiser}\nRef: {}", reference.as_str()))
        ),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    let mut out = lines.join("\r\n");
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hours::HoursSpec;
    use proptest::prelude::*;

    const NOW: u64 = 1_800_000_000_000;

    fn terms() -> Terms {
        Terms {
            recipient: "センター受付".into(),
            purpose: "初回相談の準備".into(),
            retention_days: 365,
            wording_version: "w1".into(),
        }
    }

    fn acct() -> AccountId {
        AccountId(uuid::Uuid::from_u128(7))
    }

    fn conv() -> ConversationId {
        ConversationId(uuid::Uuid::from_u128(9))
    }

    fn slot(capacity: u32) -> Slot {
        Slot {
            id: SlotId(uuid::Uuid::from_u128(1)),
            starts_at_ms: NOW + 86_400_000,
            duration_mins: 60,
            kind: SlotKind::Centre,
            place: "本館 2F".into(),
            capacity,
            staff: 2,
            created_by: acct(),
            created_at_ms: NOW,
            cancelled_at_ms: None,
        }
    }

    fn reference(n: u8) -> BookingRef {
        BookingRef::from_random([n; 8])
    }

    fn consented(transcript_offered: bool, contact: bool) -> HandoffRecord {
        let o = offer(None, conv(), "学校のこと", transcript_offered, acct(), NOW).unwrap();
        answer(
            &o,
            1,
            "w1",
            Answer::Consent {
                transcript: transcript_offered,
                contact,
            },
            &terms(),
            NOW + 1,
        )
        .unwrap()
    }

    #[test]
    fn the_whole_path_offer_consent_book_withdraw() {
        let c = consented(false, true);
        assert_eq!(c.state, HandoffState::Consented);
        let consent = c.consent().unwrap();
        assert_eq!(consent.summary, "学校のこと");
        assert_eq!(consent.recipient, "センター受付");
        assert_eq!(consent.wording_version, "w1");
        assert!(!consent.scope.transcript && consent.scope.contact);
        let b = book(
            &c,
            &slot(2),
            0,
            &Contact::Phone("090-1234-5678".into()),
            reference(1),
            NOW + 2,
        )
        .unwrap();
        assert_eq!(b.booking, Some(reference(1)));
        assert!(b.visible_to_intake());
        let (w, cancelled) = withdraw(&b, NOW + 3).unwrap();
        assert_eq!(cancelled, Some(reference(1)));
        assert_eq!(w.state, HandoffState::Withdrawn);
        assert!(!w.visible_to_intake());
        assert_eq!(w.consents.len(), 1, "the record of consent is kept");
        assert_eq!(w.consents[0].withdrawn_at_ms, Some(NOW + 3));
        assert_eq!(w.booking, None);
    }

    #[test]
    fn decline_and_change_request_let_nothing_out() {
        let o = offer(None, conv(), "s", false, acct(), NOW).unwrap();
        let d = answer(&o, 1, "w1", Answer::Decline, &terms(), NOW).unwrap();
        assert_eq!(d.state, HandoffState::Declined);
        assert!(!d.visible_to_intake());
        assert_eq!(
            book(&d, &slot(1), 0, &Contact::SelfCall, reference(1), NOW),
            Err(HandoffError::NoConsent)
        );
        let r = answer(&o, 1, "w1", Answer::RequestChange, &terms(), NOW).unwrap();
        assert_eq!(r.state, HandoffState::ChangeRequested);
        // The counsellor revises; the old version can no longer be agreed to.
        let v2 = offer(Some(&r), conv(), "s, revised", false, acct(), NOW + 5).unwrap();
        assert_eq!(v2.offer.version, 2);
        let yes = Answer::Consent {
            transcript: false,
            contact: false,
        };
        assert_eq!(
            answer(&v2, 1, "w1", yes, &terms(), NOW),
            Err(HandoffError::OfferChanged)
        );
        assert_eq!(
            answer(&v2, 2, "old-wording", yes, &terms(), NOW),
            Err(HandoffError::OfferChanged)
        );
        let c = answer(&v2, 2, "w1", yes, &terms(), NOW).unwrap();
        assert_eq!(c.consent().unwrap().summary, "s, revised");
        assert_eq!(
            answer(&c, 2, "w1", yes, &terms(), NOW),
            Err(HandoffError::AlreadyAnswered)
        );
    }

    #[test]
    fn scope_is_enforced() {
        let o = offer(None, conv(), "s", false, acct(), NOW).unwrap();
        let with_transcript = Answer::Consent {
            transcript: true,
            contact: false,
        };
        assert_eq!(
            answer(&o, 1, "w1", with_transcript, &terms(), NOW),
            Err(HandoffError::TranscriptNotOffered)
        );
        let c = consented(false, false);
        assert_eq!(
            book(
                &c,
                &slot(1),
                0,
                &Contact::Email("a@b.jp".into()),
                reference(1),
                NOW
            ),
            Err(HandoffError::OutsideConsent)
        );
        assert!(book(&c, &slot(1), 0, &Contact::SelfCall, reference(1), NOW).is_ok());
        assert_eq!(
            offer(Some(&c), conv(), "new", false, acct(), NOW),
            Err(HandoffError::AlreadyConsented)
        );
    }

    #[test]
    fn slots_full_past_and_cancelled_are_refused() {
        let c = consented(false, false);
        let s = slot(2);
        assert_eq!(
            book(&c, &s, 2, &Contact::SelfCall, reference(1), NOW),
            Err(HandoffError::SlotFull)
        );
        assert_eq!(
            book(&c, &s, 0, &Contact::SelfCall, reference(1), s.starts_at_ms),
            Err(HandoffError::SlotUnavailable)
        );
        let mut gone = slot(2);
        gone.cancelled_at_ms = Some(NOW);
        assert_eq!(
            book(&c, &gone, 0, &Contact::SelfCall, reference(1), NOW),
            Err(HandoffError::SlotUnavailable)
        );
        let b = book(&c, &s, 1, &Contact::SelfCall, reference(1), NOW).unwrap();
        assert_eq!(
            book(&b, &s, 1, &Contact::SelfCall, reference(2), NOW),
            Err(HandoffError::AlreadyBooked)
        );
        let freed = cancel_booking(&b).unwrap();
        assert!(book(&freed, &s, 1, &Contact::SelfCall, reference(2), NOW).is_ok());
        assert_eq!(cancel_booking(&freed), Err(HandoffError::NoBooking));
    }

    #[test]
    fn slots_respect_the_opening_hours() {
        let spec = HoursSpec::default();
        let schedule = Schedule::new(&spec).unwrap();
        // 2026-12-01 is a Tuesday; default hours are 9:00-17:00 JST.
        let tue_10 = crate::core::hours::jst_ms(time::macros::date!(2026 - 12 - 01), 10 * 60);
        let input = |start, mins| SlotInput {
            starts_at: start,
            duration_mins: mins,
            kind: SlotKind::Online,
            place: "オンライン".into(),
            capacity: 1,
            staff: 2,
        };
        let id = SlotId(uuid::Uuid::from_u128(5));
        let before = tue_10 - 86_400_000;
        assert!(input(tue_10, 60)
            .validate(id, acct(), before, &schedule)
            .is_ok());
        // Ends after 17:00.
        let late = tue_10 + 6 * 3_600_000 + 30 * 60_000;
        assert!(input(late, 60)
            .validate(id, acct(), before, &schedule)
            .is_err());
        // Saturday.
        let sat = tue_10 + 4 * 86_400_000;
        assert!(input(sat, 60)
            .validate(id, acct(), before, &schedule)
            .is_err());
        // In the past, too short, blank place.
        assert!(input(tue_10, 60)
            .validate(id, acct(), tue_10, &schedule)
            .is_err());
        assert!(input(tue_10, 5)
            .validate(id, acct(), before, &schedule)
            .is_err());
        let mut blank = input(tue_10, 60);
        blank.place = "  ".into();
        assert!(blank.validate(id, acct(), before, &schedule).is_err());
    }

    #[test]
    fn contacts_are_checked_for_shape() {
        for ok in [
            "090-1234-5678",
            "+81 90 1234 5678",
            "(03) 1234-5678",
            "0312345678",
        ] {
            assert!(parse_phone(ok).is_ok(), "{ok}");
        }
        for bad in [
            "12345",
            "090-1234-567a",
            "",
            "+81 90 1234 5678 9999 99",
            "☎0901234567",
        ] {
            assert!(parse_phone(bad).is_err(), "{bad}");
        }
        for ok in ["name@example.jp", "a.b+c@sub.example.co.jp"] {
            assert!(parse_email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "no-at.jp", "a@b", "a@@b.jp", "a b@c.jp", "@c.jp", "a@.jp", "a@-x.jp",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
        assert_eq!(Contact::parse("self", None), Ok(Contact::SelfCall));
        assert!(Contact::parse("fax", Some("1")).is_err());
    }

    #[test]
    fn references_and_pins() {
        let r = BookingRef::from_random([0, 1, 2, 3, 4, 5, 6, 31]);
        assert_eq!(r.as_str().len(), 9);
        assert_eq!(BookingRef::parse(&r.as_str().to_lowercase()), Ok(r.clone()));
        assert_eq!(BookingRef::parse(&r.as_str().replace('-', "")), Ok(r));
        assert!(BookingRef::parse("OOOO-IIII").is_err());
        assert!(BookingRef::parse("ABC").is_err());
        assert!(BookingRef::parse("ＡＢＣＤ-ＥＦＧＨ").is_err());
        assert_eq!(pin_from_random([0, 0, 0, 0]), "000000");
        assert!(valid_pin(&pin_from_random([255, 255, 255, 255])));
        assert!(!valid_pin("12345") && !valid_pin("12345a"));
    }

    #[test]
    fn calendar_file_has_the_slot_in_utc_and_no_personal_data() {
        let s = slot(1);
        let f = ics(&reference(3), &s, "初回相談", "センター, 受付", NOW);
        assert!(f.starts_with("BEGIN:VCALENDAR\r\n"));
        assert!(f.contains("DTSTART:20270116T080000Z"), "{f}");
        assert!(f.contains("DTEND:20270116T090000Z"), "{f}");
        assert!(f.contains("センター\\, 受付"));
        assert!(f.ends_with("END:VCALENDAR\r\n"));
    }

    fn link(rec: &HandoffRecord) -> HandoffLink {
        HandoffLink {
            conversation: conv(),
            token_hash: [1; 32],
            offer_version: rec.offer.version,
            bookings_at_issue: rec.bookings_made,
            created_at_ms: NOW,
            expires_at_ms: NOW + 1_000,
            sent: true,
        }
    }

    #[test]
    fn a_link_works_until_a_booking_then_never_again() {
        let offered = offer(None, conv(), "s", false, acct(), NOW).unwrap();
        let l = link(&offered);
        assert_eq!(l.check(Some(&offered), NOW), Ok(()));
        let yes = Answer::Consent {
            transcript: false,
            contact: false,
        };
        let consented = answer(&offered, 1, "w1", yes, &terms(), NOW).unwrap();
        assert_eq!(
            l.check(Some(&consented), NOW + 1),
            Ok(()),
            "still needed to book"
        );
        let booked = book(
            &consented,
            &slot(1),
            0,
            &Contact::SelfCall,
            reference(1),
            NOW,
        )
        .unwrap();
        assert_eq!(l.check(Some(&booked), NOW + 2), Err(LinkError::Spent));
        // Cancelling the booking (with the PIN) does not revive the link.
        let cancelled = cancel_booking(&booked).unwrap();
        assert_eq!(l.check(Some(&cancelled), NOW + 3), Err(LinkError::Spent));
        assert_eq!(l.check(None, NOW), Err(LinkError::Spent));
    }

    #[test]
    fn a_link_ends_with_a_decline_or_withdrawal_and_expires_on_time() {
        let offered = offer(None, conv(), "s", false, acct(), NOW).unwrap();
        let l = link(&offered);
        assert_eq!(l.check(Some(&offered), NOW + 999), Ok(()));
        assert_eq!(
            l.check(Some(&offered), NOW + 1_000),
            Err(LinkError::Expired)
        );
        let declined = answer(&offered, 1, "w1", Answer::Decline, &terms(), NOW).unwrap();
        assert_eq!(l.check(Some(&declined), NOW), Err(LinkError::Spent));
        let yes = Answer::Consent {
            transcript: false,
            contact: false,
        };
        let consented = answer(&offered, 1, "w1", yes, &terms(), NOW).unwrap();
        let (withdrawn, _) = withdraw(&consented, NOW).unwrap();
        assert_eq!(l.check(Some(&withdrawn), NOW), Err(LinkError::Spent));
        // A new offer after the withdrawal wants a new link, made then.
        let again = offer(Some(&withdrawn), conv(), "s2", false, acct(), NOW).unwrap();
        assert!(HandoffLink::stale_for(Some(&l), &again));
        let fresh = link(&again);
        assert!(!HandoffLink::stale_for(Some(&fresh), &again));
        assert_eq!(fresh.check(Some(&again), NOW), Ok(()));
    }

    #[test]
    fn a_link_is_sent_once_per_offer_version_until_confirmed() {
        let offered = offer(None, conv(), "s", false, acct(), NOW).unwrap();
        assert!(HandoffLink::stale_for(None, &offered));
        let mut l = link(&offered);
        assert!(!HandoffLink::stale_for(Some(&l), &offered));
        l.sent = false;
        assert!(HandoffLink::stale_for(Some(&l), &offered));
        let changed = answer(&offered, 1, "w1", Answer::RequestChange, &terms(), NOW).unwrap();
        assert!(
            !HandoffLink::stale_for(None, &changed),
            "nothing to answer yet"
        );
        let revised = offer(Some(&changed), conv(), "s2", false, acct(), NOW).unwrap();
        assert!(HandoffLink::stale_for(Some(&link(&offered)), &revised));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Offer(bool),
        Answer(u8, bool, bool),
        Book(bool),
        Cancel,
        Withdraw,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            any::<bool>().prop_map(Op::Offer),
            (0u8..4, any::<bool>(), any::<bool>()).prop_map(|(a, t, c)| Op::Answer(a, t, c)),
            any::<bool>().prop_map(Op::Book),
            Just(Op::Cancel),
            Just(Op::Withdraw),
        ]
    }

    proptest! {
        /// Whatever happens, in any order: a booking exists only under a
        /// consent in force, whose scope covers its contact; consent
        /// records are only ever added; the revision rises with every
        /// accepted step and a refused step changes nothing.
        #[test]
        fn invariants_hold_under_any_sequence(ops in proptest::collection::vec(op(), 1..40)) {
            let mut rec: Option<HandoffRecord> = None;
            let mut contacts: std::collections::HashMap<BookingRef, bool> = Default::default();
            for (i, op) in ops.into_iter().enumerate() {
                let now = NOW + i as u64;
                let before = rec.clone();
                let result = match (&op, &rec) {
                    (Op::Offer(t), r) => offer(r.as_ref(), conv(), "s", *t, acct(), now),
                    (Op::Answer(a, t, c), Some(r)) => {
                        let ans = match a {
                            0 => Answer::Decline,
                            1 => Answer::RequestChange,
                            _ => Answer::Consent { transcript: *t, contact: *c },
                        };
                        answer(r, r.offer.version, "w1", ans, &terms(), now)
                    }
                    (Op::Book(personal), Some(r)) => {
                        let contact = if *personal { Contact::Phone("0312345678".into()) } else { Contact::SelfCall };
                        let reference = reference(i as u8);
                        book(r, &slot(50), 0, &contact, reference.clone(), now).inspect(|_| {
                            contacts.insert(reference, *personal);
                        })
                    }
                    (Op::Cancel, Some(r)) => cancel_booking(r),
                    (Op::Withdraw, Some(r)) => withdraw(r, now).map(|(n, _)| n),
                    (_, None) => Err(HandoffError::NoOffer),
                };
                match result {
                    Ok(next) => {
                        if let Some(b) = &before {
                            prop_assert_eq!(next.rev, b.rev + 1);
                            prop_assert!(next.consents.len() >= b.consents.len());
                            prop_assert_eq!(&next.consents[..b.consents.len()].iter().map(|c| (c.at_ms, c.summary.clone())).collect::<Vec<_>>(),
                                &b.consents.iter().map(|c| (c.at_ms, c.summary.clone())).collect::<Vec<_>>());
                        }
                        rec = Some(next);
                    }
                    Err(_) => prop_assert_eq!(&rec, &before),
                }
                if let Some(r) = &rec {
                    if let Some(b) = &r.booking {
                        let consent = r.consent();
                        prop_assert!(consent.is_some(), "a booking without a consent in force");
                        if contacts[b] {
                            prop_assert!(consent.unwrap().scope.contact);
                        }
                    }
                    prop_assert_eq!(r.visible_to_intake(), r.state == HandoffState::Consented);
                    if let Some(c) = r.consent() {
                        prop_assert!(!c.scope.transcript || r.offer.include_transcript);
                    }
                }
            }
        }
    }
}
