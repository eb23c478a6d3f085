//! Way-back codes. The truth is in the conversation's meta hash (`wb`:
//! the code's hash in force, `wbx`: valid until; `tok`: the resume
//! token's hash once a code replaced it), so that redeeming is one script
//! on one hash slot. A global index (`way_back:<code hash>` -> the
//! conversation id, expiring with the code) finds the conversation; it is
//! only a pointer: a replaced or used code's index finds a meta that no
//! longer names it.

use super::*;

#[async_trait]
impl WayBackStore for RedisStore {
    async fn set_way_back(
        &self,
        conversation: ConversationId,
        code_hash: TokenHash,
        expires_at_ms: u64,
    ) -> StoreResult<()> {
        let h = hex(&code_hash);
        let index = self.keys.way_back(&h);
        let _: () = self
            .query(
                ::redis::cmd("SET")
                    .arg(&index)
                    .arg(conversation.to_string())
                    .arg("PXAT")
                    .arg(expires_at_ms),
            )
            .await?;
        let v = self
            .run(
                &SCRIPTS.set_way_back,
                &[self.keys.meta(conversation)],
                &args![h, expires_at_ms],
            )
            .await?;
        match reply(v) {
            Ok(_) => Ok(()),
            Err(e) => {
                let _: Result<i64, _> = self.query(::redis::cmd("DEL").arg(&index)).await;
                Err(e)
            }
        }
    }

    async fn redeem_way_back(
        &self,
        code_hash: &TokenHash,
        new_token_hash: TokenHash,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let h = hex(code_hash);
        let index = self.keys.way_back(&h);
        let id: Option<String> = self.query(::redis::cmd("GET").arg(&index)).await?;
        let Some(id) = id else {
            return Err(StoreError::NotFound);
        };
        let id = ConversationId(uuid_of(&id)?);
        let rec = self
            .run_record(
                &SCRIPTS.redeem_way_back,
                &[self.keys.meta(id)],
                &args![h, now_ms, hex(&new_token_hash)],
            )
            .await?;
        // The index alone no longer finds anything; drop it now.
        let _: Result<i64, _> = self.query(::redis::cmd("DEL").arg(&index)).await;
        Ok(rec)
    }
}
