//! The queue: each waiting visitor's place and estimate, automatic
//! matching, and the sweeper that applies the grace periods and marks
//! silent conversations.

use std::sync::Arc;
use std::time::Duration;

use super::{Refusal, Service};
use crate::core::conversation::{EndedBy, Outcome};
use crate::core::estimate::{estimate_wait, WaitInputs};
use crate::core::matching::{self, CounsellorLoad, Waiting};
use crate::model::MatchingMode;
use crate::model::{ConversationRecord, Event, Swept};
use crate::protocol::ErrorCode;

/// Queued visitors read beyond the free places in a matching round, for
/// the returning visitors passed over while they wait for their
/// counsellor (issue 22). More of those at once than this only delays
/// the ones behind them to the next round after a preference runs out.
const RETURNING_LOOKAHEAD: usize = 16;

/// How often the sweeper looks for supervision no socket holds, in ms.
const ORPHAN_CHECK_MS: u64 = 10_000;

/// What a visitor learns about their place in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuePlace {
    pub position: u32,
    pub queue_length: u32,
    pub estimated_wait_secs: Option<u64>,
}

impl Service {
    /// Everyone waiting, in queue order (the counsellors' queue view).
    pub async fn queue(&self) -> Result<Vec<ConversationRecord>, Refusal> {
        Ok(self.store.queue().await?)
    }

    /// Every waiting visitor's place, in queue order, with the estimate
    /// from the counsellors taking chats now.
    pub async fn queue_places(
        &self,
    ) -> Result<(Vec<ConversationRecord>, Vec<QueuePlace>), Refusal> {
        let queue = self.store.queue().await?;
        let counsellors = self.store.counsellors().await?;
        let (mut free, mut total) = (0u32, 0u32);
        for c in counsellors.iter().filter(|c| c.takes_chats()) {
            free += c.capacity.saturating_sub(c.active);
            total += c.capacity;
        }
        let mean_handle = self.mean_handle_time();
        let len = queue.len() as u32;
        let places = (1..=len)
            .map(|position| QueuePlace {
                position,
                queue_length: len,
                estimated_wait_secs: estimate_wait(WaitInputs {
                    position,
                    free_slots: free,
                    total_slots: total,
                    mean_handle,
                })
                .map(|d| d.as_secs()),
            })
            .collect();
        Ok((queue, places))
    }

    /// One round of automatic matching. Returns how many were assigned.
    pub async fn match_round(&self) -> Result<usize, Refusal> {
        if self.settings.matching != MatchingMode::Auto {
            return Ok(0);
        }
        // Counsellors first: there are few of them, while the queue may hold
        // thousands. With no free place anywhere (the usual state at a peak)
        // a round costs nothing, however often arrivals wake the matcher.
        let loads: Vec<CounsellorLoad> = self
            .store
            .counsellors()
            .await?
            .into_iter()
            .map(|c| CounsellorLoad {
                id: c.id,
                capacity: c.capacity,
                active: c.active,
                available: c.takes_chats(),
                last_assigned_ms: c.last_assigned_ms,
            })
            .collect();
        let free: u32 = loads.iter().filter(|c| c.available).map(|c| c.free()).sum();
        if free == 0 {
            return Ok(0);
        }
        // Returning visitors waiting for their counsellor (issue 22) are
        // passed over while they wait, so read a few more than the free
        // places: the ones behind them get those places meanwhile.
        let queue: Vec<Waiting> = self
            .store
            .queue_head(free as usize + RETURNING_LOOKAHEAD)
            .await?
            .iter()
            .map(|r| Waiting {
                conversation: r.id,
                prefers: r.prefers,
                queued_since_ms: r.queued_since_ms,
            })
            .collect();
        // The planned assignments run at once: each is one atomic store
        // step that checks the counsellor's capacity itself, and one after
        // another they cost a round trip each while freed places wait
        // (tens of milliseconds a round on Redis at a busy moment).
        let max_wait_ms = self.settings.timing.return_preference_max_wait_secs * 1000;
        let plan = matching::plan_preferring(&queue, &loads, self.now_ms(), max_wait_ms);
        let results = futures_util::future::join_all(
            plan.into_iter()
                .map(|(conversation, counsellor)| self.assign(conversation, counsellor)),
        )
        .await;
        let mut assigned = 0;
        for r in results {
            // A refusal means another node (or a visitor leaving) got there
            // first; the next round plans again from fresh data.
            match r {
                Ok(()) => assigned += 1,
                Err(e) if e.code == ErrorCode::Unavailable => return Err(e),
                Err(_) => {}
            }
        }
        if assigned > 0 {
            self.publish(Event::QueueChanged).await;
        }
        Ok(assigned)
    }

    /// Run matching whenever woken, and at least every second.
    pub async fn run_matcher(self: Arc<Self>) {
        loop {
            let _ =
                tokio::time::timeout(Duration::from_secs(1), self.matcher_wake.notified()).await;
            if let Err(e) = self.match_round().await {
                tracing::warn!(code = e.code.as_str(), "matching round failed");
            }
        }
    }

    /// Apply the grace periods on a fixed interval, and end the supervision
    /// of supervisors no socket holds (`end_orphaned_supervision`).
    pub async fn run_sweeper(self: Arc<Self>) {
        let t = &self.settings.timing;
        let mut tick = tokio::time::interval(Duration::from_millis(t.sweep_interval_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Orphaned supervision is looked for at the first tick (a node
        // restarted after a crash) and then every ten seconds or so (it
        // reads every account), not on every tick.
        let orphan_every = (ORPHAN_CHECK_MS / t.sweep_interval_ms.max(1)).max(1);
        let mut ticks: u64 = 0;
        loop {
            tick.tick().await;
            if ticks % orphan_every == 0 {
                self.end_orphaned_supervision().await;
            }
            ticks += 1;
            let swept = match self
                .store
                .sweep(
                    self.now_ms(),
                    t.visitor_grace_secs * 1000,
                    t.counsellor_grace_secs * 1000,
                )
                .await
            {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "sweep failed");
                    continue;
                }
            };
            for s in &swept {
                match *s {
                    Swept::Abandoned { conversation } => {
                        tracing::info!(%conversation, "visitor left the queue (grace period over)");
                        self.publish(Event::Ended {
                            conversation,
                            by: EndedBy::System,
                            outcome: Some(Outcome::VisitorLeft),
                            counsellor: None,
                            erased: false,
                        })
                        .await;
                    }
                    Swept::Requeued {
                        conversation,
                        counsellor,
                    } => {
                        tracing::info!(%conversation, %counsellor, "counsellor away past grace; conversation back to the front of the queue");
                        self.publish(Event::Requeued {
                            conversation,
                            counsellor,
                            by_transfer: false,
                        })
                        .await;
                        self.publish(Event::CounsellorChanged { counsellor }).await;
                    }
                }
            }
            if !swept.is_empty() {
                self.publish(Event::QueueChanged).await;
                self.wake_matcher();
            }
            match self
                .store
                .mark_silent(self.now_ms(), t.silence_secs * 1000)
                .await
            {
                Ok(silent) => {
                    for rec in silent {
                        if let Some(since_ms) = rec.silent_since_ms {
                            self.publish(Event::Silent {
                                conversation: rec.id,
                                since_ms,
                            })
                            .await;
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "silence check failed"),
            }
        }
    }
}
