//! The in-memory backend: everything in one process, nothing on disk.
//!
//! For tests, trials and a single node where losing chats on restart is
//! acceptable (the durable embedded backend is its own issue). One mutex
//! guards all state: every method is then trivially atomic, and no method
//! holds it across an `.await` or for longer than a few map operations.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::*;
use crate::core::conversation::{apply, Transition};
use crate::core::queue::{QueueKey, QueuePolicy};

/// Events kept for a slow subscriber before it is told it lagged.
const EVENT_BUFFER: usize = 16_384;

pub struct MemoryStore {
    state: Mutex<State>,
    events: broadcast::Sender<Event>,
}

#[derive(Default)]
struct State {
    policy: QueuePolicy,
    accounts: HashMap<AccountId, Account>,
    usernames: HashMap<String, AccountId>,
    sessions: HashMap<TokenHash, SessionRecord>,
    conversations: HashMap<ConversationId, Conv>,
    queue: BTreeMap<QueueKey, ConversationId>,
    counsellors: HashMap<AccountId, CounsellorRecord>,
    /// Counsellor -> conversations they hold (active, or ended without outcome).
    held: HashMap<AccountId, HashSet<ConversationId>>,
    /// Queued and active conversations.
    live: HashSet<ConversationId>,
    /// Supervisor -> conversations they observe or joined.
    supervising: HashMap<AccountId, HashSet<ConversationId>>,
    alerts: BTreeMap<(u64, AlertId), Alert>,
    alert_index: HashMap<AlertId, (u64, AlertId)>,
    stats: Stats,
}

