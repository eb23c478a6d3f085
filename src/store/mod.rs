//! The store: one trait, every backend behind it.
//!
//! The trait is the contract the Redis backend (and the durable embedded
//! backend) must honour, checked by one conformance suite run against each
//! (`tests/api/store_conformance.rs`). The rules written on the methods are
//! part of the contract:
//!
//! - **Atomicity.** Each method is one atomic step. `assign`, `end`,
//!   `sweep`, `append`, `create_conversation`, `set_risk`, `reassign`,
//!   `requeue`, `supervise`, `ack_alert`, `mark_silent`, `cancel_slot`
//!   and `write_handoff` check their
//!   preconditions and apply their change as one step: on a shared Redis
//!   that means one Lua script or one command, never read-then-write from
//!   Rust. A refused step changes nothing.
//! - **Acknowledged means stored.** When a method returns `Ok`, its change
//!   is as durable as the backend promises for that data class.
//! - **Notifications travel separately.** `publish` / `subscribe` carry
//!   [`Event`]s between nodes. A lost event costs latency, never data:
//!   readers catch up from the log by sequence number.
//!
//! The store never knows about sockets.
//!
//! Why `async_trait` and `Arc<dyn Store>`: `async fn` in a trait is not
//! object-safe, and a generic `Service<S: Store>` would spread a type
//! parameter through every handler. One boxed future per store call costs
//! far less than the call itself (see `docs/ARCHITECTURE.md`).

pub mod embedded;
pub mod journal;
pub mod memory;
pub mod redis;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::core::conversation::{ConversationState, EndedBy, Outcome, TransitionError};
use crate::core::handoff::{
    AuditEntry, Booking, BookingRef, HandoffLink, HandoffRecord, Slot, SlotId,
};
use crate::core::ids::{AccountId, AlertId, ClientMsgId, ConversationId, Party};
use crate::core::stats::{Assessment, ConversationFacts};
use crate::core::triage::RiskLevel;
use crate::model::*;

/// What a backend says about its durability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Persistence {
    /// Is a write on disk (fsynced) before the store answers OK?
    pub acknowledged_writes_on_disk: bool,
    /// The settings that decide it, e.g. Redis `appendonly`/`appendfsync`.
    pub details: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("queue is full")]
    QueueFull,
    #[error("username is taken")]
    UsernameTaken,
    #[error("counsellor has no free place")]
    CapacityReached,
    #[error("counsellor is not taking chats")]
    NotAvailable,
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("the conversation is not assigned to this counsellor")]
    NotYours,
    /// `write_handoff`: the record changed since it was read (or a
    /// booking reference is taken). Read again and retry.
    #[error("changed concurrently")]
    Conflict,
    #[error("the slot is full")]
    SlotFull,
    #[error("the slot is in the past, cancelled or unknown")]
    SlotUnavailable,
    /// `cancel_slot` while a booking for it is in force.
    #[error("the slot has bookings in force")]
    SlotBooked,
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store has as much work outstanding as it takes (Redis's
    /// admission gate): refused before anything was sent, so nothing
    /// changed. Try again after `retry_after_ms`.
    #[error("store busy")]
    Busy { retry_after_ms: u64 },
}

pub type StoreResult<T> = Result<T, StoreError>;

tokio::task_local! {
    static BACKGROUND: ();
}

/// Run `f` as the node's own background work (matching, grace periods,
/// queue updates): a store with admission control lets its commands past
/// the gate, never refusing them as [`StoreError::Busy`]. They are few (each
/// loop runs one step at a time), and in an overload they are what keeps
/// visitors being matched while new sends are refused.
pub fn background<F: std::future::Future>(f: F) -> impl std::future::Future<Output = F::Output> {
    BACKGROUND.scope((), f)
}

