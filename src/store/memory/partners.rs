//! The directory of partner services (issue 23).

use super::*;
use crate::core::ids::PartnerId;

#[async_trait]
impl PartnerStore for MemoryStore {
    async fn partners(&self) -> StoreResult<Vec<Partner>> {
        let mut v: Vec<_> = self.state()?.partners.values().cloned().collect();
        sort_partners(&mut v);
        Ok(v)
    }

    async fn partner(&self, id: PartnerId) -> StoreResult<Option<Partner>> {
        Ok(self.state()?.partners.get(&id).cloned())
    }

    async fn create_partner(&self, partner: Partner, max: usize) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            if s.partners.contains_key(&partner.id) {
                return Err(StoreError::Conflict);
            }
            if s.partners.len() >= max {
                return Err(StoreError::LibraryFull);
            }
            s.partners.insert(partner.id, partner.clone());
            self.record(vec![Change::Partner(partner)])
        };
        settle(commit).await
    }

    async fn update_partner(&self, partner: Partner) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            let Some(slot) = s.partners.get_mut(&partner.id) else {
                return Err(StoreError::NotFound);
            };
            *slot = partner.clone();
            self.record(vec![Change::Partner(partner)])
        };
        settle(commit).await
    }

    async fn delete_partner(&self, id: PartnerId) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            if s.partners.remove(&id).is_none() {
                return Err(StoreError::NotFound);
            }
            self.record(vec![Change::PartnerDeleted(id)])
        };
        settle(commit).await
    }
}
