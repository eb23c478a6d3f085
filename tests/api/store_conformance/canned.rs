//! `CannedReplyStore`: the library's entries are created (bounded, as one
//! step), read the same by every node, replaced only while they exist,
//! deleted once.

use super::*;
use tsunagu::core::canned::CannedCategory;
use tsunagu::core::ids::{CannedReplyId, Lang};
use tsunagu::model::CannedReply;

conformance!(
    created_entries_are_read_by_every_node_in_order,
    an_update_replaces_only_an_existing_entry,
    a_delete_happens_once,
    the_library_is_bounded_even_under_concurrent_creates
);

fn entry(lang: Lang, category: CannedCategory, title: &str) -> CannedReply {
    CannedReply {
        id: CannedReplyId::new_random(),
        lang,
        category,
        title: title.into(),
        body: format!("{title}の本文"),
        created_at_ms: 1_000,
        updated_at_ms: 1_000,
        updated_by: AccountId::new_random(),
    }
}

async fn created_entries_are_read_by_every_node_in_order(b: Backend) {
    let a = entry(Lang::En, CannedCategory::Greeting, "Hello");
    let c = entry(Lang::Ja, CannedCategory::Closing, "終わりに");
    let d = entry(Lang::Ja, CannedCategory::Greeting, "はじめに");
    for (i, e) in [&a, &c, &d].into_iter().enumerate() {
        b.node(i).create_canned_reply(e.clone(), 10).await.unwrap();
    }
    // The same id again: refused, nothing changes.
    let mut again = a.clone();
    again.title = "changed".into();
    assert_eq!(
        b.node(1).create_canned_reply(again, 10).await,
        Err(StoreError::Conflict)
    );
    for i in 0..3 {
        let all = b.node(i).canned_replies().await.unwrap();
        // By language, then category, then title.
        assert_eq!(all, vec![a.clone(), d.clone(), c.clone()]);
        assert_eq!(b.node(i).canned_reply(c.id).await.unwrap(), Some(c.clone()));
    }
    assert_eq!(
        b.store()
            .canned_reply(CannedReplyId::new_random())
            .await
            .unwrap(),
        None
    );
}

async fn an_update_replaces_only_an_existing_entry(b: Backend) {
    let e = entry(Lang::Ja, CannedCategory::SafeMessaging, "安全のために");
    b.store().create_canned_reply(e.clone(), 10).await.unwrap();
    let mut edited = e.clone();
    edited.body = "いま、あなたの安全がいちばん大切です。".into();
    edited.category = CannedCategory::Other;
    edited.updated_at_ms = 2_000;
    b.node(1).update_canned_reply(edited.clone()).await.unwrap();
    assert_eq!(b.node(2).canned_reply(e.id).await.unwrap(), Some(edited));
    // An entry that does not exist is never created by an update.
    let ghost = entry(Lang::En, CannedCategory::Other, "ghost");
    assert_eq!(
        b.node(0).update_canned_reply(ghost.clone()).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(b.store().canned_reply(ghost.id).await.unwrap(), None);
    assert_eq!(b.store().canned_replies().await.unwrap().len(), 1);
}

async fn a_delete_happens_once(b: Backend) {
    let e = entry(Lang::En, CannedCategory::OutOfArea, "Outside our area");
    let keep = entry(Lang::En, CannedCategory::Closing, "Goodbye");
    b.store().create_canned_reply(e.clone(), 10).await.unwrap();
    b.store()
        .create_canned_reply(keep.clone(), 10)
        .await
        .unwrap();
    let tries = join_all((0..3).map(|i| {
        let s = b.node(i);
        async move { s.delete_canned_reply(e.id).await }
    }))
    .await;
    assert_eq!(tries.iter().filter(|r| r.is_ok()).count(), 1, "{tries:?}");
    assert!(tries
        .iter()
        .filter(|r| r.is_err())
        .all(|r| *r == Err(StoreError::NotFound)));
    // Deleted: an update cannot bring it back.
    assert_eq!(
        b.node(1).update_canned_reply(e.clone()).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(b.node(2).canned_replies().await.unwrap(), vec![keep]);
}

async fn the_library_is_bounded_even_under_concurrent_creates(b: Backend) {
    let max = 5;
    let tries = join_all((0..12).map(|i| {
        let s = b.node(i);
        async move {
            s.create_canned_reply(
                entry(Lang::Ja, CannedCategory::Other, &format!("t{i}")),
                max,
            )
            .await
        }
    }))
    .await;
    assert_eq!(tries.iter().filter(|r| r.is_ok()).count(), max);
    assert!(tries
        .iter()
        .filter(|r| r.is_err())
        .all(|r| *r == Err(StoreError::LibraryFull)));
    assert_eq!(b.store().canned_replies().await.unwrap().len(), max);
    // A delete makes room for one more.
    let first = b.store().canned_replies().await.unwrap()[0].id;
    b.node(1).delete_canned_reply(first).await.unwrap();
    b.node(2)
        .create_canned_reply(entry(Lang::Ja, CannedCategory::Other, "next"), max)
        .await
        .unwrap();
    assert_eq!(
        b.node(0)
            .create_canned_reply(entry(Lang::Ja, CannedCategory::Other, "over"), max)
            .await,
        Err(StoreError::LibraryFull)
    );
}
