//! Canned replies: the deployment's library (admin-managed; counsellors
//! read it).

use super::*;
use crate::core::ids::CannedReplyId;

/// The library of canned replies, one record per entry.
///
/// Each method is one atomic step. Durability: like accounts (journaled on
/// the embedded store before `Ok`; on Redis one script, followed by
/// `WAITAOF` where the server has it).
#[async_trait]
pub trait CannedReplyStore: Send + Sync {
    /// Every entry, by language, category, title, then id.
    async fn canned_replies(&self) -> StoreResult<Vec<CannedReply>>;
    async fn canned_reply(&self, id: CannedReplyId) -> StoreResult<Option<CannedReply>>;
    /// Add `reply` under its (new) id. Refused with `LibraryFull` when the
    /// library already holds `max` entries, and with `Conflict` if the id
    /// exists; either changes nothing.
    async fn create_canned_reply(&self, reply: CannedReply, max: usize) -> StoreResult<()>;
    /// Replace the entry with `reply.id` by `reply`. `NotFound` (nothing
    /// changes) when there is none, e.g. deleted meanwhile.
    async fn update_canned_reply(&self, reply: CannedReply) -> StoreResult<()>;
    /// Delete an entry; `NotFound` when there is none.
    async fn delete_canned_reply(&self, id: CannedReplyId) -> StoreResult<()>;
}

/// The order the library is listed in.
pub fn sort_canned(v: &mut [CannedReply]) {
    v.sort_by(|a, b| {
        (a.lang.tag(), a.category, &a.title, a.id).cmp(&(b.lang.tag(), b.category, &b.title, b.id))
    });
}
