//! `SupervisionStore`: risk and alerts, supervision, reassign, requeue
//! and silence marks.

use super::*;
use tsunagu::core::handoff::{AuditAction, AuditFilter};

conformance!(
    triage_raises_a_waiting_visitor_once_and_moves_them_ahead,
    triage_raises_mid_chat_once_and_never_after_the_end,
    a_refused_reassign_changes_nothing,
    requeue_puts_the_conversation_at_the_front_and_frees_the_place,
    supervision_rules_and_writers,
    alerts_are_acknowledged_once_and_silences_counted_once,
    a_created_conversation_keeps_its_risk_and_alert,
    staff_risk_moves_a_queued_visitor_both_ways_keeping_arrival,
    triage_keeps_the_highest_level_and_records_new_rules_only,
    alerts_are_listed_oldest_first,
    reassign_moves_the_place_and_the_held_entry,
    requeue_clears_the_counsellor_counts_a_transfer_and_keeps_the_note,
    assign_drops_the_assignees_supervision,
    staff_risk_on_an_active_conversation,
);

fn risk_conv(risk: RiskLevel, now_ms: u64) -> NewConversation {
    NewConversation {
        lang: Default::default(),
        channel: Default::default(),
        id: ConversationId::new_random(),
        token_hash: [0; 32],
        pre_chat: PreChat::default(),
        risk,
        risk_reasons: Vec::new(),
        alert: None,
        first_message: None,
        now_ms,
        start_key: None,
        prefers: None,
    }
}

fn triage_hit(rule: &str) -> RiskReason {
    RiskReason {
        level: RiskLevel::Urgent,
        source: RiskSource::Triage {
            rule: rule.into(),
            category: "self_harm".into(),
        },
        at_ms: 5,
    }
}

async fn safety_counsellor(s: &Arc<dyn Store>, capacity: u32, available: bool) -> AccountId {
    let id = AccountId::new_random();
    s.counsellor_connections(id, 1, capacity, 0).await.unwrap();
    if available {
        s.set_status(id, Availability::Available).await.unwrap();
    }
    id
}

async fn loads(s: &Arc<dyn Store>) -> Vec<(AccountId, u32)> {
    let mut v: Vec<(AccountId, u32)> = s
        .counsellors()
        .await
        .unwrap()
        .iter()
        .map(|c| (c.id, c.active))
        .collect();
    v.sort();
    v
}

async fn load_of(s: &Arc<dyn Store>, id: AccountId) -> u32 {
    loads(s)
        .await
        .into_iter()
        .find(|(c, _)| *c == id)
        .map(|(_, n)| n)
        .unwrap_or_default()
}

fn staff(level: RiskLevel, by: AccountId) -> RiskChange {
    RiskChange::Staff {
        level,
        by,
        alert: AlertId::new_random(),
    }
}

async fn triage_raises_a_waiting_visitor_once_and_moves_them_ahead(b: Backend) {
    let s = b.store();
    let first = s
        .create_conversation(risk_conv(RiskLevel::None, 1), 10)
        .await
        .unwrap();
    let second = s
        .create_conversation(risk_conv(RiskLevel::None, 2), 10)
        .await
        .unwrap();
    let hit = || RiskChange::Triage {
        hits: vec![triage_hit("r1")],
        alert: AlertId::new_random(),
    };
    let u = s.set_risk(second.id, hit(), 3).await.unwrap();
    assert_eq!((u.was, u.record.risk), (RiskLevel::None, RiskLevel::Urgent));
    assert_eq!(u.record.priority, Priority::Urgent);
    assert!(u.alert.is_some());
    let order: Vec<_> = s.queue().await.unwrap().iter().map(|r| r.id).collect();
    assert_eq!(order, vec![second.id, first.id]);
    // The same rule again: nothing recorded, no alert.
    let u = s.set_risk(second.id, hit(), 4).await.unwrap();
    assert!(u.alert.is_none());
    assert_eq!(u.record.risk_reasons.len(), 1);
    assert_eq!(s.alerts(true).await.unwrap().len(), 1);
}

