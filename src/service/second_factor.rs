//! The second factor (TOTP, RFC 6238; issue 21): enrolment, the login's
//! second step, the gate for roles that must use it, and an admin's
//! reset.
//!
//! - The secret (20 random bytes) is sealed before it is stored
//!   (ChaCha20-Poly1305 under a key derived from the server's secret,
//!   `handoff.pin_key`; the account id is the associated data, so a sealed
//!   secret copied onto another account does not open). It must be usable
//!   to compute codes, so it cannot be only hashed.
//! - Recovery codes (12 characters, 60 random bits each) are stored as
//!   HMAC-SHA256 under the same server secret, as the way-back codes and
//!   PINs are: with 60 random bits a slow hash (argon2) adds nothing
//!   against guessing, while checking one typed code against ten argon2
//!   hashes would cost a second of CPU per attempt.
//! - The pending login between the password and the code is a token
//!   (account, expiry, HMAC), not a session: it opens nothing but the
//!   second step, for `PENDING_LOGIN_SECS`.
//! - Wrong codes are counted and refused like wrong passwords
//!   (`login_guard`, under their own counters).
//!
//! Never logged: the secret, codes, recovery codes, the pending token.

use std::net::IpAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::accounts::AccountWrite;
use super::bookings::PROCESS_PIN_KEY;
use super::handoff::random;
use super::{refuse, Refusal, Service};
use crate::core::handoff::AuditAction;
use crate::core::ids::AccountId;
use crate::core::second_factor::{self as rules, RecoveryCode};
use crate::model::{Account, Event, Role, SecondFactor, TokenHash};
use crate::protocol::ErrorCode;
use crate::store::StoreError;

/// How long the step between the password and the code may take.
pub const PENDING_LOGIN_SECS: u64 = 300;

/// The issuer an authenticator app shows next to the username.
const ISSUER: &str = "Tsunagu";

/// Bytes of a TOTP secret (160 bits, RFC 4226's recommendation).
const SECRET_BYTES: usize = 20;

/// What a login's password step leads to.
pub enum LoginStep {
    /// Logged in: the account and its new session's token (for the cookie).
    Session { account: Account, token: String },
    /// The account has a second factor: a code is needed next, with this
    /// pending-login token (not a session).
    SecondFactor {
        pending_login: String,
        expires_at_ms: u64,
    },
}

/// An account's second factor, as its owner sees it.
#[derive(Clone, Debug, Serialize)]
pub struct SecondFactorStatus {
    /// The deployment requires it for this account's role.
    pub required: bool,
    pub enrolled: bool,
    /// Recovery codes not used yet (0 when not enrolled).
    pub recovery_codes_left: usize,
}

/// A new set-up, shown once to its owner.
#[derive(Clone, Debug, Serialize)]
pub struct SecondFactorSetup {
    /// The secret in base32, for typing into an app by hand.
    pub secret: String,
    /// The `otpauth://` URI the QR code holds.
    pub otpauth_uri: String,
    /// The QR code as an SVG document (drawn here, no outside service).
    pub qr_svg: String,
}

fn failed() -> Refusal {
    refuse(
        ErrorCode::SecondFactorFailed,
        "wrong, expired or already used code",
    )
}

fn pending_expired() -> Refusal {
    refuse(
        ErrorCode::Unauthorized,
        "the sign-in has expired; please enter your password again",
    )
}

