//! Use cases of the consented handoff: a counsellor offers, the visitor
//! answers and books, intake reads what was consented, admins manage slots.
//!
//! Every change of a conversation's handoff is "read the record, let the
//! pure core (`core::handoff`) compute the next one, write it over the
//! revision it was computed from" (`Store::write_handoff`, one atomic
//! step). A concurrent change makes the write fail with `Conflict` and the
//! step is computed again from fresh data; the slot's capacity is checked
//! by the store in the same step as the booking, so no slot is overbooked
//! whatever the timing.

use std::sync::LazyLock;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use super::{refuse, resume_failed, Refusal, Service};
use crate::auth;
use crate::clock::now_ms;
use crate::core::handoff::{
    self, Answer, AuditAction, AuditEntry, Booking, BookingRef, CancelReason, Contact,
    HandoffError, HandoffLink, HandoffRecord, LinkError, SlotId, SlotInput, Terms, NAME_MAX_CHARS,
    SUMMARY_MAX_CHARS,
};
use crate::core::ids::{AccountId, ConversationId, MessageText};
use crate::model::{Account, BookingOp, Channel, Event, HandoffWrite, SlotRecord, StoredMessage};
use crate::protocol::{BookedView, ConsentView, ErrorCode, HandoffView, SlotView, TermsView};
use crate::store::StoreError;

/// Attempts at a compare-and-set before giving up with `conflict`. Two
/// writers (the visitor and the counsellor) are the most a record sees.
const CAS_ATTEMPTS: usize = 5;

/// How far back intake's list of bookings reaches (today's, if earlier).
const INTAKE_LOOKBACK_MS: u64 = 24 * 3_600_000;

impl From<HandoffError> for Refusal {
    fn from(e: HandoffError) -> Self {
        let code = match &e {
            HandoffError::NoOffer => ErrorCode::NoOffer,
            HandoffError::OfferChanged => ErrorCode::OfferChanged,
            HandoffError::AlreadyAnswered => ErrorCode::AlreadyAnswered,
            HandoffError::AlreadyConsented => ErrorCode::AlreadyConsented,
            HandoffError::NoConsent => ErrorCode::NoConsent,
            HandoffError::OutsideConsent | HandoffError::TranscriptNotOffered => {
                ErrorCode::OutsideConsent
            }
            HandoffError::AlreadyBooked => ErrorCode::AlreadyBooked,
            HandoffError::NoBooking => ErrorCode::BookingNotFound,
            HandoffError::SlotFull => ErrorCode::SlotFull,
            HandoffError::SlotUnavailable => ErrorCode::SlotUnavailable,
            HandoffError::InvalidContact(_) => ErrorCode::InvalidContact,
            HandoffError::Invalid(_) => ErrorCode::BadRequest,
        };
        refuse(code, e.to_string())
    }
}

impl From<LinkError> for Refusal {
    fn from(e: LinkError) -> Self {
        let code = match e {
            LinkError::Spent => ErrorCode::LinkSpent,
            LinkError::Expired => ErrorCode::LinkExpired,
        };
        refuse(code, e.to_string())
    }
}

/// Who the visitor is, on the handoff's HTTP edges: one of two proofs,
/// resolved to a conversation by [`Service::visitor_conversation`] and
/// then the same use cases. No `Debug`: both hold a secret.
#[derive(Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum VisitorAuth {
    /// The web visitor page: the conversation and its resume token.
    Resume {
        conversation_id: ConversationId,
        token: String,
    },
    /// The one-time link sent to a LINE visitor: the token only. It names
    /// no conversation; the store says which one it opens.
    Link { link: String },
}

/// A freshly made handoff link: the address to send (with the token in
/// its fragment) and what the store keeps.
pub struct NewLink {
    pub url: String,
    pub link: HandoffLink,
}

/// The language the visitor read the offer in; it decides which wording is
/// recorded with the consent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    fn tag(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }
}

/// What a visitor gets once, when a booking is made: the PIN is never
/// shown again (the store keeps only its hash).
pub struct Receipt {
    pub booking: BookedView,
    pub pin: String,
    pub calendar: String,
}

