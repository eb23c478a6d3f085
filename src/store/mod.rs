//! The store: one contract, split by aggregate, every backend behind it.
//!
//! The contract is [`Store`]: one trait per aggregate, each in its own
//! file here, and each backend implements it in a file of the same name
//! (`memory/<file>`, `redis/<file>`, its Lua scripts in
//! `scripts/<file stem>/`). It is what the Redis backend (and the durable
//! embedded backend) must honour, checked by one conformance suite run
//! against each, split the same way (`tests/api/store_conformance/`). The
//! rules written on the methods are part of the contract:
//!
//! - **Atomicity.** Each method is one atomic step. `assign`, `end`,
//!   `sweep`, `append`, `create_conversation`, `set_risk`, `reassign`,
//!   `requeue`, `supervise`, `ack_alert`, `mark_silent`, `cancel_slot`,
//!   `write_handoff`, `raise_floor`, `clear_floor`, `ack_floor` and
//!   `claim_floor_webhook` check their
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
//! Where things are (a method goes where a developer adding a feature
//! would look for it: with the records it is about, even when its step
//! also touches others, as `erase` ends a conversation):
//!
//! | trait | file | what |
//! |---|---|---|
//! | [`NodeStore`] | `node.rs` | the node's own needs: `ping`, `persistence`, `close`, `publish` / `subscribe` |
//! | [`AccountStore`] | `accounts.rs` | staff accounts and login sessions |
//! | [`ConversationStore`] | `conversations.rs` | a conversation's record and life: created in the queue, `assign`, `end`, `set_outcome`, the visitor's presence, the grace periods (`sweep`), `stats` |
//! | [`MessageStore`] | `messages.rs` | what is written: `append`, `messages_after`, `ack`, notes |
//! | [`CounsellorStore`] | `counsellors.rs` | counsellor records: presence, status, capacity, the conversations they hold |
//! | [`SupervisionStore`] | `supervision.rs` | safety and supervision: risk and alerts, `supervise`, `reassign`, `requeue`, `mark_silent` |
//! | [`HandoffStore`] | `handoffs.rs` | the handoff: slots, handoff records, bookings, the audit log, one-time handoff links |
//! | [`GuardStore`] | `guards.rs` | guard counters shared by every node: wrong booking PINs |
//! | [`LineStore`] | `line.rs` | the LINE channel: links, deliveries, the sender's lease |
//! | [`RetentionStore`] | `retention.rs` | `purge`, `erase`, the report's facts |
//! | [`WayBackStore`] | `way_back.rs` | way-back codes: set one, redeem it for a new resume token |
//! | [`SecondFactorStore`] | `second_factors.rs` | staff accounts' second factors (TOTP): set up, confirm, use a step once, use a recovery code once, reset |
//! | [`CannedReplyStore`] | `canned.rs` | the library of canned replies: list, create (bounded), update, delete |
//! | [`FloorStore`] | `floor.rs` | the empty-floor alert: its episodes (one uncleared at a time), acknowledgements, the webhook outbox and its claims |
//! | [`CaseStore`] | `cases.rs` | anonymous cases (issue 22): take a return code, find a case by code or conversation, join a returning visitor's conversation |
//! | [`PartnerStore`] | `partners.rs` | the directory of partner services (issue 23): list, create (bounded), update, delete |
//! | [`LetterStore`] | `letters.rs` | letters (issue 22): write one (an ended conversation outside the queue), the waiting letters, answer one |
//! | [`HearingStore`] | `hearing.rs` | hearing sheets (issue 23): save a conversation's sheet (in its record) |
//! | [`RelayStore`] | `relays.rs` | relay sheets (issue 23): a conversation's relays, compare-and-set; find a conversation by a relay link |
//!
//! [`Store`] is all of them (implemented for every type that implements
//! each), so `Arc<dyn Store>` reaches every method; called on a concrete
//! backend (`MemoryStore`, `RedisStore`) a method needs its aggregate's
//! trait in scope.
//!
//! Why `async_trait` and `Arc<dyn Store>`: `async fn` in a trait is not
//! object-safe, and a generic `Service<S: Store>` would spread a type
//! parameter through every handler. One boxed future per store call costs
//! far less than the call itself (see `docs/ARCHITECTURE.md`).

mod accounts;
mod canned;
mod cases;
mod conversations;
mod counsellors;
pub mod embedded;
mod floor;
mod guards;
mod handoffs;
mod hearing;
pub mod journal;
mod letters;
mod line;
pub mod memory;
mod messages;
mod node;
mod partners;
pub mod redis;
mod relays;
mod retention;
mod second_factors;
mod supervision;
mod way_back;

pub use accounts::AccountStore;
pub use canned::{sort_canned, CannedReplyStore};
pub use cases::CaseStore;
pub use conversations::ConversationStore;
pub use counsellors::CounsellorStore;
pub use floor::FloorStore;
pub use guards::GuardStore;
pub use handoffs::HandoffStore;
pub use hearing::HearingStore;
pub use letters::LetterStore;
pub use line::LineStore;
pub use messages::{Acknowledged, MessageStore};
pub use node::{NodeStore, Persistence, Replication};
pub use partners::{sort_partners, PartnerStore};
pub use relays::{RelayStore, RELAY_LINK_KEPT_MS};
pub use retention::RetentionStore;
pub use second_factors::SecondFactorStore;
pub use supervision::{
    access_duration, accesses_closed_by_end, supervision_audit, SupervisionStore,
};
pub use way_back::WayBackStore;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::core::conversation::{ConversationState, EndedBy, Outcome, TransitionError};
use crate::core::floor::FloorCleared;
use crate::core::handoff::{
    AuditAction, AuditEntry, AuditFilter, Booking, BookingRef, HandoffLink, HandoffRecord, Slot,
    SlotId,
};
use crate::core::ids::{AccountId, AlertId, CaseId, ClientMsgId, ConversationId, Party};
use crate::core::relay::{Relay, RelayLink};
use crate::core::stats::{Assessment, ConversationFacts};
use crate::core::triage::RiskLevel;
use crate::model::*;

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
    /// `create_canned_reply` when the library holds its maximum.
    #[error("the library of canned replies is full")]
    LibraryFull,
    /// `write_letter` when its maximum of letters already wait.
    #[error("the letters queue is full")]
    LettersFull,
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

/// The whole store: every aggregate's trait (see the module doc). It has
/// no methods of its own and is implemented for every type that
/// implements all of them; the server holds it as `Arc<dyn Store>`.
pub trait Store:
    NodeStore
    + AccountStore
    + ConversationStore
    + MessageStore
    + CounsellorStore
    + SupervisionStore
    + HandoffStore
    + GuardStore
    + LineStore
    + RetentionStore
    + WayBackStore
    + SecondFactorStore
    + CannedReplyStore
    + FloorStore
    + CaseStore
    + LetterStore
    + PartnerStore
    + HearingStore
    + RelayStore
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: NodeStore
        + AccountStore
        + ConversationStore
        + MessageStore
        + CounsellorStore
        + SupervisionStore
        + HandoffStore
        + GuardStore
        + LineStore
        + RetentionStore
        + WayBackStore
        + SecondFactorStore
        + CannedReplyStore
        + FloorStore
        + CaseStore
        + LetterStore
        + PartnerStore
        + HearingStore
        + RelayStore
        + Send
        + Sync
        + 'static
{
}
