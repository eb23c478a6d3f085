//! The empty-floor alert: episodes and the webhook outbox.

use super::*;

impl State {
    pub(super) fn store_floor(&mut self, alert: FloorAlert) {
        let k = (alert.raised_at_ms, alert.id);
        self.floor_index.insert(alert.id, k);
        if alert.cleared_at_ms.is_none() {
            self.floor_open = Some(alert.id);
        } else if self.floor_open == Some(alert.id) {
            self.floor_open = None;
        }
        self.floor_alerts.insert(k, alert);
    }

    fn floor(&self, id: AlertId) -> Option<&FloorAlert> {
        self.floor_index
            .get(&id)
            .and_then(|k| self.floor_alerts.get(k))
    }

    /// Queue a delivery of `change` of `alert`, due now.
    fn queue_floor_webhook(
        &mut self,
        id: uuid::Uuid,
        alert: AlertId,
        change: FloorChange,
        now_ms: u64,
    ) -> FloorWebhook {
        let w = FloorWebhook {
            id,
            alert,
            change,
            created_at_ms: now_ms,
            attempts: 0,
            next_at_ms: now_ms,
        };
        self.floor_webhooks.insert(id, w.clone());
        w
    }
}

#[async_trait]
impl FloorStore for MemoryStore {
    async fn raise_floor(
        &self,
        alert: FloorAlert,
        webhook: Option<uuid::Uuid>,
        now_ms: u64,
    ) -> StoreResult<Option<FloorAlert>> {
        let (commit, alert) = {
            let mut s = self.state()?;
            if s.floor_open.is_some() {
                return Ok(None);
            }
            s.store_floor(alert.clone());
            let mut changes = vec![Change::FloorAlert(alert.clone())];
            if let Some(w) = webhook {
                let w = s.queue_floor_webhook(w, alert.id, FloorChange::Raised, now_ms);
                changes.push(Change::FloorWebhook(w));
            }
            (self.record(changes), alert)
        };
        settle(commit).await?;
        Ok(Some(alert))
    }

    async fn clear_floor(
        &self,
        id: AlertId,
        why: FloorCleared,
        webhook: Option<uuid::Uuid>,
        now_ms: u64,
    ) -> StoreResult<Option<FloorAlert>> {
        let (commit, alert) = {
            let mut s = self.state()?;
            if s.floor_open != Some(id) {
                return Ok(None);
            }
            let mut alert = s.floor(id).cloned().ok_or(StoreError::NotFound)?;
            alert.cleared_at_ms = Some(now_ms);
            alert.cleared = Some(why);
            s.store_floor(alert.clone());
            let mut changes = vec![Change::FloorAlert(alert.clone())];
            if let Some(w) = webhook {
                let w = s.queue_floor_webhook(w, id, FloorChange::Cleared, now_ms);
                changes.push(Change::FloorWebhook(w));
            }
            (self.record(changes), alert)
        };
        settle(commit).await?;
        Ok(Some(alert))
    }

    async fn open_floor(&self) -> StoreResult<Option<FloorAlert>> {
        let s = self.state()?;
        Ok(s.floor_open.and_then(|id| s.floor(id).cloned()))
    }

    async fn floor_alerts(&self, open_only: bool) -> StoreResult<Vec<FloorAlert>> {
        Ok(self
            .state()?
            .floor_alerts
            .values()
            .filter(|a| !open_only || a.acked_by.is_none())
            .cloned()
            .collect())
    }

    async fn ack_floor(&self, id: AlertId, by: AccountId, now_ms: u64) -> StoreResult<FloorAlert> {
        let (commit, alert) = {
            let mut s = self.state()?;
            let mut alert = s.floor(id).cloned().ok_or(StoreError::NotFound)?;
            if alert.acked_by.is_some() {
                return Ok(alert);
            }
            alert.acked_by = Some(by);
            alert.acked_at_ms = Some(now_ms);
            s.store_floor(alert.clone());
            (self.record(vec![Change::FloorAlert(alert.clone())]), alert)
        };
        settle(commit).await?;
        Ok(alert)
    }

    async fn claim_floor_webhook(
        &self,
        now_ms: u64,
        lease_ms: u64,
    ) -> StoreResult<Option<(FloorWebhook, FloorAlert)>> {
        let (commit, out) = {
            let mut s = self.state()?;
            let Some(id) = s
                .floor_webhooks
                .values()
                .filter(|w| w.next_at_ms <= now_ms)
                .min_by_key(|w| (w.next_at_ms, w.created_at_ms, w.id))
                .map(|w| w.id)
            else {
                return Ok(None);
            };
            let w = s.floor_webhooks.get_mut(&id).ok_or(StoreError::NotFound)?;
            w.attempts += 1;
            w.next_at_ms = now_ms + lease_ms;
            let w = w.clone();
            let alert = s.floor(w.alert).cloned().ok_or(StoreError::NotFound)?;
            (
                self.record(vec![Change::FloorWebhook(w.clone())]),
                (w, alert),
            )
        };
        settle(commit).await?;
        Ok(Some(out))
    }

    async fn floor_webhook_done(
        &self,
        id: uuid::Uuid,
        retry_at_ms: Option<u64>,
    ) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            match retry_at_ms {
                Some(t) => {
                    let Some(w) = s.floor_webhooks.get_mut(&id) else {
                        return Ok(());
                    };
                    w.next_at_ms = t;
                    let w = w.clone();
                    self.record(vec![Change::FloorWebhook(w)])
                }
                None => {
                    if s.floor_webhooks.remove(&id).is_none() {
                        return Ok(());
                    }
                    self.record(vec![Change::FloorWebhookDeleted(id)])
                }
            }
        };
        settle(commit).await
    }
}
