//! The LINE channel's state in the store.

use super::*;

/// The LINE channel.
///
/// A LINE conversation's link to its user, and the delivery state of
/// the counsellor messages sent to them. Everything here belongs to the
/// conversation: erasing or expiring the conversation erases it too.
#[async_trait]
pub trait LineStore: Send + Sync {
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
}
