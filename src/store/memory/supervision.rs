//! Risk and alerts, supervision, transfers and silence marks.

use super::*;

impl State {
    /// Checks shared by `reassign` and `requeue`: active with `from`.
    fn active_with(&mut self, id: ConversationId, from: AccountId) -> StoreResult<()> {
        let conv = self.conv(id)?;
        match conv.rec.state {
            ConversationState::Active { counsellor } if counsellor == from => Ok(()),
            ConversationState::Active { .. } => Err(StoreError::NotYours),
            ConversationState::Queued => Err(TransitionError::NotActive.into()),
            ConversationState::Ended => Err(TransitionError::AlreadyEnded.into()),
        }
    }
}

#[async_trait]
impl SupervisionStore for MemoryStore {
    async fn set_risk(
        &self,
        conversation: ConversationId,
        change: RiskChange,
        now_ms: u64,
    ) -> StoreResult<RiskUpdate> {
        let (commit, update) = {
            let mut s = self.state()?;
            let policy = s.policy;
            let conv = s.conv(conversation)?;
            let was = conv.rec.risk;
            if conv.rec.state == ConversationState::Ended {
                return Err(TransitionError::AlreadyEnded.into());
            }
            let old_key = conv.rec.queue_entry().key(policy);
            let (added, alert_id, raised_enough) = match change {
                RiskChange::Triage { hits, alert } => {
                    let mut known: HashSet<String> = conv
                        .rec
                        .risk_reasons
                        .iter()
                        .filter_map(|r| match &r.source {
                            RiskSource::Triage { rule, .. } => Some(rule.clone()),
                            RiskSource::Staff { .. } => None,
                        })
                        .collect();
                    // One reason per rule id, recorded or among these hits.
                    let added: Vec<RiskReason> = hits
                        .into_iter()
                        .filter(|h| match &h.source {
                            RiskSource::Triage { rule, .. } => known.insert(rule.clone()),
                            RiskSource::Staff { .. } => false,
                        })
                        .collect();
                    let top = added.iter().map(|r| r.level).max().unwrap_or_default();
                    conv.rec.risk = conv.rec.risk.max(top);
                    let any = !added.is_empty();
                    (added, alert, any)
                }
                RiskChange::Staff { level, by, alert } => {
                    conv.rec.risk = level;
                    let reason = RiskReason {
                        level,
                        source: RiskSource::Staff { by },
                        at_ms: now_ms,
                    };
                    (vec![reason], alert, level > was)
                }
            };
            conv.rec.risk_reasons.extend(added.iter().cloned());
            conv.rec.priority = conv.rec.risk.priority();
            let record = conv.rec.clone();
            if record.state == ConversationState::Queued {
                let new_key = record.queue_entry().key(policy);
                if new_key != old_key {
                    s.queue.remove(&old_key);
                    s.queue.insert(new_key, conversation);
                }
            }
            let alert = raised_enough.then_some(Alert {
                id: alert_id,
                conversation,
                level: record.risk,
                reasons: added,
                at_ms: now_ms,
                acked_by: None,
                acked_at_ms: None,
            });
            let mut changes = vec![Change::Conversation(record.clone())];
            if let Some(a) = &alert {
                s.store_alert(a.clone());
                changes.push(Change::Alert(a.clone()));
            }
            (self.record(changes), RiskUpdate { record, was, alert })
        };
        settle(commit).await?;
        Ok(update)
    }

    async fn alerts(&self, open_only: bool) -> StoreResult<Vec<Alert>> {
        Ok(self
            .state()?
            .alerts
            .values()
            .filter(|a| !open_only || a.acked_by.is_none())
            .cloned()
            .collect())
    }

