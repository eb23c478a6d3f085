//! The empty-floor alert: one episode of "the centre is open and nobody
//! can take a visitor", and the outbound webhook deliveries it causes.

use serde::{Deserialize, Serialize};

use crate::core::floor::{FloorCause, FloorCleared};
use crate::core::ids::{AccountId, AlertId};

/// One empty-floor episode. Raised once (at most one uncleared episode at
/// a time, on every store), cleared when a counsellor is available again
/// or the centre closes, and kept for supervisors until one acknowledges
/// it. It holds no personal data: counts and times only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloorAlert {
    /// The episode's id (shares the id space of risk alerts, so one
    /// `ack_alert` command acknowledges either).
    pub id: AlertId,
    pub cause: FloorCause,
    /// Since when the floor has been uncovered (ms since the epoch).
    pub since_ms: u64,
    pub raised_at_ms: u64,
    /// Visitors waiting when it was raised.
    pub waiting: u32,
    pub cleared_at_ms: Option<u64>,
    pub cleared: Option<FloorCleared>,
    pub acked_by: Option<AccountId>,
    pub acked_at_ms: Option<u64>,
}

/// Which change of an episode a webhook delivery reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FloorChange {
    Raised,
    Cleared,
}

impl FloorChange {
    pub fn as_str(self) -> &'static str {
        match self {
            FloorChange::Raised => "raised",
            FloorChange::Cleared => "cleared",
        }
    }
}

/// One outbound webhook delivery, stored in the same step as the change it
/// reports and deleted once the receiver accepted it (or it was given up).
/// `id` is the idempotency id the receiver dedupes on: every attempt of
/// one delivery carries the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloorWebhook {
    pub id: uuid::Uuid,
    pub alert: AlertId,
    pub change: FloorChange,
    pub created_at_ms: u64,
    /// Attempts started so far.
    pub attempts: u32,
    /// Not to be tried before this (ms since the epoch): the next retry,
    /// or the end of the lease of the node trying it now.
    pub next_at_ms: u64,
}
