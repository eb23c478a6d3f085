//! Bookings looked up later by reference and PIN: the PIN's keyed hash,
//! the lockout after too many wrong PINs (counted by the store on every
//! node), a new PIN for the visitor or intake, the calendar file, and
//! cancelling.

use std::sync::LazyLock;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{refuse, Refusal, Service};
use crate::auth;
use crate::core::handoff::{self, Booking, BookingRef, CancelReason, HandoffError};
use crate::core::ids::ConversationId;
use crate::model::{BookingOp, SlotRecord};
use crate::protocol::ErrorCode;

use super::handoff::*;

/// The PIN hashes' key when `handoff.pin_key` is unset (the memory store
/// only: startup gives the embedded store its `pin.key` and refuses Redis
/// without one): random, this process's own.
pub(super) static PROCESS_PIN_KEY: LazyLock<[u8; 32]> = LazyLock::new(random);

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
        "this booking is locked after too many wrong PINs: a new PIN comes with the resume token (POST /api/handoff/pin) or from the centre",
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
    pub(super) fn pin_hash(&self, reference: &BookingRef, pin: &str) -> [u8; 32] {
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
        let now = self.now_ms();
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
    pub(super) async fn replace_pin(
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
    pub fn calendar_of(&self, booking: &Booking, slot: &SlotRecord, lang: Lang) -> String {
        self.calendar(&booking.reference, slot, lang)
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
        let now = self.now_ms();
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
}
