//! Conversations and the queue: creation, assignment, end, outcome,
//! presence, the grace periods and the counts.

use super::*;

impl State {
    /// Free the counsellor's place if `was` was theirs.
    pub(super) fn release(&mut self, was: ConversationState) {
        if let ConversationState::Active { counsellor } = was {
            if let Some(c) = self.counsellors.get_mut(&counsellor) {
                c.active = c.active.saturating_sub(1);
            }
        }
    }

    /// The waiting conversation started with this key hash: only the
    /// queue is searched (a key expires with the waiting state), at most
    /// `max_queue` records.
    pub(super) fn started_with(&self, key: &TokenHash) -> Option<ConversationRecord> {
        self.queue
            .values()
            .filter_map(|id| self.conversations.get(id))
            .find(|c| c.rec.started_with(key))
            .map(|c| c.rec.clone())
    }

    /// The conversation is no longer queued or active.
    pub(super) fn retire(&mut self, id: ConversationId) {
        self.live.remove(&id);
        if let Some(c) = self.conversations.get(&id) {
            for sup in &c.rec.supervisors {
                if let Some(set) = self.supervising.get_mut(&sup.supervisor) {
                    set.remove(&id);
                }
            }
        }
    }

    /// The conversation ends: every supervisor access still open on it is
    /// closed (`LeaveByEnd` with its duration, audited with the end's
    /// change) and the record's `supervisors` emptied. Call before the
    /// record is cloned into `changes`.
    pub(super) fn close_accesses(
        &mut self,
        conversation: ConversationId,
        now_ms: u64,
        changes: &mut Vec<Change>,
    ) -> StoreResult<()> {
        let conv = self.conv(conversation)?;
        let open = std::mem::take(&mut conv.rec.supervisors);
        for sup in &open {
            if let Some(set) = self.supervising.get_mut(&sup.supervisor) {
                set.remove(&conversation);
            }
        }
        for entry in accesses_closed_by_end(conversation, &open, now_ms) {
            self.audit.push(entry.clone());
            changes.push(Change::Audit(entry));
        }
        Ok(())
    }

    /// `counsellor` takes `conversation` (assignment, transfer, take-over):
    /// one more place used, assigned now, on their list, and no longer
    /// supervising it. Returns their record for the journal.
    pub(super) fn take_on(
        &mut self,
        counsellor: AccountId,
        conversation: ConversationId,
        now_ms: u64,
    ) -> StoreResult<CounsellorRecord> {
        let c = self.counsellor_mut(counsellor)?;
        c.active += 1;
        c.last_assigned_ms = Some(now_ms);
        let c = c.clone();
        self.held
            .entry(counsellor)
            .or_default()
            .insert(conversation);
        if let Some(set) = self.supervising.get_mut(&counsellor) {
            set.remove(&conversation);
        }
        Ok(c)
    }
}

#[async_trait]
impl ConversationStore for MemoryStore {
    async fn create_conversation(
        &self,
        new: NewConversation,
        max_queue: u32,
    ) -> StoreResult<ConversationRecord> {
        let id = new.id;
        let (commit, rec) = {
            let mut s = self.state()?;
            if let Some(key) = &new.start_key {
                if let Some(rec) = s.started_with(&key.hash) {
                    return Ok(rec);
                }
            }
            if s.queue.len() >= max_queue as usize {
                return Err(StoreError::QueueFull);
            }
            let rec = new_record(&new);
            let key = s.key(&rec);
            s.queue.insert(key, id);
            s.live.insert(id);
            let mut changes = vec![Change::Conversation(rec.clone())];
            if let Some(alert) = new.first_alert() {
                changes.push(Change::Alert(alert.clone()));
                s.store_alert(alert);
            }
            s.conversations.insert(
                id,
                Box::new(Conv {
                    rec,
                    log: Vec::new(),
                    seen: HashMap::new(),
                    notes: Vec::new(),
                }),
            );
            let mut seq = 0;
            if let Some(text) = new.first_message {
                let appended = s.append(id, NewMessage::first(text, new.now_ms))?;
                if let Appended::New(message) = appended {
                    seq = message.seq;
                    changes.push(Change::Message {
                        conversation: id,
                        message,
                    });
                }
            }
            if self.journal.is_none() {
                let rec = &mut s.conv(id)?.rec;
                rec.last_seq = seq;
                return Ok(rec.clone());
            }
            let mut rec = s.conv(id)?.rec.clone();
            rec.last_seq = seq;
            (self.record(changes), rec)
        };
        settle(commit).await?;
        self.mark_durable(id, rec.last_seq)?;
        Ok(rec)
    }

