//! Read models: what the edges show, built from the store with names
//! resolved (the colleagues list, the supervisors' floor, a display
//! name), and the log read by sequence number.

use std::sync::Arc;

use super::{Refusal, Service};
use crate::core::conversation::ConversationState;
use crate::core::ids::{AccountId, ConversationId};
use crate::core::queue::Priority;
use crate::model::{Account, ConversationRecord, StoredMessage};
use crate::protocol::{
    reason_views, ColleagueView, FloorConversation, FloorCounsellor, FloorQueue, FloorView,
    StaffRef, SupervisorView,
};

impl Service {
    /// Display names by account.
    pub(super) async fn names(
        &self,
    ) -> Result<std::collections::HashMap<AccountId, Account>, Refusal> {
        Ok(self
            .store
            .accounts()
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect())
    }

    /// One account's display name; empty when it is unknown or cannot be
    /// read (a name is never worth refusing a frame for).
    pub async fn display_name(&self, id: AccountId) -> String {
        self.store
            .account(id)
            .await
            .ok()
            .flatten()
            .map(|a| a.display_name)
            .unwrap_or_default()
    }

    /// An account as a name tag (see [`Service::display_name`]).
    pub async fn staff_ref(&self, id: AccountId) -> StaffRef {
        StaffRef {
            id,
            display_name: self.display_name(id).await,
        }
    }

    /// The conversation's messages with `seq > after`, in order, at most
    /// `limit` (a socket's catch-up, the LINE sender's cursor).
    pub async fn messages_after(
        &self,
        id: ConversationId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Arc<StoredMessage>>, Refusal> {
        Ok(self.store.messages_after(id, after, limit).await?)
    }

    /// Colleagues a conversation can be transferred to: everyone who
    /// counsels and is connected.
    pub async fn colleagues(&self) -> Result<Vec<ColleagueView>, Refusal> {
        let names = self.names().await?;
        let mut v: Vec<ColleagueView> = self
            .store
            .counsellors()
            .await?
            .into_iter()
            .filter(|c| c.connections > 0)
            .filter_map(|c| {
                let a = names.get(&c.id)?;
                Some(ColleagueView {
                    id: c.id,
                    display_name: a.display_name.clone(),
                    role: a.role,
                    available: c.takes_chats(),
                    free: c.capacity.saturating_sub(c.active),
                })
            })
            .collect();
        v.sort_by(|a, b| a.display_name.cmp(&b.display_name).then(a.id.cmp(&b.id)));
        Ok(v)
    }

    /// The supervisors' floor view, now.
    pub async fn floor(&self) -> Result<FloorView, Refusal> {
        let now = self.now_ms();
        let names = self.names().await?;
        let staff = |id: AccountId| StaffRef {
            id,
            display_name: names
                .get(&id)
                .map(|a| a.display_name.clone())
                .unwrap_or_default(),
        };
        let queue = self.store.queue().await?;
        let mut live = self.store.live_conversations().await?;
        live.retain(|r| r.state != ConversationState::Queued);
        live.sort_by_key(|r| (r.assigned_at_ms, r.id));
        let view = |r: &ConversationRecord| FloorConversation {
            conversation_id: r.id,
            state: r.state.name(),
            risk: r.risk,
            risk_reasons: reason_views(&r.risk_reasons),
            priority: r.priority,
            requeued: r.requeued,
            counsellor: r.state.counsellor().map(staff),
            supervisors: r
                .supervisors
                .iter()
                .map(|x| SupervisorView {
                    id: x.supervisor,
                    display_name: staff(x.supervisor).display_name,
                    mode: x.mode,
                })
                .collect(),
            started_at: r.started_at_ms,
            age_secs: now.saturating_sub(r.started_at_ms) / 1000,
            waiting_secs: (r.state == ConversationState::Queued)
                .then(|| now.saturating_sub(r.queued_since_ms) / 1000),
            visitor_online: r.visitor_connections > 0,
            silent_since: r.silent_since_ms,
            transfers: r.transfers,
            last_seq: r.last_seq,
        };
        let conversations: Vec<FloorConversation> =
            queue.iter().chain(live.iter()).map(view).collect();
        let mut counsellors: Vec<FloorCounsellor> = self
            .store
            .counsellors()
            .await?
            .into_iter()
            .filter_map(|c| {
                let a = names.get(&c.id)?;
                Some(FloorCounsellor {
                    id: c.id,
                    display_name: a.display_name.clone(),
                    role: a.role,
                    status: c.status,
                    activity: c.activity(),
                    online: c.connections > 0,
                    capacity: c.capacity,
                    active: c.active,
                })
            })
            .collect();
        counsellors.sort_by(|a, b| a.display_name.cmp(&b.display_name).then(a.id.cmp(&b.id)));
        Ok(FloorView {
            at: now,
            queue: FloorQueue {
                length: queue.len() as u32,
                urgent: queue
                    .iter()
                    .filter(|r| r.priority == Priority::Urgent)
                    .count() as u32,
                longest_wait_secs: queue
                    .iter()
                    .map(|r| r.queued_since_ms)
                    .min()
                    .map(|t| now.saturating_sub(t) / 1000),
            },
            counsellors,
            conversations,
            open_alerts: self.store.alerts(true).await?.len() as u32,
            stats: self.store.stats().await?,
            hours: self.hours_view(),
        })
    }
}
