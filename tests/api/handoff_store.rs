//! The handoff part of the store contract (`Store::create_slot` ..
//! `Store::audit_log`), on every backend like `store_conformance/`:
//! each test runs once on the in-memory store and once on Redis, where
//! concurrent calls are spread over three stores sharing one prefix.

use std::sync::Arc;

use futures_util::future::join_all;
use uuid::Uuid;

use tsunagu::core::handoff::{
    self, Answer, AuditAction, AuditEntry, AuditFilter, Booking, BookingRef, CancelReason, Contact,
    HandoffLink, HandoffRecord, Slot, SlotId, SlotKind, Terms,
};
use tsunagu::core::ids::{AccountId, ConversationId};
use tsunagu::model::{BookingOp, HandoffWrite};
use tsunagu::store::{Store, StoreError};

use crate::store_conformance::{conv_at, create, Backend};

conformance!(
    slots_are_listed_by_start_and_cancelled_only_without_bookings,
    write_handoff_is_compare_and_set,
    concurrent_bookings_never_exceed_a_slots_capacity,
    cancelling_a_booking_frees_its_place_once,
    past_cancelled_and_unknown_slots_refuse_bookings,
    a_refused_write_changes_nothing,
    attendance_and_the_audit_log,
    a_handoff_link_is_one_per_conversation_found_by_its_hash_only,
    concurrent_links_leave_exactly_one_in_force,
);

const T0: u64 = 1_700_000_000_000;
const DAY: u64 = 86_400_000;

fn staff() -> AccountId {
    AccountId(Uuid::from_u128(42))
}

pub(crate) fn slot_at(starts_at_ms: u64, capacity: u32) -> Slot {
    Slot {
        id: SlotId(Uuid::new_v4()),
        starts_at_ms,
        duration_mins: 60,
        kind: SlotKind::Centre,
        place: "本館 2F 相談室".into(),
        capacity,
        staff: 2,
        created_by: staff(),
        created_at_ms: T0,
        cancelled_at_ms: None,
    }
}

pub(crate) fn terms() -> Terms {
    Terms {
        recipient: "受付".into(),
        purpose: "初回相談".into(),
        retention_days: 365,
        wording_version: "w1/ja".into(),
    }
}

fn reference() -> BookingRef {
    BookingRef::from_random(*Uuid::new_v4().as_bytes().first_chunk::<8>().unwrap())
}

/// A conversation with a consented handoff (rev 2) in the store.
pub(crate) async fn consented(s: &Arc<dyn Store>) -> HandoffRecord {
    let id = create(s, conv_at(T0)).await;
    let offered = handoff::offer(None, id, "学校に行けていない", true, staff(), T0).unwrap();
    s.write_handoff(HandoffWrite {
        expected_rev: 0,
        record: offered.clone(),
        booking: BookingOp::Keep,
    })
    .await
    .unwrap();
    let yes = Answer::Consent {
        transcript: false,
        contact: true,
    };
    let rec = handoff::answer(&offered, 1, "w1/ja", yes, &terms(), T0 + 1).unwrap();
    s.write_handoff(HandoffWrite {
        expected_rev: 1,
        record: rec.clone(),
        booking: BookingOp::Keep,
    })
    .await
    .unwrap();
    rec
}

pub(crate) fn booking_for(
    rec: &HandoffRecord,
    slot: SlotId,
    now_ms: u64,
) -> (HandoffRecord, Booking) {
    let reference = reference();
    let slot_rec = slot_at(now_ms + DAY, 100);
    let next = handoff::book(
        rec,
        &slot_rec,
        0,
        &Contact::SelfCall,
        reference.clone(),
        now_ms,
    )
    .unwrap();
    let booking = Booking {
        reference,
        pin_hash: [7; 32],
        slot,
        conversation: rec.conversation,
        name: Some("みどり".into()),
        contact: Contact::Phone("090-1234-5678".into()),
        created_at_ms: now_ms,
        cancelled_at_ms: None,
        cancel_reason: None,
        attended: None,
        contact_choice: None,
        rescheduled_at_ms: None,
    };
    (next, booking)
}

pub(crate) async fn book(
    s: &Arc<dyn Store>,
    rec: &HandoffRecord,
    slot: SlotId,
    now_ms: u64,
) -> Result<(HandoffRecord, Booking), StoreError> {
    let (next, booking) = booking_for(rec, slot, now_ms);
    s.write_handoff(HandoffWrite {
        expected_rev: rec.rev,
        record: next.clone(),
        booking: BookingOp::Create(booking.clone()),
    })
    .await
    .map(|()| (next, booking))
}