/// A booking as intake sees it: only what the consent covers.
#[derive(Clone, Debug, serde::Serialize)]
pub struct IntakeBookingView {
    pub reference: String,
    pub slot: SlotView,
    /// What they want to be called (if they said).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// How to reach them; absent when they will call the centre themselves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// The consented summary, word for word.
    pub summary: String,
    /// The consent includes the transcript.
    pub transcript: bool,
    pub consented_at: u64,
    pub wording_version: String,
    pub booked_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attended: Option<bool>,
}

/// One audit line as admins read it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AuditView {
    pub at: u64,
    pub account: AccountId,
    pub display_name: String,
    pub action: AuditAction,
    pub references: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot_id: Option<SlotId>,
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// The PIN hashes' key when `handoff.pin_key` is unset (the memory store
/// only: startup gives the embedded store its `pin.key` and refuses Redis
/// without one): random, this process's own.
static PROCESS_PIN_KEY: LazyLock<[u8; 32]> = LazyLock::new(random);

/// How long wrong PINs are counted against a reference: longer than a
/// booking can live (a slot up to a year ahead, then the retention).
fn pin_guard_ttl_ms(booking_days: u32) -> u64 {
    (366 + u64::from(booking_days)) * 86_400_000
}

/// The guard counter of a reference's wrong PINs (`GuardStore`).
fn pin_guard_key(reference: &BookingRef) -> String {
    format!("booking_pin:{}", reference.as_str())
}

/// The PIN's hash before `handoff.pin_key` (SHA-256 of `reference:PIN`,
/// keyed by nothing secret). Still accepted for bookings made before;
/// a match re-hashes the booking's PIN with the key.
fn legacy_pin_hash(reference: &BookingRef, pin: &str) -> [u8; 32] {
    crate::model::hash_token(&format!("{}:{pin}", reference.as_str()))
}

fn not_found() -> Refusal {
    refuse(
        ErrorCode::BookingNotFound,
        "no booking with that reference and PIN",
    )
}

fn locked() -> Refusal {
    refuse(
        ErrorCode::BookingLocked,
        "this booking is locked after too many wrong PINs: get a new PIN on the chat page, or ask the centre",
    )
}

/// A new PIN for a booking, shown once.
pub struct NewPin {
    pub reference: BookingRef,
    pub pin: String,
}

