//! Identifiers and validated input ("parse, don't validate").
//!
//! Every value here can only be built valid, so the rest of the crate never
//! re-checks lengths or formats. Nothing in this module does I/O.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random (v4) id: 122 random bits, so ids cannot be guessed.
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// One anonymous conversation, from the visitor's first `start` until it is erased.
    ConversationId
);
uuid_id!(
    /// A staff account (counsellor, supervisor, intake, admin).
    AccountId
);
uuid_id!(
    /// A risk alert shown to supervisors until one acknowledges it.
    AlertId
);
uuid_id!(
    /// One entry of the deployment's library of canned replies.
    CannedReplyId
);

uuid_id!(
    /// An anonymous case (issue 22): the conversations one return code links.
    CaseId
);
uuid_id!(
    /// One service of the deployment's directory of partners (issue 23).
    PartnerId
);
uuid_id!(
    /// One relay sheet of a conversation (issue 23).
    RelayId
);

/// How the visitor reaches us. Fixed when the conversation is created;
/// counted by the statistics (contacts by channel).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The visitor page and its socket.
    #[default]
    Web,
    /// A LINE official account (`src/channels/line`). The visitor has no
    /// socket: the channel itself is their connection, so the visitor grace
    /// period never ends a LINE conversation.
    Line,
}

impl Channel {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Line => "line",
        }
    }
}

/// A language the pages speak (and a visitor reads): Japanese first.
/// Its wire name is the BCP 47 tag (`"ja"`, `"en"`); anything else is
/// refused when parsed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    #[default]
    Ja,
    En,
}

impl Lang {
    /// The wire name, e.g. `"ja"`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// A wire name back (`None` for anything else).
    pub fn from_tag(tag: &str) -> Option<Self> {
        match tag {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

/// A message id chosen by the sending client so that a resend is recognised
/// and stored once. 1 to 64 characters of `[A-Za-z0-9_-]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ClientMsgId(String);

pub const CLIENT_MSG_ID_MAX_CHARS: usize = 64;

impl ClientMsgId {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let ok = !raw.is_empty()
            && raw.len() <= CLIENT_MSG_ID_MAX_CHARS
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidInput::ClientMsgId)
        }
    }

    /// The id of the pre-chat "first message". `~` is outside the clients'
    /// alphabet, so no client message can collide with it.
    pub fn first_message() -> Self {
        Self("~first".to_owned())
    }

    /// An id read back from a store: a client's id or the first-message id.
    pub fn from_stored(raw: &str) -> Result<Self, InvalidInput> {
        if raw == Self::first_message().0 {
            return Ok(Self::first_message());
        }
        Self::parse(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ClientMsgId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A `start`'s idempotency key, chosen by the client: 22 to 64 characters
/// of `[A-Za-z0-9_-]` (a random one of 22 or more has at least 128 bits,
/// like a resume token: whoever has it may take up the waiting
/// conversation it started, so it is kept like the token).
#[derive(Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

pub const IDEMPOTENCY_KEY_CHARS: std::ops::RangeInclusive<usize> = 22..=64;

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let ok = IDEMPOTENCY_KEY_CHARS.contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidInput::IdempotencyKey)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Never printed: it opens a conversation.
impl std::fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdempotencyKey(..)")
    }
}

impl<'de> Deserialize<'de> for IdempotencyKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The text of one chat message or note: trimmed of nothing (people's
/// whitespace is theirs), but never blank and never longer than the
/// deployment's limit (counted in Unicode scalar values, not bytes, so a
/// Japanese message gets the same length as an English one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: String, max_chars: usize) -> Result<Self, InvalidInput> {
        if raw.trim().is_empty() {
            return Err(InvalidInput::TextEmpty);
        }
        // Control characters other than line breaks and tabs have no place in
        // a chat line and can confuse terminals and logs downstream.
        if raw
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            return Err(InvalidInput::TextControlChars);
        }
        if raw.chars().count() > max_chars {
            return Err(InvalidInput::TextTooLong { max_chars });
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Why a value could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInput {
    #[error("client message id must be 1-64 characters of A-Z, a-z, 0-9, '-' or '_'")]
    ClientMsgId,
    #[error("idempotency_key must be 22-64 characters of A-Z, a-z, 0-9, '-' or '_'")]
    IdempotencyKey,
    #[error("text must not be empty")]
    TextEmpty,
    #[error("text must not contain control characters")]
    TextControlChars,
    #[error("text is longer than {max_chars} characters")]
    TextTooLong { max_chars: usize },
    #[error("capacity must be between 1 and {max}")]
    Capacity { max: u32 },
}

/// Who wrote something in a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Visitor,
    Counsellor,
}

impl Party {
    pub fn other(self) -> Party {
        match self {
            Party::Visitor => Party::Counsellor,
            Party::Counsellor => Party::Visitor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_msg_id_accepts_only_the_documented_alphabet() {
        assert!(ClientMsgId::parse("a-Z_09").is_ok());
        assert!(ClientMsgId::parse("").is_err());
        assert!(ClientMsgId::parse("with space").is_err());
        assert!(ClientMsgId::parse("日本").is_err());
        assert!(ClientMsgId::parse(&"x".repeat(64)).is_ok());
        assert!(ClientMsgId::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn message_text_counts_characters_not_bytes() {
        let jp = "あ".repeat(10); // 30 bytes, 10 characters
        assert!(MessageText::parse(jp, 10).is_ok());
        assert_eq!(
            MessageText::parse("あ".repeat(11), 10),
            Err(InvalidInput::TextTooLong { max_chars: 10 })
        );
    }

    #[test]
    fn message_text_refuses_blank_and_control_characters() {
        assert_eq!(
            MessageText::parse("  \n ".into(), 10),
            Err(InvalidInput::TextEmpty)
        );
        assert_eq!(
            MessageText::parse("a\u{0007}b".into(), 10),
            Err(InvalidInput::TextControlChars)
        );
        assert!(MessageText::parse("line one\nline two\t!".into(), 100).is_ok());
    }
}