async fn slots_are_listed_by_start_and_cancelled_only_without_bookings(b: Backend) {
    let s = b.store();
    let late = slot_at(T0 + 3 * DAY, 2);
    let early = slot_at(T0 + DAY, 2);
    let past = slot_at(T0 - DAY, 2);
    for slot in [&late, &early, &past] {
        s.create_slot(slot.clone()).await.unwrap();
    }
    assert_eq!(
        s.create_slot(early.clone()).await,
        Err(StoreError::Conflict),
        "an id is taken once"
    );
    let listed: Vec<SlotId> = s
        .slots(T0)
        .await
        .unwrap()
        .iter()
        .map(|r| r.slot.id)
        .collect();
    assert_eq!(listed, vec![early.id, late.id], "from T0, earliest first");
    let got = s.slot(late.id).await.unwrap().unwrap();
    assert_eq!((got.slot, got.booked), (late.clone(), 0));
    assert_eq!(s.slot(SlotId(Uuid::new_v4())).await.unwrap(), None);

    // A booking in force keeps the slot; once cancelled, the slot can go.
    let rec = consented(s).await;
    let (booked, booking) = book(s, &rec, early.id, T0 + 2).await.unwrap();
    assert_eq!(
        s.cancel_slot(early.id, T0 + 3).await,
        Err(StoreError::SlotBooked)
    );
    assert_eq!(s.slot(early.id).await.unwrap().unwrap().booked, 1);
    s.write_handoff(HandoffWrite {
        expected_rev: booked.rev,
        record: handoff::cancel_booking(&booked).unwrap(),
        booking: BookingOp::Cancel {
            reference: booking.reference.clone(),
            reason: CancelReason::Visitor,
            now_ms: T0 + 4,
        },
    })
    .await
    .unwrap();
    let cancelled = s.cancel_slot(early.id, T0 + 5).await.unwrap();
    assert_eq!(cancelled.slot.cancelled_at_ms, Some(T0 + 5));
    assert_eq!(cancelled.booked, 0);
    // Again: unchanged, not an error.
    let again = s.cancel_slot(early.id, T0 + 6).await.unwrap();
    assert_eq!(again.slot.cancelled_at_ms, Some(T0 + 5));
    assert_eq!(
        s.cancel_slot(SlotId(Uuid::new_v4()), T0).await,
        Err(StoreError::NotFound)
    );
}

async fn write_handoff_is_compare_and_set(b: Backend) {
    let s = b.store();
    let id = create(s, conv_at(T0)).await;
    assert_eq!(s.handoff(id).await.unwrap(), None);
    let first = handoff::offer(None, id, "v1", false, staff(), T0).unwrap();
    // Three writers all computed from "none": exactly one wins.
    let results = join_all((0..3).map(|i| {
        let node = b.node(i);
        let mut rec = first.clone();
        rec.offer.summary = format!("writer {i}");
        async move {
            node.write_handoff(HandoffWrite {
                expected_rev: 0,
                record: rec,
                booking: BookingOp::Keep,
            })
            .await
        }
    }))
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .all(|r| r.is_ok() || *r == Err(StoreError::Conflict)));
    let stored = s.handoff(id).await.unwrap().unwrap();
    assert_eq!(stored.rev, 1);
    assert!(stored.offer.summary.starts_with("writer "));
    // A stale revision is refused; the right one is taken.
    let next = handoff::offer(Some(&stored), id, "v2", false, staff(), T0 + 1).unwrap();
    let stale = HandoffWrite {
        expected_rev: 0,
        record: next.clone(),
        booking: BookingOp::Keep,
    };
    assert_eq!(s.write_handoff(stale).await, Err(StoreError::Conflict));
    s.write_handoff(HandoffWrite {
        expected_rev: 1,
        record: next.clone(),
        booking: BookingOp::Keep,
    })
    .await
    .unwrap();
    assert_eq!(s.handoff(id).await.unwrap(), Some(next));
    // Unknown conversation.
    let ghost =
        handoff::offer(None, ConversationId::new_random(), "x", false, staff(), T0).unwrap();
    assert_eq!(
        s.write_handoff(HandoffWrite {
            expected_rev: 0,
            record: ghost,
            booking: BookingOp::Keep,
        })
        .await,
        Err(StoreError::NotFound)
    );
}