async fn triage_raises_mid_chat_once_and_never_after_the_end(b: Backend) {
    let s = b.store();
    let c = safety_counsellor(s, 1, true).await;
    let conv = s
        .create_conversation(risk_conv(RiskLevel::None, 1), 10)
        .await
        .unwrap();
    s.assign(conv.id, c, 2).await.unwrap();
    let hit = |rule: &str| RiskChange::Triage {
        hits: vec![triage_hit(rule)],
        alert: AlertId::new_random(),
    };
    // Mid-chat, a hit raises the level and stores an alert, as in the queue;
    // the conversation stays with its counsellor.
    let u = b.node(1).set_risk(conv.id, hit("r1"), 3).await.unwrap();
    assert_eq!((u.was, u.record.risk), (RiskLevel::None, RiskLevel::Urgent));
    assert_eq!(u.record.state, ConversationState::Active { counsellor: c });
    let alert = u.alert.expect("an alert mid-chat");
    assert_eq!(alert.level, RiskLevel::Urgent);
    assert_eq!(alert.reasons.len(), 1);
    assert_eq!(s.alerts(true).await.unwrap().len(), 1);
    assert!(s.queue().await.unwrap().is_empty());
    assert_eq!(load_of(s, c).await, 1);
    // The same rule again: nothing recorded, no second alert.
    let u = b.node(2).set_risk(conv.id, hit("r1"), 4).await.unwrap();
    assert!(u.alert.is_none());
    assert_eq!(u.record.risk_reasons.len(), 1);
    assert_eq!(s.alerts(false).await.unwrap().len(), 1);
    // A person may lower it; lowering stores no alert.
    let down = RiskChange::Staff {
        level: RiskLevel::Watch,
        by: c,
        alert: AlertId::new_random(),
    };
    assert!(s.set_risk(conv.id, down, 5).await.unwrap().alert.is_none());
    // After the end, triage is refused and changes nothing.
    s.end(conv.id, EndedBy::Counsellor, None, 6).await.unwrap();
    let err = s.set_risk(conv.id, hit("r2"), 7).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Transition(TransitionError::AlreadyEnded)),
        "{err:?}"
    );
    let rec = s.conversation(conv.id).await.unwrap().unwrap();
    assert_eq!(rec.risk, RiskLevel::Watch);
    assert_eq!(s.alerts(false).await.unwrap().len(), 1);
}

async fn staff_risk_on_an_active_conversation(b: Backend) {
    let s = b.store();
    let c = safety_counsellor(s, 1, true).await;
    let conv = s
        .create_conversation(risk_conv(RiskLevel::None, 1), 10)
        .await
        .unwrap();
    s.assign(conv.id, c, 2).await.unwrap();
    // A person may; lowering stores no alert.
    let up = RiskChange::Staff {
        level: RiskLevel::Urgent,
        by: c,
        alert: AlertId::new_random(),
    };
    assert!(s.set_risk(conv.id, up, 4).await.unwrap().alert.is_some());
    let down = RiskChange::Staff {
        level: RiskLevel::Watch,
        by: c,
        alert: AlertId::new_random(),
    };
    let u = s.set_risk(conv.id, down, 5).await.unwrap();
    assert!(u.alert.is_none());
    assert_eq!(u.record.risk, RiskLevel::Watch);
}

async fn a_refused_reassign_changes_nothing(b: Backend) {
    let s = b.store();
    let a = safety_counsellor(s, 1, true).await;
    let full = safety_counsellor(s, 1, true).await;
    let away = safety_counsellor(s, 2, false).await;
    let conv = s
        .create_conversation(risk_conv(RiskLevel::None, 1), 10)
        .await
        .unwrap();
    let other = s
        .create_conversation(risk_conv(RiskLevel::None, 2), 10)
        .await
        .unwrap();
    s.assign(conv.id, a, 3).await.unwrap();
    s.assign(other.id, full, 3).await.unwrap();
    let before = s.conversation(conv.id).await.unwrap();
    let loads_before = loads(s).await;
    let note = || {
        Some(Note {
            author: a,
            text: "n".into(),
            at_ms: 4,
        })
    };
    assert_eq!(
        s.reassign(conv.id, a, full, true, note(), None, 4).await,
        Err(StoreError::CapacityReached)
    );
    assert_eq!(
        s.reassign(conv.id, a, away, true, note(), None, 4).await,
        Err(StoreError::NotAvailable)
    );
    assert_eq!(
        s.reassign(conv.id, full, away, false, note(), None, 4)
            .await,
        Err(StoreError::NotYours)
    );
    assert_eq!(s.conversation(conv.id).await.unwrap(), before);
    assert_eq!(loads(s).await, loads_before);
    assert!(s.notes(conv.id).await.unwrap().is_empty());
    // A takeover ignores status but not capacity.
    let rec = s
        .reassign(conv.id, a, away, false, note(), None, 5)
        .await
        .unwrap();
    assert_eq!(rec.counsellor, Some(away));
    assert_eq!(s.conversations_of(a).await.unwrap().len(), 0);
    assert_eq!(s.conversations_of(away).await.unwrap().len(), 1);
    assert_eq!(s.notes(conv.id).await.unwrap().len(), 1);
}

