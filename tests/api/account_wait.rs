//! Every account and second-factor write waits for the replicas (issue
//! 25's promise: account, session revocation and audit writes are
//! confirmed only once `redis_replicas_to_wait` replicas have them). The
//! test Redis has no replica, so with a wait for one each such write must
//! be refused as `unavailable` (nothing confirmed; the write is on the
//! primary all the same, docs/REDIS.md), while the same store without the
//! wait confirms them, a refused step answers its own refusal at once, and
//! a new session (which does not wait) is confirmed.

use std::time::Duration;

use tsunagu::core::handoff::{AuditAction, AuditEntry};
use tsunagu::core::ids::AccountId;
use tsunagu::model::{Account, Role, SecondFactor, SessionRecord};
use tsunagu::store::redis::{RedisOptions, RedisStore, ReplicaWait};
use tsunagu::store::{AccountStore, SecondFactorStore, StoreError};

use crate::helpers::*;

fn line(target: AccountId, action: AuditAction) -> AuditEntry {
    AuditEntry::about_account(1_700_000_000_000, target, action, target, None)
}

fn setup(account: AccountId) -> SecondFactor {
    SecondFactor {
        account,
        sealed_secret: "sealed".into(),
        created_at_ms: 1,
        enrolled_at_ms: None,
        last_used_step: None,
        recovery_code_hashes: Vec::new(),
    }
}

fn refused<T: std::fmt::Debug>(what: &str, r: Result<T, StoreError>) {
    assert!(
        matches!(r, Err(StoreError::Unavailable(_))),
        "{what}: confirmed without the replica it waits for: {r:?}"
    );
}

struct Purge(String, String);

impl Drop for Purge {
    fn drop(&mut self) {
        purge_blocking(&self.0, &self.1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_account_and_second_factor_write_waits_for_the_replicas() {
    let (url, prefix) = (test_redis_url(), unique_prefix());
    let _purge = Purge(url.clone(), prefix.clone());
    // The premise: this Redis has no replica, so `WAIT 1` cannot be met.
    let client = ::redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = ::redis::cmd("INFO")
        .arg("replication")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        info.contains("connected_slaves:0"),
        "the test Redis must have no replica: {info}"
    );
    let plain = RedisStore::connect(RedisOptions::new(url.clone(), prefix.clone()))
        .await
        .unwrap();
    let mut opts = RedisOptions::new(url.clone(), prefix.clone());
    opts.wait = ReplicaWait {
        replicas: 1,
        timeout: Duration::from_millis(50),
        messages: false,
    };
    let waiting = RedisStore::connect(opts).await.unwrap();

    // Creating: refused by the wait, though on the primary.
    let a = Account::new(
        AccountId::new_random(),
        "waiter".into(),
        "待つ人".into(),
        Role::Supervisor,
        password_hash().into(),
    );
    refused(
        "create_account",
        waiting
            .create_account(a.clone(), vec![line(a.id, AuditAction::AccountCreated)])
            .await,
    );
    assert_eq!(plain.account(a.id).await.unwrap(), Some(a.clone()));

    // A compare-and-set (a revocation by the epoch): refused by the wait;
    // a stale one is refused as a conflict at once.
    let mut revoked = a.clone();
    revoked.session_epoch += 1;
    refused(
        "replace_account",
        waiting
            .replace_account(
                &a,
                revoked.clone(),
                vec![line(a.id, AuditAction::AccountSessionsRevoked)],
            )
            .await,
    );
    assert_eq!(
        waiting.replace_account(&a, a.clone(), Vec::new()).await,
        Err(StoreError::Conflict)
    );
    let mut renamed = revoked.clone();
    renamed.display_name = "待たない人".into();
    plain
        .replace_account(&revoked, renamed.clone(), Vec::new())
        .await
        .expect("without the wait it is confirmed");

    // The second factor: set-up, confirmation, a used step, a used
    // recovery code, forgetting it, an admin's reset.
    refused(
        "begin_second_factor",
        waiting.begin_second_factor(setup(a.id)).await,
    );
    refused(
        "confirm_second_factor",
        waiting
            .confirm_second_factor(a.id, "sealed", 5, vec![[1; 32], [2; 32]], 2)
            .await,
    );
    refused(
        "use_second_factor_step",
        waiting.use_second_factor_step(a.id, 6).await,
    );
    assert_eq!(
        waiting.use_second_factor_step(a.id, 6).await,
        Err(StoreError::Conflict),
        "the step was used all the same: a replay is refused at once"
    );
    refused(
        "use_recovery_code",
        waiting.use_recovery_code(a.id, &[1; 32]).await,
    );
    plain.use_recovery_code(a.id, &[2; 32]).await.unwrap();
    let mut reset = renamed.clone();
    reset.session_epoch += 1;
    refused(
        "reset_second_factor",
        waiting
            .reset_second_factor(
                &renamed,
                reset.clone(),
                vec![line(a.id, AuditAction::ResetSecondFactor)],
            )
            .await,
    );
    plain.begin_second_factor(setup(a.id)).await.unwrap();
    refused(
        "delete_second_factor",
        waiting.delete_second_factor(a.id).await,
    );

    // Sessions: a new one does not wait (losing it means logging in
    // again); ending one does.
    let token = [9u8; 32];
    let session = SessionRecord {
        account: a.id,
        expires_at_ms: tsunagu::clock::now_ms() + 60_000,
        epoch: reset.session_epoch,
    };
    waiting.put_session(token, session).await.unwrap();
    refused("delete_session", waiting.delete_session(&token).await);
    assert_eq!(plain.session(&token).await.unwrap(), None);
}
