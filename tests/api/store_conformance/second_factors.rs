//! `SecondFactorStore` (issue 21): a set-up, its confirmation, the replay
//! rule and single-use recovery codes, atomic on every node.

use tsunagu::model::SecondFactor;

use super::*;

conformance!(
    a_set_up_is_confirmed_once_and_then_kept,
    a_step_is_used_once_even_concurrently,
    a_recovery_code_is_used_once_even_concurrently,
    a_reset_forgets_everything
);

fn setup(account: AccountId, secret: &str) -> SecondFactor {
    SecondFactor {
        account,
        sealed_secret: secret.into(),
        created_at_ms: T0,
        enrolled_at_ms: None,
        last_used_step: None,
        recovery_code_hashes: Vec::new(),
    }
}

fn hashes(n: u8) -> Vec<[u8; 32]> {
    (1..=n).map(|i| [i; 32]).collect()
}

async fn a_set_up_is_confirmed_once_and_then_kept(b: Backend) {
    let a = AccountId::new_random();
    let s = b.store();
    assert_eq!(s.second_factor(a).await.unwrap(), None);
    // Nothing to confirm yet, and nothing to use.
    assert_eq!(
        s.confirm_second_factor(a, "sealed-1", 5, hashes(2), T0)
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        s.use_second_factor_step(a, 5).await.unwrap_err(),
        StoreError::NotFound
    );
    s.begin_second_factor(setup(a, "sealed-1")).await.unwrap();
    // A second set-up replaces one never confirmed.
    b.node(1)
        .begin_second_factor(setup(a, "sealed-2"))
        .await
        .unwrap();
    let pending = b.node(2).second_factor(a).await.unwrap().unwrap();
    assert_eq!(pending.sealed_secret, "sealed-2");
    assert!(!pending.enrolled());
    assert_eq!(
        s.use_second_factor_step(a, 5).await.unwrap_err(),
        StoreError::NotFound,
        "a set-up not confirmed takes no code"
    );
    // The replaced secret cannot be confirmed.
    assert_eq!(
        s.confirm_second_factor(a, "sealed-1", 5, hashes(2), T0)
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    let done = b
        .node(1)
        .confirm_second_factor(a, "sealed-2", 5, hashes(3), T0 + 1)
        .await
        .unwrap();
    assert_eq!(done.enrolled_at_ms, Some(T0 + 1));
    assert_eq!(done.last_used_step, Some(5));
    assert_eq!(done.recovery_code_hashes, hashes(3));
    assert_eq!(b.node(2).second_factor(a).await.unwrap(), Some(done));
    // Confirmed once only; and a new set-up is refused while enrolled.
    assert_eq!(
        s.confirm_second_factor(a, "sealed-2", 6, hashes(1), T0)
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        s.begin_second_factor(setup(a, "sealed-3"))
            .await
            .unwrap_err(),
        StoreError::Conflict
    );
    assert_eq!(
        s.second_factor(a).await.unwrap().unwrap().sealed_secret,
        "sealed-2",
        "a refused step changes nothing"
    );
}

async fn enrolled(b: &Backend, step: u64, codes: u8) -> AccountId {
    let a = AccountId::new_random();
    b.store()
        .begin_second_factor(setup(a, "sealed"))
        .await
        .unwrap();
    b.store()
        .confirm_second_factor(a, "sealed", step, hashes(codes), T0)
        .await
        .unwrap();
    a
}

async fn a_step_is_used_once_even_concurrently(b: Backend) {
    let a = enrolled(&b, 100, 0).await;
    let s = b.store();
    assert_eq!(
        s.use_second_factor_step(a, 100).await.unwrap_err(),
        StoreError::Conflict,
        "the confirming code's step"
    );
    assert_eq!(
        s.use_second_factor_step(a, 99).await.unwrap_err(),
        StoreError::Conflict,
        "an older step"
    );
    // 30 logins with one code on three nodes: exactly one passes.
    let results = join_all((0..30).map(|i| {
        let n = b.node(i);
        async move { n.use_second_factor_step(a, 101).await }
    }))
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    println!("30 concurrent uses of one step over 3 nodes: {ok} accepted");
    assert_eq!(ok, 1);
    assert!(results
        .iter()
        .all(|r| r.is_ok() || r == &Err(StoreError::Conflict)));
    assert_eq!(
        b.node(2)
            .second_factor(a)
            .await
            .unwrap()
            .unwrap()
            .last_used_step,
        Some(101)
    );
    s.use_second_factor_step(a, 103).await.unwrap();
    assert_eq!(
        s.use_second_factor_step(a, 102).await.unwrap_err(),
        StoreError::Conflict
    );
}

async fn a_recovery_code_is_used_once_even_concurrently(b: Backend) {
    let a = enrolled(&b, 1, 3).await;
    let s = b.store();
    assert_eq!(
        s.use_recovery_code(a, &[9; 32]).await.unwrap_err(),
        StoreError::NotFound,
        "not one of its codes"
    );
    let other = enrolled(&b, 1, 3).await;
    let results = join_all((0..30).map(|i| {
        let n = b.node(i);
        async move { n.use_recovery_code(a, &[2; 32]).await }
    }))
    .await;
    let ok: Vec<usize> = results.iter().filter_map(|r| r.clone().ok()).collect();
    println!("30 concurrent uses of one recovery code over 3 nodes: {ok:?}");
    assert_eq!(ok, vec![2], "one use, two codes left");
    let left = b.node(1).second_factor(a).await.unwrap().unwrap();
    assert_eq!(left.recovery_code_hashes, vec![[1; 32], [3; 32]]);
    // Another account's identical hash is its own.
    assert_eq!(s.use_recovery_code(other, &[2; 32]).await.unwrap(), 2);
    assert_eq!(s.use_recovery_code(a, &[1; 32]).await.unwrap(), 1);
    assert_eq!(s.use_recovery_code(a, &[3; 32]).await.unwrap(), 0);
    assert_eq!(
        s.use_recovery_code(a, &[3; 32]).await.unwrap_err(),
        StoreError::NotFound
    );
}

async fn a_reset_forgets_everything(b: Backend) {
    let a = enrolled(&b, 7, 2).await;
    assert!(b.node(1).delete_second_factor(a).await.unwrap());
    assert_eq!(b.node(2).second_factor(a).await.unwrap(), None);
    assert!(!b.store().delete_second_factor(a).await.unwrap());
    assert_eq!(
        b.store().use_recovery_code(a, &[1; 32]).await.unwrap_err(),
        StoreError::NotFound
    );
    // Set up again from scratch.
    b.store()
        .begin_second_factor(setup(a, "again"))
        .await
        .unwrap();
    let again = b
        .store()
        .confirm_second_factor(a, "again", 3, hashes(1), T0)
        .await
        .unwrap();
    assert_eq!(again.last_used_step, Some(3), "a fresh record");
}