    async fn ack_alert(&self, id: AlertId, by: AccountId, now_ms: u64) -> StoreResult<Alert> {
        let (commit, alert) = {
            let mut s = self.state()?;
            let key = *s.alert_index.get(&id).ok_or(StoreError::NotFound)?;
            let a = s.alerts.get_mut(&key).ok_or(StoreError::NotFound)?;
            if a.acked_by.is_some() {
                // Acknowledging again keeps the first acknowledgement.
                return Ok(a.clone());
            }
            a.acked_by = Some(by);
            a.acked_at_ms = Some(now_ms);
            let a = a.clone();
            (self.record(vec![Change::Alert(a.clone())]), a)
        };
        settle(commit).await?;
        Ok(alert)
    }

    async fn reassign(
        &self,
        conversation: ConversationId,
        from: AccountId,
        to: AccountId,
        require_available: bool,
        note: Option<Note>,
        audit: Option<AuditAction>,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            s.active_with(conversation, from)?;
            if to == from {
                return Ok(s.conv(conversation)?.rec.clone());
            }
            let target = s.counsellors.get(&to).ok_or(StoreError::NotAvailable)?;
            if require_available && !target.takes_chats() {
                return Err(StoreError::NotAvailable);
            }
            if target.active >= target.capacity {
                return Err(StoreError::CapacityReached);
            }
            let conv = s.conv(conversation)?;
            conv.rec.state = apply(conv.rec.state, Transition::Transfer(to))?;
            conv.rec.counsellor = Some(to);
            conv.rec.transfers += 1;
            let dropped = conv.rec.supervision_entry(to);
            conv.rec.supervisors.retain(|x| x.supervisor != to);
            let mut changes = vec![Change::Conversation(conv.rec.clone())];
            changes.extend(conv.add_note(conversation, note));
            let rec = conv.rec.clone();
            s.release(ConversationState::Active { counsellor: from });
            if let Some(h) = s.held.get_mut(&from) {
                h.remove(&conversation);
            }
            if dropped.is_some() {
                if let Some(set) = s.supervising.get_mut(&to) {
                    set.remove(&conversation);
                }
            }
            changes.push(Change::Counsellor(s.take_on(to, conversation, now_ms)?));
            if let Some(action) = audit {
                let duration = dropped.map(|d| access_duration(d, now_ms));
                let entry = AuditEntry::access(now_ms, to, action, conversation, duration);
                s.audit.push(entry.clone());
                changes.push(Change::Audit(entry));
            }
            (self.record(changes), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn requeue(
        &self,
        conversation: ConversationId,
        from: AccountId,
        note: Option<Note>,
        _now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            s.active_with(conversation, from)?;
            let policy = s.policy;
            let conv = s.conv(conversation)?;
            conv.rec.state = apply(conv.rec.state, Transition::Requeue)?;
            conv.rec.requeued = true;
            conv.rec.assigned_at_ms = None;
            conv.rec.counsellor = None;
            conv.rec.transfers += 1;
            let mut changes = vec![Change::Conversation(conv.rec.clone())];
            changes.extend(conv.add_note(conversation, note));
            let rec = conv.rec.clone();
            s.queue.insert(rec.queue_entry().key(policy), conversation);
            s.release(ConversationState::Active { counsellor: from });
            if let Some(h) = s.held.get_mut(&from) {
                h.remove(&conversation);
            }
            (self.record(changes), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn supervise(
        &self,
        conversation: ConversationId,
        supervisor: AccountId,
        mode: Option<SupervisionMode>,
        by_disconnect: bool,
        now_ms: u64,
    ) -> StoreResult<(ConversationRecord, Option<SupervisionMode>)> {
        let (commit, result) = {
            let mut s = self.state()?;
            let conv = s.conv(conversation)?;
            let before = conv.rec.supervision_entry(supervisor);
            let previous = before.map(|b| b.mode);
            if let Some(m) = mode {
                match conv.rec.state {
                    ConversationState::Ended => return Err(TransitionError::AlreadyEnded.into()),
                    ConversationState::Active { counsellor } if counsellor == supervisor => {
                        return Err(StoreError::NotYours)
                    }
                    ConversationState::Queued if m == SupervisionMode::Join => {
                        return Err(TransitionError::NotActive.into())
                    }
                    _ => {}
                }
            }
            if previous == mode {
                // Nothing changes, nothing is audited.
                return Ok((conv.rec.clone(), previous));
            }
            conv.rec.supervisors.retain(|x| x.supervisor != supervisor);
            if let Some(m) = mode {
                conv.rec.supervisors.push(Supervision {
                    supervisor,
                    mode: m,
                    since_ms: before.map_or(now_ms, |b| b.since_ms),
                });
            }
            let rec = conv.rec.clone();
            let set = s.supervising.entry(supervisor).or_default();
            if mode.is_some() {
                set.insert(conversation);
            } else {
                set.remove(&conversation);
            }
            let entry = supervision_audit(
                conversation,
                supervisor,
                before,
                mode,
                by_disconnect,
                now_ms,
            );
            s.audit.push(entry.clone());
            let commit = self.record(vec![
                Change::Conversation(rec.clone()),
                Change::Audit(entry),
            ]);
            (commit, (rec, previous))
        };
        settle(commit).await?;
        Ok(result)
    }

    async fn whisper(&self, whisper: Whisper) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            let conv = s.conv(whisper.conversation)?;
            if conv.rec.state == ConversationState::Ended {
                return Err(TransitionError::AlreadyEnded.into());
            }
            if conv.rec.supervision_of(whisper.supervisor).is_none() {
                return Err(StoreError::NotYours);
            }
            let entry = AuditEntry::access(
                whisper.at_ms,
                whisper.supervisor,
                AuditAction::Whisper,
                whisper.conversation,
                None,
            );
            s.audit.push(entry.clone());
            s.whispers
                .entry(whisper.conversation)
                .or_default()
                .push(whisper.clone());
            self.record(vec![Change::Whisper(whisper), Change::Audit(entry)])
        };
        settle(commit).await
    }

    async fn whispers(&self, conversation: ConversationId) -> StoreResult<Vec<Whisper>> {
        Ok(self
            .state()?
            .whispers
            .get(&conversation)
            .cloned()
            .unwrap_or_default())
    }

    async fn supervised_by(
        &self,
        supervisor: AccountId,
    ) -> StoreResult<Vec<(ConversationRecord, SupervisionMode)>> {
        let s = self.state()?;
        let mut v: Vec<_> = s
            .supervising
            .get(&supervisor)
            .into_iter()
            .flatten()
            .filter_map(|id| s.conversations.get(id))
            .filter(|c| c.rec.state != ConversationState::Ended)
            .filter_map(|c| c.rec.supervision_of(supervisor).map(|m| (c.rec.clone(), m)))
            .collect();
        v.sort_by_key(|(r, _)| (r.started_at_ms, r.id));
        Ok(v)
    }

    async fn mark_silent(
        &self,
        now_ms: u64,
        silence_ms: u64,
    ) -> StoreResult<Vec<ConversationRecord>> {
        let (commit, out) = {
            let mut s = self.state()?;
            let ids: Vec<ConversationId> = s.live.iter().copied().collect();
            let mut out = Vec::new();
            for id in ids {
                let rec = &mut s.conv(id)?.rec;
                let Some(counsellor_at) = rec.last_counsellor_msg_ms else {
                    continue;
                };
                let waiting_for_visitor = rec.last_visitor_msg_ms.is_none_or(|v| v < counsellor_at);
                if matches!(rec.state, ConversationState::Active { .. })
                    && rec.silent_since_ms.is_none()
                    && waiting_for_visitor
                    && now_ms.saturating_sub(counsellor_at) >= silence_ms
                {
                    rec.silent_since_ms = Some(counsellor_at);
                    out.push(rec.clone());
                }
            }
            if out.is_empty() {
                return Ok(out);
            }
            s.stats.went_silent += out.len() as u64;
            // The silence mark itself is derived again after a restart; the
            // count is what the statistics need.
            (self.record(vec![Change::Stats(s.stats)]), out)
        };
        settle(commit).await?;
        Ok(out)
    }
}