async fn concurrent_bookings_never_exceed_a_slots_capacity(b: Backend) {
    let s = b.store();
    let slot = slot_at(T0 + DAY, 2);
    s.create_slot(slot.clone()).await.unwrap();
    let mut recs = Vec::new();
    for _ in 0..50 {
        recs.push(consented(s).await);
    }
    let results = join_all(recs.iter().enumerate().map(|(i, rec)| {
        let node = b.node(i);
        let rec = rec.clone();
        async move { book(&node, &rec, slot.id, T0 + 10).await.map(|(_, b)| b) }
    }))
    .await;
    let won: Vec<&Booking> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 2, "exactly the capacity");
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || *r == Err(StoreError::SlotFull)),
        "the rest are told the slot is full: {results:?}"
    );
    assert_eq!(s.slot(slot.id).await.unwrap().unwrap().booked, 2);
    let held = s.slot_bookings(slot.id).await.unwrap();
    assert_eq!(held.len(), 2);
    for w in won {
        assert!(held.contains(w));
        let h = s.handoff(w.conversation).await.unwrap().unwrap();
        assert_eq!(h.booking.as_ref(), Some(&w.reference));
        assert_eq!(s.booking(&w.reference).await.unwrap().as_ref(), Some(w));
    }
    // The losers' records are unchanged (still consented, no booking).
    for (rec, r) in recs.iter().zip(&results) {
        if r.is_err() {
            assert_eq!(
                s.handoff(rec.conversation).await.unwrap().as_ref(),
                Some(rec)
            );
        }
    }
}

async fn cancelling_a_booking_frees_its_place_once(b: Backend) {
    let s = b.store();
    let slot = slot_at(T0 + DAY, 1);
    s.create_slot(slot.clone()).await.unwrap();
    let first = consented(s).await;
    let second = consented(s).await;
    let (booked, booking) = book(s, &first, slot.id, T0 + 2).await.unwrap();
    assert_eq!(
        book(s, &second, slot.id, T0 + 3).await.map(drop),
        Err(StoreError::SlotFull)
    );
    let (withdrawn, cancelled) = handoff::withdraw(&booked, T0 + 4).unwrap();
    let cancel = HandoffWrite {
        expected_rev: booked.rev,
        record: withdrawn.clone(),
        booking: BookingOp::Cancel {
            reference: cancelled.unwrap(),
            reason: CancelReason::ConsentWithdrawn,
            now_ms: T0 + 4,
        },
    };
    s.write_handoff(cancel.clone()).await.unwrap();
    let b1 = s.booking(&booking.reference).await.unwrap().unwrap();
    assert_eq!(b1.cancelled_at_ms, Some(T0 + 4));
    assert_eq!(b1.cancel_reason, Some(CancelReason::ConsentWithdrawn));
    assert_eq!(s.slot(slot.id).await.unwrap().unwrap().booked, 0);
    assert_eq!(
        s.handoff(first.conversation).await.unwrap(),
        Some(withdrawn.clone())
    );
    // A second cancel of the same booking finds none in force.
    let twice = HandoffWrite {
        expected_rev: withdrawn.rev,
        booking: cancel.booking,
        record: HandoffRecord {
            rev: withdrawn.rev + 1,
            ..withdrawn
        },
    };
    assert_eq!(s.write_handoff(twice).await, Err(StoreError::NotFound));
    assert_eq!(s.slot(slot.id).await.unwrap().unwrap().booked, 0);
    // The freed place is taken by the other visitor.
    book(s, &second, slot.id, T0 + 5).await.unwrap();
    assert_eq!(s.slot(slot.id).await.unwrap().unwrap().booked, 1);
    assert_eq!(s.slot_bookings(slot.id).await.unwrap().len(), 2);
}

