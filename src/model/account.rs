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
    // ---- run from the product (issue 21)
    /// Deactivated: cannot log in, has no sessions and no sockets; the
    /// record stays (the audit log and the statistics name it).
    #[serde(default)]
    pub deactivated: bool,
    /// When the account last logged in, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_ms: Option<u64>,
    /// A password set-up code in force (after creation or a reset): only
    /// its keyed hash and when it stops working. Used once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<SetupTicket>,
    /// Sessions of another epoch are revoked: raising it ends every
    /// session of the account at once, on every store and node.
    #[serde(default)]
    pub session_epoch: u32,
}

impl Account {
    /// A new, active account that has never logged in.
    pub fn new(
        id: AccountId,
        username: String,
        display_name: String,
        role: Role,
        password_hash: String,
    ) -> Self {
        Self {
            id,
            username,
            display_name,
            role,
            password_hash,
            deactivated: false,
            last_login_ms: None,
            setup: None,
            session_epoch: 0,
        }
    }
}

/// A password set-up code's keyed hash (HMAC-SHA256 under
/// `handoff.pin_key`) and its end of validity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupTicket {
    pub hash: TokenHash,
    pub expires_at_ms: u64,
}

/// Why an account's sockets were closed by an admin's change: the close
/// reason of its sockets (1008) on every node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountChange {
    AccountDeactivated,
    RoleChanged,
}

impl AccountChange {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountChange::AccountDeactivated => "account_deactivated",
            AccountChange::RoleChanged => "role_changed",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub account: AccountId,
    pub expires_at_ms: u64,
    /// The account's `session_epoch` when it was made: live only while
    /// they are equal.
    #[serde(default)]
    pub epoch: u32,
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

    /// What others (and the console's header) are told about this
    /// counsellor: see [`Activity`].
    pub fn activity(&self) -> Activity {
        Activity::of(self.status, self.active)
    }
}

/// What a counsellor is doing, as shown: the status they chose
/// ([`Availability`]) says only whether new chats come to them; someone
/// "away" who holds a chat (a supervisor who took one over, a counsellor
/// who stopped taking new ones near the end of a shift) is working, not
/// away. The rule: `available` while taking chats; otherwise `busy` while
/// holding at least one active chat; otherwise `away`. The status itself
/// is never changed by it (taking over never makes anyone take new chats).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    Available,
    /// Holds at least one active chat, takes no new ones.
    Busy,
    Away,
}

impl Activity {
    pub fn of(status: Availability, active: u32) -> Self {
        match (status, active) {
            (Availability::Available, _) => Activity::Available,
            (Availability::Away, 0) => Activity::Away,
            (Availability::Away, _) => Activity::Busy,
        }
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
mod activity_tests {
    use super::*;

    #[test]
    fn away_while_holding_a_chat_is_busy_and_available_stays_available() {
        assert_eq!(
            Activity::of(Availability::Available, 0),
            Activity::Available
        );
        assert_eq!(
            Activity::of(Availability::Available, 3),
            Activity::Available
        );
        assert_eq!(Activity::of(Availability::Away, 0), Activity::Away);
        assert_eq!(Activity::of(Availability::Away, 1), Activity::Busy);
        assert_eq!(Activity::of(Availability::Away, 4), Activity::Busy);
    }
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
