//! The LINE channel: links, deliveries and the sender's lease.

use super::*;

#[async_trait]
impl LineStore for MemoryStore {
    async fn line_open(&self, link: LineLink) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            if !s.conversations.contains_key(&link.conversation) {
                return Err(StoreError::NotFound);
            }
            if let Some(user) = &link.user_id {
                s.line_users.insert(line_user_key(user), link.conversation);
            }
            s.line_links.insert(link.conversation, link.clone());
            self.record(vec![Change::LineLink(link)])
        };
        settle(commit).await
    }

    async fn line_link(&self, conversation: ConversationId) -> StoreResult<Option<LineLink>> {
        Ok(self.state()?.line_links.get(&conversation).cloned())
    }

    async fn line_conversation_of(&self, user_id: &str) -> StoreResult<Option<ConversationId>> {
        Ok(self
            .state()?
            .line_users
            .get(&line_user_key(user_id))
            .copied())
    }

    async fn line_forget_user(&self, conversation: ConversationId) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            let Some(link) = s.line_links.get_mut(&conversation) else {
                return Ok(());
            };
            let Some(user) = link.user_id.take() else {
                return Ok(());
            };
            let link = link.clone();
            let key = line_user_key(&user);
            if s.line_users.get(&key) == Some(&conversation) {
                s.line_users.remove(&key);
            }
            self.record(vec![Change::LineLink(link)])
        };
        settle(commit).await
    }

    async fn line_lease(
        &self,
        conversation: ConversationId,
        holder: &str,
        now_ms: u64,
        ttl_ms: u64,
    ) -> StoreResult<bool> {
        let mut s = self.state()?;
        let granted = match s.line_leases.get(&conversation) {
            Some((h, until)) => h == holder || *until <= now_ms,
            None => true,
        };
        if granted {
            s.line_leases
                .insert(conversation, (holder.to_owned(), now_ms + ttl_ms));
        }
        Ok(granted)
    }

    async fn line_delivered(
        &self,
        conversation: ConversationId,
        delivery: LineDelivery,
    ) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            if !s.line_links.contains_key(&conversation) {
                return Err(StoreError::NotFound);
            }
            s.line_deliveries
                .entry(conversation)
                .or_default()
                .insert(delivery.seq, delivery.clone());
            self.record(vec![Change::LineDelivery {
                conversation,
                delivery,
            }])
        };
        settle(commit).await
    }

    async fn line_deliveries(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Vec<LineDelivery>> {
        Ok(self
            .state()?
            .line_deliveries
            .get(&conversation)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default())
    }
}
