//! Staff accounts' second factors (TOTP, issue 21), one record per
//! account, kept apart from the account record.

use super::*;

/// Each method is one atomic step; a refused step changes nothing.
#[async_trait]
pub trait SecondFactorStore: Send + Sync {
    async fn second_factor(&self, account: AccountId) -> StoreResult<Option<SecondFactor>>;

    /// Keep a new set-up (not enrolled) for `record.account`, replacing an
    /// earlier set-up that was never confirmed. `Conflict` if the account
    /// has an enrolled second factor (an admin resets it first).
    async fn begin_second_factor(&self, record: SecondFactor) -> StoreResult<()>;

    /// Confirm the set-up whose sealed secret is `sealed_secret`: it
    /// becomes enrolled at `now_ms`, `step` is its last used step, and
    /// `recovery_code_hashes` its recovery codes; the record after.
    /// `NotFound` if there is no such set-up (none, another one replaced
    /// it, or it is already enrolled).
    async fn confirm_second_factor(
        &self,
        account: AccountId,
        sealed_secret: &str,
        step: u64,
        recovery_code_hashes: Vec<TokenHash>,
        now_ms: u64,
    ) -> StoreResult<SecondFactor>;

    /// Use a code of time step `step`: if the account is enrolled and
    /// `step` is after its last used step, that becomes `step`. `Conflict`
    /// if the step (or a later one) was used already (a replay);
    /// `NotFound` if not enrolled.
    async fn use_second_factor_step(&self, account: AccountId, step: u64) -> StoreResult<()>;

    /// Use a recovery code: if `code_hash` is one of the enrolled
    /// account's unused codes, it is removed; the number left. `NotFound`
    /// otherwise (wrong, used, or not enrolled).
    async fn use_recovery_code(
        &self,
        account: AccountId,
        code_hash: &TokenHash,
    ) -> StoreResult<usize>;

    /// Forget the account's second factor (an admin's reset, or giving up
    /// a set-up). Whether there was one.
    async fn delete_second_factor(&self, account: AccountId) -> StoreResult<bool>;

    /// An admin's reset, one atomic step: if the account is still exactly
    /// `old`, it becomes `new` (the service raises its session epoch, so
    /// every session ends), its second factor is forgotten and `audit` is
    /// appended. Whether there was a second factor. `NotFound` and
    /// `Conflict` as `replace_account` (nothing changed).
    async fn reset_second_factor(
        &self,
        old: &Account,
        new: Account,
        audit: Vec<AuditEntry>,
    ) -> StoreResult<bool>;
}
