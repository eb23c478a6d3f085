//! Issue 20: every supervisor access is audited in the same step as the
//! access (observe, join, leave, leave by disconnect, whisper; take-over
//! is in `supervision.rs`), whispers are kept apart from the log and go
//! with the conversation, and the audit log filters and expires.

use super::*;
use tsunagu::core::handoff::{AuditAction, AuditEntry, AuditFilter};
use tsunagu::model::{Retention, Whisper};

conformance!(
    each_change_of_supervision_is_audited_once_with_its_duration,
    a_whisper_is_kept_apart_from_the_log_audited_and_deleted_with_it,
    the_audit_log_filters_and_expires,
    an_access_still_open_when_the_conversation_ends_is_closed_with_it,
);

const DAY: u64 = 86_400_000;

async fn entries(s: &Arc<dyn Store>, conv: ConversationId) -> Vec<(AuditAction, Option<u64>)> {
    let f = AuditFilter {
        conversation: Some(conv),
        ..AuditFilter::newest(100)
    };
    s.audit_log(&f)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|e| (e.action, e.duration_ms))
        .collect()
}

async fn each_change_of_supervision_is_audited_once_with_its_duration(b: Backend) {
    let s = b.store();
    let a = counsellor(s, 2).await;
    let sup = AccountId::new_random();
    let id = create(s, conv_at(T0)).await;
    // Refused: join while waiting. Nothing is audited.
    assert_eq!(
        s.supervise(id, sup, Some(SupervisionMode::Join), false, T0 + 1)
            .await
            .map(|_| ()),
        Err(StoreError::Transition(TransitionError::NotActive))
    );
    s.assign(id, a, T0 + 1).await.unwrap();
    // Refused: the holder cannot supervise their own conversation.
    assert_eq!(
        s.supervise(id, a, Some(SupervisionMode::Observe), false, T0 + 1)
            .await
            .map(|_| ()),
        Err(StoreError::NotYours)
    );
    assert!(entries(s, id).await.is_empty());
    s.supervise(id, sup, Some(SupervisionMode::Observe), false, T0 + 10)
        .await
        .unwrap();
    // The same mode again: nothing changes, nothing is audited.
    b.node(1)
        .supervise(id, sup, Some(SupervisionMode::Observe), false, T0 + 12)
        .await
        .unwrap();
    b.node(2)
        .supervise(id, sup, Some(SupervisionMode::Join), false, T0 + 20)
        .await
        .unwrap();
    let rec = s.conversation(id).await.unwrap().unwrap();
    assert_eq!(
        rec.supervision_entry(sup).map(|x| x.since_ms),
        Some(T0 + 10),
        "a change of mode keeps the access's start"
    );
    let (_, prev) = s.supervise(id, sup, None, false, T0 + 45).await.unwrap();
    assert_eq!(prev, Some(SupervisionMode::Join));
    // Leaving again changes nothing.
    s.supervise(id, sup, None, false, T0 + 50).await.unwrap();
    assert_eq!(
        entries(s, id).await,
        vec![
            (AuditAction::Observe, None),
            (AuditAction::Join, None),
            (AuditAction::Leave, Some(35)),
        ]
    );
    // An observation ended by the supervisor's disconnect.
    s.supervise(id, sup, Some(SupervisionMode::Observe), false, T0 + 100)
        .await
        .unwrap();
    s.supervise(id, sup, None, true, T0 + 160).await.unwrap();
    let log = s.audit_log(&AuditFilter::newest(1)).await.unwrap();
    assert_eq!(
        (
            log[0].action,
            log[0].duration_ms,
            log[0].account,
            log[0].conversation
        ),
        (AuditAction::LeaveByDisconnect, Some(60), sup, Some(id))
    );
    assert_eq!(log[0].at_ms, T0 + 160);
    assert_eq!(entries(s, id).await.len(), 5);
}

