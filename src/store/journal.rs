//! The seam between the in-memory state machine and a durable backend.
//!
//! [`MemoryStore`](super::memory::MemoryStore) owns every rule. A durable
//! backend plugs in a [`Journal`]: each mutating method, still holding the
//! state lock, hands the journal the rows it changed ([`Change`]s), releases
//! the lock, and answers `Ok` only when the journal says they are committed.
//! Submitting under the lock makes the journal's order the order in which
//! the changes happened, so the disk is always a prefix of the history in
//! memory. On start the backend reads everything back as a [`Snapshot`].
//!
//! This module never does I/O itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::*;
use crate::model::*;

/// One row written (or deleted) by a mutation: the new value of the row,
/// not the operation, so replay order within a batch never matters beyond
/// "later wins".
// A conversation record is the large variant; changes live for one commit
// in a short Vec, so boxing it would only add an allocation per change.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Change {
    Account(Account),
    Session {
        token: TokenHash,
        session: SessionRecord,
    },
    SessionDeleted(TokenHash),
    /// The conversation's persisted fields. Presence (`visitor_connections`,
    /// `visitor_offline_since_ms`) and `last_seq` (the log's length) are not
    /// persisted: they are rebuilt on start.
    Conversation(ConversationRecord),
    /// How far one side of a conversation has acknowledged: the one
    /// column an `ack` changes, so the commonest write of a chat neither
    /// copies nor re-encodes the whole record (docs/BENCHMARKS.md).
    Acked {
        conversation: ConversationId,
        party: Party,
        seq: u64,
    },
    Message {
        conversation: ConversationId,
        message: Arc<StoredMessage>,
    },
    Note {
        conversation: ConversationId,
        note: Note,
    },
    /// Status, capacity and last assignment. `active` is derived from the
    /// conversations and `connections` is presence: neither is persisted.
    Counsellor(CounsellorRecord),
    /// A risk alert, new or acknowledged.
    Alert(Alert),
    /// The queue counters (left the queue, went silent).
    Stats(Stats),
    /// A slot, new or cancelled (`booked` is derived from the bookings).
    Slot(Slot),
    /// A conversation's handoff record, with its consent records.
    Handoff(HandoffRecord),
    /// A booking, new, cancelled or marked attended.
    Booking(Booking),
    /// One line of the audit log (append only).
    Audit(AuditEntry),
    /// Audit entries written before `before_ms` deleted (retention).
    AuditPurged {
        before_ms: u64,
    },
    /// A supervisor's whisper (append only; deleted with its conversation
    /// by `ConversationDeleted` and `Erased`).
    Whisper(Whisper),
    /// A purged conversation's anonymous facts (append only).
    Facts(ConversationFacts),
    /// A conversation purged: its row, messages and notes deleted.
    ConversationDeleted(ConversationId),
    /// A conversation erased by its visitor: its messages deleted (and its
    /// notes, when `notes`); the record row is written by a
    /// `Conversation` change in the same commit.
    Erased {
        conversation: ConversationId,
        notes: bool,
    },
    /// A handoff record (with its consent records) deleted.
    HandoffDeleted(ConversationId),
    /// A slot deleted with all its bookings.
    SlotDeleted(SlotId),
    /// A LINE conversation's link, new or with its user forgotten.
    LineLink(LineLink),
    LineDelivery {
        conversation: ConversationId,
        delivery: LineDelivery,
    },
    /// A conversation's handoff link, new (replacing the earlier one) or
    /// confirmed sent. Deleted with the conversation (`ConversationDeleted`,
    /// `Erased`).
    HandoffLink(HandoffLink),
    /// An account's second factor, set up, enrolled or used (issue 21).
    SecondFactor(SecondFactor),
    /// An account's second factor forgotten (an admin's reset).
    SecondFactorDeleted(AccountId),
    /// A canned reply, new or edited.
    CannedReply(CannedReply),
    /// A canned reply deleted.
    CannedReplyDeleted(crate::core::ids::CannedReplyId),
    /// A partner service, new or edited (issue 23).
    Partner(Partner),
    /// A partner service deleted.
    PartnerDeleted(crate::core::ids::PartnerId),
    /// An empty-floor episode, new, cleared or acknowledged.
    FloorAlert(FloorAlert),
    /// A webhook delivery, new or after a claim or a failed attempt.
    FloorWebhook(FloorWebhook),
    /// A webhook delivery accepted by the receiver or given up.
    FloorWebhookDeleted(uuid::Uuid),
    /// An anonymous case, new or changed (issue 22).
    Case(CaseRecord),
    /// An anonymous case forgotten (its conversations are erased apart).
    CaseDeleted(CaseId),
}

impl Change {
    /// Does this change delete a person's words or details (a cancelled
    /// booking's record is written without its name and contact)? The durable
    /// backend then folds its log into the database and truncates it before
    /// confirming, so the deleted bytes are in neither file afterwards.
    pub fn deletes_personal_data(&self) -> bool {
        matches!(
            self,
            Change::ConversationDeleted(_)
                | Change::Erased { .. }
                | Change::HandoffDeleted(_)
                | Change::SlotDeleted(_)
        ) || matches!(self, Change::Booking(b) if b.personal_deleted())
    }
}

/// Resolves when the changes are committed (or the journal failed).
pub type Commit = Pin<Box<dyn Future<Output = StoreResult<()>> + Send>>;

pub trait Journal: Send + Sync + 'static {
    /// Queue `changes` behind everything submitted before. Called with the
    /// store's lock held: must not block. An empty list is a barrier: it
    /// resolves once everything submitted before it is committed.
    fn submit(&self, changes: Vec<Change>) -> Commit;
    /// False once a commit has failed. The memory then holds changes the
    /// disk does not, so the store refuses everything until restarted
    /// (fail-stop: the restart reloads the consistent state on disk).
    fn healthy(&self) -> bool;
    /// Commit what is queued, then stop; later submissions fail.
    fn close(&self) -> Commit;
    /// What makes the commits durable, for the start-up log and `/readyz`.
    fn describe(&self) -> std::collections::BTreeMap<String, String>;
}

/// Everything a durable backend read back at start.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub accounts: Vec<Account>,
    pub sessions: Vec<(TokenHash, SessionRecord)>,
    pub conversations: Vec<SavedConversation>,
    pub counsellors: Vec<CounsellorRecord>,
    /// Oldest first.
    pub alerts: Vec<Alert>,
    pub stats: Stats,
    pub slots: Vec<Slot>,
    pub handoffs: Vec<HandoffRecord>,
    pub bookings: Vec<Booking>,
    /// Oldest first.
    pub audit: Vec<AuditEntry>,
    /// Oldest first.
    pub whispers: Vec<Whisper>,
    /// In the order purged.
    pub facts: Vec<ConversationFacts>,
    pub line_links: Vec<LineLink>,
    pub line_deliveries: Vec<(ConversationId, LineDelivery)>,
    pub handoff_links: Vec<HandoffLink>,
    pub second_factors: Vec<SecondFactor>,
    pub canned_replies: Vec<CannedReply>,
    pub partners: Vec<Partner>,
    /// Oldest first.
    pub floor_alerts: Vec<FloorAlert>,
    pub floor_webhooks: Vec<FloorWebhook>,
    pub cases: Vec<CaseRecord>,
}

#[derive(Debug)]
pub struct SavedConversation {
    /// `last_seq`, presence and acks beyond the log are fixed up on restore.
    pub record: ConversationRecord,
    /// In sequence order.
    pub messages: Vec<StoredMessage>,
    /// In the order written.
    pub notes: Vec<Note>,
}
