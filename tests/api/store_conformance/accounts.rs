//! `AccountStore`: accounts and sessions.

use super::*;

conformance!(
    sessions_are_stored_and_deleted,
    accounts_have_unique_usernames,
);

async fn sessions_are_stored_and_deleted(b: Backend) {
    let s = b.store();
    let token = [42u8; 32];
    let session = SessionRecord {
        account: AccountId::new_random(),
        expires_at_ms: tsunagu::clock::now_ms() + 3_600_000,
    };
    assert_eq!(s.session(&token).await, Ok(None));
    s.put_session(token, session).await.unwrap();
    assert_eq!(b.node(2).session(&token).await, Ok(Some(session)));
    assert_eq!(s.session(&[43u8; 32]).await, Ok(None));
    s.delete_session(&token).await.unwrap();
    assert_eq!(s.session(&token).await, Ok(None));
    s.delete_session(&token).await.unwrap();
}

async fn accounts_have_unique_usernames(b: Backend) {
    let s = b.store();
    let account = |username: &str| Account {
        id: AccountId::new_random(),
        username: username.into(),
        display_name: format!("{username}-san"),
        role: Role::Counsellor,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    };
    let (b1, a1) = (account("sato"), account("aoki"));
    s.create_account(b1.clone()).await.unwrap();
    s.create_account(a1.clone()).await.unwrap();
    assert_eq!(
        s.create_account(account("sato")).await,
        Err(StoreError::UsernameTaken)
    );
    // Ten nodes racing for one username: one wins.
    let race = join_all((0..10).map(|i| {
        let s = b.node(i);
        let a = account("ueda");
        async move { s.create_account(a).await }
    }))
    .await;
    assert_eq!(race.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(s.account(a1.id).await.unwrap(), Some(a1.clone()));
    assert_eq!(s.account_by_username("sato").await.unwrap(), Some(b1));
    assert_eq!(s.account_by_username("nobody").await.unwrap(), None);
    assert_eq!(s.account(AccountId::new_random()).await.unwrap(), None);
    let names: Vec<String> = s
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert_eq!(names, vec!["aoki", "sato", "ueda"]);
}
