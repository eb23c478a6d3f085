//! `MessageStore`: the log, acknowledgements and notes.

use super::*;

conformance!(
    append_numbers_in_order_and_answers_resends_with_the_first_seq,
    concurrent_appends_get_distinct_consecutive_seqs,
    require_counsellor_is_checked_with_the_append,
    messages_after_pages_by_sequence,
    ack_is_monotonic_and_clamped,
    notes_belong_to_an_existing_conversation,
);

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
    let acked = |seq, raised| Ok(Acknowledged { seq, raised });
    assert_eq!(
        s.ack(conv, Party::Counsellor, 2).await,
        acked(2, true),
        "raised"
    );
    assert_eq!(
        s.ack(conv, Party::Counsellor, 2).await,
        acked(2, false),
        "the same again raises nothing"
    );
    assert_eq!(
        s.ack(conv, Party::Counsellor, 1).await,
        acked(2, false),
        "never lowered"
    );
    assert_eq!(
        s.ack(conv, Party::Counsellor, 99).await,
        acked(3, true),
        "clamped"
    );
    assert_eq!(
        s.ack(conv, Party::Counsellor, u64::MAX).await,
        acked(3, false),
        "clamped even at the edge"
    );
    assert_eq!(
        s.ack(conv, Party::Visitor, 1).await,
        acked(1, true),
        "per party"
    );
    let rec = s.conversation(conv).await.unwrap().unwrap();
    assert_eq!((rec.counsellor_acked, rec.visitor_acked), (3, 1));
    assert_eq!(
        s.ack(ConversationId::new_random(), Party::Visitor, 1).await,
        Err(StoreError::NotFound)
    );
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
