//! An account change and its audit line are one step (issue 21): creating
//! an account, replacing it (a rename, a role, a revocation by the session
//! epoch, a new password) and an admin's reset of its second factor each
//! write the account and their audit lines together; a refused step
//! writes neither. On Redis that is one Lua script, on the embedded store
//! one transaction (checked here by reading the database back after a
//! close: the lines and the change come back together).

use tsunagu::core::handoff::{AuditAction, AuditEntry, AuditFilter};
use tsunagu::model::SecondFactor;
use tsunagu::store::NodeStore;

use super::*;

conformance!(an_account_change_and_its_audit_line_are_one_step);

mod embedded {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn an_account_change_and_its_audit_line_are_one_step() {
        let tmp = crate::helpers::TempDir::new("account-audit-conformance");
        let open = || {
            let (store, _) = tsunagu::store::embedded::open(
                tmp.path(),
                super::T0,
                tsunagu::core::queue::QueuePolicy::default(),
            )
            .unwrap();
            let store: std::sync::Arc<dyn tsunagu::store::Store> = std::sync::Arc::new(store);
            store
        };
        let store = open();
        let (id, account, lines) = super::writes(super::Backend {
            nodes: vec![store.clone(), store.clone(), store.clone()],
            redis: None,
        })
        .await;
        super::NodeStore::close(&*store).await.unwrap();
        drop(store);
        // Read back from the database: both halves of every step.
        let again = open();
        assert_eq!(again.account(id).await.unwrap(), Some(account));
        assert_eq!(super::lines_about(&again, id).await, lines);
        assert_eq!(again.second_factor(id).await.unwrap(), None);
    }
}

fn line(by: AccountId, action: AuditAction, target: AccountId, at_ms: u64) -> AuditEntry {
    AuditEntry::about_account(at_ms, by, action, target, None)
}

/// The audit lines about `target`, oldest first.
async fn lines_about(s: &Arc<dyn Store>, target: AccountId) -> Vec<(AuditAction, u64)> {
    let mut v: Vec<(AuditAction, u64)> = s
        .audit_log(&AuditFilter::newest(AuditFilter::MAX_LIMIT))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.target == Some(target))
        .map(|e| (e.action, e.at_ms))
        .collect();
    v.reverse();
    v
}

async fn an_account_change_and_its_audit_line_are_one_step(b: Backend) {
    writes(b).await;
}

/// The steps; the account, what it is after them and its audit lines.
async fn writes(b: Backend) -> (AccountId, Account, Vec<(AuditAction, u64)>) {
    use AuditAction::*;
    let s = b.store();
    let admin = AccountId::new_random();
    let a = Account::new(
        AccountId::new_random(),
        "hirano".into(),
        "平野".into(),
        Role::Supervisor,
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    );
    let id = a.id;
    s.create_account(a.clone(), vec![line(admin, AccountCreated, id, T0 + 1)])
        .await
        .unwrap();
    assert_eq!(lines_about(s, id).await, vec![(AccountCreated, T0 + 1)]);

    // Refused: the username is taken. No line.
    let twin = Account::new(
        AccountId::new_random(),
        "hirano".into(),
        "平野2".into(),
        Role::Admin,
        "x".into(),
    );
    let twin_id = twin.id;
    assert_eq!(
        b.node(1)
            .create_account(twin, vec![line(admin, AccountCreated, twin_id, T0 + 2)])
            .await,
        Err(StoreError::UsernameTaken)
    );
    assert!(lines_about(s, twin_id).await.is_empty());

    // Two lines with one change, in their order.
    let mut renamed = a.clone();
    renamed.display_name = "平野 さん".into();
    renamed.role = Role::Counsellor;
    renamed.session_epoch += 1;
    b.node(1)
        .replace_account(
            &a,
            renamed.clone(),
            vec![
                line(admin, AccountRenamed, id, T0 + 3),
                line(admin, AccountRoleChanged, id, T0 + 4),
            ],
        )
        .await
        .unwrap();

    // A stale read: refused, no line.
    assert_eq!(
        b.node(2)
            .replace_account(
                &a,
                a.clone(),
                vec![line(admin, AccountSessionsRevoked, id, T0 + 5)]
            )
            .await,
        Err(StoreError::Conflict)
    );
    // Ten revocations from one read on three nodes: one wins, one line.
    let race = join_all((0..10).map(|i| {
        let (s, old) = (b.node(i), renamed.clone());
        let mut new = renamed.clone();
        new.session_epoch += 1;
        async move {
            s.replace_account(
                &old,
                new,
                vec![line(admin, AccountSessionsRevoked, id, T0 + 10 + i as u64)],
            )
            .await
        }
    }))
    .await;
    assert_eq!(race.iter().filter(|r| r.is_ok()).count(), 1, "{race:?}");
    let winner = T0 + 10 + race.iter().position(|r| r.is_ok()).unwrap() as u64;
    let revoked = s.account(id).await.unwrap().unwrap();
    assert_eq!(revoked.session_epoch, renamed.session_epoch + 1);

    // A reset of the second factor: the account (its epoch raised), the
    // second factor gone and the line, in one step.
    s.begin_second_factor(SecondFactor {
        account: id,
        sealed_secret: "sealed".into(),
        created_at_ms: T0,
        enrolled_at_ms: None,
        last_used_step: None,
        recovery_code_hashes: Vec::new(),
    })
    .await
    .unwrap();
    s.confirm_second_factor(id, "sealed", 7, vec![[1; 32]], T0 + 20)
        .await
        .unwrap();
    let mut reset = revoked.clone();
    reset.session_epoch += 1;
    // A stale read first: refused; the second factor stays, no line.
    assert_eq!(
        b.node(1)
            .reset_second_factor(
                &renamed,
                reset.clone(),
                vec![line(admin, ResetSecondFactor, id, T0 + 30)]
            )
            .await,
        Err(StoreError::Conflict)
    );
    assert!(b.node(2).second_factor(id).await.unwrap().is_some());
    assert_eq!(
        b.node(2)
            .reset_second_factor(
                &revoked,
                reset.clone(),
                vec![line(admin, ResetSecondFactor, id, T0 + 31)]
            )
            .await,
        Ok(true)
    );
    assert_eq!(s.second_factor(id).await.unwrap(), None);
    assert_eq!(s.account(id).await.unwrap(), Some(reset.clone()));
    // Nothing to forget is still a reset of the sessions, and audited.
    let mut again = reset.clone();
    again.session_epoch += 1;
    assert_eq!(
        s.reset_second_factor(
            &reset,
            again.clone(),
            vec![line(admin, ResetSecondFactor, id, T0 + 32)]
        )
        .await,
        Ok(false)
    );
    let ghost = Account::new(
        AccountId::new_random(),
        "ghost".into(),
        "幽霊".into(),
        Role::Counsellor,
        "x".into(),
    );
    assert_eq!(
        s.reset_second_factor(
            &ghost,
            ghost.clone(),
            vec![line(admin, ResetSecondFactor, ghost.id, T0 + 33)]
        )
        .await,
        Err(StoreError::NotFound)
    );
    assert!(lines_about(s, ghost.id).await.is_empty());

    let expected = vec![
        (AccountCreated, T0 + 1),
        (AccountRenamed, T0 + 3),
        (AccountRoleChanged, T0 + 4),
        (AccountSessionsRevoked, winner),
        (ResetSecondFactor, T0 + 31),
        (ResetSecondFactor, T0 + 32),
    ];
    for i in 0..3 {
        assert_eq!(lines_about(&b.node(i), id).await, expected);
    }
    (id, again, expected)
}
