//! The store: one trait, every backend behind it.
//!
//! The trait is the contract the Redis backend (and the durable embedded
//! backend) must honour, checked by one conformance suite run against each
//! (`tests/api/store_conformance.rs`). The rules written on the methods are
//! part of the contract:
//!
//! - **Atomicity.** Each method is one atomic step. `assign`, `end`,
//!   `requeue` via `sweep`, `append` and `create_conversation` check their
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

pub mod memory;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::auth::Role;
use crate::core::conversation::{ConversationState, EndedBy, Outcome, TransitionError};
use crate::core::ids::{AccountId, ClientMsgId, ConversationId, Party};
use crate::core::prechat::PreChat;
use crate::core::queue::{Priority, QueueEntry};
use crate::protocol::Availability;

/// SHA-256 of a secret token (resume token, session token). Stores keep
/// only hashes, so a copy of the store cannot be used to take over a chat.
pub type TokenHash = [u8; 32];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// PHC string (argon2id).
    pub password_hash: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub account: AccountId,
    pub expires_at_ms: u64,
}

/// What `create_conversation` needs.
#[derive(Clone, Debug)]
pub struct NewConversation {
    pub id: ConversationId,
    pub token_hash: TokenHash,
    pub pre_chat: PreChat,
    pub priority: Priority,
    pub first_message: Option<String>,
    pub now_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationRecord {
    pub id: ConversationId,
    pub token_hash: TokenHash,
    pub state: ConversationState,
    pub pre_chat: PreChat,
    pub priority: Priority,
    /// Put back in the queue after its counsellor went away.
    pub requeued: bool,
    /// When it (first) joined the queue.
    pub queued_since_ms: u64,
    pub started_at_ms: u64,
    pub assigned_at_ms: Option<u64>,
    pub ended_at_ms: Option<u64>,
    pub ended_by: Option<EndedBy>,
    pub outcome: Option<Outcome>,
    /// The counsellor who has it, or had it when it ended (for the outcome
    /// after the visitor ended it). Cleared when it goes back to the queue.
    pub counsellor: Option<AccountId>,
    pub first_message: Option<String>,
    pub last_seq: u64,
    /// Highest sequence the visitor has acknowledged.
    pub visitor_acked: u64,
    /// Highest sequence the counsellor has acknowledged.
    pub counsellor_acked: u64,
    /// Live visitor sockets.
    pub visitor_connections: u32,
    pub visitor_offline_since_ms: Option<u64>,
}

impl ConversationRecord {
    pub fn queue_entry(&self) -> QueueEntry {
        QueueEntry {
            conversation: self.id,
            priority: self.priority,
            requeued: self.requeued,
            since_ms: self.queued_since_ms,
        }
    }

    /// Highest sequence acknowledged by `party`.
    pub fn acked_by(&self, party: Party) -> u64 {
        match party {
            Party::Visitor => self.visitor_acked,
            Party::Counsellor => self.counsellor_acked,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub seq: u64,
    pub from: Party,
    /// The counsellor's account and display name at the time of writing.
    pub author: Option<AccountId>,
    pub author_name: Option<String>,
    pub client_id: ClientMsgId,
    pub text: String,
    pub at_ms: u64,
}

#[derive(Clone, Debug)]
pub struct NewMessage {
    pub from: Party,
    pub author: Option<AccountId>,
    pub author_name: Option<String>,
    pub client_id: ClientMsgId,
    pub text: String,
    pub now_ms: u64,
    /// Refuse (`NotYours`) unless the conversation is active with this
    /// counsellor, checked in the same atomic step as the append: a
    /// counsellor whose conversation was just requeued cannot slip a
    /// message in.
    pub require_counsellor: Option<AccountId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Stored with a new sequence number.
    New(Arc<StoredMessage>),
    /// The same sender already sent this client id: nothing stored, here is
    /// the sequence number it got the first time.
    Duplicate(u64),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub author: AccountId,
    pub text: String,
    pub at_ms: u64,
}

/// A counsellor's presence and load, shared by every node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounsellorRecord {
    pub id: AccountId,
    pub status: Availability,
    pub capacity: u32,
    /// Conversations assigned and still active. Maintained by `assign`,
    /// `end` and `sweep`, never set directly.
    pub active: u32,
    /// Live sockets.
    pub connections: u32,
    pub offline_since_ms: Option<u64>,
    pub last_assigned_ms: Option<u64>,
}

impl CounsellorRecord {
    pub fn takes_chats(&self) -> bool {
        self.status == Availability::Available && self.connections > 0
    }
}

/// What `sweep` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Swept {
    /// A queued visitor away past the grace period: ended by the system.
    Abandoned { conversation: ConversationId },
    /// A counsellor away past the grace period: their conversation went back
    /// to the front of the queue.
    Requeued {
        conversation: ConversationId,
        counsellor: AccountId,
    },
}

/// Result of `end`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    pub record: ConversationRecord,
    /// The state just before: tells whether a counsellor's place was freed.
    pub was: ConversationState,
}

