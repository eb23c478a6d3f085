//! The retention part of the store contract (`Store::purge`,
//! `Store::erase`, `Store::facts`), on every backend like
//! `store_conformance/`. Time is passed in (`now_ms` far ahead), never
//! slept: the purge is driven by a controllable clock.

use std::sync::Arc;

use tsunagu::core::conversation::{ConversationState, EndedBy, Outcome};
use tsunagu::core::ids::{ConversationId, Party};
use tsunagu::core::prechat::{AgeBand, Gender, PreChat, WhoIsWriting};
use tsunagu::core::stats::{Assessment, Severity, WithdrawalBand};
use tsunagu::model::{Closing, Note, Retention};
use tsunagu::store::{Store, StoreError};

use crate::handoff_store::{book, consented, link_for, slot_at};
use crate::store_conformance::{active_of, conv_at, counsellor, create, message, Backend};

conformance!(
    purge_keeps_the_facts_and_deletes_what_ended_long_enough_ago,
    erase_deletes_the_text_at_once_and_frees_the_counsellor,
    a_handoff_outlives_its_transcript_until_its_own_period,
    purge_deletes_the_line_keys_and_the_handoff_link_with_the_conversation,
);

const T0: u64 = 1_700_000_000_000;
const DAY: u64 = 86_400_000;
const RETENTION: Retention = Retention {
    conversation_ms: 30 * DAY,
    booking_ms: 365 * DAY,
    audit_ms: 5 * 365 * DAY,
};

/// An active conversation with a first message, two messages and a note.
async fn talked(s: &Arc<dyn Store>) -> (ConversationId, tsunagu::core::ids::AccountId) {
    let c = counsellor(s, 3).await;
    let mut new = conv_at(T0);
    new.first_message = Some("はじめまして".into());
    new.pre_chat = PreChat {
        who: Some(WhoIsWriting::FamilyTogether),
        age_band: Some(AgeBand::Twenties),
        topic: None,
        gender: Some(Gender::Female),
    };
    let id = create(s, new).await;
    s.assign(id, c, T0 + 65_000).await.unwrap();
    s.append(id, message(Party::Visitor, "m-1", "秘密の話"))
        .await
        .unwrap();
    s.add_note(
        id,
        Note {
            author: c,
            text: "メモ".into(),
            at_ms: T0 + 70_000,
        },
    )
    .await
    .unwrap();
    (id, c)
}

async fn gone(s: &Arc<dyn Store>, id: ConversationId) {
    assert_eq!(s.conversation(id).await.unwrap(), None);
    let after = s.messages_after(id, 0, 100).await;
    assert!(
        matches!(&after, Err(StoreError::NotFound)) || after.as_ref().is_ok_and(|m| m.is_empty()),
        "{after:?}"
    );
    assert!(s.notes(id).await.unwrap_or_default().is_empty());
}