struct Conv {
    rec: ConversationRecord,
    log: Vec<Arc<StoredMessage>>,
    /// (sender party, sender account for counsellors, client id) -> seq.
    /// Keyed by account so one counsellor can never collide with, or
    /// learn the sequence numbers of, another's messages.
    seen: HashMap<(Party, Option<AccountId>, ClientMsgId), u64>,
    notes: Vec<Note>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::with_queue_policy(QueuePolicy::default())
    }

    /// A store that orders its queue with `policy` (the urgent head start).
    pub fn with_queue_policy(policy: QueuePolicy) -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Self {
            state: Mutex::new(State {
                policy,
                ..State::default()
            }),
            events,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a bug; the data is still
        // consistent (every method validates before it writes), so carry on.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn conv(&mut self, id: ConversationId) -> StoreResult<&mut Conv> {
        self.conversations.get_mut(&id).ok_or(StoreError::NotFound)
    }

    fn counsellor_mut(&mut self, id: AccountId) -> StoreResult<&mut CounsellorRecord> {
        self.counsellors.get_mut(&id).ok_or(StoreError::NotFound)
    }

    fn append(&mut self, id: ConversationId, m: NewMessage) -> StoreResult<Appended> {
        let conv = self.conv(id)?;
        // A resend is answered first: the sender learns the sequence number
        // it got the first time, even if the conversation ended since.
        let key = (m.from, m.author, m.client_id.clone());
        if let Some(&seq) = conv.seen.get(&key) {
            return Ok(Appended::Duplicate(seq));
        }
        if conv.rec.state == ConversationState::Ended {
            return Err(TransitionError::AlreadyEnded.into());
        }
        if let Some(required) = m.require_counsellor {
            if !conv.rec.writable_by(required) {
                return Err(StoreError::NotYours);
            }
        }
        match m.from {
            Party::Visitor => {
                conv.rec.last_visitor_msg_ms = Some(m.now_ms);
                conv.rec.silent_since_ms = None;
            }
            Party::Counsellor => conv.rec.last_counsellor_msg_ms = Some(m.now_ms),
        }
        let seq = conv.rec.last_seq + 1;
        let msg = Arc::new(StoredMessage {
            seq,
            from: m.from,
            author: m.author,
            author_name: m.author_name,
            client_id: m.client_id,
            text: m.text,
            at_ms: m.now_ms,
        });
        conv.rec.last_seq = seq;
        conv.seen.insert(key, seq);
        conv.log.push(msg.clone());
        Ok(Appended::New(msg))
    }

    fn key(&self, rec: &ConversationRecord) -> QueueKey {
        rec.queue_entry().key(self.policy)
    }

    fn store_alert(&mut self, alert: Alert) {
        let k = (alert.at_ms, alert.id);
        self.alert_index.insert(alert.id, k);
        self.alerts.insert(k, alert);
    }

    /// The conversation is no longer queued or active.
    fn retire(&mut self, id: ConversationId) {
        self.live.remove(&id);
        if let Some(c) = self.conversations.get(&id) {
            for sup in &c.rec.supervisors {
                if let Some(set) = self.supervising.get_mut(&sup.supervisor) {
                    set.remove(&id);
                }
            }
        }
    }

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

    /// Free the counsellor's place if `was` was theirs.
    fn release(&mut self, was: ConversationState) {
        if let ConversationState::Active { counsellor } = was {
            if let Some(c) = self.counsellors.get_mut(&counsellor) {
                c.active = c.active.saturating_sub(1);
            }
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn persistence(&self) -> StoreResult<Persistence> {
        Ok(Persistence {
            acknowledged_writes_on_disk: false,
            details: [("memory".to_owned(), "nothing is written to disk".to_owned())].into(),
        })
    }

    async fn create_account(&self, account: Account) -> StoreResult<()> {
        let mut s = self.lock();
        if s.usernames.contains_key(&account.username) {
            return Err(StoreError::UsernameTaken);
        }
        s.usernames.insert(account.username.clone(), account.id);
        s.accounts.insert(account.id, account);
        Ok(())
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        Ok(self.lock().accounts.get(&id).cloned())
    }

    async fn account_by_username(&self, username: &str) -> StoreResult<Option<Account>> {
        let s = self.lock();
        Ok(s.usernames
            .get(username)
            .and_then(|id| s.accounts.get(id))
            .cloned())
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        let mut v: Vec<_> = self.lock().accounts.values().cloned().collect();
        v.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(v)
    }

    async fn put_session(&self, token: TokenHash, session: SessionRecord) -> StoreResult<()> {
        self.lock().sessions.insert(token, session);
        Ok(())
    }

    async fn session(&self, token: &TokenHash) -> StoreResult<Option<SessionRecord>> {
        Ok(self.lock().sessions.get(token).copied())
    }

    async fn delete_session(&self, token: &TokenHash) -> StoreResult<()> {
        self.lock().sessions.remove(token);
        Ok(())
    }

    async fn create_conversation(
        &self,
        new: NewConversation,
        max_queue: u32,
    ) -> StoreResult<ConversationRecord> {
        let mut s = self.lock();
        if s.queue.len() >= max_queue as usize {
            return Err(StoreError::QueueFull);
        }
        let rec = ConversationRecord {
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
            visitor_offline_since_ms: Some(new.now_ms),
            risk: new.risk,
            risk_reasons: new.risk_reasons.clone(),
            supervisors: Vec::new(),
            transfers: 0,
            last_visitor_msg_ms: None,
            last_counsellor_msg_ms: None,
            silent_since_ms: None,
        };
        let key = s.key(&rec);
        s.queue.insert(key, rec.id);
        s.live.insert(rec.id);
        if let Some(id) = new.alert {
            s.store_alert(Alert {
                id,
                conversation: rec.id,
                level: new.risk,
                reasons: new.risk_reasons,
                at_ms: new.now_ms,
                acked_by: None,
                acked_at_ms: None,
            });
        }
        s.conversations.insert(
            rec.id,
            Conv {
                rec,
                log: Vec::new(),
                seen: HashMap::new(),
                notes: Vec::new(),
            },
        );
        if let Some(text) = new.first_message {
            let client_id = ClientMsgId::first_message();
            s.append(
                new.id,
                NewMessage {
                    from: Party::Visitor,
                    author: None,
                    author_name: None,
                    client_id,
                    text,
                    now_ms: new.now_ms,
                    require_counsellor: None,
                },
            )?;
        }
        Ok(s.conv(new.id)?.rec.clone())
    }

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<ConversationRecord>> {
        Ok(self.lock().conversations.get(&id).map(|c| c.rec.clone()))
    }

    async fn queue(&self) -> StoreResult<Vec<ConversationRecord>> {
        let s = self.lock();
        Ok(s.queue
            .values()
            .filter_map(|id| s.conversations.get(id).map(|c| c.rec.clone()))
            .collect())
    }

    async fn queue_head(&self, n: usize) -> StoreResult<Vec<ConversationRecord>> {
        let s = self.lock();
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
        let mut s = self.lock();
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
        let c = s.counsellor_mut(counsellor)?;
        c.active += 1;
        c.last_assigned_ms = Some(now_ms);
        s.held.entry(counsellor).or_default().insert(conversation);
        if let Some(set) = s.supervising.get_mut(&counsellor) {
            set.remove(&conversation);
        }
        Ok(rec)
    }

    async fn end(
        &self,
        conversation: ConversationId,
        by: EndedBy,
        outcome: Option<Outcome>,
        now_ms: u64,
    ) -> StoreResult<Ended> {
        let mut s = self.lock();
        let policy = s.policy;
        let conv = s.conv(conversation)?;
        let was = conv.rec.state;
        let next = apply(was, Transition::End)?;
        let key = conv.rec.queue_entry().key(policy);
        conv.rec.state = next;
        conv.rec.ended_at_ms = Some(now_ms);
        conv.rec.ended_by = Some(by);
        conv.rec.outcome = outcome;
        let record = conv.rec.clone();
        if was == ConversationState::Queued {
            s.queue.remove(&key);
            if by == EndedBy::Visitor {
                s.stats.left_queue += 1;
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
        Ok(Ended { record, was })
    }

    async fn set_outcome(
        &self,
        conversation: ConversationId,
        counsellor: AccountId,
        outcome: Outcome,
    ) -> StoreResult<ConversationRecord> {
        let mut s = self.lock();
        let conv = s.conv(conversation)?;
        if conv.rec.counsellor != Some(counsellor) {
            return Err(StoreError::NotYours);
        }
        if conv.rec.state != ConversationState::Ended {
            return Err(TransitionError::NotActive.into());
        }
        conv.rec.outcome = Some(outcome);
        let rec = conv.rec.clone();
        if let Some(h) = s.held.get_mut(&counsellor) {
            h.remove(&conversation);
        }
        Ok(rec)
    }

    async fn append(&self, conversation: ConversationId, msg: NewMessage) -> StoreResult<Appended> {
        self.lock().append(conversation, msg)
    }

    async fn messages_after(
        &self,
        conversation: ConversationId,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<Arc<StoredMessage>>> {
        let s = self.lock();
        let conv = s
            .conversations
            .get(&conversation)
            .ok_or(StoreError::NotFound)?;
        // seq n is at index n-1.
        let start = (after as usize).min(conv.log.len());
        Ok(conv.log[start..].iter().take(limit).cloned().collect())
    }

    async fn ack(&self, conversation: ConversationId, party: Party, seq: u64) -> StoreResult<u64> {
        let mut s = self.lock();
        let rec = &mut s.conv(conversation)?.rec;
        let seq = seq.min(rec.last_seq);
        let slot = match party {
            Party::Visitor => &mut rec.visitor_acked,
            Party::Counsellor => &mut rec.counsellor_acked,
        };
        *slot = (*slot).max(seq);
        Ok(*slot)
    }

    async fn add_note(&self, conversation: ConversationId, note: Note) -> StoreResult<()> {
        self.lock().conv(conversation)?.notes.push(note);
        Ok(())
    }

    async fn notes(&self, conversation: ConversationId) -> StoreResult<Vec<Note>> {
        Ok(self.lock().conv(conversation)?.notes.clone())
    }

    async fn visitor_connections(
        &self,
        conversation: ConversationId,
        delta: i32,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let mut s = self.lock();
        let rec = &mut s.conv(conversation)?.rec;
        rec.visitor_connections = rec.visitor_connections.saturating_add_signed(delta);
        rec.visitor_offline_since_ms = match rec.visitor_connections {
            0 => rec.visitor_offline_since_ms.or(Some(now_ms)),
            _ => None,
        };
        Ok(rec.clone())
    }

    async fn live_conversations(&self) -> StoreResult<Vec<ConversationRecord>> {
        let s = self.lock();
        Ok(s.live
            .iter()
            .filter_map(|id| s.conversations.get(id).map(|c| c.rec.clone()))
            .collect())
    }

    async fn set_risk(
        &self,
        conversation: ConversationId,
        change: RiskChange,
        now_ms: u64,
    ) -> StoreResult<RiskUpdate> {
        let mut s = self.lock();
        let policy = s.policy;
        let conv = s.conv(conversation)?;
        let was = conv.rec.risk;
        if conv.rec.state == ConversationState::Ended {
            return Err(TransitionError::AlreadyEnded.into());
        }
        let old_key = conv.rec.queue_entry().key(policy);
        let (added, alert_id, raised_enough) = match change {
            RiskChange::Triage { hits, alert } => {
                if conv.rec.state != ConversationState::Queued {
                    return Ok(RiskUpdate {
                        record: conv.rec.clone(),
                        was,
                        alert: None,
                    });
                }
                let mut known: HashSet<String> = conv
                    .rec
                    .risk_reasons
                    .iter()
                    .filter_map(|r| match &r.source {
                        RiskSource::Triage { rule, .. } => Some(rule.clone()),
                        RiskSource::Staff { .. } => None,
                    })
                    .collect();
                let mut added: Vec<RiskReason> = Vec::new();
                for h in hits {
                    // One reason per rule id, recorded or among these hits.
                    let new = match &h.source {
                        RiskSource::Triage { rule, .. } => known.insert(rule.clone()),
                        RiskSource::Staff { .. } => false,
                    };
                    if new {
                        added.push(h);
                    }
                }
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
        if let Some(a) = &alert {
            s.store_alert(a.clone());
        }
        Ok(RiskUpdate { record, was, alert })
    }

    async fn alerts(&self, open_only: bool) -> StoreResult<Vec<Alert>> {
        Ok(self
            .lock()
            .alerts
            .values()
            .filter(|a| !open_only || a.acked_by.is_none())
            .cloned()
            .collect())
    }

    async fn ack_alert(&self, id: AlertId, by: AccountId, now_ms: u64) -> StoreResult<Alert> {
        let mut s = self.lock();
        let key = *s.alert_index.get(&id).ok_or(StoreError::NotFound)?;
        let a = s.alerts.get_mut(&key).ok_or(StoreError::NotFound)?;
        if a.acked_by.is_none() {
            a.acked_by = Some(by);
            a.acked_at_ms = Some(now_ms);
        }
        Ok(a.clone())
    }

    async fn reassign(
        &self,
        conversation: ConversationId,
        from: AccountId,
        to: AccountId,
        require_available: bool,
        note: Option<Note>,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let mut s = self.lock();
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
        conv.rec.supervisors.retain(|x| x.supervisor != to);
        if let Some(n) = note {
            conv.notes.push(n);
        }
        let rec = conv.rec.clone();
        s.release(ConversationState::Active { counsellor: from });
        let t = s.counsellor_mut(to)?;
        t.active += 1;
        t.last_assigned_ms = Some(now_ms);
        if let Some(h) = s.held.get_mut(&from) {
            h.remove(&conversation);
        }
        s.held.entry(to).or_default().insert(conversation);
        if let Some(set) = s.supervising.get_mut(&to) {
            set.remove(&conversation);
        }
        Ok(rec)
    }

    async fn requeue(
        &self,
        conversation: ConversationId,
        from: AccountId,
        note: Option<Note>,
        _now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let mut s = self.lock();
        s.active_with(conversation, from)?;
        let policy = s.policy;
        let conv = s.conv(conversation)?;
        conv.rec.state = apply(conv.rec.state, Transition::Requeue)?;
        conv.rec.requeued = true;
        conv.rec.assigned_at_ms = None;
        conv.rec.counsellor = None;
        conv.rec.transfers += 1;
        if let Some(n) = note {
            conv.notes.push(n);
        }
        let rec = conv.rec.clone();
        s.queue.insert(rec.queue_entry().key(policy), conversation);
        s.release(ConversationState::Active { counsellor: from });
        if let Some(h) = s.held.get_mut(&from) {
            h.remove(&conversation);
        }
        Ok(rec)
    }

    async fn supervise(
        &self,
        conversation: ConversationId,
        supervisor: AccountId,
        mode: Option<SupervisionMode>,
    ) -> StoreResult<(ConversationRecord, Option<SupervisionMode>)> {
        let mut s = self.lock();
        let conv = s.conv(conversation)?;
        let previous = conv.rec.supervision_of(supervisor);
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
        conv.rec.supervisors.retain(|x| x.supervisor != supervisor);
        if let Some(m) = mode {
            conv.rec.supervisors.push(Supervision {
                supervisor,
                mode: m,
            });
        }
        let rec = conv.rec.clone();
        let set = s.supervising.entry(supervisor).or_default();
        if mode.is_some() {
            set.insert(conversation);
        } else {
            set.remove(&conversation);
        }
        Ok((rec, previous))
    }

    async fn supervised_by(
        &self,
        supervisor: AccountId,
    ) -> StoreResult<Vec<(ConversationRecord, SupervisionMode)>> {
        let s = self.lock();
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
        let mut s = self.lock();
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
        s.stats.went_silent += out.len() as u64;
        Ok(out)
    }

    async fn stats(&self) -> StoreResult<Stats> {
        Ok(self.lock().stats)
    }

    async fn counsellor_connections(
        &self,
        counsellor: AccountId,
        delta: i32,
        default_capacity: u32,
        now_ms: u64,
    ) -> StoreResult<CounsellorRecord> {
        let mut s = self.lock();
        let c = s.counsellors.entry(counsellor).or_insert(CounsellorRecord {
            id: counsellor,
            status: Availability::Away,
            capacity: default_capacity,
            active: 0,
            connections: 0,
            offline_since_ms: Some(now_ms),
            last_assigned_ms: None,
        });
        c.connections = c.connections.saturating_add_signed(delta);
        c.offline_since_ms = match c.connections {
            0 => c.offline_since_ms.or(Some(now_ms)),
            _ => None,
        };
        Ok(c.clone())
    }

    async fn set_status(
        &self,
        counsellor: AccountId,
        status: Availability,
    ) -> StoreResult<CounsellorRecord> {
        let mut s = self.lock();
        let c = s.counsellor_mut(counsellor)?;
        c.status = status;
        Ok(c.clone())
    }

    async fn set_capacity(
        &self,
        counsellor: AccountId,
        capacity: u32,
    ) -> StoreResult<CounsellorRecord> {
        let mut s = self.lock();
        let c = s.counsellor_mut(counsellor)?;
        c.capacity = capacity;
        Ok(c.clone())
    }

    async fn counsellors(&self) -> StoreResult<Vec<CounsellorRecord>> {
        Ok(self.lock().counsellors.values().cloned().collect())
    }

    async fn conversations_of(
        &self,
        counsellor: AccountId,
    ) -> StoreResult<Vec<ConversationRecord>> {
        let s = self.lock();
        let mut v: Vec<_> = s
            .held
            .get(&counsellor)
            .into_iter()
            .flatten()
            .filter_map(|id| s.conversations.get(id).map(|c| c.rec.clone()))
            .collect();
        v.sort_by_key(|r| (r.assigned_at_ms, r.id));
        Ok(v)
    }

    async fn sweep(
        &self,
        now_ms: u64,
        visitor_grace_ms: u64,
        counsellor_grace_ms: u64,
    ) -> StoreResult<Vec<Swept>> {
        let mut s = self.lock();
        let mut out = Vec::new();
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
            s.stats.left_queue += 1;
            s.retire(id);
            out.push(Swept::Abandoned { conversation: id });
        }

        let away: Vec<AccountId> = s
            .counsellors
            .values()
            .filter(|c| c.active > 0 && gone(c.offline_since_ms, counsellor_grace_ms))
            .map(|c| c.id)
            .collect();
        let policy = s.policy;
        for counsellor in away {
            let held: Vec<ConversationId> =
                s.held.remove(&counsellor).into_iter().flatten().collect();
            let mut kept = HashSet::new();
            for id in held {
                let conv = s.conv(id)?;
                match apply(conv.rec.state, Transition::Requeue) {
                    Ok(next) => {
                        conv.rec.state = next;
                        conv.rec.requeued = true;
                        conv.rec.assigned_at_ms = None;
                        // They no longer have it: no notes, no outcome, no acks.
                        conv.rec.counsellor = None;
                        let key = conv.rec.queue_entry().key(policy);
                        s.queue.insert(key, id);
                        s.release(ConversationState::Active { counsellor });
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
                s.held.insert(counsellor, kept);
            }
        }
        Ok(out)
    }

    async fn publish(&self, event: Event) -> StoreResult<()> {
        // No receiver (no hub yet) is fine: nobody to tell.
        let _ = self.events.send(event);
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}
