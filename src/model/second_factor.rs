//! A staff account's second factor (TOTP, issue 21): its own record,
//! beside the account rather than inside it.

use serde::{Deserialize, Serialize};

use super::TokenHash;
use crate::core::ids::AccountId;

/// One account's second factor: set up (`enrolled_at_ms` is `None` until
/// the first code confirms it) or enrolled.
///
/// The TOTP secret must be usable to compute codes, so it cannot be only
/// hashed: it is kept sealed (ChaCha20-Poly1305 under a key derived from
/// the server's secret, `handoff.pin_key`, with the account id as
/// associated data), so a copy of the store alone does not give the
/// codes. The recovery codes are kept only as keyed hashes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondFactor {
    pub account: AccountId,
    /// The sealed secret: URL-safe base64 of nonce and ciphertext.
    pub sealed_secret: String,
    pub created_at_ms: u64,
    /// When the first code confirmed it; `None` while set up only.
    #[serde(default)]
    pub enrolled_at_ms: Option<u64>,
    /// The newest TOTP time step a code was accepted for: no code of this
    /// step or an earlier one is accepted again (the replay rule,
    /// `core::second_factor::accept`).
    #[serde(default)]
    pub last_used_step: Option<u64>,
    /// Keyed hashes of the recovery codes not used yet.
    #[serde(default)]
    pub recovery_code_hashes: Vec<TokenHash>,
}

impl SecondFactor {
    pub fn enrolled(&self) -> bool {
        self.enrolled_at_ms.is_some()
    }
}
