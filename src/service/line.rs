//! The LINE channel's store steps. The LINE edge (`channels::line`) speaks
//! to LINE's platform (webhook, Messaging API, reply tokens, retries);
//! which conversation a LINE user is in, the sending lease, the delivery
//! cursor and records, forgetting a user who left and the handoff link
//! due for sending are decided and stored here.

use tokio::sync::broadcast;

use super::{Refusal, Service};
use crate::core::conversation::ConversationState;
use crate::core::handoff::{HandoffLink, HandoffRecord, HandoffState};
use crate::core::ids::ConversationId;
use crate::model::{Channel, Event, LineDelivery, LineLink, TokenHash};
use crate::protocol::ErrorCode;

/// Where a LINE user's new message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineCurrent {
    /// The event that opened their conversation, delivered again: nothing
    /// to do.
    Redelivered,
    /// Into this conversation, which is still going.
    Live(ConversationId),
    /// They have none going: the message starts a new one.
    New,
}

/// How far back the LINE catch-up (every `line.catch_up_ms`, 2 s by
/// default) looks for answered letters. An answer's push is lost only
/// when its event is (a node stopped between the answer and the push):
/// the next tick, or a restarted node's first, finds it. An hour covers a
/// restart and keeps each tick's read small (on Redis, the letters among
/// the conversations that ended in the last hour, not the last day's).
const LETTER_CATCH_UP_MS: u64 = 3_600_000;

/// Whether a LINE conversation is over, and what kind it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineOver {
    /// Still going (or a letter still waiting for its answer).
    No,
    /// A chat that ended (or is gone): say goodbye, forget the user.
    Chat,
    /// An answered letter: the answer was the last word; forget the user.
    Letter,
}

/// A handoff offer awaiting the LINE visitor's answer whose link was never
/// confirmed sent (see `HandoffLink::stale_for`).
pub struct LinkDue {
    pub record: HandoffRecord,
    /// A link for this very offer was made before (its push was never
    /// confirmed): the edge paces such retries.
    pub retrying: bool,
}

impl Service {
    /// Where a message from `user` (carried by webhook event `event_id`)
    /// goes.
    pub async fn line_current(&self, user: &str, event_id: &str) -> Result<LineCurrent, Refusal> {
        if let Some(conv) = self.store.line_conversation_of(user).await? {
            let link = self.store.line_link(conv).await?;
            if link.as_ref().is_some_and(|l| l.opened_by_event == event_id) {
                return Ok(LineCurrent::Redelivered);
            }
            let live = self
                .store
                .conversation(conv)
                .await?
                .is_some_and(|r| r.state != ConversationState::Ended);
            if live {
                return Ok(LineCurrent::Live(conv));
            }
        }
        Ok(LineCurrent::New)
    }

    /// Tie a conversation just started on LINE to its user (opened by
    /// `event_id`). If that cannot be stored, nobody could ever answer it:
    /// it is taken out of the queue, and the refusal returned.
    pub async fn line_open(
        &self,
        conv: ConversationId,
        user: &str,
        event_id: &str,
    ) -> Result<(), Refusal> {
        let link = LineLink {
            conversation: conv,
            user_id: Some(user.to_owned()),
            opened_by_event: event_id.to_owned(),
            created_at_ms: self.now_ms(),
        };
        if let Err(e) = self.store.line_open(link).await {
            let _ = self.visitor_end(conv).await;
            return Err(e.into());
        }
        Ok(())
    }

    /// The LINE user left (unfollowed, or asked to end): their
    /// conversation ends, and nothing can reach them any more, so they are
    /// forgotten now, with the case that linked their conversations.
    pub async fn line_visitor_left(&self, user: &str) -> Result<(), Refusal> {
        if let Some(conv) = self.store.line_conversation_of(user).await? {
            match self.visitor_end(conv).await {
                Ok(()) => {}
                Err(r) if r.code == ErrorCode::ConversationEnded => {}
                Err(r) => return Err(r),
            }
            self.store.line_forget_user(conv).await?;
        }
        self.forget_case(&self.line_case_key(user)).await
    }

    /// Drop the LINE user of a conversation (after its goodbye).
    pub async fn line_forget_user(&self, conv: ConversationId) -> Result<(), Refusal> {
        Ok(self.store.line_forget_user(conv).await?)
    }

