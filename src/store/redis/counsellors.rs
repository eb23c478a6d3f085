//! Counsellor records: presence, status, capacity, what they hold.

use super::*;

#[async_trait]
impl CounsellorStore for RedisStore {
    async fn counsellor_connections(
        &self,
        counsellor: AccountId,
        delta: i32,
        default_capacity: u32,
        now_ms: u64,
    ) -> StoreResult<CounsellorRecord> {
        let keys = [
            self.keys.counsellor(counsellor),
            self.keys.counsellor_ids(),
            self.keys.node_counsellors(&self.node),
        ];
        self.run_counsellor(
            &SCRIPTS.counsellor_connections,
            &keys,
            &args![counsellor.to_string(), delta, default_capacity, now_ms],
        )
        .await
    }

    async fn set_status(
        &self,
        counsellor: AccountId,
        status: Availability,
    ) -> StoreResult<CounsellorRecord> {
        let keys = [self.keys.counsellor(counsellor)];
        self.run_counsellor(
            &SCRIPTS.counsellor_set,
            &keys,
            &args!["status", enum_name(&status)],
        )
        .await
    }

    async fn set_capacity(
        &self,
        counsellor: AccountId,
        capacity: u32,
    ) -> StoreResult<CounsellorRecord> {
        let keys = [self.keys.counsellor(counsellor)];
        self.run_counsellor(&SCRIPTS.counsellor_set, &keys, &args!["capacity", capacity])
            .await
    }

    async fn counsellors(&self) -> StoreResult<Vec<CounsellorRecord>> {
        let ids: Vec<String> = self
            .query(::redis::cmd("SMEMBERS").arg(self.keys.counsellor_ids()))
            .await?;
        let keys = ids
            .iter()
            .map(|s| uuid_of(s).map(|u| self.keys.counsellor(AccountId(u))))
            .collect::<StoreResult<Vec<_>>>()?;
        self.hashes(&keys, codec::counsellor).await
    }

    async fn counsellor(&self, id: AccountId) -> StoreResult<Option<CounsellorRecord>> {
        self.hash_at(self.keys.counsellor(id), codec::counsellor)
            .await
    }

    async fn conversations_of(
        &self,
        counsellor: AccountId,
    ) -> StoreResult<Vec<ConversationRecord>> {
        let ids: Vec<String> = self
            .query(::redis::cmd("SMEMBERS").arg(self.keys.held(counsellor)))
            .await?;
        let ids = ids
            .iter()
            .map(|s| uuid_of(s).map(ConversationId))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut v = self.records(&ids).await?;
        v.sort_by_key(|r| (r.assigned_at_ms, r.id));
        Ok(v)
    }
}
