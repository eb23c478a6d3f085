//! Counsellor records: presence, status, capacity, what they hold.

use super::*;

#[async_trait]
impl CounsellorStore for MemoryStore {
    async fn counsellor_connections(
        &self,
        counsellor: AccountId,
        delta: i32,
        default_capacity: u32,
        now_ms: u64,
    ) -> StoreResult<CounsellorRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            let mut created = false;
            let c = s.counsellors.entry(counsellor).or_insert_with(|| {
                created = true;
                CounsellorRecord {
                    id: counsellor,
                    status: Availability::Away,
                    capacity: default_capacity,
                    active: 0,
                    connections: 0,
                    offline_since_ms: Some(now_ms),
                    last_assigned_ms: None,
                }
            });
            c.connections = c.connections.saturating_add_signed(delta);
            c.offline_since_ms = match c.connections {
                0 => c.offline_since_ms.or(Some(now_ms)),
                _ => None,
            };
            let rec = c.clone();
            // The connection count is presence; only a new record is stored.
            let commit = created.then(|| self.record(vec![Change::Counsellor(rec.clone())]));
            (commit.flatten(), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn set_status(
        &self,
        counsellor: AccountId,
        status: Availability,
    ) -> StoreResult<CounsellorRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            let c = s.counsellor_mut(counsellor)?;
            c.status = status;
            let rec = c.clone();
            (self.record(vec![Change::Counsellor(rec.clone())]), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn set_capacity(
        &self,
        counsellor: AccountId,
        capacity: u32,
    ) -> StoreResult<CounsellorRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            let c = s.counsellor_mut(counsellor)?;
            c.capacity = capacity;
            let rec = c.clone();
            (self.record(vec![Change::Counsellor(rec.clone())]), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn counsellors(&self) -> StoreResult<Vec<CounsellorRecord>> {
        Ok(self.state()?.counsellors.values().cloned().collect())
    }

    async fn counsellor(&self, id: AccountId) -> StoreResult<Option<CounsellorRecord>> {
        Ok(self.state()?.counsellors.get(&id).cloned())
    }

    async fn conversations_of(
        &self,
        counsellor: AccountId,
    ) -> StoreResult<Vec<ConversationRecord>> {
        let s = self.state()?;
        let mut v: Vec<_> = s
            .held
            .get(&counsellor)
            .into_iter()
            .flatten()
            .filter_map(|id| s.conversations.get(id).map(|c| c.rec.clone()))
            .collect();
        v.sort_by_key(|r| (r.assigned_at_ms, r.id));
        Ok(v)
    }
}
