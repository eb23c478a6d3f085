//! The journal contract as the state machine sees it; the SQLite side
//! is tested end to end in `tests/api/durability.rs`.

use super::*;
use crate::core::prechat::PreChat;
use crate::core::queue::Priority;
use crate::store::journal::SavedConversation;
use std::sync::atomic::{AtomicBool, Ordering};

/// Holds every commit until the test releases it, or fails them all.
#[derive(Default)]
struct HeldJournal {
    pending: Mutex<Vec<tokio::sync::oneshot::Sender<StoreResult<()>>>>,
    broken: AtomicBool,
}

impl HeldJournal {
    fn release(&self, result: StoreResult<()>) {
        if result.is_err() {
            self.broken.store(true, Ordering::SeqCst);
        }
        for tx in self.pending.lock().unwrap().drain(..) {
            let _ = tx.send(result.clone());
        }
    }
}

impl Journal for Arc<HeldJournal> {
    fn submit(&self, _changes: Vec<Change>) -> Commit {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.pending.lock().unwrap().push(tx);
        Box::pin(async move { rx.await.unwrap_or(Err(StoreError::NotFound)) })
    }
    fn healthy(&self) -> bool {
        !self.broken.load(Ordering::SeqCst)
    }
    fn close(&self) -> Commit {
        Box::pin(async { Ok(()) })
    }
    fn describe(&self) -> std::collections::BTreeMap<String, String> {
        Default::default()
    }
}

fn held() -> (Arc<MemoryStore>, Arc<HeldJournal>) {
    let j = Arc::new(HeldJournal::default());
    let store = MemoryStore::restore(
        Snapshot::default(),
        Arc::new(j.clone()),
        0,
        QueuePolicy::default(),
    )
    .unwrap();
    (Arc::new(store), j)
}

fn msg(id: &str) -> NewMessage {
    NewMessage {
        from: Party::Visitor,
        author: None,
        author_name: None,
        client_id: ClientMsgId::parse(id).unwrap(),
        text: "t".into(),
        now_ms: 0,
        require_counsellor: None,
    }
}

async fn conversation(store: &Arc<MemoryStore>, j: &HeldJournal) -> ConversationId {
    let id = ConversationId::new_random();
    let new = NewConversation {
        lang: Default::default(),
        channel: Default::default(),
        id,
        token_hash: [0; 32],
        pre_chat: PreChat::default(),
        risk: RiskLevel::None,
        risk_reasons: Vec::new(),
        alert: None,
        first_message: None,
        now_ms: 0,
        start_key: None,
        prefers: None,
    };
    let s = store.clone();
    let t = tokio::spawn(async move { s.create_conversation(new, 10).await });
    tokio::task::yield_now().await;
    while !t.is_finished() {
        j.release(Ok(()));
        tokio::task::yield_now().await;
    }
    t.await.unwrap().unwrap();
    id
}

#[tokio::test]
async fn a_message_is_confirmed_and_visible_only_after_its_commit() {
    let (store, j) = held();
    let id = conversation(&store, &j).await;
    let s = store.clone();
    let send = tokio::spawn(async move { s.append(id, msg("m1")).await });
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert!(!send.is_finished(), "confirmed before the commit");
    assert!(store.messages_after(id, 0, 10).await.unwrap().is_empty());
    assert_eq!(store.conversation(id).await.unwrap().unwrap().last_seq, 0);
    assert_eq!(store.ack(id, Party::Counsellor, 1).await.unwrap().seq, 0);
    // A resend while the first copy is pending waits for it too.
    let s = store.clone();
    let resend = tokio::spawn(async move { s.append(id, msg("m1")).await });
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert!(!resend.is_finished());
    j.release(Ok(()));
    assert!(matches!(send.await.unwrap(), Ok(Appended::New(m)) if m.seq == 1));
    assert_eq!(resend.await.unwrap(), Ok(Appended::Duplicate(1)));
    assert_eq!(store.messages_after(id, 0, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_failed_commit_stops_the_store() {
    let (store, j) = held();
    let id = conversation(&store, &j).await;
    let s = store.clone();
    let send = tokio::spawn(async move { s.append(id, msg("m1")).await });
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    j.release(Err(StoreError::Unavailable("disk full".into())));
    assert!(matches!(
        send.await.unwrap(),
        Err(StoreError::Unavailable(_))
    ));
    // Memory may now differ from the disk: nothing is served any more.
    assert!(store.ping().await.is_err());
    assert!(matches!(
        store.conversation(id).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(store.append(id, msg("m2")).await.is_err());
}

#[test]
fn restore_rebuilds_derived_state_and_refuses_a_gap() {
    let c = AccountId::new_random();
    let active = ConversationId::new_random();
    let record = |id, state, counsellor| ConversationRecord {
        id,
        token_hash: [0; 32],
        state,
        pre_chat: PreChat::default(),
        priority: Priority::Normal,
        requeued: false,
        queued_since_ms: 0,
        started_at_ms: 0,
        assigned_at_ms: None,
        ended_at_ms: None,
        ended_by: None,
        outcome: None,
        counsellor,
        first_message: None,
        last_seq: 0,
        visitor_acked: 9,
        counsellor_acked: 0,
        visitor_connections: 3,
        visitor_offline_since_ms: None,
        risk: RiskLevel::None,
        risk_reasons: Vec::new(),
        supervisors: Vec::new(),
        transfers: 0,
        last_visitor_msg_ms: None,
        last_counsellor_msg_ms: None,
        silent_since_ms: None,
        assessment: Default::default(),
        erased_at_ms: None,
        left_quickly_at_ms: None,
        prefers: None,
        letter: false,
        hearing: None,
        relays: Vec::new(),
        channel: Channel::Web,
        start_key: None,
        lang: Default::default(),
    };
    let m = |seq| StoredMessage {
        seq,
        from: Party::Visitor,
        author: None,
        author_name: None,
        client_id: ClientMsgId::parse(&format!("m{seq}")).unwrap(),
        text: "t".into(),
        at_ms: 0,
    };
    let counsellor = CounsellorRecord {
        id: c,
        status: Availability::Available,
        capacity: 2,
        active: 0,
        connections: 4,
        offline_since_ms: None,
        last_assigned_ms: None,
    };
    let snap = |messages: Vec<StoredMessage>| Snapshot {
        counsellors: vec![counsellor.clone()],
        conversations: vec![SavedConversation {
            record: record(active, ConversationState::Active { counsellor: c }, Some(c)),
            messages,
            notes: Vec::new(),
        }],
        ..Snapshot::default()
    };
    let s = State::restore(snap(vec![m(1), m(2)]), 77, QueuePolicy::default()).unwrap();
    let rec = &s.conversations[&active].rec;
    assert_eq!(rec.last_seq, 2);
    assert_eq!(rec.visitor_acked, 2, "acks clamped to the log");
    assert_eq!(rec.visitor_connections, 0, "presence is not restored");
    assert_eq!(rec.visitor_offline_since_ms, Some(77));
    let cr = &s.counsellors[&c];
    assert_eq!((cr.active, cr.connections), (1, 0));
    assert_eq!(cr.offline_since_ms, Some(77), "grace runs from the restart");
    assert!(s.held[&c].contains(&active));
    assert!(State::restore(snap(vec![m(1), m(3)]), 0, QueuePolicy::default()).is_err());
}