/// Is the running task inside [`background`]?
pub(crate) fn in_background() -> bool {
    BACKGROUND.try_with(|_| ()).is_ok()
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap liveness check for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;

    /// How durable an acknowledged write is, for the start-up log and
    /// `/readyz`.
    async fn persistence(&self) -> StoreResult<Persistence>;

    // ---- accounts and sessions
    /// Refused with `UsernameTaken` if the username exists.
    async fn create_account(&self, account: Account) -> StoreResult<()>;
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;
    async fn account_by_username(&self, username: &str) -> StoreResult<Option<Account>>;
    async fn accounts(&self) -> StoreResult<Vec<Account>>;
    async fn put_session(&self, token: TokenHash, session: SessionRecord) -> StoreResult<()>;
    async fn session(&self, token: &TokenHash) -> StoreResult<Option<SessionRecord>>;
    async fn delete_session(&self, token: &TokenHash) -> StoreResult<()>;

    // ---- conversations and the queue
    /// Create a queued conversation, atomically refused with `QueueFull` if
    /// `max_queue` visitors are already waiting. A `first_message` becomes
    /// message 1 from the visitor. In the same step: `risk`,
    /// `risk_reasons` and `priority = risk.priority()` are set (so the
    /// conversation enters the queue at its place), and when `alert` is
    /// given an alert with that id, the level and all the reasons is stored.
    async fn create_conversation(
        &self,
        new: NewConversation,
        max_queue: u32,
    ) -> StoreResult<ConversationRecord>;
    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<ConversationRecord>>;
    /// Everyone waiting, in queue order.
    async fn queue(&self) -> StoreResult<Vec<ConversationRecord>>;
    /// The first `n` waiting, in queue order (matching needs no more than
    /// there are free places). Backends that can read a prefix cheaply
    /// override this.
    async fn queue_head(&self, n: usize) -> StoreResult<Vec<ConversationRecord>> {
        let mut q = self.queue().await?;
        q.truncate(n);
        Ok(q)
    }

    /// Atomically: the conversation is still queued and the counsellor has a
    /// free place; then it becomes theirs. Otherwise `Transition(NotQueued)`
    /// / `CapacityReached` and nothing changes.
    async fn assign(
        &self,
        conversation: ConversationId,
        counsellor: AccountId,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord>;
    /// End a queued or active conversation (freeing the counsellor's place).
    /// A queued conversation ended by its visitor counts in
    /// `Stats::left_queue` (same step).
    /// A `closing` sets `outcome` and `assessment` in the same step.
    async fn end(
        &self,
        conversation: ConversationId,
        by: EndedBy,
        closing: Option<Closing>,
        now_ms: u64,
    ) -> StoreResult<Ended>;
    /// Record the outcome (and assessment) of an ended conversation this
    /// counsellor had.
    async fn set_outcome(
        &self,
        conversation: ConversationId,
        counsellor: AccountId,
        closing: Closing,
    ) -> StoreResult<ConversationRecord>;
    /// Append to the log. Refused on an ended conversation, and as
    /// `NotYours` when `require_counsellor` does not hold. Idempotent per
    /// (sender party, author account, client id): a resend answers
    /// `Duplicate` with the first sequence number, even after the end.
    /// A new message also sets `last_visitor_msg_ms` or
    /// `last_counsellor_msg_ms`; a visitor's clears `silent_since_ms`.
    /// A new message is also published (`Event::Message`), in the same
    /// step where the backend allows (on Redis, one script does both: one
    /// round trip per message); a duplicate is not. The event may reach
    /// the hub before this call returns.
    async fn append(&self, conversation: ConversationId, msg: NewMessage) -> StoreResult<Appended>;
    /// Messages with `seq > after`, in order, at most `limit`.
    async fn messages_after(
        &self,
        conversation: ConversationId,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<Arc<StoredMessage>>>;
    /// Raise `party`'s acknowledged sequence to `seq` (clamped to the last
    /// sequence; never lowered). Returns the new value.
    async fn ack(&self, conversation: ConversationId, party: Party, seq: u64) -> StoreResult<u64>;
    async fn add_note(&self, conversation: ConversationId, note: Note) -> StoreResult<()>;
    async fn notes(&self, conversation: ConversationId) -> StoreResult<Vec<Note>>;
    /// A visitor socket opened (+1) or closed (-1). Returns the record after.
    async fn visitor_connections(
        &self,
        conversation: ConversationId,
        delta: i32,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord>;

    /// Every queued and active conversation (any order).
    async fn live_conversations(&self) -> StoreResult<Vec<ConversationRecord>>;

    // ---- safety and supervision
    /// Change a conversation's risk level, in one atomic step:
    /// - the conversation exists (`NotFound`) and has not ended
    ///   (`Transition(AlreadyEnded)`);
    /// - `Triage`: only while queued (otherwise nothing changes and `Ok`
    ///   returns with `alert: None`); the hits whose rule id is not yet in
    ///   `risk_reasons` are appended; the level becomes the highest of the
    ///   current level and those hits (never lower); if at least one reason
    ///   was appended, an alert with the given id is stored (level after the
    ///   step, the appended reasons);
    /// - `Staff`: queued or active; the level is set as given (up or down)
    ///   and a reason `Staff{by}` appended; an alert is stored if the level
    ///   rose;
    /// - `priority` becomes `risk.priority()`, and a queued conversation
    ///   whose priority changed moves to its new place in the queue (its
    ///   arrival time and requeued flag are kept).
    async fn set_risk(
        &self,
        conversation: ConversationId,
        change: RiskChange,
        now_ms: u64,
    ) -> StoreResult<RiskUpdate>;
    /// Alerts, oldest first; with `open_only`, those not yet acknowledged.
    async fn alerts(&self, open_only: bool) -> StoreResult<Vec<Alert>>;
    /// Acknowledge an alert (`NotFound` if unknown). Acknowledging an
    /// acknowledged alert changes nothing and returns it (the first
    /// acknowledgement is kept).
    async fn ack_alert(&self, id: AlertId, by: AccountId, now_ms: u64) -> StoreResult<Alert>;
    /// Hand an active conversation from `from` to `to`, in one atomic step:
    /// it is active with `from` (else `NotYours`, `Transition(NotActive)`
    /// when queued, `Transition(AlreadyEnded)`); `to` has a counsellor
    /// record (else `NotAvailable`), takes chats if `require_available`
    /// (status available and connected, else `NotAvailable`), and has a free
    /// place (`active < capacity`, else `CapacityReached`). Then the state
    /// becomes `Active{to}`, `counsellor = to`, `from` loses a place and the
    /// conversation from its held list, `to` gains both (and
    /// `last_assigned_ms = now`), `transfers += 1`, any supervision by `to`
    /// is dropped, and `note` (if any) is added to the notes. `to == from`
    /// changes nothing and returns the record.
    async fn reassign(
        &self,
        conversation: ConversationId,
        from: AccountId,
        to: AccountId,
        require_available: bool,
        note: Option<Note>,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord>;
    /// Hand an active conversation back to the queue, in one atomic step:
    /// active with `from` (errors as `reassign`); then `Queued` with
    /// `requeued = true` (the front of the queue), `counsellor` and
    /// `assigned_at_ms` cleared, `from` loses the place and the conversation
    /// from its held list, `transfers += 1`, and `note` is added.
    async fn requeue(
        &self,
        conversation: ConversationId,
        from: AccountId,
        note: Option<Note>,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord>;
    /// Set (`Some`) or clear (`None`) a supervisor's mode on a conversation,
    /// atomically: the conversation exists and has not ended (clearing is
    /// allowed on any); `Join` needs it active (`Transition(NotActive)`)
    /// and not with this supervisor as counsellor (`NotYours`). Returns
    /// the record and the previous mode.
    async fn supervise(
        &self,
        conversation: ConversationId,
        supervisor: AccountId,
        mode: Option<SupervisionMode>,
    ) -> StoreResult<(ConversationRecord, Option<SupervisionMode>)>;
    /// Queued and active conversations this supervisor observes or joined.
    async fn supervised_by(
        &self,
        supervisor: AccountId,
    ) -> StoreResult<Vec<(ConversationRecord, SupervisionMode)>>;
    /// Mark active conversations whose visitor has not written for
    /// `silence_ms` since the counsellor's last message, atomically per
    /// conversation: only those not yet marked for this silence; each gets
    /// `silent_since_ms = last_counsellor_msg_ms` and `went_silent` rises by
    /// one. A visitor message (`append`) clears the mark. Returns those
    /// marked now.
    async fn mark_silent(
        &self,
        now_ms: u64,
        silence_ms: u64,
    ) -> StoreResult<Vec<ConversationRecord>>;
    async fn stats(&self) -> StoreResult<Stats>;

    // ---- handoff: slots, consent, bookings, audit
    //
    // Durability: slots, handoff records (with the consent records in
    // them), bookings and the audit log are on disk before `Ok` on the
    // embedded store; on Redis as durable as the server's AOF allows
    // (`WAITAOF` where the server has it; see docs/REDIS.md).

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
    /// The audit log, newest first, at most `limit` entries.
    async fn audit_log(&self, limit: usize) -> StoreResult<Vec<AuditEntry>>;

    // ---- the LINE channel
    //
    // A LINE conversation's link to its user, and the delivery state of
    // the counsellor messages sent to them. Everything here belongs to the
    // conversation: erasing or expiring the conversation erases it too.

    /// Store a new LINE conversation's link, and index the conversation as
    /// the user's current one (replacing an earlier conversation's entry).
    async fn line_open(&self, link: LineLink) -> StoreResult<()>;
    async fn line_link(&self, conversation: ConversationId) -> StoreResult<Option<LineLink>>;
    /// The user's current conversation (the last opened, until forgotten).
    async fn line_conversation_of(&self, user_id: &str) -> StoreResult<Option<ConversationId>>;
    /// Drop the LINE user id from the link, and the user's index entry if
    /// it still names this conversation. Nothing can be sent afterwards.
    async fn line_forget_user(&self, conversation: ConversationId) -> StoreResult<()>;
    /// Atomically take or renew the right to send this conversation's
    /// messages to LINE for `ttl_ms`: granted when nobody holds it, it
    /// expired, or `holder` holds it. With several nodes, only the holder
    /// sends, so messages leave in order and once.
    async fn line_lease(
        &self,
        conversation: ConversationId,
        holder: &str,
        now_ms: u64,
        ttl_ms: u64,
    ) -> StoreResult<bool>;
    /// Record (or overwrite) the delivery state of one message.
    async fn line_delivered(
        &self,
        conversation: ConversationId,
        delivery: LineDelivery,
    ) -> StoreResult<()>;
    /// Every recorded delivery, by sequence number.
    async fn line_deliveries(&self, conversation: ConversationId)
        -> StoreResult<Vec<LineDelivery>>;

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

    // ---- counsellors
    /// A counsellor socket opened (+1) or closed (-1); creates the record
    /// (away, `default_capacity`) on first sight.
    async fn counsellor_connections(
        &self,
        counsellor: AccountId,
        delta: i32,
        default_capacity: u32,
        now_ms: u64,
    ) -> StoreResult<CounsellorRecord>;
    async fn set_status(
        &self,
        counsellor: AccountId,
        status: Availability,
    ) -> StoreResult<CounsellorRecord>;
    async fn set_capacity(
        &self,
        counsellor: AccountId,
        capacity: u32,
    ) -> StoreResult<CounsellorRecord>;
    async fn counsellors(&self) -> StoreResult<Vec<CounsellorRecord>>;
    /// One counsellor's record (`None` before their first socket): one
    /// read, where `counsellors` reads every one of them.
    async fn counsellor(&self, id: AccountId) -> StoreResult<Option<CounsellorRecord>>;
    /// The counsellor's active conversations and the ended ones still
    /// waiting for an outcome.
    async fn conversations_of(&self, counsellor: AccountId)
        -> StoreResult<Vec<ConversationRecord>>;

    // ---- time-based rules
    /// Apply the grace periods at `now_ms`: queued visitors away longer than
    /// `visitor_grace_ms` are ended; conversations of counsellors away
    /// longer than `counsellor_grace_ms` go back to the front of the queue.
    /// Each visitor ended here counts in `Stats::left_queue`.
    async fn sweep(
        &self,
        now_ms: u64,
        visitor_grace_ms: u64,
        counsellor_grace_ms: u64,
    ) -> StoreResult<Vec<Swept>>;

    // ---- retention (promise 7)
    /// Apply the retention periods at `now_ms`. Each conversation is one
    /// atomic step: an ended conversation whose end is at least
    /// `conversation_ms` ago loses its record, log, de-duplication map and
    /// notes, and in the same step its [`ConversationFacts`] (with its
    /// handoff's progress) are added to [`Store::facts`], so the report
    /// survives and nothing is counted twice (a conversation is counted
    /// from its record while it has one, from its facts after). Its
    /// handoff record, if any, stays (the consented summary, never the
    /// transcript) until [`handoff_expiry`], or goes in the same step if
    /// that has passed. Then handoff records past their expiry are
    /// removed, and slots that started at least `booking_ms` ago are
    /// removed with all their bookings (each slot one step). A purged
    /// conversation's LINE link, deliveries, lease and user index entry
    /// and its handoff link go in its step. Queued and active
    /// conversations are never touched. Returns what went.
    async fn purge(&self, now_ms: u64, retention: &Retention) -> StoreResult<Purged>;
    /// "Erase my chat": end the conversation if it is live (ended by the
    /// visitor, as [`Store::end`], freeing the counsellor's place), then,
    /// in one atomic step, delete its log, its first message and its
    /// de-duplication map and its handoff link, delete its notes unless
    /// `keep_notes`, and set `erased_at_ms`. The record (with no text) stays until the purge,
    /// so the visitor's resume is told it was erased and the report still
    /// counts it. On a backend where ending and erasing are two steps, a
    /// crash between leaves it ended, and erasing again completes it.
    /// Erasing an erased conversation changes nothing and returns it.
    /// `NotFound` if unknown.
    async fn erase(
        &self,
        conversation: ConversationId,
        keep_notes: bool,
        now_ms: u64,
    ) -> StoreResult<Ended>;
    /// The facts of every purged conversation, in the order purged.
    async fn facts(&self) -> StoreResult<Vec<ConversationFacts>>;
    /// What the report counts: the facts of every purged conversation and
    /// those derived from every record still stored (any state, erased
    /// ones too), each conversation exactly once, as of one moment (a
    /// purge running alongside neither doubles nor drops one).
    async fn report_facts(&self) -> StoreResult<Vec<ConversationFacts>>;

    // ---- lifecycle
    /// Clean shutdown: finish writes in flight and release the backend.
    /// Nothing acknowledged waits for this (it is stored already); a crash
    /// that skips it loses nothing that was confirmed.
    async fn close(&self) -> StoreResult<()> {
        Ok(())
    }

    // ---- notifications
    async fn publish(&self, event: Event) -> StoreResult<()>;
    /// One receiver per node (the hub). A lagging receiver gets
    /// `RecvError::Lagged` and must resynchronise from the store.
    fn subscribe(&self) -> broadcast::Receiver<Event>;
}
