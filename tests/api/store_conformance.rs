//! The store contract (the doc comments on `tsunagu::store::Store`), checked
//! directly on `Arc<dyn Store>` against every backend: each test below runs
//! once on the in-memory store (`store_conformance::memory::*`) and once on
//! Redis (`store_conformance::redis::*`).
//!
//! On Redis every test gets its own key prefix and three stores on it, as
//! three nodes would have: concurrency tests spread their calls over all
//! three, so the atomicity of the scripts is what is tested, not the order
//! of one connection. The prefix's keys are deleted when the test ends.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use uuid::Uuid;

use tsunagu::auth::Role;
use tsunagu::core::conversation::{ConversationState, EndedBy, Outcome, TransitionError};
use tsunagu::core::ids::{AccountId, ClientMsgId, ConversationId, Party};
use tsunagu::core::prechat::PreChat;
use tsunagu::core::queue::Priority;
use tsunagu::protocol::Availability;
use tsunagu::store::memory::MemoryStore;
use tsunagu::store::redis::{RedisOptions, RedisStore};
use tsunagu::store::{
    Account, Appended, Event, NewConversation, NewMessage, Note, SessionRecord, Store, StoreError,
    Swept,
};

use crate::helpers::{purge_blocking, test_redis_url, unique_prefix};

/// A backend under test: three handles on one shared state.
pub struct Backend {
    nodes: Vec<Arc<dyn Store>>,
    redis: Option<(String, String)>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some((url, prefix)) = &self.redis {
            purge_blocking(url, prefix);
        }
    }
}

impl Backend {
    pub fn memory() -> Self {
        let s: Arc<dyn Store> = Arc::new(MemoryStore::new());
        Self {
            nodes: vec![s.clone(), s.clone(), s],
            redis: None,
        }
    }

    pub async fn redis() -> Self {
        let url = test_redis_url();
        let prefix = unique_prefix();
        let mut nodes: Vec<Arc<dyn Store>> = Vec::new();
        for _ in 0..3 {
            let store = RedisStore::connect(RedisOptions {
                url: url.clone(),
                prefix: prefix.clone(),
                node_ttl: Duration::from_secs(15),
            })
            .await
            .unwrap_or_else(|e| panic!("Redis at {url} is needed for these tests: {e}"));
            nodes.push(Arc::new(store));
        }
        Self {
            nodes,
            redis: Some((url, prefix)),
        }
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.nodes[0]
    }

    /// The i-th "node", round robin.
    fn node(&self, i: usize) -> Arc<dyn Store> {
        self.nodes[i % self.nodes.len()].clone()
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::Backend::memory()).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::Backend::redis().await).await
                }
            )*
        }
    };
}

conformance!(
    a_created_conversation_reads_back_whole,
    queue_order_is_priority_then_requeued_then_arrival,
    a_full_queue_refuses_atomically,
    concurrent_assigns_of_one_conversation_have_exactly_one_winner,
    capacity_is_never_exceeded_under_concurrency,
    no_conversation_has_two_counsellors_under_concurrency,
    assign_refusals_change_nothing,
    append_numbers_in_order_and_answers_resends_with_the_first_seq,
    concurrent_appends_get_distinct_consecutive_seqs,
    require_counsellor_is_checked_with_the_append,
    messages_after_pages_by_sequence,
    ack_is_monotonic_and_clamped,
    end_frees_the_counsellors_place,
    set_outcome_only_for_the_counsellor_of_an_ended_conversation,
    sweep_ends_queued_visitors_away_past_grace,
    sweep_requeues_to_the_front_when_the_counsellor_is_away_past_grace,
    connection_counts_track_presence,
    counsellor_records_are_created_on_first_sight,
    sessions_are_stored_and_deleted,
    accounts_have_unique_usernames,
    notes_belong_to_an_existing_conversation,
    published_events_reach_every_subscriber,
);

// ------------------------------------------------------------ helpers

const T0: u64 = 1_700_000_000_000;

fn conv_at(now_ms: u64) -> NewConversation {
    NewConversation {
        id: ConversationId::new_random(),
        token_hash: [7; 32],
        pre_chat: PreChat::default(),
        priority: Priority::Normal,
        first_message: None,
        now_ms,
    }
}

async fn create(store: &Arc<dyn Store>, new: NewConversation) -> ConversationId {
    store.create_conversation(new, 1_000).await.unwrap().id
}

