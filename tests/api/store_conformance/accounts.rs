//! `AccountStore`: accounts and sessions.

use super::*;

conformance!(
    sessions_are_stored_and_deleted,
    accounts_have_unique_usernames,
    replacing_an_account_is_a_compare_and_set,
);

async fn sessions_are_stored_and_deleted(b: Backend) {
    let s = b.store();
    let token = [42u8; 32];
    let session = SessionRecord {
        account: AccountId::new_random(),
        expires_at_ms: tsunagu::clock::now_ms() + 3_600_000,
        epoch: 0,
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
        deactivated: false,
        last_login_ms: None,
        setup: None,
        session_epoch: 0,
    };
    let (b1, a1) = (account("sato"), account("aoki"));
    s.create_account(b1.clone(), Vec::new()).await.unwrap();
    s.create_account(a1.clone(), Vec::new()).await.unwrap();
    assert_eq!(
        s.create_account(account("sato"), Vec::new()).await,
        Err(StoreError::UsernameTaken)
    );
    // Ten nodes racing for one username: one wins.
    let race = join_all((0..10).map(|i| {
        let s = b.node(i);
        let a = account("ueda");
        async move { s.create_account(a, Vec::new()).await }
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

/// `replace_account` (issue 21): the new copy is stored only if the
/// account is still exactly the one read; of racing replacements of one
/// read, one wins; the username never changes.
async fn replacing_an_account_is_a_compare_and_set(b: Backend) {
    let s = b.store();
    let a = Account::new(
        AccountId::new_random(),
        "kimura".into(),
        "木村".into(),
        Role::Supervisor,
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    );
    s.create_account(a.clone(), Vec::new()).await.unwrap();
    let mut changed = a.clone();
    changed.role = Role::Counsellor;
    changed.deactivated = true;
    changed.session_epoch = 1;
    changed.last_login_ms = Some(1_764_806_400_000);
    changed.setup = Some(tsunagu::model::SetupTicket {
        hash: [7u8; 32],
        expires_at_ms: 1_764_892_800_000,
    });
    // Ten nodes racing with the same read: exactly one wins.
    let race = join_all((0..10).map(|i| {
        let s = b.node(i);
        let (old, mut new) = (a.clone(), changed.clone());
        new.display_name = format!("木村{i}");
        async move { s.replace_account(&old, new, Vec::new()).await }
    }))
    .await;
    assert_eq!(race.iter().filter(|r| r.is_ok()).count(), 1, "{race:?}");
    assert!(race
        .iter()
        .all(|r| r.is_ok() || *r == Err(StoreError::Conflict)));
    let now = b.node(2).account(a.id).await.unwrap().unwrap();
    assert_eq!(now.role, Role::Counsellor);
    assert!(now.deactivated);
    assert_eq!(now.session_epoch, 1);
    assert_eq!(now.setup, changed.setup);
    assert_eq!(now.last_login_ms, Some(1_764_806_400_000));
    // A stale read is refused and changes nothing.
    assert_eq!(
        s.replace_account(&a, a.clone(), Vec::new()).await,
        Err(StoreError::Conflict)
    );
    let mut renamed = now.clone();
    renamed.username = "other".into();
    assert_eq!(
        s.replace_account(&now, renamed, Vec::new()).await,
        Err(StoreError::Conflict)
    );
    let ghost = Account::new(
        AccountId::new_random(),
        "ghost".into(),
        "幽霊".into(),
        Role::Counsellor,
        "x".into(),
    );
    assert_eq!(
        s.replace_account(&ghost, ghost.clone(), Vec::new()).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(s.account(a.id).await.unwrap(), Some(now));
}
