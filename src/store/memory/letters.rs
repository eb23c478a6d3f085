//! Letters (issue 22): ended conversations outside the queue.

use super::conversations::new_record;
use super::*;

#[async_trait]
impl LetterStore for MemoryStore {
    async fn write_letter(
        &self,
        new: NewConversation,
        max_waiting: u32,
    ) -> StoreResult<ConversationRecord> {
        let id = new.id;
        let Some(text) = new.first_message.clone() else {
            return Err(StoreError::Unavailable("a letter needs its text".into()));
        };
        let (commit, rec) = {
            let mut s = self.state()?;
            let waiting = s
                .conversations
                .values()
                .filter(|c| c.rec.letter_waiting())
                .count();
            if waiting >= max_waiting as usize {
                return Err(StoreError::LettersFull);
            }
            let mut rec = new_record(&new);
            rec.letter = true;
            rec.state = ConversationState::Ended;
            rec.ended_at_ms = Some(new.now_ms);
            rec.ended_by = Some(EndedBy::Visitor);
            // Nobody is away: there is no socket to come back to.
            rec.visitor_offline_since_ms = None;
            let mut conv = Conv {
                rec,
                log: Vec::new(),
                seen: HashMap::new(),
                notes: Vec::new(),
            };
            let message = conv.log_message(NewMessage::first(text, new.now_ms));
            let mut changes = vec![
                Change::Conversation(conv.rec.clone()),
                Change::Message {
                    conversation: id,
                    message,
                },
            ];
            if let Some(alert) = new.first_alert() {
                changes.push(Change::Alert(alert.clone()));
                s.store_alert(alert);
            }
            let durable = self.journal.is_none();
            if durable {
                conv.rec.last_seq = 1;
            }
            let rec = conv.rec.clone();
            s.conversations.insert(id, Box::new(conv));
            if durable {
                return Ok(rec);
            }
            (self.record(changes), rec)
        };
        settle(commit).await?;
        self.mark_durable(id, 1)?;
        Ok(ConversationRecord { last_seq: 1, ..rec })
    }

    async fn waiting_letters(&self) -> StoreResult<Vec<ConversationRecord>> {
        let s = self.state()?;
        Ok(s.conversations
            .values()
            .filter(|c| c.rec.letter_waiting())
            .map(|c| c.rec.clone())
            .collect())
    }

    async fn letters_answered_since(&self, since_ms: u64) -> StoreResult<Vec<ConversationRecord>> {
        let s = self.state()?;
        Ok(s.conversations
            .values()
            .filter(|c| c.rec.letter && c.rec.assigned_at_ms.is_some_and(|t| t >= since_ms))
            .map(|c| c.rec.clone())
            .collect())
    }

    async fn answer_letter(
        &self,
        letter: ConversationId,
        answer: NewMessage,
    ) -> StoreResult<(ConversationRecord, Appended)> {
        let (commit, rec, appended) = {
            let mut s = self.state()?;
            let conv = s.conv(letter)?;
            if !conv.rec.letter {
                return Err(StoreError::NotFound);
            }
            if let Some(seq) = conv.seen_before(&answer) {
                return Ok((conv.rec.clone(), Appended::Duplicate(seq)));
            }
            if !conv.rec.letter_waiting() {
                return Err(StoreError::Conflict);
            }
            let now = answer.now_ms;
            let author = answer.author;
            let message = conv.log_message(answer);
            conv.rec.counsellor = author;
            conv.rec.assigned_at_ms = Some(now);
            conv.rec.ended_at_ms = Some(now);
            let appended = Appended::New(message.clone());
            if self.journal.is_none() {
                conv.rec.last_seq = message.seq;
                let rec = conv.rec.clone();
                // Under the lock: events leave in sequence order.
                self.tell_appended(letter, &appended);
                return Ok((rec, appended));
            }
            let mut rec = conv.rec.clone();
            rec.last_seq = message.seq;
            let changes = vec![
                Change::Conversation(rec.clone()),
                Change::Message {
                    conversation: letter,
                    message,
                },
            ];
            (self.record(changes), rec, appended)
        };
        settle(commit).await?;
        self.mark_durable(letter, rec.last_seq)?;
        self.tell_appended(letter, &appended);
        Ok((rec, appended))
    }
}