async fn requeue_puts_the_conversation_at_the_front_and_frees_the_place(b: Backend) {
    let s = b.store();
    let a = safety_counsellor(s, 1, true).await;
    let conv = s
        .create_conversation(risk_conv(RiskLevel::None, 10), 10)
        .await
        .unwrap();
    s.assign(conv.id, a, 11).await.unwrap();
    let urgent = s
        .create_conversation(risk_conv(RiskLevel::Urgent, 1), 10)
        .await
        .unwrap();
    let rec = s.requeue(conv.id, a, None, 12).await.unwrap();
    assert!(rec.requeued && rec.counsellor.is_none());
    let order: Vec<_> = s.queue().await.unwrap().iter().map(|r| r.id).collect();
    assert_eq!(order, vec![conv.id, urgent.id]);
    assert_eq!(load_of(s, a).await, 0);
    // Not theirs any more: a second requeue is refused.
    assert_eq!(
        s.requeue(conv.id, a, None, 13).await,
        Err(StoreError::Transition(TransitionError::NotActive))
    );
}

async fn supervision_rules_and_writers(b: Backend) {
    let s = b.store();
    let a = safety_counsellor(s, 1, true).await;
    let sup = AccountId::new_random();
    let conv = s
        .create_conversation(risk_conv(RiskLevel::None, 1), 10)
        .await
        .unwrap();
    assert_eq!(
        s.supervise(conv.id, sup, Some(SupervisionMode::Join), false, 2)
            .await
            .map(|_| ()),
        Err(StoreError::Transition(TransitionError::NotActive))
    );
    s.supervise(conv.id, sup, Some(SupervisionMode::Observe), false, 1)
        .await
        .unwrap();
    s.assign(conv.id, a, 2).await.unwrap();
    let msg = |who: AccountId| NewMessage {
        from: Party::Counsellor,
        author: Some(who),
        author_name: None,
        client_id: ClientMsgId::parse("m1").unwrap(),
        text: "x".into(),
        now_ms: 3,
        require_counsellor: Some(who),
    };
    assert_eq!(s.append(conv.id, msg(sup)).await, Err(StoreError::NotYours));
    let (_, prev) = s
        .supervise(conv.id, sup, Some(SupervisionMode::Join), false, 3)
        .await
        .unwrap();
    assert_eq!(prev, Some(SupervisionMode::Observe));
    assert!(matches!(
        s.append(conv.id, msg(sup)).await,
        Ok(Appended::New(_))
    ));
    assert_eq!(s.supervised_by(sup).await.unwrap().len(), 1);
    s.end(
        conv.id,
        EndedBy::Counsellor,
        Some(Outcome::Listened.into()),
        4,
    )
    .await
    .unwrap();
    assert!(s.supervised_by(sup).await.unwrap().is_empty());
    assert!(s.live_conversations().await.unwrap().is_empty());
}

async fn alerts_are_acknowledged_once_and_silences_counted_once(b: Backend) {
    let s = b.store();
    let mut n = risk_conv(RiskLevel::Urgent, 1);
    let alert_id = AlertId::new_random();
    n.alert = Some(alert_id);
    n.risk_reasons = vec![triage_hit("r")];
    let conv = s.create_conversation(n, 10).await.unwrap();
    let (x, y) = (AccountId::new_random(), AccountId::new_random());
    assert_eq!(s.ack_alert(alert_id, x, 2).await.unwrap().acked_by, Some(x));
    let again = s.ack_alert(alert_id, y, 3).await.unwrap();
    assert_eq!((again.acked_by, again.acked_at_ms), (Some(x), Some(2)));
    assert!(s.alerts(true).await.unwrap().is_empty());
    assert_eq!(
        s.ack_alert(AlertId::new_random(), x, 4).await,
        Err(StoreError::NotFound)
    );

    let a = safety_counsellor(s, 1, true).await;
    s.assign(conv.id, a, 5).await.unwrap();
    let say = |from: Party, id: &str, now_ms: u64| NewMessage {
        from,
        author: None,
        author_name: None,
        client_id: ClientMsgId::parse(id).unwrap(),
        text: "x".into(),
        now_ms,
        require_counsellor: None,
    };
    s.append(conv.id, say(Party::Counsellor, "c1", 10))
        .await
        .unwrap();
    assert!(s.mark_silent(15, 10).await.unwrap().is_empty());
    assert_eq!(s.mark_silent(20, 10).await.unwrap().len(), 1);
    assert!(s.mark_silent(30, 10).await.unwrap().is_empty());
    s.append(conv.id, say(Party::Visitor, "v1", 31))
        .await
        .unwrap();
    assert_eq!(
        s.conversation(conv.id)
            .await
            .unwrap()
            .unwrap()
            .silent_since_ms,
        None
    );
    assert_eq!(s.stats().await.unwrap().went_silent, 1);
}

