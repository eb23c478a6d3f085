//! Guarding logins against guessing and against being used to lock the
//! owner out (issue 18): wrong passwords are counted (not attempts), in
//! the store so that every node sees one count (`GuardStore`), under
//! three keys:
//!
//! - (account, address): the hard limit, `login_failures_per_account_address`;
//! - the address alone, for any accounts: `login_failures_per_address`;
//! - the account alone: `login_failures_per_account`, a softer budget that
//!   refuses only the addresses that have already failed on the account,
//!   so the owner with the right password from an address that has not
//!   failed still gets in however many strangers guess.
//!
//! The counters' names are HMACs under the server's secret (the booking
//! PIN key), so neither a username nor an address appears in the store.
//! A password check runs only with one of the node's
//! `password_hash_concurrency` permits.

use std::net::IpAddr;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::SemaphorePermit;

use super::{refuse, Refusal, Service};
use crate::protocol::ErrorCode;

/// The guard counters one login touches.
pub(super) struct LoginKeys {
    pair: Option<String>,
    address: Option<String>,
    account: String,
}

impl Service {
    /// A guard counter's name: HMAC-SHA256 under the server's secret of
    /// the kind and the parts, hex.
    pub(super) fn guard_key(&self, kind: &str, parts: &[&str]) -> String {
        let key: &[u8] = match &self.settings.handoff.pin_key {
            Some(k) => k.expose().as_bytes(),
            None => &super::bookings::PROCESS_PIN_KEY[..],
        };
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
            unreachable!("HMAC accepts every key length")
        };
        mac.update(b"tsunagu guard v1\0");
        mac.update(kind.as_bytes());
        for p in parts {
            mac.update(b"\0");
            mac.update(p.as_bytes());
        }
        let bytes: [u8; 32] = mac.finalize().into_bytes().into();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("{kind}:{hex}")
    }

    /// The counters of a login to `username` (a valid one) from `address`
    /// (already an address key: IPv6 by /64).
    pub(super) fn login_keys(&self, username: &str, address: Option<IpAddr>) -> LoginKeys {
        let address = address.map(|a| a.to_string());
        LoginKeys {
            pair: address
                .as_deref()
                .map(|a| self.guard_key("login_pair", &[username, a])),
            address: address
                .as_deref()
                .map(|a| self.guard_key("login_address", &[a])),
            account: self.guard_key("login_account", &[username]),
        }
    }

    /// The counters of a login's second step (issue 21): the same three
    /// budgets as passwords, under counters of their own, keyed by the
    /// account (known from the pending login) and the address.
    pub(super) fn second_factor_keys(
        &self,
        account: crate::core::ids::AccountId,
        address: Option<IpAddr>,
    ) -> LoginKeys {
        let account = account.to_string();
        let address = address.map(|a| a.to_string());
        LoginKeys {
            pair: address
                .as_deref()
                .map(|a| self.guard_key("second_factor_pair", &[&account, a])),
            address: address
                .as_deref()
                .map(|a| self.guard_key("second_factor_address", &[a])),
            account: self.guard_key("second_factor_account", &[&account]),
        }
    }

    fn login_window_ms(&self) -> u64 {
        self.settings
            .limits
            .login_failure_window_secs
            .saturating_mul(1000)
    }

    /// Refused (429 `rate_limited`, before any password check) if this
    /// address has spent its failures on this account or on all accounts,
    /// or if the account's budget is spent and this address has failed on
    /// it.
    pub(super) async fn login_admitted(&self, keys: &LoginKeys) -> Result<(), Refusal> {
        let l = &self.settings.limits;
        let now = self.now_ms();
        let pair = match &keys.pair {
            Some(k) => self.store.failures(k, now).await?,
            None => 0,
        };
        let address = match &keys.address {
            Some(k) => self.store.failures(k, now).await?,
            None => 0,
        };
        let spent = pair >= l.login_failures_per_account_address
            || address >= l.login_failures_per_address
            || (pair > 0
                && self.store.failures(&keys.account, now).await? >= l.login_failures_per_account);
        if spent {
            let mut r = refuse(
                ErrorCode::RateLimited,
                "too many wrong passwords from this address; try again later",
            );
            r.retry_after_ms = Some(self.login_window_ms());
            return Err(r);
        }
        Ok(())
    }

    /// Count one wrong password under every key of the login.
    pub(super) async fn login_failure(&self, keys: &LoginKeys) -> Result<(), Refusal> {
        let (now, ttl) = (self.now_ms(), self.login_window_ms());
        for k in [
            keys.pair.as_ref(),
            keys.address.as_ref(),
            Some(&keys.account),
        ]
        .into_iter()
        .flatten()
        {
            self.store.record_failure(k, now, ttl).await?;
        }
        Ok(())
    }

    /// The right password: this address's failures on the account are
    /// forgotten (the account's and the address's own budgets are not).
    pub(super) async fn login_success(&self, keys: &LoginKeys) {
        if let Some(k) = &keys.pair {
            if let Err(e) = self.store.clear_failures(k).await {
                tracing::warn!(error = %e, "could not clear a login failure counter");
            }
        }
    }

    /// One of the node's password-check permits, waiting at most
    /// `limits.password_hash_wait_ms`; else 503 `busy`.
    pub(super) async fn hash_permit(&self) -> Result<SemaphorePermit<'_>, Refusal> {
        let wait = Duration::from_millis(self.settings.limits.password_hash_wait_ms);
        match tokio::time::timeout(wait, self.hashing.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                let mut r = refuse(
                    ErrorCode::Busy,
                    "too many logins at once; nothing was checked, please try again after retry_after_ms",
                );
                r.retry_after_ms = Some(500);
                Err(r)
            }
        }
    }
}
