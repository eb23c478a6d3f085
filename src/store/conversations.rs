//! A conversation's life: created in the queue, assigned, ended with its
//! outcome; the visitor's presence and the grace periods that end or
//! requeue a conversation when someone stays away.

use super::*;

/// Conversation records, the queue and the conversation's state changes.
/// What is written in one is [`MessageStore`]; the counsellor's side is
/// [`CounsellorStore`]; risk, supervision and transfers are
/// [`SupervisionStore`].
#[async_trait]
pub trait ConversationStore: Send + Sync {
    // ---- conversations and the queue
    /// Create a queued conversation, atomically refused with `QueueFull` if
    /// `max_queue` visitors are already waiting. A `first_message` becomes
    /// message 1 from the visitor. In the same step: `risk`,
    /// `risk_reasons` and `priority = risk.priority()` are set (so the
    /// conversation enters the queue at its place), and when `alert` is
    /// given an alert with that id, the level and all the reasons is stored.
    ///
    /// With a `start_key`: if a conversation waiting for its first
    /// counsellor has the same key hash ([`ConversationRecord::started_with`]),
    /// that one is returned and nothing is created or changed (its id then
    /// differs from `new.id`). Checked in the same atomic step, so two
    /// `start`s with one key never make two conversations.
    async fn create_conversation(
        &self,
        new: NewConversation,
        max_queue: u32,
    ) -> StoreResult<ConversationRecord>;
    /// The conversation waiting for its first counsellor that was started
    /// with this key hash, if any (a read; `create_conversation` decides).
    async fn started_with(&self, key: &TokenHash) -> StoreResult<Option<ConversationRecord>>;
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
    /// A visitor socket opened (+1) or closed (-1). Returns the record after.
    async fn visitor_connections(
        &self,
        conversation: ConversationId,
        delta: i32,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord>;
    /// The visitor used the quick exit: set `left_quickly_at_ms` (a later
    /// quick exit moves it). Nothing else changes: the conversation is not
    /// ended and stays where it is (queue place, counsellor); the visitor's
    /// socket closing makes them offline, and the grace periods apply as
    /// to any visitor who went away. `NotFound`, or `AlreadyEnded` for an
    /// ended conversation (nothing changes).
    async fn leave_quickly(
        &self,
        conversation: ConversationId,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord>;
    /// Every queued and active conversation (any order).
    async fn live_conversations(&self) -> StoreResult<Vec<ConversationRecord>>;

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

    // ---- counts
    async fn stats(&self) -> StoreResult<Stats>;

    /// Every active conversation of `counsellor` back to the front of the
    /// queue, as `sweep` does at the end of the counsellor grace period
    /// but whatever their presence (their account was deactivated or its
    /// role changed). Each conversation is one atomic step; ended ones
    /// waiting for an outcome stay with them. Returns those requeued.
    async fn requeue_held(&self, counsellor: AccountId, now_ms: u64) -> StoreResult<Vec<Swept>>;
}
