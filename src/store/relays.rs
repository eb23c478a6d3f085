//! Relay sheets (issue 23): the consented passing-on of hearing-sheet
//! answers to partner services, kept in the conversation's record.

use super::*;

/// A conversation's relays are one value in its record
/// (`ConversationRecord::relays`), changed by compare-and-set: the service
/// reads the record, applies a step of `core::relay` and saves the result
/// only if nobody changed them meanwhile. So the visitor's consent, a
/// withdrawal, a new link and a partner's view never overwrite each other.
/// Erasing the conversation removes its relays; the purge takes them.
/// Durability: a consent's (promise 6): journaled and fsynced (embedded),
/// on disk and replicated before `Ok` (Redis's durable connection).
#[async_trait]
pub trait RelayStore: Send + Sync {
    /// Replace the conversation's relays by `relays` if they are still
    /// `expected`, in one step; with `link`, also index the link's token
    /// hash to the conversation (`relay_link`), for at least
    /// [`RELAY_LINK_KEPT_MS`] after it expires, so that a partner opening
    /// it late is told it expired rather than that it leads nowhere.
    /// `NotFound` if unknown; `Conflict` if they changed since (read
    /// again) or the visitor erased it. The record after.
    async fn save_relays(
        &self,
        conversation: ConversationId,
        expected: &[Relay],
        relays: Vec<Relay>,
        link: Option<RelayLink>,
    ) -> StoreResult<ConversationRecord>;

    /// The conversation a relay link was issued in, if the index still
    /// knows the link (whether it expired is the relay's to say).
    async fn relay_link(&self, hash: &[u8; 32]) -> StoreResult<Option<ConversationId>>;
}

/// How long the link index outlives a link (the Redis key's extra time).
pub const RELAY_LINK_KEPT_MS: u64 = 30 * 86_400_000;
