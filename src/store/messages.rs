//! What is written in a conversation: the message log, how far each side
//! has acknowledged it, and the counsellors' notes.

use super::*;

/// A conversation's log (numbered by sequence, idempotent per client id),
/// acknowledgements and notes.
#[async_trait]
pub trait MessageStore: Send + Sync {
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
    /// sequence; never lowered). Says the value now and whether this call
    /// raised it, so the caller need not read the record first.
    async fn ack(
        &self,
        conversation: ConversationId,
        party: Party,
        seq: u64,
    ) -> StoreResult<Acknowledged>;
    async fn add_note(&self, conversation: ConversationId, note: Note) -> StoreResult<()>;
    async fn notes(&self, conversation: ConversationId) -> StoreResult<Vec<Note>>;
}

/// What an `ack` did: the acknowledged sequence now, and whether this
/// call raised it (only then do the other side's sockets hear `delivered`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acknowledged {
    pub seq: u64,
    pub raised: bool,
}
