//! The LINE channel's records.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Channel, ConversationRecord, TokenHash};
use crate::core::ids::ConversationId;

/// A LINE conversation's link to its LINE user; see `Store::line_open`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineLink {
    pub conversation: ConversationId,
    /// The LINE user id: personal data, kept only while the conversation
    /// needs it to reply (`Store::line_forget_user` clears it), never
    /// logged, never shown to staff.
    pub user_id: Option<String>,
    /// The `webhookEventId` of the event that opened the conversation (its
    /// first message), so a redelivery of that event adds nothing.
    pub opened_by_event: String,
    pub created_at_ms: u64,
}

/// What happened to one counsellor message sent to a LINE user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineDelivery {
    pub seq: u64,
    #[serde(flatten)]
    pub state: LineDeliveryState,
    pub attempts: u32,
    pub at_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LineDeliveryState {
    Sent,
    /// Given up; `reason` is the API's status or error kind, never text.
    Failed {
        reason: String,
    },
}

/// The key a LINE user id is indexed under: its SHA-256, so the index
/// (a Redis key name, a SQLite column) does not spell the id out.
pub fn line_user_key(user_id: &str) -> TokenHash {
    super::hash_token(user_id)
}

/// What staff call a LINE visitor: from the conversation id, so it says
/// nothing about the LINE user and differs in every conversation.
pub fn pseudonym(rec: &ConversationRecord) -> Option<String> {
    (rec.channel == Channel::Line).then(|| {
        let h = Sha256::digest(rec.id.to_string().as_bytes());
        format!("LINE-{:02X}{:02X}", h[0], h[1])
    })
}