impl Service {
    /// The PIN's hash: HMAC-SHA256 keyed with `handoff.pin_key`, over the
    /// reference and the PIN, so that a copy of the database alone
    /// reveals no PIN and one PIN's hash says nothing about another's.
    fn pin_hash(&self, reference: &BookingRef, pin: &str) -> [u8; 32] {
        let key: &[u8] = match &self.settings.handoff.pin_key {
            Some(k) => k.expose().as_bytes(),
            None => &PROCESS_PIN_KEY[..],
        };
        // HMAC takes a key of any length.
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
            unreachable!("HMAC accepts every key length")
        };
        mac.update(b"tsunagu booking pin v2\0");
        mac.update(reference.as_str().as_bytes());
        mac.update(b":");
        mac.update(pin.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn terms(&self, lang: Lang) -> Terms {
        let h = &self.settings.handoff;
        let (recipient, purpose) = match lang {
            Lang::Ja => (&h.recipient_ja, &h.purpose_ja),
            Lang::En => (&h.recipient_en, &h.purpose_en),
        };
        Terms {
            recipient: recipient.clone(),
            purpose: purpose.clone(),
            retention_days: self.settings.retention.booking_days,
            wording_version: format!("{}/{}", h.wording_version, lang.tag()),
        }
    }

    /// The view of a handoff; the booking's reference only `for_visitor`.
    pub async fn handoff_view(
        &self,
        rec: &HandoffRecord,
        for_visitor: bool,
    ) -> Result<HandoffView, Refusal> {
        let h = &self.settings.handoff;
        let booking = match &rec.booking {
            Some(reference) => match self.store.booking(reference).await? {
                Some(b) => self.store.slot(b.slot).await?.map(|slot| BookedView {
                    reference: for_visitor.then(|| reference.as_str().to_owned()),
                    slot: SlotView::from(&slot),
                }),
                None => None,
            },
            None => None,
        };
        Ok(HandoffView {
            state: rec.state.name(),
            version: rec.offer.version,
            summary: rec.offer.summary.clone(),
            include_transcript: rec.offer.include_transcript,
            offered_at: rec.offer.at_ms,
            terms: TermsView {
                recipient_ja: h.recipient_ja.clone(),
                recipient_en: h.recipient_en.clone(),
                purpose_ja: h.purpose_ja.clone(),
                purpose_en: h.purpose_en.clone(),
                retention_days: self.settings.retention.booking_days,
                wording_version: h.wording_version.clone(),
            },
            consent: rec.consents.last().map(|c| ConsentView {
                transcript: c.scope.transcript,
                contact: c.scope.contact,
                at: c.at_ms,
                wording_version: c.wording_version.clone(),
                withdrawn_at: c.withdrawn_at_ms,
            }),
            booking,
        })
    }

    /// The conversation's handoff as a view, if there is one.
    pub async fn handoff_of(
        &self,
        id: ConversationId,
        for_visitor: bool,
    ) -> Result<Option<HandoffView>, Refusal> {
        match self.store.handoff(id).await? {
            Some(rec) => Ok(Some(self.handoff_view(&rec, for_visitor).await?)),
            None => Ok(None),
        }
    }

    /// Write one step computed by `step` from the current record, retrying
    /// on a concurrent change; then tell both sides.
    async fn change_handoff(
        &self,
        id: ConversationId,
        mut step: impl FnMut(Option<&HandoffRecord>) -> Result<(HandoffRecord, BookingOp), Refusal>,
    ) -> Result<HandoffRecord, Refusal> {
        for _ in 0..CAS_ATTEMPTS {
            let current = self.store.handoff(id).await?;
            let (record, booking) = step(current.as_ref())?;
            let write = HandoffWrite {
                expected_rev: current.map_or(0, |c| c.rev),
                record: record.clone(),
                booking,
            };
            match self.store.write_handoff(write).await {
                Ok(()) => {
                    self.publish(Event::Handoff { conversation: id }).await;
                    return Ok(record);
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// A counsellor (the one holding the conversation, while it is active)
    /// offers the handoff, or revises an offer not yet consented to.
    pub async fn offer_handoff(
        &self,
        id: ConversationId,
        counsellor: AccountId,
        summary: String,
        include_transcript: bool,
    ) -> Result<(), Refusal> {
        let summary = MessageText::parse(summary, SUMMARY_MAX_CHARS)?;
        let conv = self.authorise_active(id, counsellor).await?;
        if conv.channel == Channel::Line && self.settings.public_base().is_none() {
            // The LINE visitor would get no working link: offer nothing.
            tracing::warn!(conversation = %id, "handoff not offered: a LINE visitor needs public_url set for the handoff link");
            return Err(refuse(
                ErrorCode::HandoffLinkUnavailable,
                "this visitor is on LINE and the server has no public_url, so no link to the handoff page can be sent; ask the administrator to set public_url",
            ));
        }
        let now = now_ms();
        self.change_handoff(id, |cur| {
            let next = handoff::offer(
                cur,
                id,
                summary.as_str(),
                include_transcript,
                counsellor,
                now,
            )?;
            Ok((next, BookingOp::Keep))
        })
        .await?;
        self.metrics.handoff("offered");
        tracing::info!(conversation = %id, by = %counsellor, "handoff offered");
        Ok(())
    }

    /// The conversation a visitor's proof opens. A resume token is checked
    /// like `resume`. A link is looked up by its hash: unknown (never
    /// made, replaced by a newer one, purged) answers exactly like a wrong
    /// token; a known one must not be spent or expired
    /// ([`HandoffLink::check`]) and opens only its own conversation.
    pub async fn visitor_conversation(&self, who: &VisitorAuth) -> Result<ConversationId, Refusal> {
        match who {
            VisitorAuth::Resume {
                conversation_id,
                token,
            } => Ok(self.resume(*conversation_id, token).await?.id),
            VisitorAuth::Link { link } => {
                let link = self
                    .store
                    .handoff_link(&crate::model::hash_token(link))
                    .await?
                    .ok_or_else(resume_failed)?;
                let rec = self.store.handoff(link.conversation).await?;
                link.check(rec.as_ref(), now_ms())?;
                Ok(link.conversation)
            }
        }
    }

    /// Make and store a fresh link to the handoff page for `rec`'s offer,
    /// replacing the conversation's earlier one. `None` without
    /// `public_url` (the offer was refused for LINE conversations then).
    pub async fn issue_handoff_link(
        &self,
        rec: &HandoffRecord,
    ) -> Result<Option<NewLink>, Refusal> {
        let Some(base) = self.settings.public_base() else {
            return Ok(None);
        };
        let (token, token_hash) = auth::new_token();
        let now = now_ms();
        let link = HandoffLink {
            conversation: rec.conversation,
            token_hash,
            offer_version: rec.offer.version,
            bookings_at_issue: rec.bookings_made,
            created_at_ms: now,
            expires_at_ms: now
                .saturating_add(self.settings.handoff.link_valid_secs.saturating_mul(1000)),
            sent: false,
        };
        self.store.put_handoff_link(link.clone()).await?;
        // The token in the fragment: browsers never send it to a server,
        // so no access log, proxy or Referer keeps it.
        Ok(Some(NewLink {
            url: format!("{base}/handoff/#{token}"),
            link,
        }))
    }

    /// The visitor's own handoff.
    pub async fn visitor_handoff(&self, who: &VisitorAuth) -> Result<Option<HandoffView>, Refusal> {
        let id = self.visitor_conversation(who).await?;
        self.handoff_of(id, true).await
    }

    /// The visitor answers: consent (with its scope), decline, or ask for a
    /// change. `wording_version` is what their screen showed.
    pub async fn answer_handoff(
        &self,
        who: &VisitorAuth,
        version: u32,
        wording_version: &str,
        lang: Lang,
        answer: Answer,
    ) -> Result<HandoffView, Refusal> {
        let id = self.visitor_conversation(who).await?;
        let terms = self.terms(lang);
        // The screen shows the deployment's version; the record keeps it
        // with the language it was read in.
        let shown = format!("{wording_version}/{}", lang.tag());
        let now = now_ms();
        let rec = self
            .change_handoff(id, |cur| {
                let cur = cur.ok_or(HandoffError::NoOffer)?;
                let next = handoff::answer(cur, version, &shown, answer, &terms, now)?;
                Ok((next, BookingOp::Keep))
            })
            .await?;
        let outcome = match answer {
            Answer::Consent { .. } => "consented",
            Answer::Decline => "declined",
            Answer::RequestChange => "change_requested",
        };
        self.metrics.handoff(outcome);
        tracing::info!(conversation = %id, outcome, "handoff answered");
        self.handoff_view(&rec, true).await
    }

    /// Book a slot under the consent in force. The slot's capacity is
    /// checked by the store in the same step as the write.
    pub async fn book(
        &self,
        who: &VisitorAuth,
        slot_id: SlotId,
        name: Option<String>,
        contact: Contact,
    ) -> Result<Receipt, Refusal> {
        let id = self.visitor_conversation(who).await?;
        let name = match name.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(n) => Some(handoff::form_text(n, "name", NAME_MAX_CHARS)?),
        };
        let slot = self
            .store
            .slot(slot_id)
            .await?
            .ok_or(HandoffError::SlotUnavailable)?;
        // The capacity is checked again by the store in the same step as
        // the write; the slot read here only gives the early, clear answer.
        let mut made = None;
        self.change_handoff(id, |cur| {
            let cur = cur.ok_or(HandoffError::NoConsent)?;
            let now = now_ms();
            // Fresh on every attempt: a `Conflict` may also mean that this
            // reference (40 random bits) was taken.
            let reference = BookingRef::from_random(random());
            let pin = handoff::pin_from_random(random());
            let next = handoff::book(
                cur,
                &slot.slot,
                slot.booked,
                &contact,
                reference.clone(),
                now,
            )?;
            let booking = Booking {
                reference: reference.clone(),
                pin_hash: self.pin_hash(&reference, &pin),
                slot: slot_id,
                conversation: id,
                name: name.clone(),
                contact: contact.clone(),
                created_at_ms: now,
                cancelled_at_ms: None,
                cancel_reason: None,
                attended: None,
            };
            made = Some((reference, pin));
            Ok((next, BookingOp::Create(booking)))
        })
        .await?;
        let (reference, pin) =
            made.ok_or_else(|| refuse(ErrorCode::Internal, "no booking made"))?;
        self.metrics.handoff("booked");
        tracing::info!(conversation = %id, slot = %slot_id, "booked");
        let mut held = slot;
        held.booked += 1;
        let calendar = self.calendar(&reference, &held);
        Ok(Receipt {
            booking: BookedView {
                reference: Some(reference.as_str().to_owned()),
                slot: SlotView::from(&held),
            },
            pin,
            calendar,
        })
    }

    fn calendar(&self, reference: &BookingRef, slot: &SlotRecord) -> String {
        let site = &self.settings.site;
        handoff::ics(
            reference,
            &slot.slot,
            "初回相談 / First consultation",
            &site.name_ja,
            now_ms(),
        )
    }

    /// The visitor withdraws their consent: intake sees nothing from now
    /// on, and the booking (if any) is cancelled in the same step.
    pub async fn withdraw_consent(&self, who: &VisitorAuth) -> Result<HandoffView, Refusal> {
        let id = self.visitor_conversation(who).await?;
        self.withdraw(id).await
    }

    /// The same for a visitor who has only their booking's reference and
    /// PIN (the chat tab is long closed), checked by the caller through
    /// `booking_with_pin`.
    pub async fn withdraw_with_booking(&self, booking: &Booking) -> Result<HandoffView, Refusal> {
        self.withdraw(booking.conversation).await
    }

    async fn withdraw(&self, id: ConversationId) -> Result<HandoffView, Refusal> {
        let now = now_ms();
        let rec = self
            .change_handoff(id, |cur| {
                let cur = cur.ok_or(HandoffError::NoConsent)?;
                let (next, cancelled) = handoff::withdraw(cur, now)?;
                let op = match cancelled {
                    Some(reference) => BookingOp::Cancel {
                        reference,
                        reason: CancelReason::ConsentWithdrawn,
                        now_ms: now,
                    },
                    None => BookingOp::Keep,
                };
                Ok((next, op))
            })
            .await?;
        self.metrics.handoff("withdrawn");
        tracing::info!(conversation = %id, "consent withdrawn");
        self.handoff_view(&rec, true).await
    }

    /// A booking found by reference and PIN (the caller rate-limits per
    /// address). Wrong reference and wrong PIN give the same answer and
    /// count the same: each counts one failure against the reference, for
    /// the whole deployment (`GuardStore`), and after
    /// `limits.booking_pin_failures` of them the reference is locked:
    /// every PIN, the right one too, is answered `booking_locked` (so the
    /// answer says nothing about the PIN) until a new PIN is set
    /// (`new_pin`, `intake_new_pin`). A PIN that is not 6 digits is
    /// refused without counting.
    pub async fn booking_with_pin(
        &self,
        reference: &str,
        pin: &str,
    ) -> Result<(Booking, SlotRecord), Refusal> {
        let reference = BookingRef::parse(reference).map_err(|_| not_found())?;
        if !handoff::valid_pin(pin) {
            return Err(not_found());
        }
        let key = pin_guard_key(&reference);
        let limit = self.settings.limits.booking_pin_failures;
        let now = now_ms();
        if self.store.failures(&key, now).await? >= limit {
            return Err(locked());
        }
        let hash = self.pin_hash(&reference, pin);
        let found = self.store.booking(&reference).await?;
        let (booking, legacy) = match found {
            Some(b) if auth::same_hash(&b.pin_hash, &hash) => (b, false),
            Some(b) if auth::same_hash(&b.pin_hash, &legacy_pin_hash(&reference, pin)) => (b, true),
            _ => {
                let ttl = pin_guard_ttl_ms(self.settings.retention.booking_days);
                let n = self.store.record_failure(&key, now, ttl).await?;
                if n == limit {
                    self.metrics.handoff("pin_locked");
                    tracing::warn!("a booking reference is locked after too many wrong PINs");
                }
                return Err(not_found());
            }
        };
        if legacy && booking.active() {
            // Best effort: the next look-up tries the legacy hash again.
            if let Err(e) = self.rehash(&booking, pin).await {
                tracing::warn!(conversation = %booking.conversation, error = %e.message, "could not re-hash a legacy PIN");
            }
        }
        let slot = self.store.slot(booking.slot).await?.ok_or_else(not_found)?;
        Ok((booking, slot))
    }

    /// Store a booking's (right, legacy-hashed) PIN under the keyed hash.
    async fn rehash(&self, booking: &Booking, pin: &str) -> Result<(), Refusal> {
        let reference = booking.reference.clone();
        let pin_hash = self.pin_hash(&reference, pin);
        self.change_handoff(booking.conversation, |cur| {
            let cur = cur.ok_or(HandoffError::NoBooking)?;
            if cur.booking.as_ref() != Some(&reference) {
                return Err(HandoffError::NoBooking.into());
            }
            let mut next = cur.clone();
            next.rev += 1;
            let op = BookingOp::Repin {
                reference: reference.clone(),
                pin_hash,
            };
            Ok((next, op))
        })
        .await?;
        Ok(())
    }

    /// A new PIN for the conversation's booking in force (`expected`: only
    /// if it is that one), replacing the old one in the same step as the
    /// handoff record's revision; then the reference's wrong PINs are
    /// forgotten (a lockout ends).
    async fn replace_pin(
        &self,
        id: ConversationId,
        expected: Option<&BookingRef>,
    ) -> Result<NewPin, Refusal> {
        let mut made = None;
        self.change_handoff(id, |cur| {
            let cur = cur.ok_or(HandoffError::NoBooking)?;
            let reference = cur.booking.clone().ok_or(HandoffError::NoBooking)?;
            if expected.is_some_and(|e| *e != reference) {
                return Err(HandoffError::NoBooking.into());
            }
            let pin = handoff::pin_from_random(random());
            let mut next = cur.clone();
            next.rev += 1;
            let op = BookingOp::Repin {
                reference: reference.clone(),
                pin_hash: self.pin_hash(&reference, &pin),
            };
            made = Some(NewPin { reference, pin });
            Ok((next, op))
        })
        .await
        .map_err(|e| match e.code {
            ErrorCode::NotFound => HandoffError::NoBooking.into(),
            _ => e,
        })?;
        let new = made.ok_or_else(|| refuse(ErrorCode::Internal, "no PIN made"))?;
        self.store
            .clear_failures(&pin_guard_key(&new.reference))
            .await?;
        Ok(new)
    }

    /// The visitor (resume token or handoff link) gets a new PIN for their
    /// booking in force: the old PIN stops working and a lockout ends.
    pub async fn new_pin(&self, who: &VisitorAuth) -> Result<NewPin, Refusal> {
        let id = self.visitor_conversation(who).await?;
        let new = self.replace_pin(id, None).await?;
        self.metrics.handoff("pin_replaced");
        tracing::info!(conversation = %id, by = "visitor", "booking PIN replaced");
        Ok(new)
    }

    /// The calendar file of a booking found by reference and PIN.
    pub fn calendar_of(&self, booking: &Booking, slot: &SlotRecord) -> String {
        self.calendar(&booking.reference, slot)
    }

    /// Cancel a booking in force: by the visitor (reference and PIN,
    /// checked by the caller through `booking_with_pin`) or by intake. The
    /// consent stays; the place is freed.
    pub async fn cancel_booking(
        &self,
        booking: &Booking,
        reason: CancelReason,
    ) -> Result<(), Refusal> {
        if !booking.active() {
            return Err(not_found());
        }
        let now = now_ms();
        let reference = booking.reference.clone();
        self.change_handoff(booking.conversation, |cur| {
            let cur = cur.ok_or(HandoffError::NoBooking)?;
            if cur.booking.as_ref() != Some(&reference) {
                return Err(HandoffError::NoBooking.into());
            }
            let next = handoff::cancel_booking(cur)?;
            let op = BookingOp::Cancel {
                reference: reference.clone(),
                reason,
                now_ms: now,
            };
            Ok((next, op))
        })
        .await?;
        self.metrics.handoff("cancelled");
        tracing::info!(conversation = %booking.conversation, reason = ?reason, "booking cancelled");
        Ok(())
    }

    // ------------------------------------------------------------ slots

    /// Slots a visitor can book now: in the future, not cancelled, with a
    /// free place.
    pub async fn bookable_slots(&self) -> Result<Vec<SlotView>, Refusal> {
        let now = now_ms();
        Ok(self
            .store
            .slots(now + 1)
            .await?
            .iter()
            .filter(|r| r.slot.bookable(r.booked, now).is_ok())
            .map(SlotView::from)
            .collect())
    }

    /// Every slot from `from_ms` on, for admins and intake.
    pub async fn all_slots(&self, from_ms: u64) -> Result<Vec<SlotView>, Refusal> {
        Ok(self
            .store
            .slots(from_ms)
            .await?
            .iter()
            .map(SlotView::from)
            .collect())
    }

    pub async fn create_slot(&self, by: &Account, input: SlotInput) -> Result<SlotView, Refusal> {
        let now = now_ms();
        let slot = input.validate(SlotId(uuid::Uuid::new_v4()), by.id, now, &self.schedule)?;
        self.store.create_slot(slot.clone()).await?;
        self.audit(by, AuditAction::CreateSlot, Vec::new(), Some(slot.id))
            .await?;
        tracing::info!(by = %by.id, slot = %slot.id, "slot created");
        Ok(SlotView::from(&SlotRecord { slot, booked: 0 }))
    }

    pub async fn cancel_slot(&self, by: &Account, id: SlotId) -> Result<SlotView, Refusal> {
        let rec = self
            .store
            .cancel_slot(id, now_ms())
            .await
            .map_err(|e| match e {
                StoreError::NotFound => refuse(ErrorCode::NotFound, "no such slot"),
                e => e.into(),
            })?;
        self.audit(by, AuditAction::CancelSlot, Vec::new(), Some(id))
            .await?;
        Ok(SlotView::from(&rec))
    }

    // ------------------------------------------------------------ intake

    async fn audit(
        &self,
        by: &Account,
        action: AuditAction,
        references: Vec<BookingRef>,
        slot: Option<SlotId>,
    ) -> Result<(), Refusal> {
        self.store
            .append_audit(AuditEntry {
                at_ms: now_ms(),
                account: by.id,
                action,
                references,
                slot,
            })
            .await?;
        Ok(())
    }

    /// A booking in force whose handoff intake may see, by reference.
    async fn intake_booking(&self, reference: &str) -> Result<(Booking, HandoffRecord), Refusal> {
        let missing = || refuse(ErrorCode::NotFound, "no such booking");
        let reference = BookingRef::parse(reference).map_err(|_| missing())?;
        let booking = self
            .store
            .booking(&reference)
            .await?
            .filter(Booking::active)
            .ok_or_else(missing)?;
        let rec = self
            .store
            .handoff(booking.conversation)
            .await?
            .filter(|h| h.visible_to_intake() && h.booking.as_ref() == Some(&reference))
            .ok_or_else(missing)?;
        Ok((booking, rec))
    }

    /// Upcoming bookings in force, with exactly what their consent covers.
    /// The view is recorded in the audit log (which references were shown).
    pub async fn intake_bookings(&self, by: &Account) -> Result<Vec<IntakeBookingView>, Refusal> {
        let from = now_ms().saturating_sub(INTAKE_LOOKBACK_MS);
        let mut out = Vec::new();
        for slot in self.store.slots(from).await? {
            if slot.booked == 0 {
                continue;
            }
            for b in self.store.slot_bookings(slot.slot.id).await? {
                if !b.active() {
                    continue;
                }
                let Some(rec) = self.store.handoff(b.conversation).await? else {
                    continue;
                };
                let Some(consent) = rec.consent() else {
                    continue;
                };
                if rec.booking.as_ref() != Some(&b.reference) {
                    continue;
                }
                out.push(IntakeBookingView {
                    reference: b.reference.as_str().to_owned(),
                    slot: SlotView::from(&slot),
                    name: b.name.clone(),
                    contact: (consent.scope.contact && b.contact.is_personal())
                        .then(|| b.contact.clone()),
                    summary: consent.summary.clone(),
                    transcript: consent.scope.transcript,
                    consented_at: consent.at_ms,
                    wording_version: consent.wording_version.clone(),
                    booked_at: b.created_at_ms,
                    attended: b.attended,
                });
            }
        }
        let shown = out
            .iter()
            .filter_map(|v| BookingRef::parse(&v.reference).ok())
            .collect();
        self.audit(by, AuditAction::ListBookings, shown, None)
            .await?;
        Ok(out)
    }

    /// The transcript of a booking whose consent includes it; otherwise
    /// `outside_consent`. Recorded in the audit log.
    pub async fn intake_transcript(
        &self,
        by: &Account,
        reference: &str,
    ) -> Result<Vec<std::sync::Arc<StoredMessage>>, Refusal> {
        let (booking, rec) = self.intake_booking(reference).await?;
        let consent = rec.consent().ok_or(HandoffError::NoConsent)?;
        if !consent.scope.transcript {
            return Err(refuse(
                ErrorCode::OutsideConsent,
                "the visitor did not agree to pass on the transcript",
            ));
        }
        let mut messages = Vec::new();
        loop {
            let after = messages
                .last()
                .map_or(0, |m: &std::sync::Arc<StoredMessage>| m.seq);
            let page = self
                .store
                .messages_after(booking.conversation, after, 500)
                .await?;
            if page.is_empty() {
                break;
            }
            messages.extend(page);
        }
        self.audit(
            by,
            AuditAction::ViewTranscript,
            vec![booking.reference.clone()],
            Some(booking.slot),
        )
        .await?;
        Ok(messages)
    }

    pub async fn intake_cancel(&self, by: &Account, reference: &str) -> Result<(), Refusal> {
        let (booking, _) = self.intake_booking(reference).await?;
        self.cancel_booking(&booking, CancelReason::Staff).await?;
        self.audit(
            by,
            AuditAction::CancelBooking,
            vec![booking.reference.clone()],
            Some(booking.slot),
        )
        .await
    }

    /// Intake sets a new PIN for a booking in force (the visitor lost it,
    /// or it is locked): the old PIN stops working, a lockout ends.
    /// Recorded in the audit log.
    pub async fn intake_new_pin(&self, by: &Account, reference: &str) -> Result<NewPin, Refusal> {
        let (booking, _) = self.intake_booking(reference).await?;
        let new = self
            .replace_pin(booking.conversation, Some(&booking.reference))
            .await?;
        self.metrics.handoff("pin_replaced");
        tracing::info!(conversation = %booking.conversation, by = %by.id, "booking PIN replaced");
        self.audit(
            by,
            AuditAction::ResetPin,
            vec![booking.reference.clone()],
            Some(booking.slot),
        )
        .await?;
        Ok(new)
    }

    pub async fn intake_attended(
        &self,
        by: &Account,
        reference: &str,
        attended: bool,
    ) -> Result<(), Refusal> {
        let (booking, _) = self.intake_booking(reference).await?;
        self.store
            .set_attended(&booking.reference, attended)
            .await?;
        if attended {
            self.metrics.handoff("attended");
        }
        self.audit(
            by,
            AuditAction::MarkAttended,
            vec![booking.reference.clone()],
            Some(booking.slot),
        )
        .await
    }

    /// The audit log, newest first, with the staff member's name.
    pub async fn audit_log(&self, limit: usize) -> Result<Vec<AuditView>, Refusal> {
        let names = self.names().await?;
        Ok(self
            .store
            .audit_log(limit)
            .await?
            .into_iter()
            .map(|e| AuditView {
                at: e.at_ms,
                account: e.account,
                display_name: names
                    .get(&e.account)
                    .map(|a| a.display_name.clone())
                    .unwrap_or_default(),
                action: e.action,
                references: e.references.iter().map(|r| r.as_str().to_owned()).collect(),
                slot_id: e.slot,
            })
            .collect())
    }
}
