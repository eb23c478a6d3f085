//! `GuardStore`: failure counters and capped sets shared by every node,
//! atomic, expiring.

use super::*;

conformance!(
    failures_count_once_for_every_node_and_clear,
    concurrent_failures_all_count,
    a_counter_expires_after_its_ttl,
    a_set_holds_at_most_its_cap_for_every_node,
    concurrent_holds_never_pass_the_cap
);

const DAY: u64 = 86_400_000;

async fn failures_count_once_for_every_node_and_clear(b: Backend) {
    let now = tsunagu::clock::now_ms();
    let key = format!("booking_pin:T{}", Uuid::new_v4().simple());
    let other = format!("{key}-other");
    assert_eq!(b.node(0).failures(&key, now).await.unwrap(), 0);
    assert_eq!(b.node(0).record_failure(&key, now, DAY).await.unwrap(), 1);
    assert_eq!(b.node(1).record_failure(&key, now, DAY).await.unwrap(), 2);
    assert_eq!(b.node(2).record_failure(&key, now, DAY).await.unwrap(), 3);
    let seen: Vec<u32> = join_all((0..3).map(|i| {
        let n = b.node(i);
        let key = key.clone();
        async move { n.failures(&key, now).await.unwrap() }
    }))
    .await;
    println!("guard counts seen by each node after 3 failures on 3 nodes: {seen:?}");
    assert_eq!(seen, vec![3, 3, 3], "one count for every node");
    assert_eq!(b.node(1).failures(&other, now).await.unwrap(), 0);
    b.node(1).clear_failures(&key).await.unwrap();
    assert_eq!(b.node(0).failures(&key, now).await.unwrap(), 0);
    assert_eq!(b.node(2).record_failure(&key, now, DAY).await.unwrap(), 1);
    // Clearing what is not there is fine.
    b.node(0).clear_failures(&other).await.unwrap();
}

async fn concurrent_failures_all_count(b: Backend) {
    let now = tsunagu::clock::now_ms();
    let key = format!("booking_pin:C{}", Uuid::new_v4().simple());
    let mut counts: Vec<u32> = join_all((0..60).map(|i| {
        let n = b.node(i);
        let key = key.clone();
        async move { n.record_failure(&key, now, DAY).await.unwrap() }
    }))
    .await;
    counts.sort_unstable();
    let total = b.node(1).failures(&key, now).await.unwrap();
    println!("60 concurrent failures over 3 nodes: final count {total}");
    assert_eq!(
        counts,
        (1..=60).collect::<Vec<u32>>(),
        "each one counted once"
    );
    assert_eq!(total, 60);
}

async fn a_counter_expires_after_its_ttl(b: Backend) {
    let key = format!("booking_pin:E{}", Uuid::new_v4().simple());
    let now = tsunagu::clock::now_ms();
    b.node(0).record_failure(&key, now, 300).await.unwrap();
    b.node(1).record_failure(&key, now, 300).await.unwrap();
    assert_eq!(b.node(2).failures(&key, now).await.unwrap(), 2);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let later = tsunagu::clock::now_ms();
    let left = b.node(2).failures(&key, later).await.unwrap();
    println!("failures after the ttl: {left}");
    assert_eq!(left, 0);
    assert_eq!(b.node(0).record_failure(&key, later, DAY).await.unwrap(), 1);
}

async fn a_set_holds_at_most_its_cap_for_every_node(b: Backend) {
    let now = tsunagu::clock::now_ms();
    let key = format!("waiting:S{}", Uuid::new_v4().simple());
    assert!(b.node(0).hold(&key, "a", 2, now, DAY).await.unwrap());
    assert!(b.node(1).hold(&key, "b", 2, now, DAY).await.unwrap());
    // Full for every node; holding again what is held is fine.
    assert!(!b.node(2).hold(&key, "c", 2, now, DAY).await.unwrap());
    assert!(b.node(2).hold(&key, "a", 2, now, DAY).await.unwrap());
    let mut held = b.node(2).held(&key, now).await.unwrap();
    held.sort();
    println!("a set of cap 2 after holds of a, b, c, a on 3 nodes: {held:?}");
    assert_eq!(
        held,
        vec!["a".to_owned(), "b".to_owned()],
        "c changed nothing"
    );
    b.node(1).release(&key, "a").await.unwrap();
    assert!(b.node(0).hold(&key, "c", 2, now, DAY).await.unwrap());
    // Releasing what is not held is fine.
    b.node(0).release(&key, "nobody").await.unwrap();
    b.node(0).release("waiting:none", "x").await.unwrap();
    assert!(b
        .node(1)
        .held("waiting:none", now)
        .await
        .unwrap()
        .is_empty());
}

async fn concurrent_holds_never_pass_the_cap(b: Backend) {
    let now = tsunagu::clock::now_ms();
    let key = format!("waiting:C{}", Uuid::new_v4().simple());
    let got: Vec<bool> = join_all((0..30).map(|i| {
        let n = b.node(i);
        let key = key.clone();
        async move { n.hold(&key, &format!("m{i}"), 3, now, DAY).await.unwrap() }
    }))
    .await;
    let held = b.node(0).held(&key, now).await.unwrap();
    println!(
        "30 concurrent holds of cap 3 over 3 nodes: {} held, set {}",
        got.iter().filter(|g| **g).count(),
        held.len()
    );
    assert_eq!(got.iter().filter(|g| **g).count(), 3);
    assert_eq!(held.len(), 3);
}