async fn a_whisper_is_kept_apart_from_the_log_audited_and_deleted_with_it(b: Backend) {
    let s = b.store();
    let a = counsellor(s, 3).await;
    let sup = AccountId::new_random();
    let w = |conv: ConversationId, at: u64| Whisper {
        conversation: conv,
        supervisor: sup,
        text: "WHISPER-MARKER ask about sleep".into(),
        at_ms: at,
    };
    let id = create(s, conv_at(T0)).await;
    s.assign(id, a, T0 + 1).await.unwrap();
    s.append(id, message(Party::Visitor, "v1", "hello"))
        .await
        .unwrap();
    // Not supervising: refused, nothing stored or audited.
    assert_eq!(s.whisper(w(id, T0 + 2)).await, Err(StoreError::NotYours));
    assert_eq!(
        s.whisper(w(ConversationId::new_random(), T0 + 2)).await,
        Err(StoreError::NotFound)
    );
    assert!(s.whispers(id).await.unwrap().is_empty());
    assert!(entries(s, id).await.is_empty());
    s.supervise(id, sup, Some(SupervisionMode::Observe), false, T0 + 3)
        .await
        .unwrap();
    b.node(1).whisper(w(id, T0 + 4)).await.unwrap();
    b.node(2).whisper(w(id, T0 + 5)).await.unwrap();
    assert_eq!(
        s.whispers(id).await.unwrap(),
        vec![w(id, T0 + 4), w(id, T0 + 5)]
    );
    assert_eq!(
        entries(s, id).await,
        vec![
            (AuditAction::Observe, None),
            (AuditAction::Whisper, None),
            (AuditAction::Whisper, None),
        ]
    );
    // Never in the log.
    let log = s.messages_after(id, 0, 100).await.unwrap();
    assert_eq!(log.len(), 1);
    assert!(log.iter().all(|m| !m.text.contains("WHISPER-MARKER")));
    assert_eq!(s.conversation(id).await.unwrap().unwrap().last_seq, 1);
    // Erasing the conversation deletes its whispers with its log.
    s.erase(id, false, T0 + 6).await.unwrap();
    assert!(s.whispers(id).await.unwrap().is_empty());
    // Ended: refused.
    assert_eq!(
        s.whisper(w(id, T0 + 7)).await,
        Err(StoreError::Transition(TransitionError::AlreadyEnded))
    );
    // A purged conversation's whispers go with it.
    let other = create(s, conv_at(T0)).await;
    s.assign(other, a, T0 + 1).await.unwrap();
    s.supervise(other, sup, Some(SupervisionMode::Join), false, T0 + 2)
        .await
        .unwrap();
    s.whisper(w(other, T0 + 3)).await.unwrap();
    s.end(
        other,
        EndedBy::Counsellor,
        Some(Outcome::Listened.into()),
        T0 + 4,
    )
    .await
    .unwrap();
    assert_eq!(s.whispers(other).await.unwrap().len(), 1);
    let retention = Retention {
        conversation_ms: DAY,
        booking_ms: DAY,
        audit_ms: 365 * DAY,
    };
    let purged = s.purge(T0 + 2 * DAY, &retention).await.unwrap();
    assert!(purged.conversations.contains(&other));
    assert!(s.whispers(other).await.unwrap().is_empty());
    // The audit entries stay (they hold ids only): their own retention.
    assert_eq!(
        entries(s, other).await,
        vec![
            (AuditAction::Join, None),
            (AuditAction::Whisper, None),
            (AuditAction::LeaveByEnd, Some(2)),
        ]
    );
}

async fn an_access_still_open_when_the_conversation_ends_is_closed_with_it(b: Backend) {
    let s = b.store();
    let a = counsellor(s, 3).await;
    let (sup, sup2) = (AccountId::new_random(), AccountId::new_random());

    // Observed, then its counsellor ends it: one leave, with the duration.
    let ended = create(s, conv_at(T0)).await;
    s.assign(ended, a, T0 + 1).await.unwrap();
    s.supervise(ended, sup, Some(SupervisionMode::Observe), false, T0 + 10)
        .await
        .unwrap();
    let e = b
        .node(1)
        .end(
            ended,
            EndedBy::Counsellor,
            Some(Outcome::Listened.into()),
            T0 + 100,
        )
        .await
        .unwrap();
    assert!(
        e.record.supervisors.is_empty(),
        "{:?}",
        e.record.supervisors
    );
    let expected = vec![
        (AuditAction::Observe, None),
        (AuditAction::LeaveByEnd, Some(90)),
    ];
    assert_eq!(entries(s, ended).await, expected);
    let log = s.audit_log(&AuditFilter::newest(1)).await.unwrap();
    assert_eq!(
        (log[0].account, log[0].at_ms, log[0].conversation),
        (sup, T0 + 100, Some(ended))
    );
    // Nothing is open any more: leaving (the console's own leave, or the
    // supervisor's disconnect) audits nothing more.
    s.supervise(ended, sup, None, false, T0 + 120)
        .await
        .unwrap();
    s.supervise(ended, sup, None, true, T0 + 130).await.unwrap();
    assert_eq!(entries(s, ended).await, expected);
    assert!(s
        .conversation(ended)
        .await
        .unwrap()
        .unwrap()
        .supervisors
        .is_empty());

    // Joined and observed by two supervisors, then the visitor erases it:
    // one leave each, no more.
    let erased = create(s, conv_at(T0)).await;
    s.assign(erased, a, T0 + 1).await.unwrap();
    s.supervise(erased, sup2, Some(SupervisionMode::Join), false, T0 + 5)
        .await
        .unwrap();
    s.supervise(erased, sup, Some(SupervisionMode::Observe), false, T0 + 6)
        .await
        .unwrap();
    s.erase(erased, false, T0 + 50).await.unwrap();
    s.erase(erased, false, T0 + 60).await.unwrap();
    let mut leaves: Vec<(AccountId, Option<u64>)> = s
        .audit_log(&AuditFilter {
            conversation: Some(erased),
            actions: vec![AuditAction::LeaveByEnd],
            ..AuditFilter::newest(100)
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.account, e.duration_ms))
        .collect();
    leaves.sort();
    let mut want = vec![(sup2, Some(45)), (sup, Some(44))];
    want.sort();
    assert_eq!(leaves, want);
    assert_eq!(entries(s, erased).await.len(), 4);

    // A waiting visitor observed, who goes away past the grace period.
    let waiting = create(s, conv_at(T0)).await;
    s.visitor_connections(waiting, 1, T0 + 1).await.unwrap();
    s.supervise(waiting, sup, Some(SupervisionMode::Observe), false, T0 + 2)
        .await
        .unwrap();
    s.visitor_connections(waiting, -1, T0 + 500).await.unwrap();
    let swept = b.node(2).sweep(T0 + 1_500, 1_000, u64::MAX).await.unwrap();
    assert_eq!(
        swept,
        vec![Swept::Abandoned {
            conversation: waiting
        }]
    );
    assert_eq!(
        entries(s, waiting).await,
        vec![
            (AuditAction::Observe, None),
            (AuditAction::LeaveByEnd, Some(1_498)),
        ]
    );
    // Sweeping again ends nothing and audits nothing.
    s.sweep(T0 + 2_000, 1_000, u64::MAX).await.unwrap();
    assert_eq!(entries(s, waiting).await.len(), 2);
    // Ended without a supervisor: no entry at all.
    let plain = create(s, conv_at(T0)).await;
    s.end(plain, EndedBy::Visitor, None, T0 + 3).await.unwrap();
    assert!(entries(s, plain).await.is_empty());
    assert!(s.supervised_by(sup).await.unwrap().is_empty());
    assert!(s.supervised_by(sup2).await.unwrap().is_empty());
}

