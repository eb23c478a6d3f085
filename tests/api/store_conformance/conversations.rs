//! `ConversationStore`: creation and the queue, assignment, end and
//! outcome, presence, the grace periods and the counts.

use super::*;

conformance!(
    a_created_conversation_reads_back_whole,
    queue_order_is_requeued_then_rank_time_then_id,
    a_full_queue_refuses_atomically,
    concurrent_assigns_of_one_conversation_have_exactly_one_winner,
    capacity_is_never_exceeded_under_concurrency,
    no_conversation_has_two_counsellors_under_concurrency,
    assign_refusals_change_nothing,
    end_frees_the_counsellors_place,
    set_outcome_only_for_the_counsellor_of_an_ended_conversation,
    sweep_ends_queued_visitors_away_past_grace,
    sweep_requeues_to_the_front_when_the_counsellor_is_away_past_grace,
    requeue_held_puts_a_present_counsellors_chats_at_the_front,
    connection_counts_track_presence,
    live_conversations_are_the_queued_and_active_ones,
    left_queue_counts_visitors_who_gave_up_waiting,
    leaving_quickly_marks_the_conversation_and_ends_nothing,
    a_start_key_takes_up_its_waiting_conversation_once_and_atomically,
    a_conversation_keeps_the_language_it_started_in,
);

async fn a_conversation_keeps_the_language_it_started_in(b: Backend) {
    use tsunagu::core::ids::Lang;
    let mut en = conv_at(T0);
    en.lang = Lang::En;
    let ja = conv_at(T0 + 1);
    let created = b.node(0).create_conversation(en.clone(), 10).await.unwrap();
    assert_eq!(created.lang, Lang::En);
    b.node(1).create_conversation(ja.clone(), 10).await.unwrap();
    let c = counsellor(b.store(), 2).await;
    b.node(2).assign(en.id, c, T0 + 5).await.unwrap();
    for i in 0..3 {
        assert_eq!(
            b.node(i).conversation(en.id).await.unwrap().unwrap().lang,
            Lang::En
        );
        assert_eq!(
            b.node(i).conversation(ja.id).await.unwrap().unwrap().lang,
            Lang::Ja
        );
    }
    assert_eq!(b.store().queue().await.unwrap()[0].lang, Lang::Ja);
}

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

