//! `CaseStore` (issue 22): a conversation belongs to at most one case, a
//! case has one code in force (a new one replaces the earlier one in the
//! same step), a returning visitor's conversation joins the case, and
//! concurrent steps on one case lose nothing.

use tsunagu::core::case_retention::KeepLongerConsent;
use tsunagu::core::ids::CaseId;
use tsunagu::model::Retention;

use super::*;

conformance!(
    a_code_makes_a_case_found_by_code_and_by_conversation,
    a_new_code_replaces_the_earlier_one_in_the_same_case,
    a_returning_conversation_joins_the_case,
    concurrent_joins_lose_no_conversation,
    concurrent_first_codes_make_one_case,
    purge_takes_a_conversation_out_of_its_case_and_the_case_with_its_last,
    keep_longer_keeps_a_case_and_withdrawing_releases_it,
    a_case_naming_conversations_gone_goes_with_its_last_stored_one
);

const DAY: u64 = 86_400_000;
const RETENTION: Retention = Retention {
    conversation_ms: 30 * DAY,
    booking_ms: 365 * DAY,
    audit_ms: 5 * 365 * DAY,
};

async fn ended_at(s: &Arc<dyn Store>, at: u64) -> ConversationId {
    let id = create(s, conv_at(at)).await;
    s.end(id, EndedBy::Visitor, None, at + 1000).await.unwrap();
    id
}

fn consent(at: u64) -> KeepLongerConsent {
    KeepLongerConsent {
        wording_version: "2026-12/ja".into(),
        keep_days: 180,
        at_ms: at,
        withdrawn_at_ms: None,
    }
}

fn code(n: u8) -> [u8; 32] {
    let mut h = [n; 32];
    // Distinct from every other test's codes on a shared Redis.
    h[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    h
}

async fn a_code_makes_a_case_found_by_code_and_by_conversation(b: Backend) {
    let now = tsunagu::clock::now_ms();
    let s = b.store();
    let id = create(s, conv_at(now)).await;
    let counsellor = AccountId::new_random();
    let c = code(1);
    let case = b
        .node(1)
        .take_return_code(id, CaseId::new_random(), c, Some(counsellor), now)
        .await
        .unwrap();
    assert_eq!(case.conversations, vec![id]);
    assert_eq!(case.last_counsellor, Some(counsellor));
    assert_eq!(case.code_hash, c);
    for i in 0..3 {
        assert_eq!(
            b.node(i).case_by_code(&c).await.unwrap(),
            Some(case.clone())
        );
        assert_eq!(b.node(i).case_of(id).await.unwrap(), Some(case.clone()));
    }
    assert_eq!(s.case_by_code(&code(2)).await.unwrap(), None);
    assert_eq!(s.case_of(ConversationId::new_random()).await.unwrap(), None);
    // No such conversation: nothing is made.
    let stray = CaseId::new_random();
    assert_eq!(
        s.take_return_code(ConversationId::new_random(), stray, code(3), None, now)
            .await,
        Err(StoreError::NotFound)
    );
}

async fn a_new_code_replaces_the_earlier_one_in_the_same_case(b: Backend) {
    let now = tsunagu::clock::now_ms();
    let s = b.store();
    let id = create(s, conv_at(now)).await;
    let (first, second) = (code(1), code(2));
    let a = s
        .take_return_code(id, CaseId::new_random(), first, None, now)
        .await
        .unwrap();
    let counsellor = AccountId::new_random();
    let b2 = b
        .node(2)
        .take_return_code(id, CaseId::new_random(), second, Some(counsellor), now + 5)
        .await
        .unwrap();
    assert_eq!(b2.id, a.id, "the same case");
    assert_eq!(b2.conversations, vec![id]);
    assert_eq!(b2.last_counsellor, Some(counsellor));
    assert_eq!(b2.last_contact_ms, now + 5);
    assert_eq!(b2.created_at_ms, now);
    for i in 0..3 {
        assert_eq!(b.node(i).case_by_code(&first).await.unwrap(), None);
        assert_eq!(
            b.node(i).case_by_code(&second).await.unwrap(),
            Some(b2.clone())
        );
    }
    // A code without a counsellor keeps the one known.
    let c = s
        .take_return_code(id, CaseId::new_random(), code(3), None, now + 6)
        .await
        .unwrap();
    assert_eq!(c.last_counsellor, Some(counsellor));
}

async fn a_returning_conversation_joins_the_case(b: Backend) {
    let now = tsunagu::clock::now_ms();
    let s = b.store();
    let first = create(s, conv_at(now)).await;
    let c = code(1);
    let case = s
        .take_return_code(first, CaseId::new_random(), c, None, now)
        .await
        .unwrap();
    let second = create(s, conv_at(now + 1000)).await;
    let joined = b
        .node(1)
        .join_case(case.id, second, now + 1000)
        .await
        .unwrap();
    assert_eq!(joined.conversations, vec![first, second]);
    assert_eq!(joined.last_contact_ms, now + 1000);
    // Again: nothing doubled.
    let again = b
        .node(2)
        .join_case(case.id, second, now + 1000)
        .await
        .unwrap();
    assert_eq!(again.conversations, vec![first, second]);
    for i in 0..3 {
        assert_eq!(
            b.node(i).case_of(second).await.unwrap(),
            Some(again.clone())
        );
        assert_eq!(
            b.node(i).case_by_code(&c).await.unwrap(),
            Some(again.clone())
        );
    }
    // A code taken in the second conversation is the case's, not a new case.
    let later = s
        .take_return_code(second, CaseId::new_random(), code(4), None, now + 2000)
        .await
        .unwrap();
    assert_eq!(later.id, case.id);
    assert_eq!(s.case_by_code(&c).await.unwrap(), None);
    // No such case.
    assert_eq!(
        s.join_case(CaseId::new_random(), second, now).await,
        Err(StoreError::NotFound)
    );
}

async fn concurrent_joins_lose_no_conversation(b: Backend) {
    let now = tsunagu::clock::now_ms();
    let s = b.store();
    let first = create(s, conv_at(now)).await;
    let case = s
        .take_return_code(first, CaseId::new_random(), code(1), None, now)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(create(s, conv_at(now)).await);
    }
    let results = join_all(ids.iter().enumerate().map(|(i, id)| {
        let node = b.node(i);
        let (case, id) = (case.id, *id);
        async move { node.join_case(case, id, now + 1).await }
    }))
    .await;
    for r in results {
        r.unwrap();
    }
    let after = s.case_of(first).await.unwrap().unwrap();
    assert_eq!(after.conversations.len(), 7, "{after:?}");
    for id in &ids {
        assert!(after.conversations.contains(id));
    }
}