async fn a_created_conversation_keeps_its_risk_and_alert(b: Backend) {
    let s = b.store();
    let mut n = risk_conv(RiskLevel::Urgent, T0);
    let alert = AlertId::new_random();
    n.alert = Some(alert);
    n.risk_reasons = vec![triage_hit("r1"), triage_hit("r2")];
    let rec = s.create_conversation(n, 10).await.unwrap();
    assert_eq!(rec.risk, RiskLevel::Urgent);
    assert_eq!(rec.priority, Priority::Urgent);
    assert_eq!(rec.risk_reasons.len(), 2);
    assert_eq!(
        (rec.transfers, rec.supervisors.len(), rec.silent_since_ms),
        (0, 0, None)
    );
    let alerts = b.node(1).alerts(true).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].id, alerts[0].conversation, alerts[0].level),
        (alert, rec.id, RiskLevel::Urgent)
    );
    assert_eq!(alerts[0].reasons, rec.risk_reasons);
    assert_eq!(b.node(2).conversation(rec.id).await.unwrap().unwrap(), rec);
    // Without an alert id nothing is stored.
    s.create_conversation(risk_conv(RiskLevel::Watch, T0), 10)
        .await
        .unwrap();
    assert_eq!(s.alerts(false).await.unwrap().len(), 1);
}

async fn staff_risk_moves_a_queued_visitor_both_ways_keeping_arrival(b: Backend) {
    let s = b.store();
    let by = AccountId::new_random();
    let first = create(s, conv_at(T0)).await;
    let second = create(s, conv_at(T0 + 1)).await;
    let u = s
        .set_risk(second, staff(RiskLevel::Urgent, by), T0 + 2)
        .await
        .unwrap();
    assert_eq!(u.was, RiskLevel::None);
    assert!(u.alert.is_some(), "raised: an alert");
    assert_eq!(u.record.queued_since_ms, T0 + 1, "arrival kept");
    assert_eq!(queue_ids(&b.node(1)).await, vec![second, first]);
    let u = s
        .set_risk(second, staff(RiskLevel::Watch, by), T0 + 3)
        .await
        .unwrap();
    assert!(u.alert.is_none(), "lowered: no alert");
    assert_eq!(u.record.priority, Priority::Normal);
    assert_eq!(
        u.record.risk_reasons.len(),
        2,
        "every staff change is recorded"
    );
    assert_eq!(queue_ids(s).await, vec![first, second]);
    // A requeued visitor raised to urgent stays requeued (at the front).
    let c = counsellor(s, 1).await;
    s.assign(first, c, T0 + 4).await.unwrap();
    s.requeue(first, c, None, T0 + 5).await.unwrap();
    let u = s
        .set_risk(first, staff(RiskLevel::Urgent, by), T0 + 6)
        .await
        .unwrap();
    assert!(u.record.requeued);
    assert_eq!(queue_ids(s).await, vec![first, second]);
    // Refusals.
    assert_eq!(
        s.set_risk(
            ConversationId::new_random(),
            staff(RiskLevel::Urgent, by),
            0
        )
        .await
        .map(|_| ()),
        Err(StoreError::NotFound)
    );
    s.end(second, EndedBy::Visitor, None, T0 + 7).await.unwrap();
    assert_eq!(
        s.set_risk(second, staff(RiskLevel::Urgent, by), T0 + 8)
            .await
            .map(|_| ()),
        Err(StoreError::Transition(TransitionError::AlreadyEnded))
    );
    assert_eq!(s.alerts(false).await.unwrap().len(), 2);
}

