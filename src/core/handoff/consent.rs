//! The handoff itself: the offer, the visitor's answer, the consent record,
//! booking against it, and withdrawal.

use serde::{Deserialize, Serialize};

use super::*;
use crate::core::ids::{AccountId, ConversationId};

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

/// Move the booking in force (`current`, in a slot that has not started
/// yet) to `to` (holding `to_booked` bookings), under the same rules as a
/// new booking: a consent in force and a bookable slot. The reference, the
/// PIN and the contact stay; the store frees the old place and takes the
/// new one in the same step (`BookingOp::Move`).
pub fn reschedule(
    rec: &HandoffRecord,
    current: &Booking,
    current_slot: &Slot,
    to: &Slot,
    to_booked: u32,
    now_ms: u64,
) -> Result<HandoffRecord, HandoffError> {
    if rec.consent().is_none() {
        return Err(HandoffError::NoConsent);
    }
    if rec.booking.as_ref() != Some(&current.reference) || !current.active() {
        return Err(HandoffError::NoBooking);
    }
    if current_slot.id != current.slot {
        return Err(HandoffError::NoBooking);
    }
    if current_slot.starts_at_ms <= now_ms {
        return Err(HandoffError::BookingPast);
    }
    if to.id == current.slot {
        return Err(HandoffError::SameSlot);
    }
    to.bookable(to_booked, now_ms)?;
    let mut next = rec.clone();
    next.rev += 1;
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
