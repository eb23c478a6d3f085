//! Purge, erase and the report's facts.

use super::*;

impl State {
    /// A stored conversation's facts (with its handoff's progress) and its
    /// booked appointment's start.
    fn facts_of(&self, rec: &ConversationRecord) -> (ConversationFacts, Option<u64>) {
        let handoff = self.handoffs.get(&rec.id);
        let booking = handoff
            .and_then(|h| h.booking.as_ref())
            .and_then(|b| self.bookings.get(b));
        let attended = booking.is_some_and(|b| b.attended == Some(true));
        let appointment = booking
            .and_then(|b| self.slots.get(&b.slot))
            .map(|s| s.slot.starts_at_ms);
        let case = self.case_of.get(&rec.id).copied();
        (
            rec.facts(handoff_facts(handoff, attended), case),
            appointment,
        )
    }

    /// Purge one ended conversation (see `Store::purge`): its facts kept,
    /// everything else gone; its handoff stamped with its expiry, or gone
    /// too once that passed.
    fn purge_conversation(
        &mut self,
        id: ConversationId,
        now_ms: u64,
        r: &Retention,
    ) -> Vec<Change> {
        let Some(conv) = self.conversations.remove(&id) else {
            return Vec::new();
        };
        let (facts, appointment) = self.facts_of(&conv.rec);
        self.facts.push(facts);
        // A LINE conversation's link and delivery states go with it.
        self.line_links.remove(&id);
        self.line_users.retain(|_, c| *c != id);
        self.line_deliveries.remove(&id);
        self.line_leases.remove(&id);
        self.whispers.remove(&id);
        self.drop_handoff_link(id);
        if let Some(c) = conv.rec.counsellor {
            if let Some(h) = self.held.get_mut(&c) {
                h.remove(&id);
            }
        }
        let mut changes = vec![Change::Facts(facts), Change::ConversationDeleted(id)];
        changes.extend(self.purge_from_case(id));
        if let Some(h) = self.handoffs.get_mut(&id) {
            let ended = conv.rec.ended_at_ms.unwrap_or(now_ms);
            let expires = handoff_expiry(ended, appointment, r);
            if expires <= now_ms {
                self.handoffs.remove(&id);
                changes.push(Change::HandoffDeleted(id));
            } else {
                h.rev += 1;
                h.expires_at_ms = Some(expires);
                changes.push(Change::Handoff(h.clone()));
            }
        }
        changes
    }
}

#[async_trait]
impl RetentionStore for MemoryStore {
    async fn purge(&self, now_ms: u64, retention: &Retention) -> StoreResult<Purged> {
        let (commit, purged) = {
            let mut s = self.state()?;
            let mut purged = Purged::default();
            let mut changes = Vec::new();
            let due: Vec<ConversationId> = s
                .conversations
                .values()
                .filter(|c| c.rec.state == ConversationState::Ended)
                .filter(|c| {
                    c.rec
                        .ended_at_ms
                        .is_some_and(|e| s.purge_at(c.rec.id, e, retention) <= now_ms)
                })
                .map(|c| c.rec.id)
                .collect();
            for id in due {
                changes.extend(s.purge_conversation(id, now_ms, retention));
                purged.conversations.push(id);
            }
            let expired: Vec<ConversationId> = s
                .handoffs
                .values()
                .filter(|h| h.expires_at_ms.is_some_and(|e| e <= now_ms))
                .map(|h| h.conversation)
                .collect();
            for id in expired {
                s.handoffs.remove(&id);
                changes.push(Change::HandoffDeleted(id));
            }
            purged.handoffs = changes
                .iter()
                .filter(|c| matches!(c, Change::HandoffDeleted(_)))
                .count() as u32;
            let old_slots: Vec<SlotId> = s
                .slots
                .values()
                .filter(|r| r.slot.starts_at_ms.saturating_add(retention.booking_ms) <= now_ms)
                .map(|r| r.slot.id)
                .collect();
            for id in old_slots {
                s.slots.remove(&id);
                for reference in s.slot_bookings.remove(&id).unwrap_or_default() {
                    s.bookings.remove(&reference);
                }
                changes.push(Change::SlotDeleted(id));
                purged.slots += 1;
            }
            let dead: Vec<TokenHash> = s
                .sessions
                .iter()
                .filter(|(_, r)| {
                    r.expires_at_ms <= now_ms
                        || s.accounts
                            .get(&r.account)
                            .is_none_or(|a| a.session_epoch != r.epoch)
                })
                .map(|(t, _)| *t)
                .collect();
            for token in dead {
                s.sessions.remove(&token);
                changes.push(Change::SessionDeleted(token));
                purged.sessions += 1;
            }
            // Audit entries past their retention (append order is time
            // order up to clock skew, so filter rather than cut a prefix).
            let audit_before = now_ms.saturating_sub(retention.audit_ms);
            let n = s.audit.len();
            s.audit.retain(|e| e.at_ms >= audit_before);
            if s.audit.len() < n {
                purged.audit = (n - s.audit.len()) as u32;
                changes.push(Change::AuditPurged {
                    before_ms: audit_before,
                });
            }
            let commit = (!changes.is_empty())
                .then(|| self.record(changes))
                .flatten();
            (commit, purged)
        };
        settle(commit).await?;
        Ok(purged)
    }