async fn queue_order_is_requeued_then_rank_time_then_id(b: Backend) {
    let s = b.store();
    let late = create(s, conv_at(T0 + 10)).await;
    let early = create(s, conv_at(T0 + 5)).await;
    let mut urgent = conv_at(T0 + 90);
    urgent.risk = RiskLevel::Urgent;
    let urgent = create(s, urgent).await;
    // Waited longer than the urgent head start: stays ahead of the urgent.
    let veteran = create(s, conv_at(T0 + 90 - DEFAULT_URGENT_HEAD_START_MS - 1)).await;
    // Same millisecond: the conversation id decides, the same everywhere.
    let mut tie_a = conv_at(T0 + 20);
    tie_a.id = ConversationId(Uuid::from_u128(u128::MAX - 1));
    let mut tie_b = conv_at(T0 + 20);
    tie_b.id = ConversationId(Uuid::from_u128(1));
    let (tie_a, tie_b) = (create(s, tie_a).await, create(s, tie_b).await);
    let requeued = create(s, conv_at(T0 + 50)).await;
    assert_eq!(
        queue_ids(s).await,
        vec![veteran, urgent, early, late, tie_b, tie_a, requeued]
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
        vec![requeued, veteran, urgent, early, late, tie_b, tie_a],
        "requeued goes before everyone, urgent or not"
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
    assert_eq!(head, vec![requeued, veteran, urgent]);
    assert!(s.queue_head(0).await.unwrap().is_empty());
    assert_eq!(s.queue_head(100).await.unwrap().len(), 7);
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
        .end(
            second,
            EndedBy::Counsellor,
            Some(Outcome::Listened.into()),
            T0 + 7,
        )
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
        s.set_outcome(conv, c, Outcome::Referred.into()).await,
        Err(TransitionError::NotActive.into()),
        "not before it ended"
    );
    s.end(conv, EndedBy::Visitor, None, T0 + 1).await.unwrap();
    assert_eq!(
        s.set_outcome(conv, other, Outcome::Referred.into()).await,
        Err(StoreError::NotYours)
    );
    let rec = s
        .set_outcome(conv, c, Outcome::Referred.into())
        .await
        .unwrap();
    assert_eq!(rec.outcome, Some(Outcome::Referred));
    assert!(s.conversations_of(c).await.unwrap().is_empty());
    assert_eq!(
        s.conversation(conv).await.unwrap().unwrap().outcome,
        Some(Outcome::Referred)
    );
    assert_eq!(
        s.set_outcome(ConversationId::new_random(), c, Outcome::Other.into())
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

async fn live_conversations_are_the_queued_and_active_ones(b: Backend) {
    let s = b.store();
    let a = counsellor(s, 2).await;
    let queued = create(s, conv_at(T0)).await;
    let active = create(s, conv_at(T0)).await;
    let ended = create(s, conv_at(T0)).await;
    s.assign(active, a, T0).await.unwrap();
    s.end(ended, EndedBy::Visitor, None, T0).await.unwrap();
    let mut live: Vec<_> = b
        .node(1)
        .live_conversations()
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    live.sort();
    let mut want = vec![queued, active];
    want.sort();
    assert_eq!(live, want);
}

async fn left_queue_counts_visitors_who_gave_up_waiting(b: Backend) {
    let s = b.store();
    let a = counsellor(s, 1).await;
    let by_visitor = create(s, conv_at(T0)).await;
    let by_system = create(s, conv_at(T0)).await;
    let served = create(s, conv_at(T0)).await;
    let away = create(s, conv_at(T0)).await;
    s.end(by_visitor, EndedBy::Visitor, None, T0).await.unwrap();
    s.end(by_system, EndedBy::System, None, T0).await.unwrap();
    s.assign(served, a, T0).await.unwrap();
    s.end(served, EndedBy::Visitor, None, T0).await.unwrap();
    assert_eq!(s.stats().await.unwrap().left_queue, 1);
    // `away` never connected: offline since creation.
    let swept = s.sweep(T0 + 1_000, 500, u64::MAX).await.unwrap();
    assert_eq!(swept, vec![Swept::Abandoned { conversation: away }]);
    assert_eq!(
        b.node(1).stats().await.unwrap(),
        Stats {
            left_queue: 2,
            went_silent: 0
        }
    );
}

async fn leaving_quickly_marks_the_conversation_and_ends_nothing(b: Backend) {
    let s = b.store();
    let grace = 60_000;
    // Waiting: marked, still in the queue at its place.
    let waiting = create(s, conv_at(T0)).await;
    let later = create(s, conv_at(T0 + 1)).await;
    s.visitor_connections(waiting, 1, T0 + 2).await.unwrap();
    s.visitor_connections(later, 1, T0 + 2).await.unwrap();
    let rec = b.node(1).leave_quickly(waiting, T0 + 10).await.unwrap();
    assert_eq!(rec.left_quickly_at_ms, Some(T0 + 10));
    assert_eq!(rec.state, ConversationState::Queued);
    assert_eq!(rec.ended_at_ms, None);
    assert_eq!(queue_ids(s).await, vec![waiting, later]);
    // Read through another node: the same fact.
    let read = b.node(2).conversation(waiting).await.unwrap().unwrap();
    assert_eq!(read, rec);
    // The page left: the visitor is offline; within the grace period
    // nothing ends and they can come back.
    s.visitor_connections(waiting, -1, T0 + 11).await.unwrap();
    assert!(s
        .sweep(T0 + 11 + grace - 1, grace, grace)
        .await
        .unwrap()
        .is_empty());
    let back = s.visitor_connections(waiting, 1, T0 + 20).await.unwrap();
    assert_eq!(back.state, ConversationState::Queued);
    assert_eq!(
        back.left_quickly_at_ms,
        Some(T0 + 10),
        "kept for the statistics"
    );
    // A second quick exit moves the time; away past the grace period, the
    // sweep ends it like any visitor who went away.
    s.leave_quickly(waiting, T0 + 30).await.unwrap();
    s.visitor_connections(waiting, -1, T0 + 31).await.unwrap();
    let swept = s.sweep(T0 + 31 + grace, grace, grace).await.unwrap();
    assert_eq!(
        swept,
        vec![Swept::Abandoned {
            conversation: waiting
        }]
    );
    let ended = s.conversation(waiting).await.unwrap().unwrap();
    assert_eq!(ended.state, ConversationState::Ended);
    assert_eq!(ended.left_quickly_at_ms, Some(T0 + 30));
    // An ended conversation refuses and keeps its record.
    let err = s.leave_quickly(waiting, T0 + 40).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Transition(TransitionError::AlreadyEnded)),
        "{err:?}"
    );
    assert_eq!(s.conversation(waiting).await.unwrap().unwrap(), ended);
    assert!(matches!(
        s.leave_quickly(ConversationId::new_random(), T0).await,
        Err(StoreError::NotFound)
    ));

    // Mid-chat: the counsellor keeps the conversation and the place.
    let c = counsellor(s, 1).await;
    s.assign(later, c, T0 + 50).await.unwrap();
    let rec = b.node(1).leave_quickly(later, T0 + 60).await.unwrap();
    assert_eq!(rec.state, ConversationState::Active { counsellor: c });
    assert_eq!(active_of(s, c).await, 1);
    assert_eq!(rec.left_quickly_at_ms, Some(T0 + 60));
    // The statistics count it as left quickly.
    let facts = s.report_facts().await.unwrap();
    assert_eq!(facts.iter().filter(|f| f.left_quickly).count(), 2);
}