async fn concurrent_first_codes_make_one_case(b: Backend) {
    let now = tsunagu::clock::now_ms();
    let s = b.store();
    let id = create(s, conv_at(now)).await;
    let codes: Vec<[u8; 32]> = (0..4).map(code).collect();
    let results = join_all(codes.iter().enumerate().map(|(i, c)| {
        let node = b.node(i);
        let c = *c;
        async move {
            node.take_return_code(id, CaseId::new_random(), c, None, now)
                .await
        }
    }))
    .await;
    let cases: HashSet<_> = results.into_iter().map(|r| r.unwrap().id).collect();
    assert_eq!(cases.len(), 1, "one conversation, one case");
    // Exactly one of the codes is in force: the last written.
    let mut in_force = 0;
    for c in &codes {
        if s.case_by_code(c).await.unwrap().is_some() {
            in_force += 1;
        }
    }
    assert_eq!(in_force, 1);
}

async fn purge_takes_a_conversation_out_of_its_case_and_the_case_with_its_last(b: Backend) {
    let t0 = 1_700_000_000_000;
    let s = b.store();
    let first = ended_at(s, t0).await;
    let c = code(1);
    let case = s
        .take_return_code(first, CaseId::new_random(), c, None, t0 + 2000)
        .await
        .unwrap();
    let second = ended_at(s, t0 + 7 * DAY).await;
    b.node(1)
        .join_case(case.id, second, t0 + 7 * DAY)
        .await
        .unwrap();
    // Someone else's conversation, of no case.
    let alone = ended_at(s, t0).await;

    // Day 29: nothing goes.
    let p = b.node(2).purge(t0 + 29 * DAY, &RETENTION).await.unwrap();
    assert!(p.conversations.is_empty(), "{p:?}");
    // Day 32: the first goes; the case stays with the second, still found
    // by its code.
    let p = b.node(2).purge(t0 + 32 * DAY, &RETENTION).await.unwrap();
    let mut got = p.conversations.clone();
    got.sort();
    let mut want = vec![first, alone];
    want.sort();
    assert_eq!(got, want);
    for i in 0..3 {
        let n = b.node(i);
        let left = n.case_by_code(&c).await.unwrap().unwrap();
        assert_eq!(left.id, case.id);
        assert_eq!(left.conversations, vec![second]);
        assert_eq!(n.case_of(first).await.unwrap(), None);
        assert_eq!(n.case_of(second).await.unwrap(), Some(left));
    }
    // Day 38: the last goes, and the case with its code's index.
    let p = b.node(1).purge(t0 + 38 * DAY, &RETENTION).await.unwrap();
    assert_eq!(p.conversations, vec![second]);
    for i in 0..3 {
        let n = b.node(i);
        assert_eq!(n.case_by_code(&c).await.unwrap(), None);
        assert_eq!(n.case_of(second).await.unwrap(), None);
    }
    assert_eq!(s.delete_case(case.id).await, Err(StoreError::NotFound));
    // Purging again changes nothing.
    let p = s.purge(t0 + 400 * DAY, &RETENTION).await.unwrap();
    assert!(p.conversations.is_empty());
}