fn message(from: Party, client_id: &str, text: &str) -> NewMessage {
    NewMessage {
        from,
        author: None,
        author_name: None,
        client_id: ClientMsgId::parse(client_id).unwrap(),
        text: text.into(),
        now_ms: T0,
        require_counsellor: None,
    }
}

fn counsellor_message(c: AccountId, client_id: &str, require: bool) -> NewMessage {
    NewMessage {
        from: Party::Counsellor,
        author: Some(c),
        author_name: Some("aoki-san".into()),
        client_id: ClientMsgId::parse(client_id).unwrap(),
        text: "こんにちは".into(),
        now_ms: T0,
        require_counsellor: require.then_some(c),
    }
}

/// A connected, available counsellor with `capacity` places.
async fn counsellor(store: &Arc<dyn Store>, capacity: u32) -> AccountId {
    let id = AccountId::new_random();
    store
        .counsellor_connections(id, 1, capacity, T0)
        .await
        .unwrap();
    store.set_status(id, Availability::Available).await.unwrap();
    id
}

async fn active_of(store: &Arc<dyn Store>, id: AccountId) -> u32 {
    store
        .counsellors()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == id)
        .expect("the counsellor is listed")
        .active
}

async fn queue_ids(store: &Arc<dyn Store>) -> Vec<ConversationId> {
    store.queue().await.unwrap().iter().map(|r| r.id).collect()
}

// ------------------------------------------------------------ the tests

async fn a_created_conversation_reads_back_whole(b: Backend) {
    let s = b.store();
    let mut new = conv_at(T0);
    new.first_message = Some("息子のことで相談したいです".into());
    new.pre_chat = serde_json::from_str(r#"{"who":"self","topic":"family"}"#).unwrap();
    let created = s.create_conversation(new.clone(), 10).await.unwrap();
    assert_eq!(created.state, ConversationState::Queued);
    assert_eq!(created.last_seq, 1, "the first message is message 1");
    assert_eq!(created.visitor_offline_since_ms, Some(T0));
    assert_eq!(created.token_hash, [7; 32]);
    let read = s.conversation(new.id).await.unwrap().unwrap();
    assert_eq!(read, created);
    let log = s.messages_after(new.id, 0, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].seq, 1);
    assert_eq!(log[0].from, Party::Visitor);
    assert_eq!(log[0].client_id, ClientMsgId::first_message());
    assert_eq!(log[0].text, "息子のことで相談したいです");
    assert!(s
        .conversation(ConversationId::new_random())
        .await
        .unwrap()
        .is_none());
    // Read through another node: the same record.
    assert_eq!(
        b.node(1).conversation(new.id).await.unwrap().unwrap(),
        created
    );
}

async fn queue_order_is_priority_then_requeued_then_arrival(b: Backend) {
    let s = b.store();
    let late = create(s, conv_at(T0 + 10)).await;
    let early = create(s, conv_at(T0 + 5)).await;
    let mut urgent = conv_at(T0 + 90);
    urgent.priority = Priority::Urgent;
    let urgent = create(s, urgent).await;
    // Same millisecond: the conversation id decides, the same everywhere.
    let mut tie_a = conv_at(T0 + 20);
    tie_a.id = ConversationId(Uuid::from_u128(u128::MAX - 1));
    let mut tie_b = conv_at(T0 + 20);
    tie_b.id = ConversationId(Uuid::from_u128(1));
    let (tie_a, tie_b) = (create(s, tie_a).await, create(s, tie_b).await);
    let requeued = create(s, conv_at(T0 + 50)).await;
    assert_eq!(
        queue_ids(s).await,
        vec![urgent, early, late, tie_b, tie_a, requeued]
    );

    // `requeued` is served, its counsellor goes away, the grace passes.
    let c = counsellor(s, 1).await;
    s.assign(requeued, c, T0 + 60).await.unwrap();
    s.counsellor_connections(c, -1, 1, T0 + 100).await.unwrap();
    let swept = s.sweep(T0 + 200, u64::MAX, 100).await.unwrap();
    assert_eq!(
        swept,
        vec![Swept::Requeued {
            conversation: requeued,
            counsellor: c
        }]
    );
    assert_eq!(
        queue_ids(s).await,
        vec![urgent, requeued, early, late, tie_b, tie_a],
        "requeued goes before everyone of its priority, behind urgent"
    );
    assert_eq!(queue_ids(&b.node(2)).await, queue_ids(s).await);
    // The head of the queue is its prefix, in the same order.
    let head: Vec<_> = s
        .queue_head(3)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(head, vec![urgent, requeued, early]);
    assert!(s.queue_head(0).await.unwrap().is_empty());
    assert_eq!(s.queue_head(100).await.unwrap().len(), 6);
}

