//! The empty-floor alert's episodes and their webhook deliveries.

use super::*;

/// Empty-floor episodes (`FloorAlert`) and the outbox of webhook
/// deliveries (`FloorWebhook`). Shared by every node: at most one episode
/// is uncleared at a time, so a deployment of several nodes raises one
/// alert per episode, not one per node.
#[async_trait]
pub trait FloorStore: Send + Sync {
    /// Raise an episode, atomically: if an uncleared episode exists,
    /// nothing changes and `None` is returned (another node raised it);
    /// else `alert` is stored as the uncleared one and, with `webhook`
    /// (a delivery id), a `Raised` delivery due now is queued in the same
    /// step.
    async fn raise_floor(
        &self,
        alert: FloorAlert,
        webhook: Option<uuid::Uuid>,
        now_ms: u64,
    ) -> StoreResult<Option<FloorAlert>>;
    /// Clear the uncleared episode `id`, atomically: if it is no longer
    /// the uncleared one, nothing changes and `None` is returned; else its
    /// `cleared_at_ms` and `cleared` are set, no episode is uncleared any
    /// more, and with `webhook` a `Cleared` delivery is queued.
    async fn clear_floor(
        &self,
        id: AlertId,
        why: FloorCleared,
        webhook: Option<uuid::Uuid>,
        now_ms: u64,
    ) -> StoreResult<Option<FloorAlert>>;
    /// The uncleared episode, if any.
    async fn open_floor(&self) -> StoreResult<Option<FloorAlert>>;
    /// Episodes, oldest first; with `open_only`, those not acknowledged.
    async fn floor_alerts(&self, open_only: bool) -> StoreResult<Vec<FloorAlert>>;
    /// Acknowledge an episode (`NotFound` if unknown); acknowledging again
    /// keeps the first acknowledgement. A raised episode may be
    /// acknowledged before it clears.
    async fn ack_floor(&self, id: AlertId, by: AccountId, now_ms: u64) -> StoreResult<FloorAlert>;
    /// Claim the oldest delivery due at `now_ms`, atomically: its
    /// `attempts` rises by one and `next_at_ms` becomes `now_ms + lease_ms`,
    /// so no other node claims it while this one tries. `None`: nothing due.
    async fn claim_floor_webhook(
        &self,
        now_ms: u64,
        lease_ms: u64,
    ) -> StoreResult<Option<(FloorWebhook, FloorAlert)>>;
    /// After an attempt: `Some(t)` retries it at `t`; `None` deletes it
    /// (accepted by the receiver, or given up).
    async fn floor_webhook_done(&self, id: uuid::Uuid, retry_at_ms: Option<u64>)
        -> StoreResult<()>;
}