async fn keep_longer_keeps_a_case_and_withdrawing_releases_it(b: Backend) {
    let t0 = 1_700_000_000_000;
    let s = b.store();
    let id = ended_at(s, t0).await;
    let c = code(1);
    let case = s
        .take_return_code(id, CaseId::new_random(), c, None, t0 + 2000)
        .await
        .unwrap();
    // A compare-and-set over other consents than the case's changes
    // nothing.
    assert_eq!(
        b.node(1)
            .set_keep_longer(case.id, &[consent(1)], vec![])
            .await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        s.set_keep_longer(CaseId::new_random(), &[], vec![consent(1)])
            .await,
        Err(StoreError::NotFound)
    );
    let given = b
        .node(1)
        .set_keep_longer(case.id, &[], vec![consent(t0 + 3000)])
        .await
        .unwrap();
    assert_eq!(given.keep_longer, vec![consent(t0 + 3000)]);
    for i in 0..3 {
        assert_eq!(b.node(i).case_of(id).await.unwrap(), Some(given.clone()));
    }
    // Past the 30 days, within the 180 after the last contact: kept.
    let p = b.node(2).purge(t0 + 100 * DAY, &RETENTION).await.unwrap();
    assert!(p.conversations.is_empty(), "{p:?}");
    assert!(s.conversation(id).await.unwrap().is_some());
    // Withdrawn: the next purge removes it and the case.
    let mut withdrawn = consent(t0 + 3000);
    withdrawn.withdrawn_at_ms = Some(t0 + 100 * DAY);
    b.node(2)
        .set_keep_longer(case.id, &given.keep_longer, vec![withdrawn])
        .await
        .unwrap();
    let p = b.node(1).purge(t0 + 100 * DAY, &RETENTION).await.unwrap();
    assert_eq!(p.conversations, vec![id]);
    assert_eq!(s.case_by_code(&c).await.unwrap(), None);

    // Kept to the day: 180 days after the last contact, not before.
    let other = ended_at(s, t0).await;
    let c2 = code(2);
    let case2 = s
        .take_return_code(other, CaseId::new_random(), c2, None, t0 + 2000)
        .await
        .unwrap();
    s.set_keep_longer(case2.id, &[], vec![consent(t0 + 2000)])
        .await
        .unwrap();
    let p = s
        .purge(t0 + 2000 + 180 * DAY - 1, &RETENTION)
        .await
        .unwrap();
    assert!(p.conversations.is_empty(), "{p:?}");
    let p = s.purge(t0 + 2000 + 180 * DAY, &RETENTION).await.unwrap();
    assert_eq!(p.conversations, vec![other]);
    assert_eq!(s.case_by_code(&c2).await.unwrap(), None);
}

async fn a_case_naming_conversations_gone_goes_with_its_last_stored_one(b: Backend) {
    // A case written before cases followed the purge names a conversation
    // already purged: the purge of its last stored one removes it all.
    let t0 = 1_700_000_000_000;
    let s = b.store();
    let old = ended_at(s, t0).await;
    let c = code(1);
    let case = s
        .take_return_code(old, CaseId::new_random(), c, None, t0 + 2000)
        .await
        .unwrap();
    let later = ended_at(s, t0 + 20 * DAY).await;
    s.join_case(case.id, later, t0 + 20 * DAY).await.unwrap();
    let p = s.purge(t0 + 31 * DAY, &RETENTION).await.unwrap();
    assert_eq!(p.conversations, vec![old]);
    assert_eq!(
        s.case_of(later).await.unwrap().unwrap().conversations,
        vec![later]
    );
    let p = s.purge(t0 + 51 * DAY, &RETENTION).await.unwrap();
    assert_eq!(p.conversations, vec![later]);
    for i in 0..3 {
        assert_eq!(b.node(i).case_by_code(&c).await.unwrap(), None);
        assert_eq!(b.node(i).case_of(old).await.unwrap(), None);
    }
}