async fn a_full_queue_refuses_atomically(b: Backend) {
    let s = b.store();
    for _ in 0..3 {
        s.create_conversation(conv_at(T0), 3).await.unwrap();
    }
    let refused = conv_at(T0);
    assert_eq!(
        s.create_conversation(refused.clone(), 3).await,
        Err(StoreError::QueueFull)
    );
    assert!(
        s.conversation(refused.id).await.unwrap().is_none(),
        "a refused start leaves nothing behind"
    );
    // 40 concurrent starts against a limit of 10 (3 already waiting).
    let results = join_all((0..40).map(|i| {
        let s = b.node(i);
        async move { s.create_conversation(conv_at(T0 + i as u64), 10).await }
    }))
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 7);
    assert!(results
        .iter()
        .all(|r| r.is_ok() || r == &Err(StoreError::QueueFull)));
    assert_eq!(s.queue().await.unwrap().len(), 10);
}

async fn concurrent_assigns_of_one_conversation_have_exactly_one_winner(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    let mut counsellors = Vec::new();
    for _ in 0..10 {
        counsellors.push(counsellor(s, 1).await);
    }
    let results = join_all((0..60).map(|i| {
        let (s, c) = (b.node(i), counsellors[i % counsellors.len()]);
        tokio::spawn(async move { (c, s.assign(conv, c, T0 + 1).await) })
    }))
    .await;
    let mut winners = Vec::new();
    for r in results {
        let (c, r) = r.unwrap();
        match r {
            Ok(rec) => {
                assert_eq!(rec.state, ConversationState::Active { counsellor: c });
                winners.push(c);
            }
            Err(StoreError::Transition(TransitionError::NotQueued))
            | Err(StoreError::CapacityReached) => {}
            Err(e) => panic!("unexpected refusal: {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one assign wins");
    let mut total = 0;
    for c in &counsellors {
        total += active_of(s, *c).await;
    }
    assert_eq!(total, 1, "only the winner's place is taken");
    assert_eq!(
        s.conversation(conv).await.unwrap().unwrap().state,
        ConversationState::Active {
            counsellor: winners[0]
        }
    );
    assert!(s.queue().await.unwrap().is_empty());
    assert_eq!(
        s.conversations_of(winners[0])
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        vec![conv]
    );
}

async fn capacity_is_never_exceeded_under_concurrency(b: Backend) {
    let s = b.store();
    let c = counsellor(s, 3).await;
    let mut convs = Vec::new();
    for i in 0..20 {
        convs.push(create(s, conv_at(T0 + i)).await);
    }
    let results = join_all(convs.iter().enumerate().map(|(i, conv)| {
        let (s, conv) = (b.node(i), *conv);
        tokio::spawn(async move { s.assign(conv, c, T0 + 100).await })
    }))
    .await;
    let ok = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let full = results
        .iter()
        .filter(|r| matches!(r, Ok(Err(StoreError::CapacityReached))))
        .count();
    assert_eq!((ok, full), (3, 17));
    assert_eq!(active_of(s, c).await, 3);
    assert_eq!(s.conversations_of(c).await.unwrap().len(), 3);
    assert_eq!(s.queue().await.unwrap().len(), 17);
}

async fn no_conversation_has_two_counsellors_under_concurrency(b: Backend) {
    let s = b.store();
    let mut counsellors = Vec::new();
    for _ in 0..5 {
        counsellors.push(counsellor(s, 2).await);
    }
    let mut convs = Vec::new();
    for i in 0..30 {
        convs.push(create(s, conv_at(T0 + i)).await);
    }
    // Every counsellor tries every conversation, from three nodes at once.
    let mut tries = Vec::new();
    for (i, conv) in convs.iter().enumerate() {
        for (j, c) in counsellors.iter().enumerate() {
            let (s, conv, c) = (b.node(i + j), *conv, *c);
            tries.push(tokio::spawn(async move {
                (conv, c, s.assign(conv, c, T0).await)
            }));
        }
    }
    let mut won: HashMap<ConversationId, AccountId> = HashMap::new();
    for t in join_all(tries).await {
        let (conv, c, r) = t.unwrap();
        if r.is_ok() {
            assert!(won.insert(conv, c).is_none(), "{conv} assigned twice");
        }
    }
    assert_eq!(won.len(), 10, "5 counsellors x 2 places");
    for c in &counsellors {
        let mine = won.values().filter(|w| *w == c).count() as u32;
        assert_eq!(mine, 2);
        assert_eq!(active_of(s, *c).await, mine);
    }
    for (conv, c) in &won {
        assert_eq!(
            s.conversation(*conv).await.unwrap().unwrap().state,
            ConversationState::Active { counsellor: *c }
        );
    }
    assert_eq!(s.queue().await.unwrap().len(), 20);
}

async fn assign_refusals_change_nothing(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    let stranger = AccountId::new_random();
    assert_eq!(
        s.assign(conv, stranger, T0).await,
        Err(StoreError::NotFound),
        "an unknown counsellor"
    );
    let c = counsellor(s, 1).await;
    assert_eq!(
        s.assign(ConversationId::new_random(), c, T0).await,
        Err(StoreError::NotFound)
    );
    s.end(conv, EndedBy::Visitor, None, T0).await.unwrap();
    assert_eq!(
        s.assign(conv, c, T0).await,
        Err(TransitionError::AlreadyEnded.into())
    );
    assert_eq!(active_of(s, c).await, 0);
    let rec = s.conversation(conv).await.unwrap().unwrap();
    assert_eq!(rec.state, ConversationState::Ended);
    assert_eq!(rec.counsellor, None);
}

async fn append_numbers_in_order_and_answers_resends_with_the_first_seq(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    let c = counsellor(s, 1).await;
    s.assign(conv, c, T0).await.unwrap();
    let seq = |a: Appended| match a {
        Appended::New(m) => m.seq,
        Appended::Duplicate(n) => panic!("unexpected duplicate of {n}"),
    };
    assert_eq!(
        seq(s
            .append(conv, message(Party::Visitor, "a", "one"))
            .await
            .unwrap()),
        1
    );
    assert_eq!(
        seq(s
            .append(conv, counsellor_message(c, "a", true))
            .await
            .unwrap()),
        2,
        "the same client id from the other party is another message"
    );
    assert_eq!(
        seq(s
            .append(conv, message(Party::Visitor, "b", "two"))
            .await
            .unwrap()),
        3
    );
    // A resend, through another node, with different text: nothing stored.
    assert_eq!(
        b.node(1)
            .append(conv, message(Party::Visitor, "a", "one again"))
            .await
            .unwrap(),
        Appended::Duplicate(1)
    );
    s.end(conv, EndedBy::Visitor, None, T0).await.unwrap();
    assert_eq!(
        s.append(conv, message(Party::Visitor, "b", "two"))
            .await
            .unwrap(),
        Appended::Duplicate(3),
        "a resend is answered even after the end"
    );
    assert_eq!(
        s.append(conv, message(Party::Visitor, "c", "three")).await,
        Err(TransitionError::AlreadyEnded.into())
    );
    let log = s.messages_after(conv, 0, 100).await.unwrap();
    let got: Vec<(u64, &str)> = log.iter().map(|m| (m.seq, m.text.as_str())).collect();
    assert_eq!(got, vec![(1, "one"), (2, "こんにちは"), (3, "two")]);
    assert_eq!(log[1].author, Some(c));
    assert_eq!(log[1].author_name.as_deref(), Some("aoki-san"));
    assert_eq!(log[0].author_name, None);
    assert_eq!(s.conversation(conv).await.unwrap().unwrap().last_seq, 3);
    assert_eq!(
        s.append(
            ConversationId::new_random(),
            message(Party::Visitor, "x", "x")
        )
        .await,
        Err(StoreError::NotFound)
    );
}

async fn concurrent_appends_get_distinct_consecutive_seqs(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    let results = join_all((0..60).map(|i| {
        let s = b.node(i);
        tokio::spawn(async move {
            s.append(
                conv,
                message(Party::Visitor, &format!("m{i}"), &format!("{i}")),
            )
            .await
        })
    }))
    .await;
    let mut seqs: Vec<u64> = results
        .into_iter()
        .map(|r| match r.unwrap().unwrap() {
            Appended::New(m) => m.seq,
            d => panic!("{d:?}"),
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=60).collect::<Vec<_>>());
    // The same message resent by ten tasks at once is stored once.
    let resends = join_all((0..10).map(|i| {
        let s = b.node(i);
        tokio::spawn(async move {
            s.append(conv, message(Party::Visitor, "same", "once"))
                .await
        })
    }))
    .await;
    let new: Vec<u64> = resends
        .iter()
        .filter_map(|r| match r.as_ref().unwrap() {
            Ok(Appended::New(m)) => Some(m.seq),
            _ => None,
        })
        .collect();
    assert_eq!(new, vec![61]);
    assert!(resends.iter().all(|r| matches!(
        r.as_ref().unwrap(),
        Ok(Appended::New(_)) | Ok(Appended::Duplicate(61))
    )));
    let log = s.messages_after(conv, 0, 1_000).await.unwrap();
    assert_eq!(
        log.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=61).collect::<Vec<_>>()
    );
    // Each stored text is the one its sequence number was given to.
    let texts: HashSet<&str> = log.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts.len(), 61);
}