/// Notifications between nodes (and within one). None of them is the only
/// copy of anything: each tells readers where to look.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Message {
        conversation: ConversationId,
        message: Arc<StoredMessage>,
    },
    Acked {
        conversation: ConversationId,
        by: Party,
        seq: u64,
    },
    Typing {
        conversation: ConversationId,
        from: Party,
        active: bool,
    },
    Assigned {
        conversation: ConversationId,
        counsellor: AccountId,
    },
    Ended {
        conversation: ConversationId,
        by: EndedBy,
        outcome: Option<Outcome>,
        counsellor: Option<AccountId>,
    },
    Requeued {
        conversation: ConversationId,
        counsellor: AccountId,
    },
    VisitorPresence {
        conversation: ConversationId,
        online: bool,
        counsellor: Option<AccountId>,
    },
    NoteSaved {
        conversation: ConversationId,
        counsellor: AccountId,
        note: Note,
    },
    /// Status, capacity or load of a counsellor changed.
    CounsellorChanged { counsellor: AccountId },
    /// Someone joined or left the queue.
    QueueChanged,
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
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("the conversation is not assigned to this counsellor")]
    NotYours,
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap liveness check for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;

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
    /// message 1 from the visitor.
    async fn create_conversation(
        &self,
        new: NewConversation,
        max_queue: u32,
    ) -> StoreResult<ConversationRecord>;
    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<ConversationRecord>>;
    /// Everyone waiting, in queue order.
    async fn queue(&self) -> StoreResult<Vec<ConversationRecord>>;
    /// Where one conversation stands: `(position, queue length)`, position
    /// 1 being next; `None` if it is not waiting. Asked on every `start` and
    /// `resume`, so a backend should answer without copying the queue (the
    /// default does copy it: correct, but O(queue) records per call).
    async fn queue_position(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Option<(u32, u32)>> {
        let queue = self.queue().await?;
        Ok(queue
            .iter()
            .position(|r| r.id == conversation)
            .map(|i| (i as u32 + 1, queue.len() as u32)))
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
    async fn end(
        &self,
        conversation: ConversationId,
        by: EndedBy,
        outcome: Option<Outcome>,
        now_ms: u64,
    ) -> StoreResult<Ended>;
    /// Record the outcome of an ended conversation this counsellor had.
    async fn set_outcome(
        &self,
        conversation: ConversationId,
        counsellor: AccountId,
        outcome: Outcome,
    ) -> StoreResult<ConversationRecord>;
    /// Append to the log. Refused on an ended conversation, and as
    /// `NotYours` when `require_counsellor` does not hold. Idempotent per
    /// (sender party, author account, client id): a resend answers
    /// `Duplicate` with the first sequence number, even after the end.
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
    /// The counsellor's active conversations and the ended ones still
    /// waiting for an outcome.
    async fn conversations_of(&self, counsellor: AccountId)
        -> StoreResult<Vec<ConversationRecord>>;

    // ---- time-based rules
    /// Apply the grace periods at `now_ms`: queued visitors away longer than
    /// `visitor_grace_ms` are ended; conversations of counsellors away
    /// longer than `counsellor_grace_ms` go back to the front of the queue.
    async fn sweep(
        &self,
        now_ms: u64,
        visitor_grace_ms: u64,
        counsellor_grace_ms: u64,
    ) -> StoreResult<Vec<Swept>>;

    // ---- notifications
    async fn publish(&self, event: Event) -> StoreResult<()>;
    /// One receiver per node (the hub). A lagging receiver gets
    /// `RecvError::Lagged` and must resynchronise from the store.
    fn subscribe(&self) -> broadcast::Receiver<Event>;
}
