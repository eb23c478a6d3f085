//! Letters (issue 22): written while the centre is closed (or its queue
//! full), answered from the letters queue during opening hours.

use super::*;

/// Letters are conversations (`ConversationRecord::letter`) that never
/// enter the live queue: created ended, with the letter as message 1; the
/// answer is message 2, from the counsellor who wrote it. So a letter has
/// what every conversation has: sequence numbers, delivery (a LINE
/// letter's answer is pushed like any counsellor message), erase, the
/// purge, the report's facts, its place in a case.
///
/// Each method is one atomic step. Durability: a letter and its answer
/// are records the product confirms, journaled (embedded) and written by
/// one script (Redis), like a conversation's creation and its messages.
#[async_trait]
pub trait LetterStore: Send + Sync {
    /// Store a letter: `new` (its `first_message` is the letter, required)
    /// as an ended conversation with `letter` set, ended (for the purge)
    /// now, message 1 from the visitor; `new.alert` stored in the same
    /// step. `LettersFull` when `max_waiting` letters already wait for
    /// their answer (nothing written).
    async fn write_letter(
        &self,
        new: NewConversation,
        max_waiting: u32,
    ) -> StoreResult<ConversationRecord>;

    /// Every letter waiting for its answer (not answered, not erased), in
    /// any order (`core::letters::sort` gives the queue's).
    async fn waiting_letters(&self) -> StoreResult<Vec<ConversationRecord>>;

    /// Letters answered at or after `since_ms` (any order): the LINE
    /// sender's catch-up pushes an answer whose event was lost.
    async fn letters_answered_since(&self, since_ms: u64) -> StoreResult<Vec<ConversationRecord>>;

    /// Answer a waiting letter: in one step, `answer` (from the
    /// counsellor, `require_counsellor` ignored) becomes the next message,
    /// the letter's `counsellor` its author, `assigned_at_ms` and
    /// `ended_at_ms` now (the retention runs from the answer, so the
    /// writer has the whole period to read it). The record after and the
    /// message; an answer with a client id this counsellor already used on
    /// it is `Appended::Duplicate` (nothing changes). `NotFound` if there
    /// is no such letter; `Conflict` if it was answered (by anyone else)
    /// or erased.
    async fn answer_letter(
        &self,
        letter: ConversationId,
        answer: NewMessage,
    ) -> StoreResult<(ConversationRecord, Appended)>;
}