    /// The conversation's channel (`None` if there is no such conversation).
    pub async fn channel_of(&self, conv: ConversationId) -> Result<Option<Channel>, Refusal> {
        Ok(self.store.conversation(conv).await?.map(|r| r.channel))
    }

    /// Every queued and active LINE conversation, and every LINE letter
    /// answered in the last `LETTER_CATCH_UP_MS` (an answer whose event
    /// was lost is pushed by the catch-up; its delivery record keeps it
    /// once, and the user is forgotten after it, so a later pass sends
    /// nothing).
    pub async fn live_line_conversations(&self) -> Result<Vec<ConversationId>, Refusal> {
        let since = self.now_ms().saturating_sub(LETTER_CATCH_UP_MS);
        let letters = self.store.letters_answered_since(since).await?;
        Ok(self
            .store
            .live_conversations()
            .await?
            .into_iter()
            .chain(letters)
            .filter(|r| r.channel == Channel::Line)
            .map(|r| r.id)
            .collect())
    }

    /// Take or renew the lease to send the conversation's messages to LINE
    /// (see `Store::line_lease`): `false` while another node holds it.
    pub async fn line_lease(
        &self,
        conv: ConversationId,
        holder: &str,
        now_ms: u64,
        ttl_ms: u64,
    ) -> Result<bool, Refusal> {
        Ok(self.store.line_lease(conv, holder, now_ms, ttl_ms).await?)
    }

    /// The LINE user to send to (`None` once forgotten).
    pub async fn line_user(&self, conv: ConversationId) -> Result<Option<String>, Refusal> {
        Ok(self.store.line_link(conv).await?.and_then(|l| l.user_id))
    }

    /// The sender's cursor: the last message with a recorded delivery.
    pub async fn line_cursor(&self, conv: ConversationId) -> Result<u64, Refusal> {
        Ok(self
            .store
            .line_deliveries(conv)
            .await?
            .last()
            .map_or(0, |d| d.seq))
    }

    /// Record how a message's delivery went, and tell the console.
    pub async fn line_delivered(
        &self,
        conv: ConversationId,
        delivery: LineDelivery,
    ) -> Result<(), Refusal> {
        self.store.line_delivered(conv, delivery.clone()).await?;
        if let Err(e) = self
            .store
            .publish(Event::LineDelivery {
                conversation: conv,
                delivery: Box::new(delivery),
            })
            .await
        {
            tracing::warn!(error = %e, "could not publish a LINE delivery");
        }
        Ok(())
    }

    /// Is the conversation over for the LINE sender (its user can be
    /// forgotten)?
    pub async fn line_conversation_over(&self, conv: ConversationId) -> Result<LineOver, Refusal> {
        Ok(match self.store.conversation(conv).await? {
            None => LineOver::Chat,
            // A letter is over once answered: its answer was just sent.
            Some(r) if r.letter => match r.letter_waiting() {
                true => LineOver::No,
                false => LineOver::Letter,
            },
            Some(r) if r.state == ConversationState::Ended => LineOver::Chat,
            Some(_) => LineOver::No,
        })
    }

    /// The handoff offer whose link the LINE visitor still needs, if any.
    pub async fn handoff_link_due(&self, conv: ConversationId) -> Result<Option<LinkDue>, Refusal> {
        let Some(record) = self.store.handoff(conv).await? else {
            return Ok(None);
        };
        if record.state != HandoffState::Offered {
            return Ok(None);
        }
        let current = self.store.handoff_link_of(conv).await?;
        if !HandoffLink::stale_for(current.as_ref(), &record) {
            return Ok(None);
        }
        let retrying = current
            .as_ref()
            .is_some_and(|l| l.offer_version == record.offer.version);
        Ok(Some(LinkDue { record, retrying }))
    }

    /// The link with this token hash reached the visitor (nothing changes
    /// if a newer link replaced it meanwhile).
    pub async fn handoff_link_sent(
        &self,
        conv: ConversationId,
        token_hash: &TokenHash,
    ) -> Result<(), Refusal> {
        self.store.handoff_link_sent(conv, token_hash).await?;
        Ok(())
    }

    /// The node's event stream (the LINE sender listens to it).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.store.subscribe()
    }
}