async fn past_cancelled_and_unknown_slots_refuse_bookings(b: Backend) {
    let s = b.store();
    let rec = consented(s).await;
    let slot = slot_at(T0 + DAY, 3);
    s.create_slot(slot.clone()).await.unwrap();
    assert_eq!(
        book(s, &rec, slot.id, slot.starts_at_ms).await.map(drop),
        Err(StoreError::SlotUnavailable),
        "a slot that has started"
    );
    assert_eq!(
        book(s, &rec, SlotId(Uuid::new_v4()), T0).await.map(drop),
        Err(StoreError::SlotUnavailable),
        "an unknown slot"
    );
    s.cancel_slot(slot.id, T0 + 1).await.unwrap();
    assert_eq!(
        book(s, &rec, slot.id, T0 + 2).await.map(drop),
        Err(StoreError::SlotUnavailable),
        "a cancelled slot"
    );
    assert_eq!(s.handoff(rec.conversation).await.unwrap(), Some(rec));
    assert!(s.slot_bookings(slot.id).await.unwrap().is_empty());
}

async fn a_refused_write_changes_nothing(b: Backend) {
    let s = b.store();
    let rec = consented(s).await;
    let full = slot_at(T0 + DAY, 1);
    s.create_slot(full.clone()).await.unwrap();
    let other = consented(s).await;
    book(s, &other, full.id, T0 + 1).await.unwrap();
    // Refused for the slot: neither the record nor the booking is written.
    let (next, booking) = booking_for(&rec, full.id, T0 + 2);
    let refused = HandoffWrite {
        expected_rev: rec.rev,
        record: next,
        booking: BookingOp::Create(booking.clone()),
    };
    assert_eq!(s.write_handoff(refused).await, Err(StoreError::SlotFull));
    assert_eq!(
        s.handoff(rec.conversation).await.unwrap(),
        Some(rec.clone())
    );
    assert_eq!(s.booking(&booking.reference).await.unwrap(), None);
    // A booking for another conversation, or a reference already taken.
    let open = slot_at(T0 + DAY, 5);
    s.create_slot(open.clone()).await.unwrap();
    let (next, mut foreign) = booking_for(&rec, open.id, T0 + 3);
    foreign.conversation = other.conversation;
    assert_eq!(
        s.write_handoff(HandoffWrite {
            expected_rev: rec.rev,
            record: next.clone(),
            booking: BookingOp::Create(foreign),
        })
        .await,
        Err(StoreError::NotFound)
    );
    let taken = s.slot_bookings(full.id).await.unwrap()[0].reference.clone();
    let (next, mut dup) = booking_for(&rec, open.id, T0 + 3);
    dup.reference = taken;
    assert_eq!(
        s.write_handoff(HandoffWrite {
            expected_rev: rec.rev,
            record: next,
            booking: BookingOp::Create(dup),
        })
        .await,
        Err(StoreError::Conflict)
    );
    // Cancelling a booking of another conversation.
    let (next, _) = booking_for(&rec, open.id, T0 + 3);
    let other_ref = s.slot_bookings(full.id).await.unwrap()[0].reference.clone();
    assert_eq!(
        s.write_handoff(HandoffWrite {
            expected_rev: rec.rev,
            record: next,
            booking: BookingOp::Cancel {
                reference: other_ref.clone(),
                reason: CancelReason::Staff,
                now_ms: T0 + 3,
            },
        })
        .await,
        Err(StoreError::NotFound)
    );
    assert!(s.booking(&other_ref).await.unwrap().unwrap().active());
    assert_eq!(s.handoff(rec.conversation).await.unwrap(), Some(rec));
    assert_eq!(s.slot(open.id).await.unwrap().unwrap().booked, 0);
    assert_eq!(s.slot(full.id).await.unwrap().unwrap().booked, 1);
}

async fn attendance_and_the_audit_log(b: Backend) {
    let s = b.store();
    let slot = slot_at(T0 + DAY, 2);
    s.create_slot(slot.clone()).await.unwrap();
    let rec = consented(s).await;
    let (_, booking) = book(s, &rec, slot.id, T0 + 1).await.unwrap();
    let marked = s.set_attended(&booking.reference, true).await.unwrap();
    assert_eq!(marked.attended, Some(true));
    assert_eq!(
        s.booking(&booking.reference)
            .await
            .unwrap()
            .unwrap()
            .attended,
        Some(true)
    );
    assert_eq!(
        s.set_attended(&reference(), true).await,
        Err(StoreError::NotFound)
    );
    for (i, action) in [
        AuditAction::ListBookings,
        AuditAction::TranscriptRefused,
        AuditAction::ViewTranscript,
    ]
    .into_iter()
    .enumerate()
    {
        s.append_audit(AuditEntry {
            at_ms: T0 + i as u64,
            account: staff(),
            action,
            references: vec![booking.reference.clone()],
            slot: Some(slot.id),
            target: None,
            detail: None,
            conversation: None,
            duration_ms: None,
        })
        .await
        .unwrap();
    }
    let log = s.audit_log(&AuditFilter::newest(10)).await.unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].action, AuditAction::ViewTranscript, "newest first");
    // A refused request is stored like any other entry (issue 27).
    assert_eq!(log[1].action, AuditAction::TranscriptRefused);
    assert_eq!(log[1].references, vec![booking.reference.clone()]);
    assert_eq!(s.audit_log(&AuditFilter::newest(1)).await.unwrap().len(), 1);
}