async fn require_counsellor_is_checked_with_the_append(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    let c = counsellor(s, 1).await;
    let other = counsellor(s, 1).await;
    assert_eq!(
        s.append(conv, counsellor_message(c, "q", true)).await,
        Err(StoreError::NotYours),
        "not while queued"
    );
    s.assign(conv, c, T0).await.unwrap();
    assert_eq!(
        s.append(conv, counsellor_message(other, "o", true)).await,
        Err(StoreError::NotYours),
        "not someone else's"
    );
    assert!(matches!(
        s.append(conv, counsellor_message(c, "mine", true)).await,
        Ok(Appended::New(_))
    ));
    // Requeued (counsellor away past grace): the old counsellor cannot write.
    s.counsellor_connections(c, -1, 1, T0).await.unwrap();
    s.sweep(T0 + 10, u64::MAX, 10).await.unwrap();
    assert_eq!(
        s.append(conv, counsellor_message(c, "late", true)).await,
        Err(StoreError::NotYours)
    );
    assert_eq!(s.conversation(conv).await.unwrap().unwrap().last_seq, 1);
}

async fn messages_after_pages_by_sequence(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    for i in 1..=10 {
        s.append(
            conv,
            message(Party::Visitor, &format!("m{i}"), &format!("{i}")),
        )
        .await
        .unwrap();
    }
    let page = |after, limit| {
        let s = s.clone();
        async move {
            s.messages_after(conv, after, limit)
                .await
                .unwrap()
                .iter()
                .map(|m| m.seq)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page(0, 4).await, vec![1, 2, 3, 4]);
    assert_eq!(page(4, 4).await, vec![5, 6, 7, 8]);
    assert_eq!(page(8, 4).await, vec![9, 10]);
    assert_eq!(page(10, 4).await, Vec::<u64>::new());
    assert_eq!(page(500, 4).await, Vec::<u64>::new());
    assert_eq!(page(3, 0).await, Vec::<u64>::new());
    assert_eq!(
        s.messages_after(ConversationId::new_random(), 0, 10).await,
        Err(StoreError::NotFound)
    );
}

async fn ack_is_monotonic_and_clamped(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    for i in 0..3 {
        s.append(conv, message(Party::Visitor, &format!("m{i}"), "x"))
            .await
            .unwrap();
    }
    assert_eq!(s.ack(conv, Party::Counsellor, 2).await, Ok(2));
    assert_eq!(
        s.ack(conv, Party::Counsellor, 1).await,
        Ok(2),
        "never lowered"
    );
    assert_eq!(s.ack(conv, Party::Counsellor, 99).await, Ok(3), "clamped");
    assert_eq!(
        s.ack(conv, Party::Counsellor, u64::MAX).await,
        Ok(3),
        "clamped even at the edge"
    );
    assert_eq!(s.ack(conv, Party::Visitor, 1).await, Ok(1), "per party");
    let rec = s.conversation(conv).await.unwrap().unwrap();
    assert_eq!((rec.counsellor_acked, rec.visitor_acked), (3, 1));
    assert_eq!(
        s.ack(ConversationId::new_random(), Party::Visitor, 1).await,
        Err(StoreError::NotFound)
    );
}

async fn end_frees_the_counsellors_place(b: Backend) {
    let s = b.store();
    let c = counsellor(s, 1).await;
    let first = create(s, conv_at(T0)).await;
    let second = create(s, conv_at(T0 + 1)).await;
    s.assign(first, c, T0 + 2).await.unwrap();
    assert_eq!(
        s.assign(second, c, T0 + 3).await,
        Err(StoreError::CapacityReached)
    );
    let ended = s.end(first, EndedBy::Visitor, None, T0 + 4).await.unwrap();
    assert_eq!(ended.was, ConversationState::Active { counsellor: c });
    assert_eq!(ended.record.state, ConversationState::Ended);
    assert_eq!(ended.record.ended_by, Some(EndedBy::Visitor));
    assert_eq!(ended.record.ended_at_ms, Some(T0 + 4));
    assert_eq!(ended.record.counsellor, Some(c));
    assert_eq!(active_of(s, c).await, 0);
    assert_eq!(
        s.end(first, EndedBy::Visitor, None, T0 + 5).await,
        Err(TransitionError::AlreadyEnded.into())
    );
    // Still on the counsellor's list until they record an outcome.
    assert_eq!(
        s.conversations_of(c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        vec![first]
    );
    s.assign(second, c, T0 + 6).await.unwrap();
    // Ended by the counsellor with an outcome: off the list at once.
    let ended = s
        .end(second, EndedBy::Counsellor, Some(Outcome::Listened), T0 + 7)
        .await
        .unwrap();
    assert_eq!(ended.record.outcome, Some(Outcome::Listened));
    assert_eq!(
        s.conversations_of(c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        vec![first]
    );
    // Ending a queued one takes it out of the queue.
    let queued = create(s, conv_at(T0 + 8)).await;
    let ended = s.end(queued, EndedBy::Visitor, None, T0 + 9).await.unwrap();
    assert_eq!(ended.was, ConversationState::Queued);
    assert!(s.queue().await.unwrap().is_empty());
    assert_eq!(
        s.end(ConversationId::new_random(), EndedBy::Visitor, None, T0)
            .await
            .map(|e| e.was),
        Err(StoreError::NotFound)
    );
}

async fn set_outcome_only_for_the_counsellor_of_an_ended_conversation(b: Backend) {
    let s = b.store();
    let c = counsellor(s, 2).await;
    let other = counsellor(s, 2).await;
    let conv = create(s, conv_at(T0)).await;
    s.assign(conv, c, T0).await.unwrap();
    assert_eq!(
        s.set_outcome(conv, c, Outcome::Referred).await,
        Err(TransitionError::NotActive.into()),
        "not before it ended"
    );
    s.end(conv, EndedBy::Visitor, None, T0 + 1).await.unwrap();
    assert_eq!(
        s.set_outcome(conv, other, Outcome::Referred).await,
        Err(StoreError::NotYours)
    );
    let rec = s.set_outcome(conv, c, Outcome::Referred).await.unwrap();
    assert_eq!(rec.outcome, Some(Outcome::Referred));
    assert!(s.conversations_of(c).await.unwrap().is_empty());
    assert_eq!(
        s.conversation(conv).await.unwrap().unwrap().outcome,
        Some(Outcome::Referred)
    );
    assert_eq!(
        s.set_outcome(ConversationId::new_random(), c, Outcome::Other)
            .await,
        Err(StoreError::NotFound)
    );
}

async fn sweep_ends_queued_visitors_away_past_grace(b: Backend) {
    let s = b.store();
    let away = create(s, conv_at(T0)).await; // never connected: away since T0
    let here = create(s, conv_at(T0)).await;
    s.visitor_connections(here, 1, T0 + 1).await.unwrap();
    let left = create(s, conv_at(T0)).await;
    s.visitor_connections(left, 1, T0 + 1).await.unwrap();
    s.visitor_connections(left, -1, T0 + 500).await.unwrap();

    assert_eq!(s.sweep(T0 + 999, 1_000, u64::MAX).await.unwrap(), vec![]);
    let swept = s.sweep(T0 + 1_000, 1_000, u64::MAX).await.unwrap();
    assert_eq!(swept, vec![Swept::Abandoned { conversation: away }]);
    let rec = s.conversation(away).await.unwrap().unwrap();
    assert_eq!(rec.state, ConversationState::Ended);
    assert_eq!(rec.ended_by, Some(EndedBy::System));
    assert_eq!(rec.outcome, Some(Outcome::VisitorLeft));
    assert_eq!(rec.ended_at_ms, Some(T0 + 1_000));
    // Nodes sweeping at once: each abandonment is reported once.
    let all = join_all((0..3).map(|i| {
        let s = b.node(i);
        async move { s.sweep(T0 + 1_500, 1_000, u64::MAX).await.unwrap() }
    }))
    .await;
    let reported: Vec<Swept> = all.into_iter().flatten().collect();
    assert_eq!(reported, vec![Swept::Abandoned { conversation: left }]);
    assert_eq!(queue_ids(s).await, vec![here]);
}

async fn sweep_requeues_to_the_front_when_the_counsellor_is_away_past_grace(b: Backend) {
    let s = b.store();
    let waiting = create(s, conv_at(T0)).await;
    let served = create(s, conv_at(T0 + 10)).await;
    let done = create(s, conv_at(T0 + 20)).await;
    let c = counsellor(s, 3).await;
    s.assign(served, c, T0 + 30).await.unwrap();
    s.assign(done, c, T0 + 31).await.unwrap();
    s.end(done, EndedBy::Visitor, None, T0 + 32).await.unwrap();
    // The counsellor's laptop sleeps; they come back before the grace.
    s.counsellor_connections(c, -1, 3, T0 + 100).await.unwrap();
    s.counsellor_connections(c, 1, 3, T0 + 150).await.unwrap();
    assert_eq!(s.sweep(T0 + 10_000, u64::MAX, 1_000).await.unwrap(), vec![]);
    // Gone for good this time.
    s.counsellor_connections(c, -1, 3, T0 + 200).await.unwrap();
    assert_eq!(s.sweep(T0 + 1_199, u64::MAX, 1_000).await.unwrap(), vec![]);
    let all = join_all((0..3).map(|i| {
        let s = b.node(i);
        async move { s.sweep(T0 + 1_200, u64::MAX, 1_000).await.unwrap() }
    }))
    .await;
    let reported: Vec<Swept> = all.into_iter().flatten().collect();
    assert_eq!(
        reported,
        vec![Swept::Requeued {
            conversation: served,
            counsellor: c
        }],
        "requeued once, by one node"
    );
    let rec = s.conversation(served).await.unwrap().unwrap();
    assert_eq!(rec.state, ConversationState::Queued);
    assert!(rec.requeued);
    assert_eq!(rec.assigned_at_ms, None);
    assert_eq!(rec.queued_since_ms, T0 + 10, "keeps its first arrival");
    assert_eq!(queue_ids(s).await, vec![served, waiting]);
    assert_eq!(active_of(s, c).await, 0);
    // The ended one waiting for its outcome stays on the counsellor's list.
    assert_eq!(
        s.conversations_of(c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        vec![done]
    );
}

async fn connection_counts_track_presence(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    let rec = s.visitor_connections(conv, 1, T0 + 1).await.unwrap();
    assert_eq!(
        (rec.visitor_connections, rec.visitor_offline_since_ms),
        (1, None)
    );
    let rec = s.visitor_connections(conv, 1, T0 + 2).await.unwrap();
    assert_eq!(rec.visitor_connections, 2);
    let rec = s.visitor_connections(conv, -1, T0 + 3).await.unwrap();
    assert_eq!(
        (rec.visitor_connections, rec.visitor_offline_since_ms),
        (1, None)
    );
    let rec = s.visitor_connections(conv, -1, T0 + 4).await.unwrap();
    assert_eq!(
        (rec.visitor_connections, rec.visitor_offline_since_ms),
        (0, Some(T0 + 4))
    );
    let rec = s.visitor_connections(conv, -1, T0 + 5).await.unwrap();
    assert_eq!(
        (rec.visitor_connections, rec.visitor_offline_since_ms),
        (0, Some(T0 + 4)),
        "never below zero; away since the first time"
    );
    assert_eq!(
        s.visitor_connections(ConversationId::new_random(), 1, T0)
            .await
            .map(|r| r.id),
        Err(StoreError::NotFound)
    );
}

async fn counsellor_records_are_created_on_first_sight(b: Backend) {
    let s = b.store();
    let id = AccountId::new_random();
    assert_eq!(
        s.set_status(id, Availability::Available).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(s.set_capacity(id, 2).await, Err(StoreError::NotFound));
    let rec = s.counsellor_connections(id, 1, 3, T0).await.unwrap();
    assert_eq!(rec.status, Availability::Away);
    assert_eq!((rec.capacity, rec.active, rec.connections), (3, 0, 1));
    assert_eq!(rec.offline_since_ms, None);
    assert!(!rec.takes_chats());
    let rec = s.set_status(id, Availability::Available).await.unwrap();
    assert!(rec.takes_chats());
    let rec = s.set_capacity(id, 5).await.unwrap();
    assert_eq!(rec.capacity, 5);
    let rec = s.counsellor_connections(id, 1, 3, T0 + 1).await.unwrap();
    assert_eq!((rec.connections, rec.capacity), (2, 5));
    s.counsellor_connections(id, -1, 3, T0 + 2).await.unwrap();
    let rec = s.counsellor_connections(id, -1, 3, T0 + 3).await.unwrap();
    assert_eq!((rec.connections, rec.offline_since_ms), (0, Some(T0 + 3)));
    assert!(!rec.takes_chats());
    let listed = b.node(1).counsellors().await.unwrap();
    assert_eq!(listed, vec![rec]);
}

async fn sessions_are_stored_and_deleted(b: Backend) {
    let s = b.store();
    let token = [42u8; 32];
    let session = SessionRecord {
        account: AccountId::new_random(),
        expires_at_ms: tsunagu::service::now_ms() + 3_600_000,
    };
    assert_eq!(s.session(&token).await, Ok(None));
    s.put_session(token, session).await.unwrap();
    assert_eq!(b.node(2).session(&token).await, Ok(Some(session)));
    assert_eq!(s.session(&[43u8; 32]).await, Ok(None));
    s.delete_session(&token).await.unwrap();
    assert_eq!(s.session(&token).await, Ok(None));
    s.delete_session(&token).await.unwrap();
}

async fn accounts_have_unique_usernames(b: Backend) {
    let s = b.store();
    let account = |username: &str| Account {
        id: AccountId::new_random(),
        username: username.into(),
        display_name: format!("{username}-san"),
        role: Role::Counsellor,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    };
    let (b1, a1) = (account("sato"), account("aoki"));
    s.create_account(b1.clone()).await.unwrap();
    s.create_account(a1.clone()).await.unwrap();
    assert_eq!(
        s.create_account(account("sato")).await,
        Err(StoreError::UsernameTaken)
    );
    // Ten nodes racing for one username: one wins.
    let race = join_all((0..10).map(|i| {
        let s = b.node(i);
        let a = account("ueda");
        async move { s.create_account(a).await }
    }))
    .await;
    assert_eq!(race.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(s.account(a1.id).await.unwrap(), Some(a1.clone()));
    assert_eq!(s.account_by_username("sato").await.unwrap(), Some(b1));
    assert_eq!(s.account_by_username("nobody").await.unwrap(), None);
    assert_eq!(s.account(AccountId::new_random()).await.unwrap(), None);
    let names: Vec<String> = s
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert_eq!(names, vec!["aoki", "sato", "ueda"]);
}

async fn notes_belong_to_an_existing_conversation(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    let note = |text: &str, at_ms| Note {
        author: AccountId(Uuid::from_u128(5)),
        text: text.into(),
        at_ms,
    };
    assert_eq!(s.notes(conv).await, Ok(vec![]));
    s.add_note(conv, note("母親から", T0)).await.unwrap();
    s.add_note(conv, note("二回目", T0 + 1)).await.unwrap();
    assert_eq!(
        s.notes(conv).await,
        Ok(vec![note("母親から", T0), note("二回目", T0 + 1)])
    );
    let unknown = ConversationId::new_random();
    assert_eq!(
        s.add_note(unknown, note("x", T0)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(s.notes(unknown).await, Err(StoreError::NotFound));
}

async fn published_events_reach_every_subscriber(b: Backend) {
    let mut here = b.node(0).subscribe();
    let mut there = b.node(1).subscribe();
    let conv = ConversationId::new_random();
    for i in 0..20u64 {
        b.node(0)
            .publish(Event::Acked {
                conversation: conv,
                by: Party::Visitor,
                seq: i,
            })
            .await
            .unwrap();
    }
    for rx in [&mut here, &mut there] {
        for i in 0..20u64 {
            let e = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("the event arrives")
                .unwrap();
            match e {
                Event::Acked {
                    conversation, seq, ..
                } => assert_eq!((conversation, seq), (conv, i), "in publish order"),
                other => panic!("unexpected event {other:?}"),
            }
        }
    }
}
