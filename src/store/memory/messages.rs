//! The message log, acknowledgements and notes.

use super::*;

impl MemoryStore {
    /// A new message is announced once it is stored (see `Store::append`).
    pub(super) fn tell_appended(&self, conversation: ConversationId, appended: &Appended) {
        if let Appended::New(message) = appended {
            // No receiver (no hub yet) is fine: nobody to tell.
            let _ = self.events.send(Event::Message {
                conversation,
                message: message.clone(),
            });
        }
    }
}

impl Conv {
    /// The sequence number this sender's client id got before, if any: a
    /// resend is answered with it, even after the end.
    pub(super) fn seen_before(&self, m: &NewMessage) -> Option<u64> {
        self.seen
            .get(&(m.from, m.author, m.client_id.clone()))
            .copied()
    }

    /// Put `m` in the log with the next sequence number (the caller
    /// checked that it may be written).
    pub(super) fn log_message(&mut self, m: NewMessage) -> Arc<StoredMessage> {
        match m.from {
            Party::Visitor => {
                self.rec.last_visitor_msg_ms = Some(m.now_ms);
                self.rec.silent_since_ms = None;
            }
            Party::Counsellor => self.rec.last_counsellor_msg_ms = Some(m.now_ms),
        }
        let seq = self.log.len() as u64 + 1;
        self.seen
            .insert((m.from, m.author, m.client_id.clone()), seq);
        let msg = Arc::new(StoredMessage {
            seq,
            from: m.from,
            author: m.author,
            author_name: m.author_name,
            client_id: m.client_id,
            text: m.text,
            at_ms: m.now_ms,
        });
        self.log.push(msg.clone());
        msg
    }
}

impl State {
    pub(super) fn append(&mut self, id: ConversationId, m: NewMessage) -> StoreResult<Appended> {
        let conv = self.conv(id)?;
        if let Some(seq) = conv.seen_before(&m) {
            return Ok(Appended::Duplicate(seq));
        }
        if conv.rec.state == ConversationState::Ended {
            return Err(TransitionError::AlreadyEnded.into());
        }
        if let Some(required) = m.require_counsellor {
            // The owner, or a supervisor who joined.
            if !conv.rec.writable_by(required) {
                return Err(StoreError::NotYours);
            }
        }
        Ok(Appended::New(conv.log_message(m)))
    }
}

#[async_trait]
impl MessageStore for MemoryStore {
    async fn append(&self, conversation: ConversationId, msg: NewMessage) -> StoreResult<Appended> {
        let (commit, appended) = {
            let mut s = self.state()?;
            let appended = s.append(conversation, msg)?;
            let seq = match &appended {
                Appended::New(m) => m.seq,
                Appended::Duplicate(seq) => *seq,
            };
            let rec = &mut s.conv(conversation)?.rec;
            if self.journal.is_none() {
                // In memory: stored is as stored as it gets.
                rec.last_seq = rec.last_seq.max(seq);
                // Under the lock: events leave in sequence order.
                self.tell_appended(conversation, &appended);
                return Ok(appended);
            }
            if rec.last_seq >= seq {
                // A resend of a message already durable.
                return Ok(appended);
            }
            let changes = match &appended {
                Appended::New(message) => vec![Change::Message {
                    conversation,
                    message: message.clone(),
                }],
                // A resend of a message whose commit is pending: answer
                // only once the first copy is durable.
                Appended::Duplicate(_) => Vec::new(),
            };
            (self.record(changes), appended)
        };
        settle(commit).await?;
        let seq = match &appended {
            Appended::New(m) => m.seq,
            Appended::Duplicate(seq) => *seq,
        };
        self.mark_durable(conversation, seq)?;
        self.tell_appended(conversation, &appended);
        Ok(appended)
    }

    async fn messages_after(
        &self,
        conversation: ConversationId,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<Arc<StoredMessage>>> {
        let s = self.state()?;
        let conv = s
            .conversations
            .get(&conversation)
            .ok_or(StoreError::NotFound)?;
        // seq n is at index n-1; only durable messages are visible.
        let end = (conv.rec.last_seq as usize).min(conv.log.len());
        let start = (after as usize).min(end);
        Ok(conv.log[start..end].iter().take(limit).cloned().collect())
    }

    async fn ack(
        &self,
        conversation: ConversationId,
        party: Party,
        seq: u64,
    ) -> StoreResult<Acknowledged> {
        let (commit, now) = {
            let mut s = self.state()?;
            let rec = &mut s.conv(conversation)?.rec;
            let seq = seq.min(rec.last_seq);
            let slot = match party {
                Party::Visitor => &mut rec.visitor_acked,
                Party::Counsellor => &mut rec.counsellor_acked,
            };
            if seq <= *slot {
                return Ok(Acknowledged {
                    seq: *slot,
                    raised: false,
                });
            }
            *slot = seq;
            let change = Change::Acked {
                conversation,
                party,
                seq,
            };
            (self.record(vec![change]), seq)
        };
        settle(commit).await?;
        Ok(Acknowledged {
            seq: now,
            raised: true,
        })
    }

    async fn add_note(&self, conversation: ConversationId, note: Note) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            let change = s.conv(conversation)?.add_note(conversation, Some(note));
            self.record(change.into_iter().collect())
        };
        settle(commit).await
    }

    async fn notes(&self, conversation: ConversationId) -> StoreResult<Vec<Note>> {
        Ok(self.state()?.conv(conversation)?.notes.clone())
    }
}