async fn triage_keeps_the_highest_level_and_records_new_rules_only(b: Backend) {
    let s = b.store();
    let id = create(s, conv_at(T0)).await;
    let watch = |rule: &str| RiskReason {
        level: RiskLevel::Watch,
        ..triage_hit(rule)
    };
    let tri = |hits: Vec<RiskReason>| RiskChange::Triage {
        hits,
        alert: AlertId::new_random(),
    };
    let u = s
        .set_risk(id, tri(vec![triage_hit("u1"), watch("w1")]), T0 + 1)
        .await
        .unwrap();
    assert_eq!(u.record.risk, RiskLevel::Urgent);
    assert_eq!(u.alert.as_ref().unwrap().reasons.len(), 2);
    // A new watch rule is recorded (and alerted) but never lowers.
    let u = s
        .set_risk(id, tri(vec![watch("w2"), watch("w1")]), T0 + 2)
        .await
        .unwrap();
    assert_eq!(
        (u.was, u.record.risk),
        (RiskLevel::Urgent, RiskLevel::Urgent)
    );
    let alert = u.alert.unwrap();
    assert_eq!(alert.reasons, vec![watch("w2")]);
    assert_eq!(alert.level, RiskLevel::Urgent);
    let rules: Vec<_> = u
        .record
        .risk_reasons
        .iter()
        .map(|r| match &r.source {
            RiskSource::Triage { rule, .. } => rule.clone(),
            RiskSource::Staff { .. } => "staff".into(),
        })
        .collect();
    assert_eq!(rules, vec!["u1", "w1", "w2"]);
    assert_eq!(b.node(1).conversation(id).await.unwrap().unwrap(), u.record);
}

async fn alerts_are_listed_oldest_first(b: Backend) {
    let s = b.store();
    let by = AccountId::new_random();
    let mut ids = Vec::new();
    for (i, at) in [T0 + 30, T0 + 10, T0 + 20].into_iter().enumerate() {
        let conv = create(s, conv_at(T0 + i as u64)).await;
        let u = s
            .set_risk(conv, staff(RiskLevel::Urgent, by), at)
            .await
            .unwrap();
        ids.push((at, u.alert.unwrap().id));
    }
    ids.sort();
    let listed: Vec<_> = b
        .node(1)
        .alerts(false)
        .await
        .unwrap()
        .iter()
        .map(|a| (a.at_ms, a.id))
        .collect();
    assert_eq!(listed, ids);
    s.ack_alert(ids[1].1, by, T0 + 40).await.unwrap();
    let open: Vec<_> = s.alerts(true).await.unwrap().iter().map(|a| a.id).collect();
    assert_eq!(open, vec![ids[0].1, ids[2].1]);
    let all = s.alerts(false).await.unwrap();
    assert_eq!(all[1].acked_by, Some(by));
    assert_eq!(all[1].acked_at_ms, Some(T0 + 40));
}

