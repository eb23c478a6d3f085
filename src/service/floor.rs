//! The empty-floor alert: each node watches the floor (opening hours,
//! counsellors taking chats, the longest wait), steps the pure machine of
//! `core::floor`, and raises or clears the episode in the store, which
//! lets one node win per episode. The winner publishes the episode to
//! every supervisor's console and, when a webhook is configured, queues
//! its delivery in the same store step (sent by `channels::webhook`).

use std::sync::Arc;
use std::time::Duration;

use super::{refuse, Refusal, Service};
use crate::core::floor::{
    episode_duration_ms, newest_episodes, step, FloorAction, FloorPhase, FloorReading,
};
use crate::core::ids::{AccountId, AlertId};
use crate::model::{Account, Event, FloorAlert, FloorWebhook, Role};
use crate::protocol::ErrorCode;
use crate::protocol::{FloorAlertView, FloorEpisodeView, FloorStateView};
use crate::store::StoreError;

impl Service {
    /// Watch the floor every sweep interval until the process ends.
    pub async fn run_floor_watch(self: Arc<Self>) {
        if self.settings.alerts.empty_floor_disabled {
            return;
        }
        let every = Duration::from_millis(self.settings.timing.sweep_interval_ms.max(1));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut phase = FloorPhase::Quiet;
        loop {
            tick.tick().await;
            match self.floor_step(phase).await {
                Ok(next) => phase = next,
                Err(e) => tracing::warn!(error = %e, "empty-floor check failed"),
            }
        }
    }

    /// One step: read the floor, decide, raise or clear in the store.
    async fn floor_step(&self, local: FloorPhase) -> Result<FloorPhase, StoreError> {
        let now = self.now_ms();
        let open_episode = self.store.open_floor().await?;
        // Whether an episode is raised is the store's (shared by every
        // node); being on the way there (pending) is this node's own.
        let phase = match (&open_episode, local) {
            (Some(a), _) => FloorPhase::Raised {
                since_ms: a.since_ms,
            },
            (None, FloorPhase::Raised { .. }) => FloorPhase::Quiet,
            (None, p) => p,
        };
        let open = self.schedule.status(now).open();
        // Closed (most hours of a week), the decision looks at nothing
        // else: nothing is raised and a raised episode clears. So the
        // counsellors and the whole queue are read only while open.
        let (counsellors, queue) = if open {
            (self.store.counsellors().await?, self.store.queue().await?)
        } else {
            (Vec::new(), Vec::new())
        };
        let reading = FloorReading {
            open,
            available: counsellors.iter().filter(|c| c.takes_chats()).count() as u32,
            longest_wait_ms: queue
                .iter()
                .map(|r| now.saturating_sub(r.queued_since_ms))
                .max(),
        };
        let policy = self.settings.alerts.floor_policy();
        let (next, action) = step(phase, reading, now, policy);
        let webhook = self.settings.alerts.webhook().map(|_| uuid::Uuid::new_v4());
        match action {
            FloorAction::None => {}
            FloorAction::Raise { cause, since_ms } => {
                let alert = FloorAlert {
                    id: AlertId::new_random(),
                    cause,
                    since_ms,
                    raised_at_ms: now,
                    waiting: queue.len() as u32,
                    cleared_at_ms: None,
                    cleared: None,
                    acked_by: None,
                    acked_at_ms: None,
                };
                if let Some(a) = self.store.raise_floor(alert, webhook, now).await? {
                    tracing::warn!(alert = %a.id, cause = cause.as_str(), waiting = a.waiting, "empty-floor alert raised");
                    self.metrics.floor_episode();
                    self.publish(Event::FloorAlert { alert: Box::new(a) }).await;
                }
            }
            FloorAction::Clear { why } => {
                if let Some(open) = open_episode {
                    if let Some(a) = self.store.clear_floor(open.id, why, webhook, now).await? {
                        tracing::info!(alert = %a.id, why = why.as_str(), "empty-floor alert cleared");
                        self.publish(Event::FloorAlert { alert: Box::new(a) }).await;
                    }
                }
            }
        }
        Ok(next)
    }

    /// A supervisor acknowledges an empty-floor episode (`ack_alert` with
    /// its id); `None` when no episode has that id.
    pub(super) async fn ack_floor(
        &self,
        id: AlertId,
        supervisor: AccountId,
    ) -> Result<Option<()>, Refusal> {
        let alert = match self.store.ack_floor(id, supervisor, self.now_ms()).await {
            Ok(a) => a,
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        self.publish(Event::FloorAlert {
            alert: Box::new(alert),
        })
        .await;
        Ok(Some(()))
    }

    /// The webhook sender's next delivery, claimed for `lease_ms`.
    pub async fn claim_floor_webhook(
        &self,
        lease_ms: u64,
    ) -> Result<Option<(FloorWebhook, FloorAlert)>, Refusal> {
        Ok(self
            .store
            .claim_floor_webhook(self.now_ms(), lease_ms)
            .await?)
    }

    /// After an attempt: retry at `retry_at_ms`, or (`None`) forget it.
    pub async fn floor_webhook_done(
        &self,
        id: uuid::Uuid,
        retry_at_ms: Option<u64>,
    ) -> Result<(), Refusal> {
        Ok(self.store.floor_webhook_done(id, retry_at_ms).await?)
    }

    /// The floor now and its recent episodes (`GET /api/floor`), for
    /// admins and supervisors only.
    pub async fn floor_state(&self, who: &Account) -> Result<FloorStateView, Refusal> {
        if !matches!(who.role, Role::Admin | Role::Supervisor) {
            return Err(refuse(
                ErrorCode::Forbidden,
                "only admins and supervisors see the floor",
            ));
        }
        let now = self.now_ms();
        let (counsellors, queue, alerts) = (
            self.store.counsellors().await?,
            self.store.queue().await?,
            self.store.floor_alerts(false).await?,
        );
        let episode = |a: &FloorAlert| FloorEpisodeView {
            alert: FloorAlertView::from(a),
            duration_ms: episode_duration_ms(a.since_ms, a.cleared_at_ms, now),
        };
        let current = alerts
            .iter()
            .find(|a| a.cleared_at_ms.is_none())
            .map(episode);
        let episodes = newest_episodes(
            alerts
                .iter()
                .map(|a| (a.raised_at_ms, episode(a)))
                .collect(),
            FLOOR_EPISODES_SHOWN,
        );
        Ok(FloorStateView {
            at: now,
            open: self.schedule.status(now).open(),
            available: counsellors.iter().filter(|c| c.takes_chats()).count() as u32,
            waiting: queue.len() as u32,
            longest_wait_ms: queue
                .iter()
                .map(|r| now.saturating_sub(r.queued_since_ms))
                .max(),
            watching: !self.settings.alerts.empty_floor_disabled,
            empty_floor_after_secs: self.settings.alerts.empty_floor_after_secs,
            current,
            episodes,
        })
    }

    /// Is an empty-floor episode raised now (for `/metrics`)?
    pub(super) async fn floor_raised(&self) -> Result<bool, Refusal> {
        Ok(self.store.open_floor().await?.is_some())
    }
}

/// How many episodes `GET /api/floor` lists.
pub const FLOOR_EPISODES_SHOWN: usize = 50;

/// An id that is neither a risk alert nor an episode.
pub(super) fn no_such_alert() -> Refusal {
    refuse(ErrorCode::InvalidMessage, "no such alert")
}
