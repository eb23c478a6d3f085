//! The anonymous case (issue 22): the conversations one return code
//! links, so that a visitor who comes back is not a stranger. Nothing in
//! it identifies a person: an id, conversation ids, the last counsellor,
//! times, and the keyed hash of the code in force.

use serde::{Deserialize, Serialize};

use super::TokenHash;
use crate::core::case_retention::{self, CaseRetention, KeepLongerConsent};
use crate::core::ids::{AccountId, CaseId, ConversationId};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRecord {
    pub id: CaseId,
    /// The keyed hash (HMAC) of the return code in force; taking a new
    /// code replaces it, and the earlier code stops working.
    pub code_hash: TokenHash,
    /// Oldest first. May name conversations already purged (retention):
    /// readers skip those.
    pub conversations: Vec<ConversationId>,
    /// The counsellor the visitor last talked with, as known when the
    /// code was taken or the visitor came back.
    #[serde(default)]
    pub last_counsellor: Option<AccountId>,
    pub created_at_ms: u64,
    pub last_contact_ms: u64,
    /// Every keep-longer consent given, oldest first (a consent given
    /// again after a withdrawal adds one; none is removed while the case
    /// lives). See `core::case_retention`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep_longer: Vec<KeepLongerConsent>,
}

impl CaseRecord {
    /// A new case holding `conversation`.
    pub fn new(
        id: CaseId,
        conversation: ConversationId,
        code_hash: TokenHash,
        counsellor: Option<AccountId>,
        now_ms: u64,
    ) -> Self {
        Self {
            id,
            code_hash,
            conversations: vec![conversation],
            last_counsellor: counsellor,
            created_at_ms: now_ms,
            last_contact_ms: now_ms,
            keep_longer: Vec::new(),
        }
    }

    /// The case after a new code was taken in `conversation` (one of
    /// its own), whose counsellor (if any) becomes the last one.
    pub fn with_code(
        &self,
        code_hash: TokenHash,
        counsellor: Option<AccountId>,
        now_ms: u64,
    ) -> Self {
        let mut next = self.clone();
        next.code_hash = code_hash;
        if counsellor.is_some() {
            next.last_counsellor = counsellor;
        }
        next.last_contact_ms = next.last_contact_ms.max(now_ms);
        next
    }

    /// The case after the visitor came back in `conversation`.
    pub fn joined(&self, conversation: ConversationId, now_ms: u64) -> Self {
        let mut next = self.clone();
        if !next.conversations.contains(&conversation) {
            next.conversations.push(conversation);
        }
        next.last_contact_ms = next.last_contact_ms.max(now_ms);
        next
    }
}

impl CaseRecord {
    /// Which retention applies to this case's conversations.
    pub fn retention(&self) -> CaseRetention {
        case_retention::applies(self.last_contact_ms, &self.keep_longer)
    }

    /// The keep-longer consent in force, if any.
    pub fn keep_longer_in_force(&self) -> Option<&KeepLongerConsent> {
        case_retention::in_force(&self.keep_longer)
    }

    /// The case after `purged` was purged, `stored` telling which of its
    /// other conversations are still stored; `None`: none is, the case goes.
    pub fn after_purge(
        &self,
        purged: ConversationId,
        stored: impl Fn(ConversationId) -> bool,
    ) -> Option<Self> {
        case_retention::after_purge(&self.conversations, purged, stored).map(|left| {
            let mut next = self.clone();
            next.conversations = left;
            next
        })
    }
}
