//! What a visitor may write while waiting to be matched for the first
//! time (issue 18): nobody reads it until then, so it is bounded,
//! `limits.waiting_messages_per_conversation` messages and
//! `waiting_bytes_per_conversation` bytes. Past it `send` is refused with
//! `waiting_budget_spent` and nothing is stored. A conversation put back
//! in the queue after a counsellor left (`requeued`) has been read, and is
//! not bounded; nor is any conversation once matched.
//!
//! Two sockets of one conversation sending at the same moment can each
//! pass the check once: the bound can be passed by the number of the
//! conversation's sockets (each socket sends one write of a conversation
//! at a time).

use super::{refuse, Refusal, Service};
use crate::core::conversation::ConversationState;
use crate::core::ids::{ClientMsgId, ConversationId, Party};

impl Service {
    /// A visitor's `send`; `waiting` is the socket's belief that the
    /// conversation is still queued (then the budget is checked against
    /// the store; a socket that knows it matched costs no extra read).
    pub async fn visitor_send(
        &self,
        id: ConversationId,
        client_id: ClientMsgId,
        text: String,
        waiting: bool,
    ) -> Result<u64, Refusal> {
        if waiting {
            self.within_waiting_budget(id, &client_id, &text).await?;
        }
        self.send(id, Party::Visitor, None, client_id, text).await
    }

    async fn within_waiting_budget(
        &self,
        id: ConversationId,
        client_id: &ClientMsgId,
        text: &str,
    ) -> Result<(), Refusal> {
        let Some(rec) = self.store.conversation(id).await? else {
            return Ok(()); // `send` answers for an unknown conversation
        };
        if rec.state != ConversationState::Queued || rec.requeued {
            return Ok(());
        }
        let l = &self.settings.limits;
        let max_messages = l.waiting_messages_per_conversation as usize;
        let written = self.store.messages_after(id, 0, max_messages + 1).await?;
        let mine: Vec<_> = written
            .iter()
            .filter(|m| m.from == Party::Visitor)
            .collect();
        // A resend of a stored message is answered as before (`sent`).
        if mine.iter().any(|m| &m.client_id == client_id) {
            return Ok(());
        }
        let bytes: usize = mine.iter().map(|m| m.text.len()).sum();
        if mine.len() < max_messages
            && bytes + text.len() <= l.waiting_bytes_per_conversation as usize
        {
            return Ok(());
        }
        // Not stored, but a cry for help still reaches the queue's order
        // and the supervisors (as the rule ids, never the text).
        let hits = self.rules.check(text);
        if !hits.is_empty() {
            self.apply_triage(id, &hits, self.now_ms()).await;
        }
        Err(refuse(
            crate::protocol::ErrorCode::WaitingBudgetSpent,
            "your messages are waiting to be read; you can write more once a counsellor joins",
        ))
    }
}
