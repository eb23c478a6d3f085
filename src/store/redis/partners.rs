//! The directory of partner services (issue 23): one hash (`partners`,
//! id -> the partner's JSON), written like the canned replies' library
//! and by the same three scripts (they work on any hash of JSON records
//! by id: create unless it exists or the hash is full, replace one that
//! exists, delete), on the durable connection.

use super::*;
use crate::core::ids::PartnerId;

fn decode(json: &str) -> StoreResult<Partner> {
    serde_json::from_str(json).map_err(|_| codec::corrupt("partner"))
}

fn encode(p: &Partner) -> StoreResult<String> {
    serde_json::to_string(p).map_err(|_| codec::corrupt("partner"))
}

#[async_trait]
impl PartnerStore for RedisStore {
    async fn partners(&self) -> StoreResult<Vec<Partner>> {
        let all: Vec<String> = self
            .query(::redis::cmd("HVALS").arg(self.keys.partners()))
            .await?;
        let mut v = all
            .iter()
            .map(|j| decode(j))
            .collect::<StoreResult<Vec<_>>>()?;
        sort_partners(&mut v);
        Ok(v)
    }

    async fn partner(&self, id: PartnerId) -> StoreResult<Option<Partner>> {
        let json: Option<String> = self
            .query(
                ::redis::cmd("HGET")
                    .arg(self.keys.partners())
                    .arg(id.to_string()),
            )
            .await?;
        json.map(|j| decode(&j)).transpose()
    }

    async fn create_partner(&self, partner: Partner, max: usize) -> StoreResult<()> {
        self.run_durable(
            &SCRIPTS.create_canned_reply,
            &[self.keys.partners()],
            &args![partner.id, encode(&partner)?, max],
        )
        .await
        .map(drop)
    }

    async fn update_partner(&self, partner: Partner) -> StoreResult<()> {
        self.run_durable(
            &SCRIPTS.update_canned_reply,
            &[self.keys.partners()],
            &args![partner.id, encode(&partner)?],
        )
        .await
        .map(drop)
    }

    async fn delete_partner(&self, id: PartnerId) -> StoreResult<()> {
        self.run_durable(
            &SCRIPTS.delete_canned_reply,
            &[self.keys.partners()],
            &args![id],
        )
        .await
        .map(drop)
    }
}