pub(crate) fn link_for(rec: &HandoffRecord, hash_byte: u8) -> HandoffLink {
    HandoffLink {
        conversation: rec.conversation,
        token_hash: [hash_byte; 32],
        offer_version: rec.offer.version,
        bookings_at_issue: rec.bookings_made,
        created_at_ms: T0,
        expires_at_ms: T0 + 7 * DAY,
        sent: false,
    }
}

async fn a_handoff_link_is_one_per_conversation_found_by_its_hash_only(b: Backend) {
    let s = b.store();
    let a = consented(s).await;
    let other = consented(s).await;
    // No handoff record, no link.
    let bare = create(s, conv_at(T0)).await;
    let mut orphan = link_for(&a, 9);
    orphan.conversation = bare;
    assert_eq!(s.put_handoff_link(orphan).await, Err(StoreError::NotFound));
    assert_eq!(s.handoff_link(&[9; 32]).await.unwrap(), None);

    let first = link_for(&a, 1);
    s.put_handoff_link(first.clone()).await.unwrap();
    s.put_handoff_link(link_for(&other, 3)).await.unwrap();
    assert_eq!(s.handoff_link(&[1; 32]).await.unwrap(), Some(first.clone()));
    assert_eq!(
        s.handoff_link_of(a.conversation).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        s.handoff_link(&[2; 32]).await.unwrap(),
        None,
        "by its hash only"
    );

    // A newer link replaces (revokes) the earlier one, and only that one.
    let second = link_for(&a, 2);
    s.put_handoff_link(second.clone()).await.unwrap();
    assert_eq!(s.handoff_link(&[1; 32]).await.unwrap(), None);
    assert_eq!(
        s.handoff_link(&[2; 32]).await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(
        s.handoff_link_of(a.conversation).await.unwrap(),
        Some(second)
    );
    assert_eq!(
        s.handoff_link(&[3; 32])
            .await
            .unwrap()
            .map(|l| l.conversation),
        Some(other.conversation)
    );

    // Marking sent: only the link in force, only for its conversation.
    assert!(!s.handoff_link_sent(a.conversation, &[1; 32]).await.unwrap());
    assert!(!s
        .handoff_link_sent(other.conversation, &[2; 32])
        .await
        .unwrap());
    assert!(s.handoff_link_sent(a.conversation, &[2; 32]).await.unwrap());
    assert!(s.handoff_link(&[2; 32]).await.unwrap().unwrap().sent);
    assert!(!s.handoff_link(&[3; 32]).await.unwrap().unwrap().sent);

    // Erasing the conversation deletes its link; the other keeps its own.
    s.erase(a.conversation, false, T0 + 10).await.unwrap();
    assert_eq!(s.handoff_link(&[2; 32]).await.unwrap(), None);
    assert_eq!(s.handoff_link_of(a.conversation).await.unwrap(), None);
    assert!(s.handoff_link(&[3; 32]).await.unwrap().is_some());
}

async fn concurrent_links_leave_exactly_one_in_force(b: Backend) {
    let s = b.store();
    let rec = consented(s).await;
    // Four writers at once (in service there is one: the LINE sender
    // holding the conversation's lease).
    let puts = (1..=4u8).map(|i| {
        let node = b.node(i as usize);
        let link = link_for(&rec, i);
        async move { node.put_handoff_link(link).await }
    });
    for r in join_all(puts).await {
        r.unwrap();
    }
    let mut found = Vec::new();
    for i in 1..=4u8 {
        if s.handoff_link(&[i; 32]).await.unwrap().is_some() {
            found.push(i);
        }
    }
    assert_eq!(found.len(), 1, "one link in force: {found:?}");
    let current = s.handoff_link_of(rec.conversation).await.unwrap().unwrap();
    assert_eq!(current.token_hash, [found[0]; 32]);
}
