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
use crate::core::queue::QueueKey;

/// Events kept for a slow subscriber before it is told it lagged.
const EVENT_BUFFER: usize = 16_384;

pub struct MemoryStore {
    state: Mutex<State>,
    events: broadcast::Sender<Event>,
}

#[derive(Default)]
struct State {
    accounts: HashMap<AccountId, Account>,
    usernames: HashMap<String, AccountId>,
    sessions: HashMap<TokenHash, SessionRecord>,
    conversations: HashMap<ConversationId, Conv>,
    queue: BTreeMap<QueueKey, ConversationId>,
    counsellors: HashMap<AccountId, CounsellorRecord>,
    /// Counsellor -> conversations they hold (active, or ended without outcome).
    held: HashMap<AccountId, HashSet<ConversationId>>,
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
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Self {
            state: Mutex::new(State::default()),
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
            if conv.rec.state
                != (ConversationState::Active {
                    counsellor: required,
                })
            {
                return Err(StoreError::NotYours);
            }
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
            priority: new.priority,
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
        };
        s.queue.insert(rec.queue_entry().key(), rec.id);
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

    async fn queue_position(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Option<(u32, u32)>> {
        let s = self.lock();
        let Some(conv) = s.conversations.get(&conversation) else {
            return Ok(None);
        };
        if conv.rec.state != ConversationState::Queued {
            return Ok(None);
        }
        // Count who is ahead by key, without copying any record.
        let ahead = s.queue.range(..conv.rec.queue_entry().key()).count();
        Ok(Some((ahead as u32 + 1, s.queue.len() as u32)))
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
        let conv = s.conv(conversation)?;
        let next = apply(conv.rec.state, Transition::Assign(counsellor))?;
        let key = conv.rec.queue_entry().key();
        conv.rec.state = next;
        conv.rec.counsellor = Some(counsellor);
        conv.rec.assigned_at_ms = Some(now_ms);
        let rec = conv.rec.clone();
        s.queue.remove(&key);
        let c = s.counsellor_mut(counsellor)?;
        c.active += 1;
        c.last_assigned_ms = Some(now_ms);
        s.held.entry(counsellor).or_default().insert(conversation);
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
        let conv = s.conv(conversation)?;
        let was = conv.rec.state;
        let next = apply(was, Transition::End)?;
        let key = conv.rec.queue_entry().key();
        conv.rec.state = next;
        conv.rec.ended_at_ms = Some(now_ms);
        conv.rec.ended_by = Some(by);
        conv.rec.outcome = outcome;
        let record = conv.rec.clone();
        if was == ConversationState::Queued {
            s.queue.remove(&key);
        }
        s.release(was);
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
            out.push(Swept::Abandoned { conversation: id });
        }

        let away: Vec<AccountId> = s
            .counsellors
            .values()
            .filter(|c| c.active > 0 && gone(c.offline_since_ms, counsellor_grace_ms))
            .map(|c| c.id)
            .collect();
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
                        let key = conv.rec.queue_entry().key();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::prechat::PreChat;
    use crate::core::queue::Priority;

    fn new_conversation(n: u128, at: u64) -> NewConversation {
        NewConversation {
            id: ConversationId(uuid::Uuid::from_u128(n)),
            token_hash: [0; 32],
            pre_chat: PreChat::default(),
            priority: Priority::Normal,
            first_message: None,
            now_ms: at,
        }
    }

    /// `queue_position` answers without copying the queue; it must agree
    /// with the order `queue` gives, before and after someone leaves it.
    #[tokio::test]
    async fn queue_position_agrees_with_the_queue_order() {
        let store = MemoryStore::new();
        for n in 1..=5u128 {
            store
                .create_conversation(new_conversation(n, 1000 - n as u64), 100)
                .await
                .unwrap();
        }
        async fn check(store: &MemoryStore) {
            let queue = store.queue().await.unwrap();
            for (i, rec) in queue.iter().enumerate() {
                let got = store.queue_position(rec.id).await.unwrap();
                assert_eq!(got, Some((i as u32 + 1, queue.len() as u32)));
            }
        }
        check(&store).await;
        let first = store.queue().await.unwrap()[0].id;
        store
            .end(first, EndedBy::Visitor, None, 2000)
            .await
            .unwrap();
        assert_eq!(store.queue_position(first).await.unwrap(), None);
        check(&store).await;
        let unknown = ConversationId(uuid::Uuid::from_u128(99));
        assert_eq!(store.queue_position(unknown).await.unwrap(), None);
    }
}
