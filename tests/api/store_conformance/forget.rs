//! Cancelling a booking deletes its name and contact details in the same
//! atomic step (issue 18), whoever cancels (the visitor, a withdrawal of
//! consent, intake); the anonymous fact of the booking stays: slot, times,
//! reason, the kind of contact choice, attendance. Runs on the in-memory
//! store, on Redis (three nodes on one prefix) and on the embedded store.

use std::sync::Arc;

use tsunagu::core::handoff::{self, Booking, CancelReason, Contact, ContactChoice};
use tsunagu::model::{BookingOp, HandoffWrite};
use tsunagu::store::Store;

use super::Backend;
use crate::handoff_store::{book, consented, slot_at};

conformance!(a_cancelled_booking_keeps_no_name_or_contact);

mod embedded {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_cancelled_booking_keeps_no_name_or_contact() {
        let tmp = crate::helpers::TempDir::new("forget-conformance");
        let (store, _) = tsunagu::store::embedded::open(
            tmp.path(),
            super::T0,
            tsunagu::core::queue::QueuePolicy::default(),
        )
        .unwrap();
        let store: std::sync::Arc<dyn tsunagu::store::Store> = std::sync::Arc::new(store);
        super::a_cancelled_booking_keeps_no_name_or_contact(super::Backend {
            nodes: vec![store.clone(), store.clone(), store],
            redis: None,
        })
        .await
    }
}

const T0: u64 = 1_700_000_000_000;
const DAY: u64 = 86_400_000;

async fn a_cancelled_booking_keeps_no_name_or_contact(b: Backend) {
    let slot = slot_at(T0 + DAY, 10);
    b.store().create_slot(slot.clone()).await.unwrap();
    let reasons = [
        CancelReason::Visitor,
        CancelReason::ConsentWithdrawn,
        CancelReason::Staff,
    ];
    let mut kept: Vec<Booking> = Vec::new();
    for (i, reason) in reasons.into_iter().enumerate() {
        // Each cancel goes through another node (one shared state).
        let s: &Arc<dyn Store> = &b.nodes[i % b.nodes.len()];
        let rec = consented(s).await;
        let (booked, made) = book(s, &rec, slot.id, T0 + 2).await.unwrap();
        assert_eq!(made.name.as_deref(), Some("みどり"));
        assert_eq!(made.contact, Contact::Phone("090-1234-5678".into()));
        s.set_attended(&made.reference, false).await.unwrap();
        let next = match reason {
            CancelReason::ConsentWithdrawn => handoff::withdraw(&booked, T0 + 4).unwrap().0,
            _ => handoff::cancel_booking(&booked).unwrap(),
        };
        s.write_handoff(HandoffWrite {
            expected_rev: booked.rev,
            record: next,
            booking: BookingOp::Cancel {
                reference: made.reference.clone(),
                reason,
                now_ms: T0 + 4,
            },
        })
        .await
        .unwrap();
        for node in &b.nodes {
            let after = node.booking(&made.reference).await.unwrap().unwrap();
            assert_eq!(after.name, None, "{reason:?}");
            assert_eq!(after.contact, Contact::Deleted, "{reason:?}");
            assert!(after.personal_deleted());
            // The anonymous fact stays.
            assert_eq!(after.contact_choice, Some(ContactChoice::Call));
            assert_eq!(after.slot, made.slot);
            assert_eq!(after.conversation, made.conversation);
            assert_eq!(after.created_at_ms, made.created_at_ms);
            assert_eq!(after.cancelled_at_ms, Some(T0 + 4));
            assert_eq!(after.cancel_reason, Some(reason));
            assert_eq!(after.attended, Some(false));
            assert_eq!(after.pin_hash, made.pin_hash);
        }
        kept.push(made);
    }
    // The slot's list still counts every booking made, none in force.
    let all = b.store().slot_bookings(slot.id).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|x| !x.active() && x.name.is_none()));
    assert!(all.iter().all(|x| x.contact == Contact::Deleted));
    assert_eq!(b.store().slot(slot.id).await.unwrap().unwrap().booked, 0);
    // Attendance can still be recorded on a forgotten booking, and the
    // name and contact stay deleted.
    let again = b
        .store()
        .set_attended(&kept[0].reference, true)
        .await
        .unwrap();
    assert_eq!(again.attended, Some(true));
    assert_eq!((again.name, again.contact), (None, Contact::Deleted));
}