async fn purge_keeps_the_facts_and_deletes_what_ended_long_enough_ago(b: Backend) {
    let s = b.store();
    let (served, c) = talked(s).await;
    let closing = Closing {
        outcome: Outcome::Referred,
        assessment: Assessment {
            withdrawal: Some(WithdrawalBand::UnderThreeYears),
            severity: Some(Severity::State2),
            referral: true,
            referred_to: [tsunagu::core::partners::PartnerOffer::Medical]
                .into_iter()
                .collect(),
        },
    };
    s.end(served, EndedBy::Counsellor, Some(closing), T0 + DAY)
        .await
        .unwrap();
    let left = create(s, conv_at(T0)).await;
    s.end(left, EndedBy::Visitor, None, T0 + 20_000)
        .await
        .unwrap();
    let waiting = create(s, conv_at(T0)).await;

    // Not yet: 30 days after the end is the first moment it goes.
    let p = s.purge(T0 + 29 * DAY, &RETENTION).await.unwrap();
    assert!(p.conversations.is_empty(), "{p:?}");
    assert!(s.facts().await.unwrap().is_empty());
    assert!(s.conversation(served).await.unwrap().is_some());

    let p = s.purge(T0 + 31 * DAY, &RETENTION).await.unwrap();
    let mut purged = p.conversations.clone();
    purged.sort();
    let mut want = vec![served, left];
    want.sort();
    assert_eq!(purged, want);
    gone(s, served).await;
    gone(s, left).await;
    // A live conversation is never purged, however old.
    let rec = s.conversation(waiting).await.unwrap().unwrap();
    assert_eq!(rec.state, ConversationState::Queued);
    // The counsellor's list no longer names it.
    assert!(s.conversations_of(c).await.unwrap().is_empty());

    let facts = s.facts().await.unwrap();
    assert_eq!(facts.len(), 2);
    let f = facts.iter().find(|f| f.served).unwrap();
    assert_eq!(f.wait_secs, 65);
    assert_eq!(f.who, Some(WhoIsWriting::FamilyTogether));
    assert_eq!(f.gender, Some(Gender::Female));
    assert_eq!(f.outcome, Some(Outcome::Referred));
    assert_eq!(f.assessment, closing.assessment);
    let a = facts.iter().find(|f| !f.served).unwrap();
    assert!(a.abandoned);
    assert_eq!(a.wait_secs, 20);

    // Purging again counts nothing twice.
    let p = s.purge(T0 + 400 * DAY, &RETENTION).await.unwrap();
    assert!(p.conversations.is_empty());
    assert_eq!(s.facts().await.unwrap().len(), 2);
}

async fn erase_deletes_the_text_at_once_and_frees_the_counsellor(b: Backend) {
    let s = b.node(0);
    let other = b.node(1);
    let (id, c) = talked(&s).await;
    assert_eq!(active_of(&s, c).await, 1);
    let erased = other.erase(id, false, T0 + 90_000).await.unwrap();
    assert_eq!(erased.was, ConversationState::Active { counsellor: c });
    assert_eq!(erased.record.state, ConversationState::Ended);
    assert_eq!(erased.record.ended_by, Some(EndedBy::Visitor));
    assert_eq!(erased.record.erased_at_ms, Some(T0 + 90_000));
    assert_eq!(active_of(&s, c).await, 0);
    let rec = s.conversation(id).await.unwrap().unwrap();
    assert_eq!(rec.first_message, None);
    assert_eq!(rec.erased_at_ms, Some(T0 + 90_000));
    assert!(s.messages_after(id, 0, 100).await.unwrap().is_empty());
    assert!(s.notes(id).await.unwrap().is_empty());
    // A resend of an erased message is refused, not answered with its seq.
    assert!(s
        .append(id, message(Party::Visitor, "m-1", "again"))
        .await
        .is_err());
    // Again: nothing changes.
    let again = s.erase(id, false, T0 + 99_000).await.unwrap();
    assert_eq!(again.record.erased_at_ms, Some(T0 + 90_000));

    // Notes kept when the deployment says so; a queued one leaves the queue.
    let (kept, _) = talked(&s).await;
    s.erase(kept, true, T0 + 91_000).await.unwrap();
    assert_eq!(s.notes(kept).await.unwrap().len(), 1);
    assert!(s.messages_after(kept, 0, 100).await.unwrap().is_empty());
    let queued = create(&s, conv_at(T0)).await;
    s.erase(queued, false, T0 + 92_000).await.unwrap();
    assert!(s.queue().await.unwrap().iter().all(|r| r.id != queued));
    assert!(s
        .live_conversations()
        .await
        .unwrap()
        .iter()
        .all(|r| r.id != queued));

    // The record goes with the purge; its facts stay.
    s.purge(T0 + 31 * DAY, &RETENTION).await.unwrap();
    gone(&s, id).await;
    assert_eq!(s.facts().await.unwrap().len(), 3);
    assert!(matches!(
        s.erase(ConversationId::new_random(), false, T0).await,
        Err(StoreError::NotFound)
    ));
}

