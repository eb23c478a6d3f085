//! The LINE channel: links, deliveries and the sender's lease.

use super::*;

#[async_trait]
impl LineStore for RedisStore {
    async fn line_open(&self, link: LineLink) -> StoreResult<()> {
        let json = serde_json::to_string(&link).map_err(|_| codec::corrupt("line link"))?;
        let id = link.conversation;
        let index = match &link.user_id {
            Some(u) => self.keys.line_user(&hex(&line_user_key(u))),
            None => self.keys.line_user("-"),
        };
        let keys = [self.keys.meta(id), self.keys.line(id), index];
        let has_user = if link.user_id.is_some() { "1" } else { "0" };
        match reply(
            self.run(
                &SCRIPTS.line_open,
                &keys,
                &args![json, id.to_string(), has_user],
            )
            .await?,
        )? {
            Reply::Ok(_) => Ok(()),
            _ => Err(codec::corrupt("line_open reply")),
        }
    }

    async fn line_link(&self, conversation: ConversationId) -> StoreResult<Option<LineLink>> {
        let json: Option<String> = self
            .query(
                ::redis::cmd("HGET")
                    .arg(self.keys.line(conversation))
                    .arg("json"),
            )
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|_| codec::corrupt("line link")))
            .transpose()
    }

    async fn line_conversation_of(&self, user_id: &str) -> StoreResult<Option<ConversationId>> {
        let id: Option<String> = self
            .query(::redis::cmd("GET").arg(self.keys.line_user(&hex(&line_user_key(user_id)))))
            .await?;
        id.map(|s| {
            uuid::Uuid::parse_str(&s)
                .map(ConversationId)
                .map_err(|_| codec::corrupt("line user index"))
        })
        .transpose()
    }

    async fn line_forget_user(&self, conversation: ConversationId) -> StoreResult<()> {
        let Some(mut link) = self.line_link(conversation).await? else {
            return Ok(());
        };
        let Some(user) = link.user_id.take() else {
            return Ok(());
        };
        let json = serde_json::to_string(&link).map_err(|_| codec::corrupt("line link"))?;
        let keys = [
            self.keys.line(conversation),
            self.keys.line_user(&hex(&line_user_key(&user))),
        ];
        reply(
            self.run(
                &SCRIPTS.line_forget,
                &keys,
                &args![json, conversation.to_string()],
            )
            .await?,
        )
        .map(drop)
    }

    async fn line_lease(
        &self,
        conversation: ConversationId,
        holder: &str,
        _now_ms: u64,
        ttl_ms: u64,
    ) -> StoreResult<bool> {
        // Redis's own clock expires the lease (PX), so nodes' clocks may differ.
        let keys = [self.keys.line_lease(conversation)];
        match reply(
            self.run(&SCRIPTS.line_lease, &keys, &args![holder, ttl_ms.max(1)])
                .await?,
        )? {
            Reply::Ok(v) => Ok(codec::int(v.first())? == 1),
            _ => Err(codec::corrupt("line_lease reply")),
        }
    }

    async fn line_delivered(
        &self,
        conversation: ConversationId,
        delivery: LineDelivery,
    ) -> StoreResult<()> {
        let json = serde_json::to_string(&delivery).map_err(|_| codec::corrupt("delivery"))?;
        let keys = [
            self.keys.line(conversation),
            self.keys.line_deliveries(conversation),
        ];
        reply(
            self.run(&SCRIPTS.line_delivered, &keys, &args![delivery.seq, json])
                .await?,
        )
        .map(drop)
    }

    async fn line_deliveries(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Vec<LineDelivery>> {
        let all: HashMap<String, String> = self
            .query(::redis::cmd("HGETALL").arg(self.keys.line_deliveries(conversation)))
            .await?;
        let mut out = all
            .values()
            .map(|j| serde_json::from_str(j).map_err(|_| codec::corrupt("delivery")))
            .collect::<StoreResult<Vec<LineDelivery>>>()?;
        out.sort_by_key(|d| d.seq);
        Ok(out)
    }
}
