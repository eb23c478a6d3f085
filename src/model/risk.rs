//! Risk: why a conversation is flagged, and the alerts supervisors see.

use serde::{Deserialize, Serialize};

use super::ConversationRecord;

use crate::core::ids::{AccountId, AlertId, ConversationId};
use crate::core::triage::RiskLevel;

/// Why a conversation has its risk level: a triage rule or a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskReason {
    pub level: RiskLevel,
    #[serde(flatten)]
    pub source: RiskSource,
    /// ms since the epoch.
    pub at_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum RiskSource {
    /// A triage rule matched (the rule id only, never the text).
    Triage { rule: String, category: String },
    /// A counsellor or supervisor set the level by hand.
    Staff { by: AccountId },
}

/// A change of risk level; see `Store::set_risk`.
#[derive(Clone, Debug)]
pub enum RiskChange {
    /// Triage hits on a message the visitor wrote, while waiting or
    /// mid-chat (queued or active; an ended conversation refuses):
    /// raises, never lowers; a rule already recorded is not recorded
    /// again (and then no alert is stored).
    Triage {
        hits: Vec<RiskReason>,
        alert: AlertId,
    },
    /// A person sets the level, up or down, on a queued or active
    /// conversation.
    Staff {
        level: RiskLevel,
        by: AccountId,
        alert: AlertId,
    },
}

/// Result of `Store::set_risk`.
#[derive(Clone, Debug)]
pub struct RiskUpdate {
    pub record: ConversationRecord,
    /// The level before the step.
    pub was: RiskLevel,
    /// The alert stored in the same step, if any.
    pub alert: Option<Alert>,
}

/// A risk alert for supervisors; it stays until one acknowledges it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub id: AlertId,
    pub conversation: ConversationId,
    /// The conversation's level after the change that raised the alert.
    pub level: RiskLevel,
    /// The reasons added by that change.
    pub reasons: Vec<RiskReason>,
    pub at_ms: u64,
    pub acked_by: Option<AccountId>,
    pub acked_at_ms: Option<u64>,
}
