//! LINE webhook events already handled (issue 18): remembered by their
//! `webhookEventId` in the store (a `GuardStore` counter, so every node
//! knows) for `line.event_window_secs`, so that a replayed signed event,
//! or LINE's redelivery of one we did handle, changes nothing.

use super::{Refusal, Service};

impl Service {
    fn line_event_key(&self, event_id: &str) -> String {
        self.guard_key("line_event", &[event_id])
    }

    /// Was the event with this id handled within the window?
    pub async fn line_event_seen(&self, event_id: &str) -> Result<bool, Refusal> {
        let key = self.line_event_key(event_id);
        Ok(self.store.failures(&key, self.now_ms()).await? > 0)
    }

    /// The event with this id was handled: remember it for the window.
    pub async fn line_event_handled(&self, event_id: &str) {
        let key = self.line_event_key(event_id);
        let ttl = self.settings.line.event_window_secs.saturating_mul(1000);
        if let Err(e) = self.store.record_failure(&key, self.now_ms(), ttl).await {
            tracing::warn!(error = %e, "could not remember a handled LINE event");
        }
    }
}
