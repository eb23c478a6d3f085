//! How long things are kept, and what a purge removed.

use crate::core::ids::ConversationId;

/// How long data is kept (`retention.*` in the settings), in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// After a conversation ended: its record, log and notes.
    pub conversation_ms: u64,
    /// After the conversation ended or its booked appointment, whichever
    /// is later: the handoff record with its consents; after an
    /// appointment slot's start: the slot and its bookings.
    pub booking_ms: u64,
    /// After it was written: an audit entry (supervisor access, intake).
    pub audit_ms: u64,
}

/// What a `Store::purge` removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Conversations whose record, log and notes are gone (their facts
    /// are kept).
    pub conversations: Vec<ConversationId>,
    /// Handoff records (with their consent records) removed.
    pub handoffs: u32,
    /// Slots removed with their bookings.
    pub slots: u32,
    /// Staff sessions removed: expired, or revoked (of an older epoch
    /// than their account's, or of an account gone). On Redis sessions
    /// expire by themselves and this stays 0.
    pub sessions: u32,
    /// Audit entries older than `Retention::audit_ms` removed.
    pub audit: u32,
}

/// When a purged conversation's handoff record is removed: `booking_ms`
/// after the later of the conversation's end and the booked appointment.
pub fn handoff_expiry(ended_at_ms: u64, appointment_ms: Option<u64>, r: &Retention) -> u64 {
    ended_at_ms
        .max(appointment_ms.unwrap_or(0))
        .saturating_add(r.booking_ms)
}