    async fn started_with(&self, key: &TokenHash) -> StoreResult<Option<ConversationRecord>> {
        Ok(self.state()?.started_with(key))
    }

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<ConversationRecord>> {
        Ok(self.state()?.conversations.get(&id).map(|c| c.rec.clone()))
    }

    async fn queue(&self) -> StoreResult<Vec<ConversationRecord>> {
        let s = self.state()?;
        Ok(s.queue
            .values()
            .filter_map(|id| s.conversations.get(id).map(|c| c.rec.clone()))
            .collect())
    }

    async fn queue_head(&self, n: usize) -> StoreResult<Vec<ConversationRecord>> {
        let s = self.state()?;
        Ok(s.queue
            .values()
            .take(n)
            .filter_map(|id| s.conversations.get(id).map(|c| c.rec.clone()))
            .collect())
    }

    async fn assign(
        &self,
        conversation: ConversationId,
        counsellor: AccountId,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            let c = s.counsellor_mut(counsellor)?;
            if c.active >= c.capacity {
                return Err(StoreError::CapacityReached);
            }
            let policy = s.policy;
            let conv = s.conv(conversation)?;
            let next = apply(conv.rec.state, Transition::Assign(counsellor))?;
            let key = conv.rec.queue_entry().key(policy);
            conv.rec.state = next;
            // A supervisor who takes a conversation they observed stops observing.
            conv.rec.supervisors.retain(|x| x.supervisor != counsellor);
            conv.rec.counsellor = Some(counsellor);
            conv.rec.assigned_at_ms = Some(now_ms);
            let rec = conv.rec.clone();
            s.queue.remove(&key);
            let c = s.take_on(counsellor, conversation, now_ms)?;
            let changes = vec![Change::Conversation(rec.clone()), Change::Counsellor(c)];
            (self.record(changes), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn end(
        &self,
        conversation: ConversationId,
        by: EndedBy,
        closing: Option<Closing>,
        now_ms: u64,
    ) -> StoreResult<Ended> {
        let outcome = closing.map(|c| c.outcome);
        let (commit, ended) = {
            let mut s = self.state()?;
            let policy = s.policy;
            let conv = s.conv(conversation)?;
            let was = conv.rec.state;
            let next = apply(was, Transition::End)?;
            let key = conv.rec.queue_entry().key(policy);
            conv.rec.state = next;
            conv.rec.ended_at_ms = Some(now_ms);
            conv.rec.ended_by = Some(by);
            conv.rec.outcome = outcome;
            if let Some(c) = closing {
                conv.rec.assessment = c.assessment;
            }
            let mut audit = Vec::new();
            s.close_accesses(conversation, now_ms, &mut audit)?;
            let record = s.conv(conversation)?.rec.clone();
            let mut changes = vec![Change::Conversation(record.clone())];
            changes.append(&mut audit);
            if was == ConversationState::Queued {
                s.queue.remove(&key);
                if by == EndedBy::Visitor {
                    s.stats.left_queue += 1;
                    changes.push(Change::Stats(s.stats));
                }
            }
            s.release(was);
            s.retire(conversation);
            // A conversation with its outcome recorded leaves the counsellor's list.
            if let (Some(c), Some(_)) = (record.counsellor, outcome) {
                if let Some(h) = s.held.get_mut(&c) {
                    h.remove(&conversation);
                }
            }
            let commit = self.record(changes);
            (commit, Ended { record, was })
        };
        settle(commit).await?;
        Ok(ended)
    }

    async fn set_outcome(
        &self,
        conversation: ConversationId,
        counsellor: AccountId,
        closing: Closing,
    ) -> StoreResult<ConversationRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            let conv = s.conv(conversation)?;
            if conv.rec.counsellor != Some(counsellor) {
                return Err(StoreError::NotYours);
            }
            if conv.rec.state != ConversationState::Ended {
                return Err(TransitionError::NotActive.into());
            }
            conv.rec.outcome = Some(closing.outcome);
            conv.rec.assessment = closing.assessment;
            let rec = conv.rec.clone();
            if let Some(h) = s.held.get_mut(&counsellor) {
                h.remove(&conversation);
            }
            (self.record(vec![Change::Conversation(rec.clone())]), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn leave_quickly(
        &self,
        conversation: ConversationId,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            let conv = s.conv(conversation)?;
            if conv.rec.state == ConversationState::Ended {
                return Err(TransitionError::AlreadyEnded.into());
            }
            conv.rec.left_quickly_at_ms = Some(now_ms);
            let rec = conv.rec.clone();
            (self.record(vec![Change::Conversation(rec.clone())]), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn visitor_connections(
        &self,
        conversation: ConversationId,
        delta: i32,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        // Presence: never persisted (after a restart everyone is offline).
        let mut s = self.state()?;
        let rec = &mut s.conv(conversation)?.rec;
        rec.visitor_connections = rec.visitor_connections.saturating_add_signed(delta);
        rec.visitor_offline_since_ms = match rec.visitor_connections {
            0 => rec.visitor_offline_since_ms.or(Some(now_ms)),
            _ => None,
        };
        Ok(rec.clone())
    }

    async fn live_conversations(&self) -> StoreResult<Vec<ConversationRecord>> {
        let s = self.state()?;
        Ok(s.live
            .iter()
            .filter_map(|id| s.conversations.get(id).map(|c| c.rec.clone()))
            .collect())
    }

    async fn sweep(
        &self,
        now_ms: u64,
        visitor_grace_ms: u64,
        counsellor_grace_ms: u64,
    ) -> StoreResult<Vec<Swept>> {
        let (commit, out) = {
            let mut s = self.state()?;
            let mut out = Vec::new();
            let mut changes = Vec::new();
            let gone = |since: Option<u64>, grace: u64| {
                since.is_some_and(|t| now_ms.saturating_sub(t) >= grace)
            };

            let abandoned: Vec<(QueueKey, ConversationId)> = s
                .queue
                .iter()
                .filter(|(_, id)| {
                    s.conversations
                        .get(id)
                        .is_some_and(|c| gone(c.rec.visitor_offline_since_ms, visitor_grace_ms))
                })
                .map(|(k, id)| (*k, *id))
                .collect();
            for (key, id) in abandoned {
                s.queue.remove(&key);
                let rec = &mut s.conv(id)?.rec;
                rec.state = ConversationState::Ended;
                rec.ended_at_ms = Some(now_ms);
                rec.ended_by = Some(EndedBy::System);
                rec.outcome = Some(Outcome::VisitorLeft);
                let mut audit = Vec::new();
                s.close_accesses(id, now_ms, &mut audit)?;
                changes.push(Change::Conversation(s.conv(id)?.rec.clone()));
                changes.append(&mut audit);
                s.stats.left_queue += 1;
                s.retire(id);
                out.push(Swept::Abandoned { conversation: id });
            }
            if !out.is_empty() {
                changes.push(Change::Stats(s.stats));
            }

            let away: Vec<AccountId> = s
                .counsellors
                .values()
                .filter(|c| c.active > 0 && gone(c.offline_since_ms, counsellor_grace_ms))
                .map(|c| c.id)
                .collect();
            for counsellor in away {
                s.requeue_held(counsellor, &mut changes, &mut out)?;
            }
            let commit = if changes.is_empty() {
                None
            } else {
                self.record(changes)
            };
            (commit, out)
        };
        settle(commit).await?;
        Ok(out)
    }

    async fn stats(&self) -> StoreResult<Stats> {
        Ok(self.state()?.stats)
    }

    async fn requeue_held(&self, counsellor: AccountId, _now_ms: u64) -> StoreResult<Vec<Swept>> {
        let (commit, out) = {
            let mut s = self.state()?;
            let (mut changes, mut out) = (Vec::new(), Vec::new());
            s.requeue_held(counsellor, &mut changes, &mut out)?;
            let commit = if changes.is_empty() {
                None
            } else {
                self.record(changes)
            };
            (commit, out)
        };
        settle(commit).await?;
        Ok(out)
    }
}

impl State {
    /// Every active conversation of `counsellor` back to the front of the
    /// queue (the counsellor grace period's end, and an account's
    /// deactivation or role change).
    fn requeue_held(
        &mut self,
        counsellor: AccountId,
        changes: &mut Vec<Change>,
        out: &mut Vec<Swept>,
    ) -> StoreResult<()> {
        let policy = self.policy;
        let held: Vec<ConversationId> = self
            .held
            .remove(&counsellor)
            .into_iter()
            .flatten()
            .collect();
        let mut kept = HashSet::new();
        for id in held {
            let conv = self.conv(id)?;
            match apply(conv.rec.state, Transition::Requeue) {
                Ok(next) => {
                    conv.rec.state = next;
                    conv.rec.requeued = true;
                    conv.rec.assigned_at_ms = None;
                    // They no longer have it: no notes, no outcome, no acks.
                    conv.rec.counsellor = None;
                    let key = conv.rec.queue_entry().key(policy);
                    changes.push(Change::Conversation(conv.rec.clone()));
                    self.queue.insert(key, id);
                    self.release(ConversationState::Active { counsellor });
                    out.push(Swept::Requeued {
                        conversation: id,
                        counsellor,
                    });
                }
                // Ended ones waiting for an outcome stay with them.
                Err(_) => {
                    kept.insert(id);
                }
            }
        }
        if !kept.is_empty() {
            self.held.insert(counsellor, kept);
        }
        Ok(())
    }
}

/// The record `create_conversation` and `write_letter` store: queued,
/// nothing assigned, nothing written yet.
pub(super) fn new_record(new: &NewConversation) -> ConversationRecord {
    ConversationRecord {
        id: new.id,
        token_hash: new.token_hash,
        state: ConversationState::Queued,
        pre_chat: new.pre_chat,
        priority: new.risk.priority(),
        requeued: false,
        queued_since_ms: new.now_ms,
        started_at_ms: new.now_ms,
        assigned_at_ms: None,
        ended_at_ms: None,
        ended_by: None,
        outcome: None,
        counsellor: None,
        first_message: new.first_message.clone(),
        last_seq: 0,
        visitor_acked: 0,
        counsellor_acked: 0,
        visitor_connections: 0,
        // A LINE visitor has no socket to be away from.
        visitor_offline_since_ms: (new.channel == Channel::Web).then_some(new.now_ms),
        risk: new.risk,
        risk_reasons: new.risk_reasons.clone(),
        supervisors: Vec::new(),
        transfers: 0,
        last_visitor_msg_ms: None,
        last_counsellor_msg_ms: None,
        silent_since_ms: None,
        assessment: Default::default(),
        erased_at_ms: None,
        left_quickly_at_ms: None,
        channel: new.channel,
        start_key: new.start_key.clone(),
        lang: new.lang,
        prefers: new.prefers,
        letter: false,
        hearing: None,
        relays: Vec::new(),
    }
}
