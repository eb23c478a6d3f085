//! Slots, bookings and handoff changes as the store records them.

use serde::{Deserialize, Serialize};

use crate::core::handoff::{Booking, BookingRef, CancelReason, HandoffRecord, Slot, SlotId};
use crate::core::stats::HandoffFacts;

/// A slot and how many bookings for it are in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRecord {
    pub slot: Slot,
    /// Bookings in force (made and not cancelled). Maintained by
    /// `write_handoff`, never set directly.
    pub booked: u32,
}

/// What a `write_handoff` does to bookings, in the same step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BookingOp {
    /// Nothing.
    Keep,
    /// Store this new booking and take a place in its slot.
    Create(Booking),
    /// Cancel the booking in force with this reference and free its place.
    Cancel {
        reference: BookingRef,
        reason: CancelReason,
        now_ms: u64,
    },
    /// Replace the PIN hash of the booking in force with this reference
    /// (it belongs to this conversation: `NotFound` otherwise); the old
    /// PIN stops working in the same step.
    Repin {
        reference: BookingRef,
        pin_hash: [u8; 32],
    },
    /// Move the booking in force with this reference (of this
    /// conversation: `NotFound` otherwise) from slot `from` (`Conflict` if
    /// it is no longer there) to slot `to`, checked like a new booking's
    /// slot (`SlotUnavailable`, `SlotFull`): the new place is taken and
    /// the old one freed in the same step, so there is no moment without
    /// a place and no overbooking.
    Move {
        reference: BookingRef,
        from: SlotId,
        to: SlotId,
        now_ms: u64,
    },
}

/// One change of a conversation's handoff; see `Store::write_handoff`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandoffWrite {
    /// The revision the change was computed from (0: there was none).
    pub expected_rev: u64,
    /// The new record (its `rev` is `expected_rev + 1`).
    pub record: HandoffRecord,
    pub booking: BookingOp,
}

/// How far a handoff went, for the facts (reads the bookings it made).
pub fn handoff_facts(h: Option<&HandoffRecord>, attended: bool) -> HandoffFacts {
    match h {
        None => HandoffFacts::default(),
        Some(h) => HandoffFacts {
            offered: true,
            consented: !h.consents.is_empty(),
            booked: h.bookings_made > 0,
            attended,
        },
    }
}
