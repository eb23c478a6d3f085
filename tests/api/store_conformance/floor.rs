//! `FloorStore`: one uncleared empty-floor episode per deployment, the
//! acknowledgement kept once, and the webhook outbox claimed by one node
//! at a time.

use super::*;

use tsunagu::core::floor::{FloorCause, FloorCleared};
use tsunagu::model::{FloorAlert, FloorChange};

conformance!(
    concurrent_raises_store_one_episode,
    clear_then_a_new_episode_and_ack_keeps_the_first,
    a_claimed_delivery_is_leased_to_one_node_then_retried_or_deleted
);

fn episode(now: u64) -> FloorAlert {
    FloorAlert {
        id: AlertId::new_random(),
        cause: FloorCause::NoCounsellor,
        since_ms: now - 120_000,
        raised_at_ms: now,
        waiting: 1,
        cleared_at_ms: None,
        cleared: None,
        acked_by: None,
        acked_at_ms: None,
    }
}

async fn concurrent_raises_store_one_episode(b: Backend) {
    let now = tsunagu::clock::now_ms();
    let raised: Vec<Option<FloorAlert>> = join_all((0..3).map(|i| {
        let n = b.node(i);
        async move {
            n.raise_floor(episode(now), Some(Uuid::new_v4()), now)
                .await
                .unwrap()
        }
    }))
    .await;
    let won: Vec<&FloorAlert> = raised.iter().flatten().collect();
    assert_eq!(won.len(), 1, "one episode for three nodes");
    let open = b
        .node(1)
        .open_floor()
        .await
        .unwrap()
        .expect("an open episode");
    assert_eq!(&open, won[0]);
    assert_eq!(b.store().floor_alerts(false).await.unwrap().len(), 1);
    // One delivery queued with it, for the winner's episode.
    let (w, a) = b
        .node(2)
        .claim_floor_webhook(now, 10_000)
        .await
        .unwrap()
        .expect("a delivery");
    assert_eq!(
        (w.alert, w.change, w.attempts),
        (open.id, FloorChange::Raised, 1)
    );
    assert_eq!(a, open);
    assert!(b
        .node(0)
        .claim_floor_webhook(now, 10_000)
        .await
        .unwrap()
        .is_none());
}

async fn clear_then_a_new_episode_and_ack_keeps_the_first(b: Backend) {
    let now = tsunagu::clock::now_ms();
    let first = b
        .node(0)
        .raise_floor(episode(now), None, now)
        .await
        .unwrap()
        .unwrap();
    // Clearing an episode that is not the open one changes nothing.
    let wrong = b
        .node(1)
        .clear_floor(AlertId::new_random(), FloorCleared::Closed, None, now)
        .await
        .unwrap();
    assert!(wrong.is_none());
    let sup = AccountId::new_random();
    // Acknowledged while still raised, then cleared: both kept.
    b.node(2).ack_floor(first.id, sup, now + 1).await.unwrap();
    let cleared = b
        .node(1)
        .clear_floor(first.id, FloorCleared::CounsellorAvailable, None, now + 2)
        .await
        .unwrap()
        .expect("cleared");
    assert_eq!(cleared.cleared, Some(FloorCleared::CounsellorAvailable));
    assert_eq!(cleared.cleared_at_ms, Some(now + 2));
    assert_eq!(
        cleared.acked_by,
        Some(sup),
        "the clear keeps the acknowledgement"
    );
    assert!(
        b.node(0)
            .clear_floor(first.id, FloorCleared::Closed, None, now + 3)
            .await
            .unwrap()
            .is_none(),
        "cleared once"
    );
    assert!(b.node(0).open_floor().await.unwrap().is_none());
    let again = b
        .node(2)
        .ack_floor(first.id, AccountId::new_random(), now + 4)
        .await
        .unwrap();
    assert_eq!(
        (again.acked_by, again.acked_at_ms),
        (Some(sup), Some(now + 1)),
        "the first acknowledgement is kept"
    );
    // A new episode may now be raised; only it is unacknowledged.
    let second = b
        .node(1)
        .raise_floor(episode(now + 5), None, now + 5)
        .await
        .unwrap()
        .unwrap();
    let open: Vec<AlertId> = b
        .store()
        .floor_alerts(true)
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(open, [second.id]);
    assert_eq!(b.store().floor_alerts(false).await.unwrap().len(), 2);
    assert_eq!(
        b.node(0)
            .ack_floor(AlertId::new_random(), sup, now)
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
}

async fn a_claimed_delivery_is_leased_to_one_node_then_retried_or_deleted(b: Backend) {
    let now = tsunagu::clock::now_ms();
    let a = b
        .node(0)
        .raise_floor(episode(now), Some(Uuid::new_v4()), now)
        .await
        .unwrap()
        .unwrap();
    let claims: Vec<Option<_>> = join_all((0..3).map(|i| {
        let n = b.node(i);
        async move { n.claim_floor_webhook(now, 5_000).await.unwrap() }
    }))
    .await;
    let won: Vec<_> = claims.into_iter().flatten().collect();
    assert_eq!(won.len(), 1, "leased to one node");
    let (w, _) = &won[0];
    // Due again when the lease ends (a node that crashed mid-try).
    assert!(b
        .node(1)
        .claim_floor_webhook(now + 4_999, 5_000)
        .await
        .unwrap()
        .is_none());
    let (again, _) = b
        .node(1)
        .claim_floor_webhook(now + 5_000, 5_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (w.id, 2));
    // A failed try sets the next one; a delivered one is gone.
    b.node(1)
        .floor_webhook_done(w.id, Some(now + 20_000))
        .await
        .unwrap();
    assert!(b
        .node(2)
        .claim_floor_webhook(now + 19_999, 5_000)
        .await
        .unwrap()
        .is_none());
    let (third, _) = b
        .node(2)
        .claim_floor_webhook(now + 20_000, 5_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.attempts, 3);
    b.node(2).floor_webhook_done(w.id, None).await.unwrap();
    assert!(b
        .node(0)
        .claim_floor_webhook(now + 99_000, 5_000)
        .await
        .unwrap()
        .is_none());
    // The clear queues its own delivery.
    b.node(0)
        .clear_floor(
            a.id,
            FloorCleared::Closed,
            Some(Uuid::new_v4()),
            now + 100_000,
        )
        .await
        .unwrap()
        .unwrap();
    let (c, ep) = b
        .node(0)
        .claim_floor_webhook(now + 100_000, 5_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (c.change, ep.cleared),
        (FloorChange::Cleared, Some(FloorCleared::Closed))
    );
}
