//! Way-back codes, under the state's one lock (so redeeming a code and
//! replacing the resume token are one step). The codes are not
//! journaled; the new token hash is, with the conversation's record.

use super::*;

impl State {
    /// Forget the codes expired at `now_ms`, so that they do not pile up.
    fn forget_expired_way_back(&mut self, now_ms: u64) {
        self.way_back.retain(|_, (_, until)| *until > now_ms);
        let way_back = &self.way_back;
        self.way_back_of.retain(|_, h| way_back.contains_key(h));
    }
}

#[async_trait]
impl WayBackStore for MemoryStore {
    async fn set_way_back(
        &self,
        conversation: ConversationId,
        code_hash: TokenHash,
        expires_at_ms: u64,
    ) -> StoreResult<()> {
        let mut s = self.state()?;
        if s.conv(conversation)?.rec.state == ConversationState::Ended {
            return Err(TransitionError::AlreadyEnded.into());
        }
        s.forget_expired_way_back(crate::clock::now_ms());
        if let Some(old) = s.way_back_of.insert(conversation, code_hash) {
            s.way_back.remove(&old);
        }
        s.way_back.insert(code_hash, (conversation, expires_at_ms));
        Ok(())
    }

    async fn redeem_way_back(
        &self,
        code_hash: &TokenHash,
        new_token_hash: TokenHash,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            s.forget_expired_way_back(now_ms);
            let Some(&(id, _)) = s.way_back.get(code_hash) else {
                return Err(StoreError::NotFound);
            };
            let conv = s.conv(id)?;
            if conv.rec.state == ConversationState::Ended {
                return Err(StoreError::NotFound);
            }
            conv.rec.token_hash = new_token_hash;
            let rec = conv.rec.clone();
            s.way_back.remove(code_hash);
            s.way_back_of.remove(&id);
            (self.record(vec![Change::Conversation(rec.clone())]), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }
}
