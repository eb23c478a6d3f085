//! The library of canned replies.

use super::*;
use crate::core::ids::CannedReplyId;

#[async_trait]
impl CannedReplyStore for MemoryStore {
    async fn canned_replies(&self) -> StoreResult<Vec<CannedReply>> {
        let mut v: Vec<_> = self.state()?.canned.values().cloned().collect();
        sort_canned(&mut v);
        Ok(v)
    }

    async fn canned_reply(&self, id: CannedReplyId) -> StoreResult<Option<CannedReply>> {
        Ok(self.state()?.canned.get(&id).cloned())
    }

    async fn create_canned_reply(&self, reply: CannedReply, max: usize) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            if s.canned.contains_key(&reply.id) {
                return Err(StoreError::Conflict);
            }
            if s.canned.len() >= max {
                return Err(StoreError::LibraryFull);
            }
            s.canned.insert(reply.id, reply.clone());
            self.record(vec![Change::CannedReply(reply)])
        };
        settle(commit).await
    }

    async fn update_canned_reply(&self, reply: CannedReply) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            let Some(slot) = s.canned.get_mut(&reply.id) else {
                return Err(StoreError::NotFound);
            };
            *slot = reply.clone();
            self.record(vec![Change::CannedReply(reply)])
        };
        settle(commit).await
    }

    async fn delete_canned_reply(&self, id: CannedReplyId) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            if s.canned.remove(&id).is_none() {
                return Err(StoreError::NotFound);
            }
            self.record(vec![Change::CannedReplyDeleted(id)])
        };
        settle(commit).await
    }
}
