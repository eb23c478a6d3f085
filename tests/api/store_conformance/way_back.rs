//! `WayBackStore`: one code in force per conversation, redeemed once
//! (consuming it and replacing the resume token's hash in one step),
//! refused the same way when wrong, replaced, used, expired or ended.

use super::*;

conformance!(
    a_code_is_redeemed_once_for_a_new_token_hash,
    a_new_code_replaces_the_earlier_one,
    an_expired_code_is_refused,
    an_ended_conversation_has_no_way_back,
    concurrent_redeems_of_one_code_give_exactly_one_success
);

const MIN: u64 = 60_000;

fn code(n: u8) -> [u8; 32] {
    let mut h = [n; 32];
    // Distinct from every other test's codes on a shared Redis.
    h[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    h
}

async fn a_code_is_redeemed_once_for_a_new_token_hash(b: Backend) {
    let now = tsunagu::clock::now_ms();
    let s = b.store();
    let id = create(s, conv_at(now)).await;
    let c = code(1);
    b.node(1).set_way_back(id, c, now + 30 * MIN).await.unwrap();
    let rec = b.node(2).redeem_way_back(&c, [42; 32], now).await.unwrap();
    assert_eq!(rec.id, id);
    assert_eq!(rec.token_hash, [42; 32]);
    assert_eq!(rec.state, ConversationState::Queued);
    // Every node reads the new token hash; the record is otherwise as it was.
    for i in 0..3 {
        let r = b.node(i).conversation(id).await.unwrap().unwrap();
        assert_eq!(r.token_hash, [42; 32]);
        assert_eq!(r.queued_since_ms, now);
    }
    // Used: refused, and the token stays the one it gave.
    assert_eq!(
        b.node(0).redeem_way_back(&c, [43; 32], now).await,
        Err(StoreError::NotFound)
    );
    // A code never set: the same answer.
    assert_eq!(
        b.node(0).redeem_way_back(&code(9), [44; 32], now).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.conversation(id).await.unwrap().unwrap().token_hash,
        [42; 32]
    );
    // Setting a code for an unknown conversation.
    assert_eq!(
        s.set_way_back(ConversationId::new_random(), code(3), now + MIN)
            .await,
        Err(StoreError::NotFound)
    );
}

async fn a_new_code_replaces_the_earlier_one(b: Backend) {
    let now = tsunagu::clock::now_ms();
    let id = create(b.store(), conv_at(now)).await;
    let (first, second) = (code(1), code(2));
    b.node(0)
        .set_way_back(id, first, now + 30 * MIN)
        .await
        .unwrap();
    b.node(1)
        .set_way_back(id, second, now + 30 * MIN)
        .await
        .unwrap();
    assert_eq!(
        b.node(2).redeem_way_back(&first, [5; 32], now).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        b.store()
            .conversation(id)
            .await
            .unwrap()
            .unwrap()
            .token_hash,
        [7; 32],
        "a refused redeem changes nothing"
    );
    let rec = b
        .node(2)
        .redeem_way_back(&second, [6; 32], now)
        .await
        .unwrap();
    assert_eq!(rec.token_hash, [6; 32]);
}

async fn an_expired_code_is_refused(b: Backend) {
    let now = tsunagu::clock::now_ms();
    let id = create(b.store(), conv_at(now)).await;
    let c = code(1);
    b.node(0).set_way_back(id, c, now + MIN).await.unwrap();
    assert_eq!(
        b.node(1).redeem_way_back(&c, [5; 32], now + MIN).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        b.store()
            .conversation(id)
            .await
            .unwrap()
            .unwrap()
            .token_hash,
        [7; 32]
    );
}

async fn an_ended_conversation_has_no_way_back(b: Backend) {
    let now = tsunagu::clock::now_ms();
    let s = b.store();
    let id = create(s, conv_at(now)).await;
    let c = code(1);
    s.set_way_back(id, c, now + 30 * MIN).await.unwrap();
    s.end(id, EndedBy::Visitor, None, now).await.unwrap();
    assert_eq!(
        b.node(1).redeem_way_back(&c, [5; 32], now).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.conversation(id).await.unwrap().unwrap().token_hash,
        [7; 32]
    );
    assert_eq!(
        b.node(2).set_way_back(id, code(2), now + MIN).await,
        Err(StoreError::Transition(TransitionError::AlreadyEnded))
    );
}

async fn concurrent_redeems_of_one_code_give_exactly_one_success(b: Backend) {
    let now = tsunagu::clock::now_ms();
    let id = create(b.store(), conv_at(now)).await;
    let c = code(1);
    b.node(0).set_way_back(id, c, now + 30 * MIN).await.unwrap();
    let results = join_all((0..40u8).map(|i| {
        let n = b.node(usize::from(i));
        async move { (i, n.redeem_way_back(&c, [i; 32], now).await) }
    }))
    .await;
    let won: Vec<u8> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| *i)
        .collect();
    println!("40 concurrent redeems of one way-back code over 3 nodes: winners {won:?}");
    assert_eq!(won.len(), 1, "exactly one redeem succeeds");
    for (_, r) in &results {
        if let Err(e) = r {
            assert_eq!(e, &StoreError::NotFound);
        }
    }
    assert_eq!(
        b.store()
            .conversation(id)
            .await
            .unwrap()
            .unwrap()
            .token_hash,
        [won[0]; 32],
        "the token hash is the winner's"
    );
}
