//! The way back after a quick exit: a way-back code asked for during a
//! conversation, redeemed on the welcome page for a new resume token.
//!
//! The code is stored only as its keyed hash (HMAC-SHA256 with the key of
//! the booking PINs, `handoff.pin_key`), never logged. Wrong codes are
//! counted per client address (`GuardStore`, for the whole deployment);
//! after `limits.way_back_failures` the address is refused for up to
//! `limits.way_back_lockout_secs`.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::bookings::PROCESS_PIN_KEY;
use super::handoff::random;
use super::{refuse, Refusal, Service};
use crate::auth;
use crate::core::ids::ConversationId;
use crate::core::way_back::WayBackCode;
use crate::model::TokenHash;
use crate::protocol::ErrorCode;
use crate::store::StoreError;

/// A way-back code as shown to the visitor (once; only its hash is kept).
#[derive(Clone, Debug)]
pub struct WayBack {
    /// Grouped 4-4: `K7QP-M3XW`.
    pub code: String,
    pub expires_at_ms: u64,
}

/// The guard counter of an address's wrong way-back codes (only the
/// address's hash is kept, even in memory).
fn guard_key(client: Option<IpAddr>) -> String {
    address_guard_key("way_back_ip", client)
}

/// A guard counter's key for a client address, under `kind`: only the
/// address's hash is kept, even in memory.
pub(super) fn address_guard_key(kind: &str, client: Option<IpAddr>) -> String {
    match client {
        Some(ip) => {
            let h = crate::model::hash_token(&ip.to_string());
            let hex: String = h[..16].iter().map(|b| format!("{b:02x}")).collect();
            format!("{kind}:{hex}")
        }
        None => format!("{kind}:-"),
    }
}

fn failed() -> Refusal {
    refuse(
        ErrorCode::WayBackFailed,
        "that code does not lead back to a conversation (wrong, used, expired, or the conversation has ended)",
    )
}

impl Service {
    /// The code's hash: HMAC-SHA256 keyed with `handoff.pin_key` (a copy
    /// of the database alone reveals no code).
    fn way_back_hash(&self, code: &WayBackCode) -> TokenHash {
        self.keyed_hash(b"tsunagu way-back code v1\0", code.as_str())
    }

    /// HMAC-SHA256 of `value` under `handoff.pin_key`, in the domain
    /// `context` (so one code's hash is never another kind's): the way-back
    /// and the return codes (issue 22) are stored only as this.
    pub(super) fn keyed_hash(&self, context: &[u8], value: &str) -> TokenHash {
        let key: &[u8] = match &self.settings.handoff.pin_key {
            Some(k) => k.expose().as_bytes(),
            None => &PROCESS_PIN_KEY[..],
        };
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
            unreachable!("HMAC accepts every key length")
        };
        mac.update(context);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A new way-back code for a live conversation, replacing the earlier
    /// one. `conversation_ended` for an ended one.
    pub async fn way_back_code(&self, id: ConversationId) -> Result<WayBack, Refusal> {
        let code = WayBackCode::from_random(random());
        let expires_at_ms = self.now_ms() + self.settings.timing.way_back_code_secs * 1000;
        self.store
            .set_way_back(id, self.way_back_hash(&code), expires_at_ms)
            .await?;
        Ok(WayBack {
            code: code.display(),
            expires_at_ms,
        })
    }

    /// Redeem a way-back code typed by a person: the conversation and a
    /// new resume token (the old one stops working). A wrong, malformed,
    /// used, replaced or expired code, and one whose conversation has
    /// ended, all answer `way_back_failed` and count one failure against
    /// `client`; an address over the limit is answered `way_back_locked`
    /// whatever it sends.
    pub async fn redeem_way_back(
        &self,
        raw: &str,
        client: Option<IpAddr>,
    ) -> Result<(ConversationId, String), Refusal> {
        let key = guard_key(client);
        let limit = self.settings.limits.way_back_failures;
        let window_ms = u64::from(self.settings.limits.way_back_lockout_secs) * 1000;
        let now = self.now_ms();
        if self.store.failures(&key, now).await? >= limit {
            return Err(locked(window_ms));
        }
        let redeemed = match WayBackCode::parse(raw) {
            Some(code) => {
                let (token, token_hash) = auth::new_token();
                match self
                    .store
                    .redeem_way_back(&self.way_back_hash(&code), token_hash, now)
                    .await
                {
                    Ok(rec) => Some((rec.id, token)),
                    Err(StoreError::NotFound) => None,
                    Err(e) => return Err(e.into()),
                }
            }
            None => None,
        };
        match redeemed {
            Some(found) => {
                tracing::info!(conversation = %found.0, "a visitor came back with a way-back code");
                Ok(found)
            }
            None => {
                let n = self.store.record_failure(&key, now, window_ms).await?;
                if n == limit {
                    tracing::warn!(
                        "a client address is refused after too many wrong way-back codes"
                    );
                }
                Err(failed())
            }
        }
    }
}

/// The lockout's answer.
fn locked(retry_after_ms: u64) -> Refusal {
    Refusal {
        retry_after_ms: Some(retry_after_ms),
        ..refuse(
            ErrorCode::WayBackLocked,
            "too many wrong way-back codes from this address; try again after retry_after_ms",
        )
    }
}
