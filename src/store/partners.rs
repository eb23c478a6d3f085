//! The directory of partner services (issue 23): admin-managed; those who
//! counsel read it.

use super::*;
use crate::core::ids::PartnerId;

/// The directory, one record per partner.
///
/// Each method is one atomic step. Durability: like the canned replies
/// (journaled on the embedded store before `Ok`; on Redis one script on
/// the durable connection).
#[async_trait]
pub trait PartnerStore: Send + Sync {
    /// Every partner, by Japanese name, then id.
    async fn partners(&self) -> StoreResult<Vec<Partner>>;
    async fn partner(&self, id: PartnerId) -> StoreResult<Option<Partner>>;
    /// Add `partner` under its (new) id. `LibraryFull` when the directory
    /// holds `max` already, `Conflict` if the id exists; either changes
    /// nothing.
    async fn create_partner(&self, partner: Partner, max: usize) -> StoreResult<()>;
    /// Replace the partner with `partner.id`; `NotFound` when there is none.
    async fn update_partner(&self, partner: Partner) -> StoreResult<()>;
    /// Delete a partner; `NotFound` when there is none.
    async fn delete_partner(&self, id: PartnerId) -> StoreResult<()>;
}

/// The order the directory is listed in.
pub fn sort_partners(v: &mut [Partner]) {
    v.sort_by(|a, b| (&a.fields.name_ja, a.id).cmp(&(&b.fields.name_ja, b.id)));
}
