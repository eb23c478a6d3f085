//! Accounts, sessions and counsellors' standing.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::core::ids::AccountId;

/// SHA-256 of a secret token (resume token, session token). Stores keep
/// only hashes, so a copy of the store cannot be used to take over a chat.
pub type TokenHash = [u8; 32];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// PHC string (argon2id).
    pub password_hash: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub account: AccountId,
    pub expires_at_ms: u64,
}

/// A counsellor's presence and load, shared by every node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounsellorRecord {
    pub id: AccountId,
    pub status: Availability,
    pub capacity: u32,
    /// Conversations assigned and still active. Maintained by `assign`,
    /// `end` and `sweep`, never set directly.
    pub active: u32,
    /// Live sockets.
    pub connections: u32,
    pub offline_since_ms: Option<u64>,
    pub last_assigned_ms: Option<u64>,
}

impl CounsellorRecord {
    pub fn takes_chats(&self) -> bool {
        self.status == Availability::Available && self.connections > 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Counsellor,
    Supervisor,
    Intake,
    Admin,
}

impl Role {
    /// May open the counsellor socket and take chats.
    pub fn counsels(self) -> bool {
        matches!(self, Role::Counsellor | Role::Supervisor)
    }
}

pub fn hash_token(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    Available,
    Away,
}

/// Usernames: 3-32 characters of a-z, 0-9, '.', '_' or '-'.
pub fn valid_username(u: &str) -> bool {
    (3..=32).contains(&u.len())
        && u.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// Longest display name, in characters.
pub const DISPLAY_NAME_MAX_CHARS: usize = 40;

/// Display names are shown to visitors: 1-40 characters, no surrounding
/// blanks, no control characters (no line breaks, no NUL) and no
/// bidirectional overrides (which would make a name read differently from
/// what it is).
pub fn valid_display_name(name: &str) -> bool {
    let bidi = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    !name.trim().is_empty()
        && name.trim() == name
        && name.chars().count() <= DISPLAY_NAME_MAX_CHARS
        && !name.chars().any(|c| c.is_control() || bidi(c))
}

#[cfg(test)]
mod tests {
    #[test]
    fn usernames() {
        assert!(super::valid_username("sato.k"));
        assert!(!super::valid_username("Sato"));
        assert!(!super::valid_username("ab"));
        assert!(!super::valid_username("佐藤"));
    }

    #[test]
    fn display_names() {
        use super::valid_display_name as ok;
        assert!(ok("青木") && ok("Aoki Sato") && ok(&"あ".repeat(40)));
        for bad in [
            "",
            " ",
            " 青木",
            "青木 ",
            "a\r\nb\u{0}",
            "a\tb",
            "a\u{202E}b",
            "x\u{7f}",
        ] {
            assert!(!ok(bad), "{bad:?}");
        }
        assert!(!ok(&"あ".repeat(41)));
    }
}