/// `requeue_held` (issue 21: an account deactivated or its role changed):
/// as the end of the grace period, but while the counsellor is still
/// connected; once per conversation whichever nodes race.
async fn requeue_held_puts_a_present_counsellors_chats_at_the_front(b: Backend) {
    let s = b.store();
    let waiting = create(s, conv_at(T0)).await;
    let one = create(s, conv_at(T0 + 10)).await;
    let two = create(s, conv_at(T0 + 11)).await;
    let done = create(s, conv_at(T0 + 20)).await;
    let c = counsellor(s, 3).await;
    for (id, at) in [(one, 30), (two, 31), (done, 32)] {
        s.assign(id, c, T0 + at).await.unwrap();
    }
    s.end(done, EndedBy::Visitor, None, T0 + 33).await.unwrap();
    let all = join_all((0..3).map(|i| {
        let s = b.node(i);
        async move { s.requeue_held(c, T0 + 40).await.unwrap() }
    }))
    .await;
    let mut reported: Vec<ConversationId> = all
        .into_iter()
        .flatten()
        .map(|r| match r {
            Swept::Requeued {
                conversation,
                counsellor,
            } => {
                assert_eq!(counsellor, c);
                conversation
            }
            other => panic!("{other:?}"),
        })
        .collect();
    reported.sort();
    let mut both = vec![one, two];
    both.sort();
    assert_eq!(reported, both, "each requeued once");
    assert_eq!(queue_ids(s).await, vec![one, two, waiting]);
    assert_eq!(active_of(s, c).await, 0);
    for id in [one, two] {
        let rec = s.conversation(id).await.unwrap().unwrap();
        assert_eq!(rec.state, ConversationState::Queued);
        assert!(rec.requeued);
        assert_eq!(rec.counsellor, None);
    }
    assert_eq!(
        s.conversations_of(c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        vec![done]
    );
    assert_eq!(s.requeue_held(c, T0 + 50).await.unwrap(), vec![]);
}

/// Issue 27: a `start` with an idempotency key made again (its `welcome`
/// lost) gets the conversation that key started, atomically (many at
/// once on three nodes make one), only while it waits for its first
/// counsellor.
async fn a_start_key_takes_up_its_waiting_conversation_once_and_atomically(b: Backend) {
    use tsunagu::model::StartKey;
    let key = StartKey {
        hash: [42; 32],
        sealed: "sealed-token".into(),
    };
    let keyed = |now| {
        let mut n = conv_at(now);
        n.start_key = Some(key.clone());
        n
    };
    let calls = (0..12).map(|i| {
        let s = b.node(i);
        let n = keyed(T0 + i as u64);
        async move { s.create_conversation(n, 100).await.unwrap() }
    });
    let made = join_all(calls).await;
    let ids: HashSet<ConversationId> = made.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 1, "one conversation for one key");
    let id = made[0].id;
    assert_eq!(b.store().queue().await.unwrap().len(), 1);
    let rec = b.store().conversation(id).await.unwrap().unwrap();
    assert_eq!(rec.start_key.as_ref(), Some(&key));
    for i in 0..3 {
        let found = b.node(i).started_with(&key.hash).await.unwrap();
        assert_eq!(found.map(|r| r.id), Some(id));
    }
    assert!(b.store().started_with(&[43; 32]).await.unwrap().is_none());
    // Assigned: the key is spent; the same key makes a new conversation.
    let counsellor = super::counsellor(b.store(), 1).await;
    b.store().assign(id, counsellor, T0 + 100).await.unwrap();
    assert!(b.store().started_with(&key.hash).await.unwrap().is_none());
    let fresh = b
        .store()
        .create_conversation(keyed(T0 + 200), 100)
        .await
        .unwrap();
    assert_ne!(fresh.id, id);
    assert_eq!(
        b.node(1)
            .started_with(&key.hash)
            .await
            .unwrap()
            .map(|r| r.id),
        Some(fresh.id)
    );
}
