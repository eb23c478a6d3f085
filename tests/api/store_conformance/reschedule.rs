//! `write_handoff`'s `BookingOp::Move` (issue 19): a booking moves to
//! another slot in one atomic step: the new place is taken and the old one
//! freed together, never more bookings than places, and a refused move
//! changes nothing. On Redis the concurrent moves are spread over three
//! stores sharing one prefix (one Lua script per move); the embedded
//! store's single SQLite transaction is covered by the API suite run with
//! `TSUNAGU_TEST_STORE=embedded` (tests/api/reschedule.rs).

use std::sync::Arc;

use futures_util::future::join_all;

use tsunagu::core::handoff::{self, Booking, BookingRef, CancelReason, HandoffRecord, SlotId};
use tsunagu::model::{BookingOp, HandoffWrite};
use tsunagu::store::{Store, StoreError};

use super::Backend;
use crate::handoff_store::{book, consented, slot_at};

conformance!(
    a_move_takes_the_new_place_and_frees_the_old_in_one_step,
    concurrent_moves_into_a_slot_of_two_move_exactly_two,
    a_refused_move_changes_nothing,
);

const T0: u64 = 1_700_000_000_000;
const DAY: u64 = 86_400_000;

fn moved(rec: &HandoffRecord) -> HandoffRecord {
    let mut next = rec.clone();
    next.rev += 1;
    next
}

async fn move_to(
    s: &Arc<dyn Store>,
    rec: &HandoffRecord,
    booking: &Booking,
    from: SlotId,
    to: SlotId,
    now_ms: u64,
) -> Result<HandoffRecord, StoreError> {
    let next = moved(rec);
    s.write_handoff(HandoffWrite {
        expected_rev: rec.rev,
        record: next.clone(),
        booking: BookingOp::Move {
            reference: booking.reference.clone(),
            from,
            to,
            now_ms,
        },
    })
    .await
    .map(|()| next)
}

async fn booked(s: &Arc<dyn Store>, id: SlotId) -> u32 {
    s.slot(id).await.unwrap().unwrap().booked
}

async fn listed(s: &Arc<dyn Store>, id: SlotId) -> Vec<BookingRef> {
    s.slot_bookings(id)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.reference)
        .collect()
}

async fn a_move_takes_the_new_place_and_frees_the_old_in_one_step(b: Backend) {
    let s = b.store();
    let a = slot_at(T0 + DAY, 2);
    let c = slot_at(T0 + 2 * DAY, 1);
    for slot in [&a, &c] {
        s.create_slot(slot.clone()).await.unwrap();
    }
    let rec = consented(s).await;
    let (rec, booking) = book(s, &rec, a.id, T0 + 2).await.unwrap();
    assert_eq!((booked(s, a.id).await, booked(s, c.id).await), (1, 0));

    let rec = move_to(s, &rec, &booking, a.id, c.id, T0 + 3)
        .await
        .unwrap();
    assert_eq!((booked(s, a.id).await, booked(s, c.id).await), (0, 1));
    let now = s.booking(&booking.reference).await.unwrap().unwrap();
    assert_eq!(now.slot, c.id);
    assert_eq!(now.rescheduled_at_ms, Some(T0 + 3));
    assert!(now.active());
    assert_eq!(now.pin_hash, booking.pin_hash, "the PIN stays");
    assert_eq!(now.contact, booking.contact, "the contact stays");
    assert_eq!(listed(s, c.id).await, vec![booking.reference.clone()]);
    assert!(listed(s, a.id).await.is_empty());
    let stored = s.handoff(rec.conversation).await.unwrap().unwrap();
    assert_eq!(stored.rev, rec.rev);
    assert_eq!(stored.booking.as_ref(), Some(&booking.reference));

    // Back again; then a cancel frees the place it is in now.
    let rec = move_to(s, &rec, &booking, c.id, a.id, T0 + 4)
        .await
        .unwrap();
    assert_eq!((booked(s, a.id).await, booked(s, c.id).await), (1, 0));
    s.write_handoff(HandoffWrite {
        expected_rev: rec.rev,
        record: handoff::cancel_booking(&rec).unwrap(),
        booking: BookingOp::Cancel {
            reference: booking.reference.clone(),
            reason: CancelReason::Visitor,
            now_ms: T0 + 5,
        },
    })
    .await
    .unwrap();
    assert_eq!((booked(s, a.id).await, booked(s, c.id).await), (0, 0));
    // A slot a booking left can be cancelled.
    s.cancel_slot(c.id, T0 + 6).await.unwrap();
}

