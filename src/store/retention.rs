//! Retention (promise 7): what ended long enough ago is purged, a
//! visitor's chat is erased on request, and the report's facts outlive
//! both.

use super::*;

/// Retention: purge, erase and the facts the report counts.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Apply the retention periods at `now_ms`. Each conversation is one
    /// atomic step: an ended conversation whose end is at least
    /// `conversation_ms` ago (and, if its case's keep-longer consent is in
    /// force, whose case's last contact is at least the consent's
    /// `keep_days` ago: `core::case_retention::purge_at`) loses its record, log, de-duplication map and
    /// notes, and in the same step its [`ConversationFacts`] (with its
    /// handoff's progress) are added to [`Store::facts`](RetentionStore::facts), so the report
    /// survives and nothing is counted twice (a conversation is counted
    /// from its record while it has one, from its facts after). Its
    /// handoff record, if any, stays (the consented summary, never the
    /// transcript) until [`handoff_expiry`], or goes in the same step if
    /// that has passed. Then handoff records past their expiry are
    /// removed, and slots that started at least `booking_ms` ago are
    /// removed with all their bookings (each slot one step). A purged
    /// conversation's LINE link, deliveries, lease and user index entry
    /// and its handoff link go in its step, and so does its place in its
    /// case: the case loses it (and any of its conversations no longer
    /// stored), and a case left with none is removed with its code's and
    /// conversations' indexes, so its code leads nowhere. Queued and active
    /// conversations are never touched. Returns what went.
    async fn purge(&self, now_ms: u64, retention: &Retention) -> StoreResult<Purged>;
    /// "Erase my chat": end the conversation if it is live (ended by the
    /// visitor, as [`Store::end`](ConversationStore::end), freeing the counsellor's place), then,
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
}
