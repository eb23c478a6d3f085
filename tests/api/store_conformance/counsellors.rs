//! `CounsellorStore`: counsellor records.

use super::*;

conformance!(counsellor_records_are_created_on_first_sight);

async fn counsellor_records_are_created_on_first_sight(b: Backend) {
    let s = b.store();
    let id = AccountId::new_random();
    assert_eq!(s.counsellor(id).await, Ok(None));
    assert_eq!(
        s.set_status(id, Availability::Available).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(s.set_capacity(id, 2).await, Err(StoreError::NotFound));
    let rec = s.counsellor_connections(id, 1, 3, T0).await.unwrap();
    assert_eq!(rec.status, Availability::Away);
    assert_eq!((rec.capacity, rec.active, rec.connections), (3, 0, 1));
    assert_eq!(rec.offline_since_ms, None);
    assert!(!rec.takes_chats());
    let rec = s.set_status(id, Availability::Available).await.unwrap();
    assert!(rec.takes_chats());
    let rec = s.set_capacity(id, 5).await.unwrap();
    assert_eq!(rec.capacity, 5);
    let rec = s.counsellor_connections(id, 1, 3, T0 + 1).await.unwrap();
    assert_eq!((rec.connections, rec.capacity), (2, 5));
    s.counsellor_connections(id, -1, 3, T0 + 2).await.unwrap();
    let rec = s.counsellor_connections(id, -1, 3, T0 + 3).await.unwrap();
    assert_eq!((rec.connections, rec.offline_since_ms), (0, Some(T0 + 3)));
    assert!(!rec.takes_chats());
    let listed = b.node(1).counsellors().await.unwrap();
    assert_eq!(listed, vec![rec.clone()]);
    // One record read on its own is the same record, on any node.
    assert_eq!(b.node(1).counsellor(id).await, Ok(Some(rec)));
    assert_eq!(s.counsellor(AccountId::new_random()).await, Ok(None));
}