async fn concurrent_moves_into_a_slot_of_two_move_exactly_two(b: Backend) {
    let s = b.store();
    let origin = slot_at(T0 + DAY, 40);
    let target = slot_at(T0 + 2 * DAY, 2);
    for slot in [&origin, &target] {
        s.create_slot(slot.clone()).await.unwrap();
    }
    let mut held = Vec::new();
    for _ in 0..30 {
        let rec = consented(s).await;
        held.push(book(s, &rec, origin.id, T0 + 2).await.unwrap());
    }
    let results = join_all(held.iter().enumerate().map(|(i, (rec, booking))| {
        let node = b.node(i);
        let (rec, booking) = (rec.clone(), booking.clone());
        async move { move_to(&node, &rec, &booking, origin.id, target.id, T0 + 3).await }
    }))
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let full = results
        .iter()
        .filter(|r| **r == Err(StoreError::SlotFull))
        .count();
    assert_eq!((ok, full), (2, 28), "{results:?}");
    assert_eq!(booked(s, target.id).await, 2);
    assert_eq!(booked(s, origin.id).await, 28);
    for ((_, booking), result) in held.iter().zip(&results) {
        let now = s.booking(&booking.reference).await.unwrap().unwrap();
        let want = if result.is_ok() { target.id } else { origin.id };
        assert_eq!(now.slot, want);
        assert!(now.active());
    }
    assert_eq!(listed(s, target.id).await.len(), 2);
    assert_eq!(listed(s, origin.id).await.len(), 28);
}

async fn a_refused_move_changes_nothing(b: Backend) {
    let s = b.store();
    let a = slot_at(T0 + DAY, 2);
    let c = slot_at(T0 + 2 * DAY, 1);
    let full = slot_at(T0 + 3 * DAY, 1);
    let past = slot_at(T0 - DAY, 2);
    let gone = slot_at(T0 + 4 * DAY, 2);
    for slot in [&a, &c, &full, &past, &gone] {
        s.create_slot(slot.clone()).await.unwrap();
    }
    s.cancel_slot(gone.id, T0).await.unwrap();
    let rec = consented(s).await;
    let (rec, booking) = book(s, &rec, a.id, T0 + 2).await.unwrap();
    let other = consented(s).await;
    let (other, other_booking) = book(s, &other, full.id, T0 + 2).await.unwrap();
    let unknown = slot_at(T0 + DAY, 2).id;

    let cases: Vec<(&str, HandoffWrite, StoreError)> = vec![
        (
            "stale revision",
            HandoffWrite {
                expected_rev: rec.rev - 1,
                record: moved(&rec),
                booking: BookingOp::Move {
                    reference: booking.reference.clone(),
                    from: a.id,
                    to: c.id,
                    now_ms: T0 + 3,
                },
            },
            StoreError::Conflict,
        ),
        (
            "not in the slot named",
            move_write(&rec, &booking, c.id, full.id),
            StoreError::Conflict,
        ),
        (
            "into a full slot",
            move_write(&rec, &booking, a.id, full.id),
            StoreError::SlotFull,
        ),
        (
            "into the past",
            move_write(&rec, &booking, a.id, past.id),
            StoreError::SlotUnavailable,
        ),
        (
            "into a cancelled slot",
            move_write(&rec, &booking, a.id, gone.id),
            StoreError::SlotUnavailable,
        ),
        (
            "into an unknown slot",
            move_write(&rec, &booking, a.id, unknown),
            StoreError::SlotUnavailable,
        ),
        (
            "into the same slot",
            move_write(&rec, &booking, a.id, a.id),
            StoreError::SlotUnavailable,
        ),
        (
            "another conversation's booking",
            move_write(&rec, &other_booking, full.id, c.id),
            StoreError::NotFound,
        ),
    ];
    for (what, write, err) in cases {
        assert_eq!(s.write_handoff(write).await, Err(err), "{what}");
        assert_eq!(booked(s, a.id).await, 1, "{what}");
        assert_eq!(booked(s, c.id).await, 0, "{what}");
        assert_eq!(booked(s, full.id).await, 1, "{what}");
        let now = s.booking(&booking.reference).await.unwrap().unwrap();
        assert_eq!((now.slot, now.rescheduled_at_ms), (a.id, None), "{what}");
        assert_eq!(
            s.handoff(rec.conversation).await.unwrap().unwrap().rev,
            rec.rev,
            "{what}"
        );
        assert_eq!(
            listed(s, a.id).await,
            vec![booking.reference.clone()],
            "{what}"
        );
    }
    // A cancelled booking cannot move.
    s.write_handoff(HandoffWrite {
        expected_rev: other.rev,
        record: handoff::cancel_booking(&other).unwrap(),
        booking: BookingOp::Cancel {
            reference: other_booking.reference.clone(),
            reason: CancelReason::Staff,
            now_ms: T0 + 4,
        },
    })
    .await
    .unwrap();
    let other = s.handoff(other.conversation).await.unwrap().unwrap();
    assert_eq!(
        move_to(s, &other, &other_booking, full.id, c.id, T0 + 5).await,
        Err(StoreError::NotFound)
    );
    assert_eq!((booked(s, full.id).await, booked(s, c.id).await), (0, 0));
}

fn move_write(rec: &HandoffRecord, booking: &Booking, from: SlotId, to: SlotId) -> HandoffWrite {
    HandoffWrite {
        expected_rev: rec.rev,
        record: moved(rec),
        booking: BookingOp::Move {
            reference: booking.reference.clone(),
            from,
            to,
            now_ms: T0 + 3,
        },
    }
}
