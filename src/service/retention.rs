//! Retention (promise 7): the purge after the configured periods, and the
//! visitor's "erase my chat". The rules are the store's (`Store::purge`,
//! `Store::erase`); this module only runs them with the settings and tells
//! the other side.

use std::sync::Arc;
use std::time::Duration;

use super::{refuse, Refusal, Service};
use crate::core::conversation::{ConversationState, EndedBy};
use crate::core::ids::ConversationId;
use crate::model::{Event, Purged};
use crate::protocol::ErrorCode;

impl Service {
    /// Apply the retention periods as if it were `now_ms`. The purger calls
    /// it with the real clock; tests with a time far ahead.
    pub async fn purge(&self, now_ms: u64) -> Result<Purged, Refusal> {
        let retention = self.settings.retention.retention();
        let purged = self.store.purge(now_ms, &retention).await?;
        if !purged.conversations.is_empty() || purged.handoffs > 0 || purged.slots > 0 {
            tracing::info!(
                conversations = purged.conversations.len(),
                handoffs = purged.handoffs,
                slots = purged.slots,
                "retention: purged"
            );
        }
        Ok(purged)
    }

    /// "Erase my chat": end it if live, delete its text at once. The
    /// counsellor is told it ended (by the visitor).
    pub async fn visitor_erase(&self, id: ConversationId) -> Result<(), Refusal> {
        let keep = self.settings.retention.keep_notes_on_erase;
        let erased = self.store.erase(id, keep, self.now_ms()).await?;
        tracing::info!(conversation = %id, "visitor erased their conversation");
        if erased.was != ConversationState::Ended {
            self.after_end(&erased.record, erased.was, EndedBy::Visitor)
                .await;
        } else {
            self.publish(Event::Ended {
                conversation: id,
                by: erased.record.ended_by.unwrap_or(EndedBy::Visitor),
                outcome: erased.record.outcome,
                counsellor: erased.record.counsellor,
                erased: true,
            })
            .await;
        }
        Ok(())
    }

    /// Refuse to resume an erased conversation (the token was right).
    pub(super) fn erased_refusal() -> Refusal {
        refuse(
            ErrorCode::ConversationErased,
            "this conversation was erased at your request; start a new chat if you like",
        )
    }

    /// Run the purge every `retention.purge_interval_secs` with the real
    /// clock.
    pub async fn run_purger(self: Arc<Self>) {
        let every = Duration::from_secs(self.settings.retention.purge_interval_secs);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.purge(self.now_ms()).await {
                tracing::warn!(code = e.code.as_str(), "retention purge failed");
            }
        }
    }
}