    async fn erase(
        &self,
        conversation: ConversationId,
        keep_notes: bool,
        now_ms: u64,
    ) -> StoreResult<Ended> {
        let (commit, ended) = {
            let mut s = self.state()?;
            let policy = s.policy;
            let conv = s.conv(conversation)?;
            let was = conv.rec.state;
            if conv.rec.erased_at_ms.is_some() {
                return Ok(Ended {
                    record: conv.rec.clone(),
                    was,
                });
            }
            let key = conv.rec.queue_entry().key(policy);
            if was != ConversationState::Ended {
                conv.rec.state = ConversationState::Ended;
                conv.rec.ended_at_ms = Some(now_ms);
                conv.rec.ended_by = Some(EndedBy::Visitor);
            }
            conv.rec.erased_at_ms = Some(now_ms);
            conv.rec.first_message = None;
            // The visitor's answers passed on: gone, and every link stops.
            conv.rec.relays.clear();
            conv.log.clear();
            conv.seen.clear();
            if !keep_notes {
                conv.notes.clear();
                // The sheet's free text is the counsellor's notes too.
                if let Some(h) = conv.rec.hearing.as_mut() {
                    h.texts.clear();
                }
            }
            let mut audit = Vec::new();
            if was != ConversationState::Ended {
                s.close_accesses(conversation, now_ms, &mut audit)?;
            }
            let record = s.conv(conversation)?.rec.clone();
            s.drop_handoff_link(conversation);
            s.whispers.remove(&conversation);
            let mut changes = vec![
                Change::Conversation(record.clone()),
                Change::Erased {
                    conversation,
                    notes: !keep_notes,
                },
            ];
            changes.append(&mut audit);
            if was == ConversationState::Queued {
                s.queue.remove(&key);
                s.stats.left_queue += 1;
                changes.push(Change::Stats(s.stats));
            }
            if was != ConversationState::Ended {
                s.release(was);
                s.retire(conversation);
            }
            (self.record(changes), Ended { record, was })
        };
        settle(commit).await?;
        Ok(ended)
    }

    async fn facts(&self) -> StoreResult<Vec<ConversationFacts>> {
        Ok(self.state()?.facts.clone())
    }

    async fn report_facts(&self) -> StoreResult<Vec<ConversationFacts>> {
        let s = self.state()?;
        let mut all = s.facts.clone();
        all.extend(s.conversations.values().map(|c| s.facts_of(&c.rec).0));
        Ok(all)
    }
}
