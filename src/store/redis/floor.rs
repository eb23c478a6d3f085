//! The empty-floor alert: episodes and the webhook outbox.

use super::*;

/// Compare-and-set steps retried this often before giving up (each retry
/// means another node changed the episode in between, which is rare).
const CAS_TRIES: usize = 8;

fn floor_json(a: &FloorAlert) -> StoreResult<String> {
    serde_json::to_string(a).map_err(|_| codec::corrupt("floor alert"))
}

fn floor_parse(s: &str) -> StoreResult<FloorAlert> {
    serde_json::from_str(s).map_err(|_| codec::corrupt("floor alert"))
}

fn webhook_json(
    id: Option<uuid::Uuid>,
    alert: AlertId,
    change: FloorChange,
    now_ms: u64,
) -> StoreResult<(String, String)> {
    let Some(id) = id else {
        return Ok((String::new(), String::new()));
    };
    let w = FloorWebhook {
        id,
        alert,
        change,
        created_at_ms: now_ms,
        attempts: 0,
        next_at_ms: now_ms,
    };
    let json = serde_json::to_string(&w).map_err(|_| codec::corrupt("floor webhook"))?;
    Ok((id.to_string(), json))
}

impl RedisStore {
    /// An episode's JSON as stored, if it exists.
    async fn floor_raw(&self, id: AlertId) -> StoreResult<Option<String>> {
        self.query(
            ::redis::cmd("HGET")
                .arg(self.keys.floor_alerts())
                .arg(id.to_string()),
        )
        .await
    }
}

#[async_trait]
impl FloorStore for RedisStore {
    async fn raise_floor(
        &self,
        alert: FloorAlert,
        webhook: Option<uuid::Uuid>,
        now_ms: u64,
    ) -> StoreResult<Option<FloorAlert>> {
        let json = floor_json(&alert)?;
        let (wid, wjson) = webhook_json(webhook, alert.id, FloorChange::Raised, now_ms)?;
        let keys = [
            self.keys.floor_open(),
            self.keys.floor_alerts(),
            self.keys.floor_order(),
            self.keys.floor_webhooks(),
            self.keys.floor_webhook_due(),
        ];
        let argv = args![alert.id, json, alert.raised_at_ms, wid, wjson, now_ms];
        match reply(self.run(&SCRIPTS.raise_floor, &keys, &argv).await?)? {
            Reply::Ok(v) if codec::int(v.first())? == 1 => Ok(Some(alert)),
            Reply::Ok(_) => Ok(None),
            _ => Err(codec::corrupt("raise_floor reply")),
        }
    }

    async fn clear_floor(
        &self,
        id: AlertId,
        why: FloorCleared,
        webhook: Option<uuid::Uuid>,
        now_ms: u64,
    ) -> StoreResult<Option<FloorAlert>> {
        let (wid, wjson) = webhook_json(webhook, id, FloorChange::Cleared, now_ms)?;
        let keys = [
            self.keys.floor_open(),
            self.keys.floor_alerts(),
            self.keys.floor_webhooks(),
            self.keys.floor_webhook_due(),
        ];
        for _ in 0..CAS_TRIES {
            let Some(old) = self.floor_raw(id).await? else {
                return Ok(None);
            };
            let mut alert = floor_parse(&old)?;
            alert.cleared_at_ms = Some(now_ms);
            alert.cleared = Some(why);
            let new = floor_json(&alert)?;
            let argv = args![id, old, new, wid, wjson, now_ms];
            match reply(self.run(&SCRIPTS.clear_floor, &keys, &argv).await?)? {
                Reply::Ok(v) if codec::int(v.first())? == 1 => return Ok(Some(alert)),
                Reply::Ok(_) => return Ok(None),
                Reply::Retry => continue,
                Reply::Dup(_) => return Err(codec::corrupt("clear_floor reply")),
            }
        }
        Err(StoreError::Conflict)
    }

