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

mod audit;
mod booking;
mod consent;
mod links;
mod slots;

pub use audit::*;
pub use booking::*;
pub use consent::*;
pub use links::*;
pub use slots::*;

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
    #[error("the booking is already in that slot")]
    SameSlot,
    #[error("the booked time has begun or passed; it can no longer be moved")]
    BookingPast,
    #[error(
        "the slot must start and end within one window of the opening hours (Japan time): {0}"
    )]
    SlotOutsideHours(&'static str),
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

#[cfg(test)]
mod tests;