async fn a_handoff_outlives_its_transcript_until_its_own_period(b: Backend) {
    let s = b.store();
    let rec = consented(s).await;
    let id = rec.conversation;
    let slot = slot_at(T0 + 10 * DAY, 3);
    s.create_slot(slot.clone()).await.unwrap();
    let (_, booking) = book(s, &rec, slot.id, T0 + 2).await.unwrap();
    s.set_attended(&booking.reference, true).await.unwrap();
    s.end(id, EndedBy::Visitor, None, T0 + 3).await.unwrap();

    s.purge(T0 + 31 * DAY, &RETENTION).await.unwrap();
    gone(s, id).await;
    let h = s
        .handoff(id)
        .await
        .unwrap()
        .expect("the consented summary stays");
    assert_eq!(h.expires_at_ms, Some(T0 + 10 * DAY + 365 * DAY));
    assert_eq!(h.consents.len(), 1);
    let f = s.facts().await.unwrap();
    assert_eq!(f.len(), 1);
    assert!(f[0].handoff.offered && f[0].handoff.consented && f[0].handoff.booked);
    assert!(f[0].handoff.attended);
    assert!(s.booking(&booking.reference).await.unwrap().is_some());

    let p = s.purge(T0 + 376 * DAY, &RETENTION).await.unwrap();
    assert_eq!((p.handoffs, p.slots), (1, 1), "{p:?}");
    assert_eq!(s.handoff(id).await.unwrap(), None);
    assert_eq!(s.booking(&booking.reference).await.unwrap(), None);
    assert_eq!(s.slot(slot.id).await.unwrap(), None);
    assert_eq!(s.facts().await.unwrap().len(), 1);
}

async fn purge_deletes_the_line_keys_and_the_handoff_link_with_the_conversation(b: Backend) {
    use tsunagu::model::{LineDelivery, LineDeliveryState, LineLink};
    let s = b.store();
    let rec = consented(s).await;
    let id = rec.conversation;
    let user = format!("U{}", uuid::Uuid::new_v4().simple());
    s.line_open(LineLink {
        conversation: id,
        user_id: Some(user.clone()),
        opened_by_event: "01P".into(),
        created_at_ms: T0,
    })
    .await
    .unwrap();
    s.line_delivered(
        id,
        LineDelivery {
            seq: 1,
            state: LineDeliveryState::Sent,
            attempts: 1,
            at_ms: T0,
        },
    )
    .await
    .unwrap();
    assert!(s.line_lease(id, "node-a", T0, 60 * DAY).await.unwrap());
    s.put_handoff_link(link_for(&rec, 5)).await.unwrap();
    // A newer conversation of the same user keeps its own index entry.
    let kept = create(s, conv_at(T0)).await;
    let other_user = format!("U{}", uuid::Uuid::new_v4().simple());
    s.line_open(LineLink {
        conversation: kept,
        user_id: Some(other_user.clone()),
        opened_by_event: "01Q".into(),
        created_at_ms: T0,
    })
    .await
    .unwrap();

    s.end(id, EndedBy::Visitor, None, T0 + 1).await.unwrap();
    let p = s.purge(T0 + 31 * DAY, &RETENTION).await.unwrap();
    assert_eq!(p.conversations, vec![id]);
    assert_eq!(s.line_link(id).await.unwrap(), None);
    assert_eq!(s.line_conversation_of(&user).await.unwrap(), None);
    assert!(s.line_deliveries(id).await.unwrap().is_empty());
    assert!(
        s.line_lease(id, "node-b", T0 + 31 * DAY, 1_000)
            .await
            .unwrap(),
        "the lease went too"
    );
    assert_eq!(s.handoff_link(&[5; 32]).await.unwrap(), None);
    assert_eq!(s.handoff_link_of(id).await.unwrap(), None);
    // The handoff record itself stays for its own period.
    assert!(s.handoff(id).await.unwrap().is_some());
    assert_eq!(
        s.line_conversation_of(&other_user).await.unwrap(),
        Some(kept)
    );
}