impl Service {
    /// A key for `purpose`, derived from the server's secret (the PINs'
    /// key: every node of a deployment has the same).
    fn second_factor_key(&self, purpose: &str) -> [u8; 32] {
        let key: &[u8] = match &self.settings.handoff.pin_key {
            Some(k) => k.expose().as_bytes(),
            None => &PROCESS_PIN_KEY[..],
        };
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
            unreachable!("HMAC accepts every key length")
        };
        mac.update(b"tsunagu second factor v1\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn seal_secret(&self, account: AccountId, secret: &[u8]) -> Result<String, Refusal> {
        let key = self.second_factor_key("seal");
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&key));
        let nonce: [u8; 12] = random();
        let aad = account.to_string();
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| refuse(ErrorCode::Internal, "sealing failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    fn open_secret(&self, account: AccountId, sealed: &str) -> Result<Vec<u8>, Refusal> {
        let broken = || {
            tracing::error!(account = %account, "a second factor's secret does not open (was handoff.pin_key changed?)");
            refuse(
                ErrorCode::Internal,
                "this second factor cannot be read; an admin can reset it",
            )
        };
        let raw = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| broken())?;
        if raw.len() < 12 {
            return Err(broken());
        }
        let (nonce, ct) = raw.split_at(12);
        let key = self.second_factor_key("seal");
        let aad = account.to_string();
        ChaCha20Poly1305::new(Key::from_slice(&key))
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| broken())
    }

    /// A recovery code's keyed hash (bound to its account).
    fn recovery_code_hash(&self, account: AccountId, code: &RecoveryCode) -> TokenHash {
        let key = self.second_factor_key("recovery");
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&key) else {
            unreachable!("HMAC accepts every key length")
        };
        mac.update(account.to_string().as_bytes());
        mac.update(b"\0");
        mac.update(code.as_str().as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn pending_mac(&self, body: &[u8]) -> [u8; 32] {
        let key = self.second_factor_key("pending login");
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&key) else {
            unreachable!("HMAC accepts every key length")
        };
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// A pending-login token for `account`: its id, the expiry and a
    /// 128-bit MAC, URL-safe base64.
    fn pending_login(&self, account: AccountId) -> (String, u64) {
        let expires_at_ms = self.now_ms() + PENDING_LOGIN_SECS * 1000;
        let mut body = account.0.as_bytes().to_vec();
        body.extend_from_slice(&expires_at_ms.to_be_bytes());
        let mac = self.pending_mac(&body);
        body.extend_from_slice(&mac[..16]);
        (URL_SAFE_NO_PAD.encode(body), expires_at_ms)
    }

    /// The account a pending-login token names, if it is genuine and not
    /// expired.
    fn pending_account(&self, token: &str) -> Option<AccountId> {
        if token.len() > 128 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
        if raw.len() != 40 {
            return None;
        }
        let (body, tag) = raw.split_at(24);
        let mac = self.pending_mac(body);
        let same = mac[..16]
            .iter()
            .zip(tag)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
        let expires = u64::from_be_bytes(body[16..24].try_into().ok()?);
        if !same || expires <= self.now_ms() {
            return None;
        }
        Some(AccountId(uuid::Uuid::from_slice(&body[..16]).ok()?))
    }

    /// The code of TOTP time step `step` for `secret` (RFC 6238, SHA-1,
    /// 6 digits, 30 s), by the `totp-rs` crate.
    fn code_at(secret: &[u8], step: u64) -> Option<String> {
        let totp = totp_rs::TOTP::new(
            totp_rs::Algorithm::SHA1,
            rules::DIGITS,
            rules::SKEW_STEPS as u8,
            rules::STEP_SECS,
            secret.to_vec(),
        )
        .ok()?;
        Some(totp.generate(step * rules::STEP_SECS))
    }

    /// The steps of the window at `now_ms` whose code is `code`.
    fn matching_steps(secret: &[u8], code: &str, now_ms: u64) -> Vec<u64> {
        rules::window(now_ms)
            .into_iter()
            .filter(|s| {
                Self::code_at(secret, *s).is_some_and(|c| {
                    c.len() == code.len()
                        && c.bytes()
                            .zip(code.bytes())
                            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                            == 0
                })
            })
            .collect()
    }

    // ------------------------------------------------------------ gate

    /// Must this account use a second factor (its role is in
    /// `auth.second_factor_roles`)?
    pub fn second_factor_required(&self, account: &Account) -> bool {
        self.settings
            .auth
            .second_factor_roles
            .contains(&account.role)
    }

    /// Refuse (`second_factor_required`) an account that must use a second
    /// factor and has not enrolled: it may only enrol (and see itself,
    /// log out).
    pub async fn second_factor_gate(&self, account: &Account) -> Result<(), Refusal> {
        if !self.second_factor_required(account) {
            return Ok(());
        }
        match self.store.second_factor(account.id).await? {
            Some(f) if f.enrolled() => Ok(()),
            _ => Err(refuse(
                ErrorCode::SecondFactorRequired,
                "your role must use a second factor: set it up first (POST /api/second-factor/setup)",
            )),
        }
    }

    pub async fn second_factor_status(
        &self,
        account: &Account,
    ) -> Result<SecondFactorStatus, Refusal> {
        let f = self
            .store
            .second_factor(account.id)
            .await?
            .filter(SecondFactor::enrolled);
        Ok(SecondFactorStatus {
            required: self.second_factor_required(account),
            enrolled: f.is_some(),
            recovery_codes_left: f.map_or(0, |f| f.recovery_code_hashes.len()),
        })
    }

    // ------------------------------------------------------------ enrolment

    /// Start (or start again) setting up a second factor: a new secret,
    /// shown once as text and as a QR code. `conflict` if one is enrolled
    /// (an admin resets it first).
    pub async fn begin_second_factor(
        &self,
        account: &Account,
    ) -> Result<SecondFactorSetup, Refusal> {
        let secret: [u8; SECRET_BYTES] = random();
        let record = SecondFactor {
            account: account.id,
            sealed_secret: self.seal_secret(account.id, &secret)?,
            created_at_ms: self.now_ms(),
            enrolled_at_ms: None,
            last_used_step: None,
            recovery_code_hashes: Vec::new(),
        };
        self.store
            .begin_second_factor(record)
            .await
            .map_err(|e| match e {
                StoreError::Conflict => refuse(
                    ErrorCode::Conflict,
                    "a second factor is already set up; an admin can reset it",
                ),
                e => e.into(),
            })?;
        let secret = rules::base32(&secret);
        let otpauth_uri = format!(
            "otpauth://totp/{ISSUER}:{user}?secret={secret}&issuer={ISSUER}&algorithm=SHA1&digits={d}&period={p}",
            user = account.username,
            d = rules::DIGITS,
            p = rules::STEP_SECS,
        );
        let qr_svg = qrcode::QrCode::new(otpauth_uri.as_bytes())
            .map_err(|_| refuse(ErrorCode::Internal, "the QR code could not be drawn"))?
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build();
        tracing::info!(account = %account.id, "second factor set-up started");
        Ok(SecondFactorSetup {
            secret,
            otpauth_uri,
            qr_svg,
        })
    }

    /// Confirm the set-up with a first code: enrolled from now on; the
    /// recovery codes, shown once (only their hashes are kept).
    pub async fn confirm_second_factor(
        &self,
        account: &Account,
        code: &str,
    ) -> Result<Vec<String>, Refusal> {
        let code = rules::parse_code(code)
            .ok_or_else(|| refuse(ErrorCode::BadRequest, "code: the 6 digits your app shows"))?;
        let record = self
            .store
            .second_factor(account.id)
            .await?
            .filter(|f| !f.enrolled())
            .ok_or_else(|| {
                refuse(
                    ErrorCode::Conflict,
                    "no second factor is being set up (start with POST /api/second-factor/setup)",
                )
            })?;
        let secret = self.open_secret(account.id, &record.sealed_secret)?;
        let now = self.now_ms();
        let step =
            rules::accept(&Self::matching_steps(&secret, &code, now), None).ok_or_else(failed)?;
        let codes: Vec<RecoveryCode> = (0..rules::RECOVERY_CODES)
            .map(|_| RecoveryCode::from_random(random()))
            .collect();
        let hashes = codes
            .iter()
            .map(|c| self.recovery_code_hash(account.id, c))
            .collect();
        self.store
            .confirm_second_factor(account.id, &record.sealed_secret, step, hashes, now)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => refuse(
                    ErrorCode::Conflict,
                    "this set-up was replaced or already confirmed",
                ),
                e => e.into(),
            })?;
        tracing::info!(account = %account.id, "second factor enrolled");
        Ok(codes.iter().map(RecoveryCode::display).collect())
    }

    // ------------------------------------------------------------ login

    /// After the right password: a session, or (if the account has a
    /// second factor) a pending login that needs a code.
    pub(super) async fn after_password(&self, account: Account) -> Result<LoginStep, Refusal> {
        let enrolled = self
            .store
            .second_factor(account.id)
            .await?
            .is_some_and(|f| f.enrolled());
        if enrolled {
            let (pending_login, expires_at_ms) = self.pending_login(account.id);
            tracing::info!(account = %account.id, "password accepted; second factor needed");
            return Ok(LoginStep::SecondFactor {
                pending_login,
                expires_at_ms,
            });
        }
        let token = self.start_session(&account).await?;
        Ok(LoginStep::Session { account, token })
    }

    /// The login's second step: the pending-login token and a code (or a
    /// recovery code, used once). Wrong codes are counted and refused
    /// like wrong passwords. The account and a new session's token.
    pub async fn login_second_factor(
        &self,
        pending_login: &str,
        code: Option<&str>,
        recovery_code: Option<&str>,
        address: Option<IpAddr>,
    ) -> Result<(Account, String), Refusal> {
        let id = self
            .pending_account(pending_login)
            .ok_or_else(pending_expired)?;
        enum Typed {
            Code(String),
            Recovery(RecoveryCode),
        }
        let typed = match (code, recovery_code) {
            (Some(c), None) => Typed::Code(rules::parse_code(c).ok_or_else(failed)?),
            (None, Some(r)) => Typed::Recovery(RecoveryCode::parse(r).ok_or_else(failed)?),
            _ => {
                return Err(refuse(
                    ErrorCode::BadRequest,
                    "give either code or recovery_code",
                ))
            }
        };
        let keys = self.second_factor_keys(id, address);
        self.login_admitted(&keys).await?;
        let account = self.store.account(id).await?.ok_or_else(pending_expired)?;
        let record = self
            .store
            .second_factor(id)
            .await?
            .filter(SecondFactor::enrolled)
            .ok_or_else(pending_expired)?;
        let ok = match typed {
            Typed::Code(code) => {
                let secret = self.open_secret(id, &record.sealed_secret)?;
                let matching = Self::matching_steps(&secret, &code, self.now_ms());
                match rules::accept(&matching, record.last_used_step) {
                    // The store checks the replay rule again, atomically:
                    // two logins with one code cannot both pass.
                    Some(step) => match self.store.use_second_factor_step(id, step).await {
                        Ok(()) => true,
                        Err(StoreError::Conflict | StoreError::NotFound) => false,
                        Err(e) => return Err(e.into()),
                    },
                    None => false,
                }
            }
            Typed::Recovery(rc) => {
                let hash = self.recovery_code_hash(id, &rc);
                match self.store.use_recovery_code(id, &hash).await {
                    Ok(left) => {
                        tracing::info!(account = %id, left, "recovery code used");
                        true
                    }
                    Err(StoreError::NotFound) => false,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        if !ok {
            tracing::info!(account = %id, "second factor refused");
            self.login_failure(&keys).await?;
            return Err(failed());
        }
        self.login_success(&keys).await;
        let token = self.start_session(&account).await?;
        Ok((account, token))
    }

    // ------------------------------------------------------------ reset

    /// An admin forgets `target`'s second factor (a lost phone). In one
    /// step with it, the account's session epoch is raised and the audit
    /// line written: every session of the account ends and its open
    /// sockets close (1008) on every node at once, as on a deactivation,
    /// so whoever held the lost phone and a session is out too. The
    /// target, if in a required role, may then only enrol again. Whether
    /// there was one.
    pub async fn reset_second_factor(
        &self,
        by: &Account,
        target: AccountId,
    ) -> Result<bool, Refusal> {
        if by.role != Role::Admin {
            return Err(refuse(ErrorCode::Forbidden, "only for the admin role"));
        }
        let (_, _, had) = self
            .write_account(
                target,
                AccountWrite::ResetSecondFactor,
                |a| {
                    a.session_epoch = a.session_epoch.wrapping_add(1);
                    Ok(())
                },
                |_, _| {
                    vec![self.account_audit(by.id, AuditAction::ResetSecondFactor, target, None)]
                },
            )
            .await?;
        self.publish(Event::SessionsRevoked {
            account: target,
            keep: None,
        })
        .await;
        tracing::info!(by = %by.id, account = %target, had, "second factor reset; sessions ended");
        Ok(had)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B (SHA-1 secret "12345678901234567890"), the
    /// last 6 of its 8 digits: the crate computes the standard's codes.
    #[test]
    fn codes_are_rfc_6238s() {
        let secret = b"12345678901234567890";
        for (t, code) in [
            (59u64, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(
                Service::code_at(secret, t / rules::STEP_SECS).as_deref(),
                Some(code)
            );
        }
        assert_eq!(
            Service::matching_steps(secret, "287082", 59_000),
            vec![1],
            "the window at t=59 s finds step 1"
        );
        assert!(Service::matching_steps(secret, "287082", 200_000).is_empty());
    }
}
