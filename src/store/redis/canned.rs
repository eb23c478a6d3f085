//! The library of canned replies: one hash (`canned_replies`, id -> the
//! entry's JSON). Every change is one script, on the durable connection
//! (followed by `WAITAOF` where Redis has it), like the handoff's writes:
//! an admin is told "saved" only once it is on disk.

use super::*;
use crate::core::ids::CannedReplyId;

fn decode(json: &str) -> StoreResult<CannedReply> {
    serde_json::from_str(json).map_err(|_| codec::corrupt("canned reply"))
}

#[async_trait]
impl CannedReplyStore for RedisStore {
    async fn canned_replies(&self) -> StoreResult<Vec<CannedReply>> {
        let all: Vec<String> = self
            .query(::redis::cmd("HVALS").arg(self.keys.canned_replies()))
            .await?;
        let mut v = all
            .iter()
            .map(|j| decode(j))
            .collect::<StoreResult<Vec<_>>>()?;
        sort_canned(&mut v);
        Ok(v)
    }

    async fn canned_reply(&self, id: CannedReplyId) -> StoreResult<Option<CannedReply>> {
        let json: Option<String> = self
            .query(
                ::redis::cmd("HGET")
                    .arg(self.keys.canned_replies())
                    .arg(id.to_string()),
            )
            .await?;
        json.map(|j| decode(&j)).transpose()
    }

    async fn create_canned_reply(&self, reply: CannedReply, max: usize) -> StoreResult<()> {
        let json = serde_json::to_string(&reply).map_err(|_| codec::corrupt("canned reply"))?;
        self.run_durable(
            &SCRIPTS.create_canned_reply,
            &[self.keys.canned_replies()],
            &args![reply.id, json, max],
        )
        .await
        .map(drop)
    }

    async fn update_canned_reply(&self, reply: CannedReply) -> StoreResult<()> {
        let json = serde_json::to_string(&reply).map_err(|_| codec::corrupt("canned reply"))?;
        self.run_durable(
            &SCRIPTS.update_canned_reply,
            &[self.keys.canned_replies()],
            &args![reply.id, json],
        )
        .await
        .map(drop)
    }

    async fn delete_canned_reply(&self, id: CannedReplyId) -> StoreResult<()> {
        self.run_durable(
            &SCRIPTS.delete_canned_reply,
            &[self.keys.canned_replies()],
            &args![id],
        )
        .await
        .map(drop)
    }
}