    async fn open_floor(&self) -> StoreResult<Option<FloorAlert>> {
        let id: Option<String> = self
            .query(::redis::cmd("GET").arg(self.keys.floor_open()))
            .await?;
        let Some(id) = id else { return Ok(None) };
        let id = AlertId(uuid_of(&id)?);
        self.floor_raw(id)
            .await?
            .map(|j| floor_parse(&j))
            .transpose()
    }

    async fn floor_alerts(&self, open_only: bool) -> StoreResult<Vec<FloorAlert>> {
        let ids: Vec<String> = self
            .query(
                ::redis::cmd("ZRANGE")
                    .arg(self.keys.floor_order())
                    .arg(0)
                    .arg(-1),
            )
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let all: Vec<Option<String>> = self
            .query(
                ::redis::cmd("HMGET")
                    .arg(self.keys.floor_alerts())
                    .arg(&ids),
            )
            .await?;
        let mut out = Vec::with_capacity(all.len());
        for j in all.into_iter().flatten() {
            let a = floor_parse(&j)?;
            if !open_only || a.acked_by.is_none() {
                out.push(a);
            }
        }
        Ok(out)
    }

    async fn ack_floor(&self, id: AlertId, by: AccountId, now_ms: u64) -> StoreResult<FloorAlert> {
        let keys = [self.keys.floor_alerts()];
        for _ in 0..CAS_TRIES {
            let old = self.floor_raw(id).await?.ok_or(StoreError::NotFound)?;
            let mut alert = floor_parse(&old)?;
            if alert.acked_by.is_some() {
                return Ok(alert);
            }
            alert.acked_by = Some(by);
            alert.acked_at_ms = Some(now_ms);
            let new = floor_json(&alert)?;
            match reply(
                self.run(&SCRIPTS.ack_floor, &keys, &args![id, old, new])
                    .await?,
            )? {
                Reply::Ok(_) => return Ok(alert),
                Reply::Retry => continue,
                Reply::Dup(_) => return Err(codec::corrupt("ack_floor reply")),
            }
        }
        Err(StoreError::Conflict)
    }

    async fn claim_floor_webhook(
        &self,
        now_ms: u64,
        lease_ms: u64,
    ) -> StoreResult<Option<(FloorWebhook, FloorAlert)>> {
        let keys = [
            self.keys.floor_webhooks(),
            self.keys.floor_webhook_due(),
            self.keys.floor_webhook_attempts(),
        ];
        let v = match reply(
            self.run(
                &SCRIPTS.claim_floor_webhook,
                &keys,
                &args![now_ms, lease_ms],
            )
            .await?,
        )? {
            Reply::Ok(v) => v,
            _ => return Err(codec::corrupt("claim_floor_webhook reply")),
        };
        let [body, attempts, next_at] = v.as_slice() else {
            return Ok(None);
        };
        let mut w: FloorWebhook = serde_json::from_str(&codec::string(body)?)
            .map_err(|_| codec::corrupt("floor webhook"))?;
        w.attempts = codec::int(Some(attempts))? as u32;
        w.next_at_ms = codec::int(Some(next_at))?;
        let alert = self
            .floor_raw(w.alert)
            .await?
            .ok_or_else(|| codec::corrupt("floor webhook without its episode"))?;
        Ok(Some((w, floor_parse(&alert)?)))
    }

    async fn floor_webhook_done(
        &self,
        id: uuid::Uuid,
        retry_at_ms: Option<u64>,
    ) -> StoreResult<()> {
        let id = id.to_string();
        let mut p = ::redis::pipe();
        p.atomic();
        match retry_at_ms {
            Some(t) => {
                p.cmd("ZADD")
                    .arg(self.keys.floor_webhook_due())
                    .arg("XX")
                    .arg(t)
                    .arg(&id)
                    .ignore();
            }
            None => {
                p.cmd("ZREM")
                    .arg(self.keys.floor_webhook_due())
                    .arg(&id)
                    .ignore()
                    .cmd("HDEL")
                    .arg(self.keys.floor_webhooks())
                    .arg(&id)
                    .ignore()
                    .cmd("HDEL")
                    .arg(self.keys.floor_webhook_attempts())
                    .arg(&id)
                    .ignore();
            }
        }
        self.pipe::<()>(&p).await
    }
}