async fn the_audit_log_filters_and_expires(b: Backend) {
    let s = b.store();
    let (x, y) = (AccountId::new_random(), AccountId::new_random());
    let (c1, c2) = (ConversationId::new_random(), ConversationId::new_random());
    let rows = [
        (T0, x, AuditAction::Observe, c1),
        (T0 + DAY, y, AuditAction::Join, c2),
        (T0 + 2 * DAY, x, AuditAction::Whisper, c2),
        (T0 + 3 * DAY, y, AuditAction::Leave, c1),
        (T0 + 4 * DAY, x, AuditAction::TakeOver, c1),
    ];
    for (at, who, action, conv) in rows {
        s.append_audit(AuditEntry::access(at, who, action, conv, None))
            .await
            .unwrap();
    }
    let ats = |v: Vec<AuditEntry>| v.iter().map(|e| e.at_ms).collect::<Vec<_>>();
    let all = AuditFilter::newest(100);
    assert_eq!(ats(s.audit_log(&all).await.unwrap()).len(), 5);
    let by_x = AuditFilter {
        account: Some(x),
        ..all.clone()
    };
    assert_eq!(
        ats(s.audit_log(&by_x).await.unwrap()),
        vec![T0 + 4 * DAY, T0 + 2 * DAY, T0]
    );
    let kinds = AuditFilter {
        actions: vec![AuditAction::Join, AuditAction::Leave],
        ..all.clone()
    };
    assert_eq!(
        ats(s.audit_log(&kinds).await.unwrap()),
        vec![T0 + 3 * DAY, T0 + DAY]
    );
    let window = AuditFilter {
        conversation: Some(c1),
        since_ms: Some(T0 + 1),
        until_ms: Some(T0 + 4 * DAY),
        ..all.clone()
    };
    assert_eq!(ats(s.audit_log(&window).await.unwrap()), vec![T0 + 3 * DAY]);
    let two = AuditFilter {
        limit: 2,
        ..all.clone()
    };
    assert_eq!(
        ats(s.audit_log(&two).await.unwrap()),
        vec![T0 + 4 * DAY, T0 + 3 * DAY]
    );
    // Retention: entries older than `audit_ms` go, the rest stay.
    let retention = Retention {
        conversation_ms: DAY,
        booking_ms: DAY,
        audit_ms: 10 * DAY,
    };
    let purged = b
        .node(1)
        .purge(T0 + 12 * DAY + 1, &retention)
        .await
        .unwrap();
    assert_eq!(purged.audit, 3);
    assert_eq!(
        ats(s.audit_log(&all).await.unwrap()),
        vec![T0 + 4 * DAY, T0 + 3 * DAY]
    );
    // Again: nothing more is due.
    assert_eq!(
        s.purge(T0 + 12 * DAY + 1, &retention).await.unwrap().audit,
        0
    );
}
