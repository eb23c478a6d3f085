//! Counsellors as matching sees them: presence, availability, capacity
//! and the conversations each one holds.

use super::*;

/// Counsellor records (created on a counsellor's first socket).
#[async_trait]
pub trait CounsellorStore: Send + Sync {
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
    /// One counsellor's record (`None` before their first socket): one
    /// read, where `counsellors` reads every one of them.
    async fn counsellor(&self, id: AccountId) -> StoreResult<Option<CounsellorRecord>>;
    /// The counsellor's active conversations and the ended ones still
    /// waiting for an outcome.
    async fn conversations_of(&self, counsellor: AccountId)
        -> StoreResult<Vec<ConversationRecord>>;
}
