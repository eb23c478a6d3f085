//! The handoff to in-person support: appointment slots, each
//! conversation's handoff record (with the consent in it), bookings, the
//! audit log, and the one-time links that bring a LINE visitor to the
//! handoff page.

use super::*;

/// Handoff: slots, consent, bookings, audit, one-time handoff links.
///
/// Durability: slots, handoff records (with the consent records in
/// them), bookings and the audit log are on disk before `Ok` on the
/// embedded store; on Redis as durable as the server's AOF allows
/// (`WAITAOF` where the server has it; see docs/REDIS.md).
#[async_trait]
pub trait HandoffStore: Send + Sync {
    /// Store a new slot. `Conflict` if its id exists.
    async fn create_slot(&self, slot: Slot) -> StoreResult<()>;
    /// Cancel a slot, atomically: `NotFound` if unknown, `SlotBooked`
    /// while a booking for it is in force; a cancelled slot is returned
    /// unchanged.
    async fn cancel_slot(&self, id: SlotId, now_ms: u64) -> StoreResult<SlotRecord>;
    async fn slot(&self, id: SlotId) -> StoreResult<Option<SlotRecord>>;
    /// Slots starting at or after `from_ms` (cancelled ones too), earliest
    /// first.
    async fn slots(&self, from_ms: u64) -> StoreResult<Vec<SlotRecord>>;
    async fn handoff(&self, conversation: ConversationId) -> StoreResult<Option<HandoffRecord>>;
    /// Write a conversation's handoff record and its booking change as one
    /// atomic step, validated before anything is written:
    /// - the conversation exists (`NotFound`);
    /// - the stored record's `rev` (0 when there is none) equals
    ///   `expected_rev` (`Conflict`), so two writers computing from the
    ///   same revision cannot both win;
    /// - `Create(b)`: `b.conversation` is this one; the slot exists, is not
    ///   cancelled and starts after `b.created_at_ms` (`SlotUnavailable`);
    ///   fewer than `capacity` bookings for it are in force (`SlotFull`);
    ///   the reference is new (`Conflict`). Then the booking is stored and
    ///   the slot's `booked` rises by one;
    /// - `Cancel`: a booking in force with that reference belongs to this
    ///   conversation (`NotFound`); it is marked cancelled (time, reason)
    ///   and the slot's `booked` falls by one.
    async fn write_handoff(&self, write: HandoffWrite) -> StoreResult<()>;
    async fn booking(&self, reference: &BookingRef) -> StoreResult<Option<Booking>>;
    /// Every booking made for a slot (in force or cancelled), oldest first.
    async fn slot_bookings(&self, slot: SlotId) -> StoreResult<Vec<Booking>>;
    /// Intake records whether the person came (`NotFound` if unknown).
    async fn set_attended(&self, reference: &BookingRef, attended: bool) -> StoreResult<Booking>;
    async fn append_audit(&self, entry: AuditEntry) -> StoreResult<()>;
    /// The audit entries matching `filter`, newest first, at most
    /// `filter.limit`.
    async fn audit_log(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;

    // ---- one-time handoff links (a LINE visitor's way to the handoff page)
    //
    // A link belongs to its conversation: purging or erasing the
    // conversation deletes it in the same step. Durable like the handoff.
    /// Store `link` as its conversation's one link, atomically replacing
    /// (and so revoking) any earlier one; storing the same token again
    /// updates it (`sent`). `NotFound` unless the conversation has a
    /// handoff record.
    async fn put_handoff_link(&self, link: HandoffLink) -> StoreResult<()>;
    /// Mark the link with this token hash sent, if it is still its
    /// conversation's link in force (`false`, changing nothing, if a newer
    /// one replaced it or it is gone).
    async fn handoff_link_sent(
        &self,
        conversation: ConversationId,
        token_hash: &TokenHash,
    ) -> StoreResult<bool>;
    /// The link whose token hashes to `token_hash`, if it is in force.
    async fn handoff_link(&self, token_hash: &TokenHash) -> StoreResult<Option<HandoffLink>>;
    /// The conversation's link in force, if any.
    async fn handoff_link_of(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Option<HandoffLink>>;
}
