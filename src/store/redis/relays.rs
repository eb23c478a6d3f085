//! Relay sheets (issue 23): the relays are the meta field `relays` (JSON),
//! replaced by `save_relays.lua` if unchanged since read; a link's token
//! hash is indexed to the conversation (`relay_link:<hex>`, expiring with
//! the link). On the durable connection, as the handoff's consents.

use super::*;

#[async_trait]
impl RelayStore for RedisStore {
    async fn save_relays(
        &self,
        conversation: ConversationId,
        expected: &[Relay],
        relays: Vec<Relay>,
        link: Option<RelayLink>,
    ) -> StoreResult<ConversationRecord> {
        let link_key = match &link {
            Some(l) => self.keys.relay_link(&codec::hex(&l.hash)),
            None => self.keys.relay_link("-"),
        };
        let ttl = link
            .map(|l| {
                l.expires_at_ms
                    .saturating_sub(l.issued_at_ms)
                    .max(1)
                    .to_string()
            })
            .unwrap_or_default();
        // A consent (and its withdrawal) is confirmed to a person: on the
        // durable connection, on disk (and replicated) before `Ok`, as the
        // handoff's consents are.
        let v = self
            .run_durable(
                &SCRIPTS.save_relays,
                &[self.keys.meta(conversation), link_key],
                &args![
                    codec::relays_field(expected),
                    codec::relays_field(&relays),
                    conversation.to_string(),
                    ttl
                ],
            )
            .await?;
        codec::conversation(&codec::hash(first(&v)?)?)
    }

    async fn relay_link(&self, hash: &[u8; 32]) -> StoreResult<Option<ConversationId>> {
        let id: Option<String> = self
            .query(::redis::cmd("GET").arg(self.keys.relay_link(&codec::hex(hash))))
            .await?;
        id.map(|s| uuid_of(&s).map(ConversationId)).transpose()
    }
}