async fn reassign_moves_the_place_and_the_held_entry(b: Backend) {
    let s = b.store();
    let a = counsellor(s, 2).await;
    let sup = counsellor(s, 2).await;
    let id = create(s, conv_at(T0)).await;
    s.assign(id, a, T0 + 1).await.unwrap();
    s.supervise(id, sup, Some(SupervisionMode::Observe), false, T0 + 1)
        .await
        .unwrap();
    // to == from: nothing changes.
    let same = s
        .reassign(id, a, a, true, None, Some(AuditAction::TakeOver), T0 + 2)
        .await
        .unwrap();
    assert_eq!(same, s.conversation(id).await.unwrap().unwrap());
    assert_eq!(same.transfers, 0);
    // Unknown target.
    assert_eq!(
        s.reassign(id, a, AccountId::new_random(), false, None, None, T0 + 2)
            .await,
        Err(StoreError::NotAvailable)
    );
    let note = Note {
        author: sup,
        text: "taking over".into(),
        at_ms: T0 + 3,
    };
    let rec = b
        .node(1)
        .reassign(
            id,
            a,
            sup,
            false,
            Some(note.clone()),
            Some(AuditAction::TakeOver),
            T0 + 3,
        )
        .await
        .unwrap();
    // The take-over is audited in its step, with how long the observation
    // it ended had lasted; the refused and no-op calls wrote nothing.
    let log = s.audit_log(&AuditFilter::newest(10)).await.unwrap();
    let actions: Vec<_> = log.iter().map(|e| (e.action, e.duration_ms)).collect();
    assert_eq!(
        actions,
        vec![
            (AuditAction::TakeOver, Some(2)),
            (AuditAction::Observe, None)
        ]
    );
    assert_eq!((log[0].account, log[0].conversation), (sup, Some(id)));
    assert_eq!(rec.state, ConversationState::Active { counsellor: sup });
    assert_eq!(rec.counsellor, Some(sup));
    assert_eq!(rec.transfers, 1);
    assert!(
        rec.supervisors.is_empty(),
        "the new holder no longer observes"
    );
    assert!(s.supervised_by(sup).await.unwrap().is_empty());
    assert_eq!((load_of(s, a).await, load_of(s, sup).await), (0, 1));
    assert!(s.conversations_of(a).await.unwrap().is_empty());
    assert_eq!(s.conversations_of(sup).await.unwrap()[0].id, id);
    let target = s
        .counsellors()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == sup)
        .unwrap();
    assert_eq!(target.last_assigned_ms, Some(T0 + 3));
    assert_eq!(s.notes(id).await.unwrap(), vec![note]);
    // The old holder may not write any more; the new one may.
    let mut m = message(Party::Counsellor, "m1", "x");
    m.require_counsellor = Some(a);
    assert_eq!(s.append(id, m.clone()).await, Err(StoreError::NotYours));
    m.require_counsellor = Some(sup);
    assert!(matches!(s.append(id, m).await, Ok(Appended::New(_))));
    // Refusals on a queued and an ended conversation.
    let queued = create(s, conv_at(T0)).await;
    assert_eq!(
        s.reassign(queued, a, sup, false, None, None, T0).await,
        Err(StoreError::Transition(TransitionError::NotActive))
    );
    assert_eq!(
        s.requeue(queued, a, None, T0).await,
        Err(StoreError::Transition(TransitionError::NotActive))
    );
    s.end(id, EndedBy::Counsellor, None, T0 + 4).await.unwrap();
    assert_eq!(
        s.reassign(id, sup, a, false, None, None, T0 + 5).await,
        Err(StoreError::Transition(TransitionError::AlreadyEnded))
    );
}

async fn requeue_clears_the_counsellor_counts_a_transfer_and_keeps_the_note(b: Backend) {
    let s = b.store();
    let a = counsellor(s, 1).await;
    let id = create(s, conv_at(T0)).await;
    s.assign(id, a, T0 + 1).await.unwrap();
    let note = Note {
        author: a,
        text: "back to the queue".into(),
        at_ms: T0 + 2,
    };
    let rec = b
        .node(2)
        .requeue(id, a, Some(note.clone()), T0 + 2)
        .await
        .unwrap();
    assert_eq!(rec.state, ConversationState::Queued);
    assert_eq!(
        (
            rec.counsellor,
            rec.assigned_at_ms,
            rec.requeued,
            rec.transfers
        ),
        (None, None, true, 1)
    );
    assert_eq!(rec.queued_since_ms, T0, "arrival kept");
    assert!(s.conversations_of(a).await.unwrap().is_empty());
    assert_eq!(s.notes(id).await.unwrap(), vec![note]);
    assert_eq!(s.conversation(id).await.unwrap().unwrap(), rec);
    // Its place is free again: it can be assigned back.
    s.assign(id, a, T0 + 3).await.unwrap();
}

async fn assign_drops_the_assignees_supervision(b: Backend) {
    let s = b.store();
    let sup = counsellor(s, 1).await;
    let other = AccountId::new_random();
    let id = create(s, conv_at(T0)).await;
    s.supervise(id, sup, Some(SupervisionMode::Observe), false, T0)
        .await
        .unwrap();
    s.supervise(id, other, Some(SupervisionMode::Observe), false, T0)
        .await
        .unwrap();
    assert_eq!(s.supervised_by(sup).await.unwrap().len(), 1);
    let rec = s.assign(id, sup, T0).await.unwrap();
    assert_eq!(rec.supervision_of(sup), None);
    assert_eq!(rec.supervision_of(other), Some(SupervisionMode::Observe));
    assert!(s.supervised_by(sup).await.unwrap().is_empty());
    // Supervising one's own conversation is refused; clearing is not.
    assert_eq!(
        s.supervise(id, sup, Some(SupervisionMode::Observe), false, T0)
            .await
            .map(|_| ()),
        Err(StoreError::NotYours)
    );
    let (rec, prev) = s.supervise(id, other, None, false, T0).await.unwrap();
    assert_eq!(prev, Some(SupervisionMode::Observe));
    assert!(rec.supervisors.is_empty());
    assert_eq!(
        s.supervise(ConversationId::new_random(), other, None, false, T0)
            .await
            .map(|_| ()),
        Err(StoreError::NotFound)
    );
}
