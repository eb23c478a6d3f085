//! `NodeStore`: events reach every node.

use super::*;

conformance!(published_events_reach_every_subscriber);

async fn published_events_reach_every_subscriber(b: Backend) {
    let mut here = b.node(0).subscribe();
    let mut there = b.node(1).subscribe();
    let conv = ConversationId::new_random();
    for i in 0..20u64 {
        b.node(0)
            .publish(Event::Acked {
                conversation: conv,
                by: Party::Visitor,
                seq: i,
            })
            .await
            .unwrap();
    }
    for rx in [&mut here, &mut there] {
        for i in 0..20u64 {
            let e = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("the event arrives")
                .unwrap();
            match e {
                Event::Acked {
                    conversation, seq, ..
                } => assert_eq!((conversation, seq), (conv, i), "in publish order"),
                other => panic!("unexpected event {other:?}"),
            }
        }
    }
}
