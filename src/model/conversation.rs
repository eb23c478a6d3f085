//! Conversations, their messages and what happens to them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{HearingSheet, RiskReason, TokenHash};
use crate::core::conversation::{ConversationState, EndedBy, Outcome};
use crate::core::ids::{AccountId, AlertId, CaseId, ClientMsgId, ConversationId, Lang, Party};
use crate::core::prechat::PreChat;
use crate::core::queue::{Priority, QueueEntry};
use crate::core::relay::Relay;
use crate::core::stats::{Assessment, ConversationFacts, FactsInput, HandoffFacts};
use crate::core::triage::RiskLevel;

pub use crate::core::ids::Channel;

/// What `create_conversation` needs.
#[derive(Clone, Debug)]
pub struct NewConversation {
    pub id: ConversationId,
    pub channel: Channel,
    pub token_hash: TokenHash,
    pub pre_chat: PreChat,
    /// From triage of the first message; the queue priority follows from it
    /// (`risk.priority()`).
    pub risk: RiskLevel,
    pub risk_reasons: Vec<RiskReason>,
    /// Store an alert with this id in the same step (when triage matched).
    pub alert: Option<AlertId>,
    pub first_message: Option<String>,
    /// The language the visitor reads (the page's; LINE: Japanese).
    pub lang: Lang,
    pub now_ms: u64,
    /// The `start`'s idempotency key, if it had one: a `create` with a key
    /// that a waiting conversation already has answers with that one.
    pub start_key: Option<StartKey>,
    /// A returning visitor's last counsellor (issue 22): matching prefers
    /// them within `matching.return_preference_max_wait_secs`.
    pub prefers: Option<AccountId>,
}

impl NewConversation {
    /// The triage alert stored with it (when `alert` is set): the level
    /// and every reason, raised now.
    pub fn first_alert(&self) -> Option<super::Alert> {
        Some(super::Alert {
            id: self.alert?,
            conversation: self.id,
            level: self.risk,
            reasons: self.risk_reasons.clone(),
            at_ms: self.now_ms,
            acked_by: None,
            acked_at_ms: None,
        })
    }
}

/// A `start`'s idempotency key as stored: its hash (`auth::start_key_hash`)
/// and the resume token sealed under the key (`auth::seal_token`), so that
/// a retried `start` gets the same conversation and the same token, and
/// nobody without the key can open it. Never the key itself. It counts
/// only while the conversation waits for its first counsellor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartKey {
    pub hash: TokenHash,
    pub sealed: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supervision {
    pub supervisor: AccountId,
    pub mode: SupervisionMode,
    /// When this supervisor's access began (the first observe or join; a
    /// change of mode keeps it). The audit's `duration_ms` on leave is
    /// counted from here. 0 in records written before it was kept.
    #[serde(default)]
    pub since_ms: u64,
}

/// A supervisor's message to the counsellor(s) of a conversation: never
/// shown to the visitor. Stored apart from the conversation's log (its own
/// table / key), so no path that reads the log (the visitor's socket and
/// catch-up, the transcript, intake, the report) can reach it; deleted with
/// the conversation (purge) or its log (erase).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whisper {
    pub conversation: ConversationId,
    pub supervisor: AccountId,
    pub text: String,
    pub at_ms: u64,
}

/// How a supervisor is with a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupervisionMode {
    /// Reads everything, writes nothing.
    Observe,
    /// A second counsellor: writes to the visitor under their own name.
    Join,
}

/// Why a counsellor lost a conversation that stayed active.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseReason {
    /// They handed it to a colleague.
    Transferred,
    /// A supervisor took it over.
    TakenOver,
    /// They handed it back to the queue.
    ReturnedToQueue,
}

/// Counters for the floor view, since the store was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Visitors who left the queue before being served (ended it
    /// themselves, or stayed away past the grace period).
    pub left_queue: u64,
    /// Active conversations in which the visitor went silent (see
    /// `Store::mark_silent`); each conversation counted once per silence.
    pub went_silent: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationRecord {
    pub id: ConversationId,
    pub token_hash: TokenHash,
    pub state: ConversationState,
    pub pre_chat: PreChat,
    pub priority: Priority,
    /// Put back in the queue after its counsellor went away.
    pub requeued: bool,
    /// When it (first) joined the queue.
    pub queued_since_ms: u64,
    pub started_at_ms: u64,
    pub assigned_at_ms: Option<u64>,
    pub ended_at_ms: Option<u64>,
    pub ended_by: Option<EndedBy>,
    pub outcome: Option<Outcome>,
    /// The counsellor who has it, or had it when it ended (for the outcome
    /// after the visitor ended it). Cleared when it goes back to the queue.
    pub counsellor: Option<AccountId>,
    pub first_message: Option<String>,
    pub last_seq: u64,
    /// Highest sequence the visitor has acknowledged.
    pub visitor_acked: u64,
    /// Highest sequence the counsellor has acknowledged.
    pub counsellor_acked: u64,
    /// Live visitor sockets.
    pub visitor_connections: u32,
    pub visitor_offline_since_ms: Option<u64>,
    /// The conversation's risk level; `priority` always equals
    /// `risk.priority()`.
    #[serde(default)]
    pub risk: RiskLevel,
    /// Every reason recorded, oldest first.
    #[serde(default)]
    pub risk_reasons: Vec<RiskReason>,
    /// Supervisors observing or joined.
    #[serde(default)]
    pub supervisors: Vec<Supervision>,
    /// Times it was handed on (transfer, takeover, back to the queue).
    #[serde(default)]
    pub transfers: u32,
    #[serde(default)]
    pub last_visitor_msg_ms: Option<u64>,
    #[serde(default)]
    pub last_counsellor_msg_ms: Option<u64>,
    /// Set by `mark_silent`: since when the visitor has not answered the
    /// counsellor. Cleared by the visitor's next message.
    #[serde(default)]
    pub silent_since_ms: Option<u64>,
    /// What the counsellor recorded with the outcome (withdrawal band,
    /// severity, referral); all optional.
    #[serde(default)]
    pub assessment: Assessment,
    /// Set by `Store::erase`: the visitor erased it. The log (and the
    /// first message) are gone; the record stays, without any text, until
    /// the retention period purges it.
    #[serde(default)]
    pub erased_at_ms: Option<u64>,
    #[serde(default)]
    pub channel: Channel,
    /// Set by `Store::leave_quickly`: the visitor used the quick exit
    /// (the page left at once). The conversation is not ended by it: it
    /// waits for the visitor like any whose visitor went offline. Kept
    /// (the latest time) after the visitor comes back, for the statistics.
    #[serde(default)]
    pub left_quickly_at_ms: Option<u64>,
    /// The `start`'s idempotency key (its hash and the sealed token), if
    /// it had one.
    #[serde(default)]
    pub start_key: Option<StartKey>,
    /// The language the visitor reads, from their `start` (absent in a
    /// record written before it existed: Japanese).
    #[serde(default)]
    pub lang: Lang,
    /// A returning visitor's last counsellor, whom matching prefers for a
    /// bounded time (issue 22; `core::matching::plan_preferring`). Set at
    /// creation, never changed.
    #[serde(default)]
    pub prefers: Option<AccountId>,
    /// A letter (issue 22), written while the centre was closed or its
    /// queue full: created ended, never in the queue; its text is message
    /// 1, and a counsellor's answer (`LetterStore::answer_letter`) is
    /// message 2, with `assigned_at_ms` the time it was answered.
    #[serde(default)]
    pub letter: bool,
    /// The counsellor's hearing sheet for this conversation (issue 23),
    /// if one was saved (`HearingStore::save_hearing`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hearing: Option<Box<HearingSheet>>,
    /// Relay sheets prepared from the hearing sheet (issue 23), oldest
    /// first (`RelayStore::save_relays`). Erasing the conversation removes
    /// them; the purge takes them with the record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relays: Vec<Relay>,
}

impl ConversationRecord {
    /// A letter still waiting for its answer (not answered, not erased).
    pub fn letter_waiting(&self) -> bool {
        self.letter && self.assigned_at_ms.is_none() && self.erased_at_ms.is_none()
    }

    /// Does a `start` with this key hash take up this conversation? Only
    /// while it waits for its first counsellor: the key expires with the
    /// waiting state (assigned, ended, or put back in the queue: no).
    pub fn started_with(&self, hash: &TokenHash) -> bool {
        self.state == ConversationState::Queued
            && !self.requeued
            && self.assigned_at_ms.is_none()
            && self.start_key.as_ref().is_some_and(|k| k.hash == *hash)
    }

    /// The anonymous facts this conversation contributes to the report,
    /// given how far its handoff went and the case it belongs to.
    pub fn facts(&self, handoff: HandoffFacts, case: Option<CaseId>) -> ConversationFacts {
        // The sheet fills what the visitor and the end dialog left empty.
        let (pre_chat, assessment) = match &self.hearing {
            Some(h) => h.stats.fill(self.pre_chat, self.assessment),
            None => (self.pre_chat, self.assessment),
        };
        ConversationFacts::of(FactsInput {
            started_at_ms: self.started_at_ms,
            channel: self.channel,
            letter: self.letter,
            case,
            queued_since_ms: self.queued_since_ms,
            assigned_at_ms: self.assigned_at_ms,
            ended_at_ms: self.ended_at_ms,
            pre_chat,
            outcome: self.outcome,
            assessment,
            handoff,
            left_quickly: self.left_quickly_at_ms.is_some(),
            erased: self.erased_at_ms.is_some(),
            relayed_to: self
                .relays
                .iter()
                .fold(Default::default(), |acc, r| acc.union(r.relayed_to())),
        })
    }

    /// This supervisor's supervision of the conversation, if any.
    pub fn supervision_entry(&self, supervisor: AccountId) -> Option<Supervision> {
        self.supervisors
            .iter()
            .find(|s| s.supervisor == supervisor)
            .copied()
    }

    /// The supervisor's mode on this conversation, if any.
    pub fn supervision_of(&self, supervisor: AccountId) -> Option<SupervisionMode> {
        self.supervisors
            .iter()
            .find(|s| s.supervisor == supervisor)
            .map(|s| s.mode)
    }

    /// May `account` write to the visitor (owner, or a joined supervisor)?
    pub fn writable_by(&self, account: AccountId) -> bool {
        match self.state {
            ConversationState::Active { counsellor } => {
                counsellor == account || self.supervision_of(account) == Some(SupervisionMode::Join)
            }
            _ => false,
        }
    }

    pub fn queue_entry(&self) -> QueueEntry {
        QueueEntry {
            conversation: self.id,
            priority: self.priority,
            requeued: self.requeued,
            since_ms: self.queued_since_ms,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub seq: u64,
    pub from: Party,
    /// The counsellor's account and display name at the time of writing.
    pub author: Option<AccountId>,
    pub author_name: Option<String>,
    pub client_id: ClientMsgId,
    pub text: String,
    pub at_ms: u64,
}

#[derive(Clone, Debug)]
pub struct NewMessage {
    pub from: Party,
    pub author: Option<AccountId>,
    pub author_name: Option<String>,
    pub client_id: ClientMsgId,
    pub text: String,
    pub now_ms: u64,
    /// Refuse (`NotYours`) unless the conversation is active and this
    /// account may write to it (its counsellor, or a supervisor who joined:
    /// [`ConversationRecord::writable_by`]), checked in the same atomic step
    /// as the append: a counsellor whose conversation was just requeued or
    /// transferred cannot slip a message in.
    pub require_counsellor: Option<AccountId>,
}

impl NewMessage {
    /// A conversation's first message (or a letter's text): message 1,
    /// from the visitor, under the first message's client id.
    pub fn first(text: String, now_ms: u64) -> NewMessage {
        NewMessage {
            from: Party::Visitor,
            author: None,
            author_name: None,
            client_id: ClientMsgId::first_message(),
            text,
            now_ms,
            require_counsellor: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Stored with a new sequence number.
    New(Arc<StoredMessage>),
    /// The same sender already sent this client id: nothing stored, here is
    /// the sequence number it got the first time.
    Duplicate(u64),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub author: AccountId,
    pub text: String,
    pub at_ms: u64,
}

/// What `sweep` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Swept {
    /// A queued visitor away past the grace period: ended by the system.
    Abandoned { conversation: ConversationId },
    /// A counsellor away past the grace period: their conversation went back
    /// to the front of the queue.
    Requeued {
        conversation: ConversationId,
        counsellor: AccountId,
    },
}

/// Result of `end`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    pub record: ConversationRecord,
    /// The state just before: tells whether a counsellor's place was freed.
    pub was: ConversationState,
}

/// What the counsellor records when a conversation ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closing {
    pub outcome: Outcome,
    pub assessment: Assessment,
}

impl From<Outcome> for Closing {
    fn from(outcome: Outcome) -> Self {
        Closing {
            outcome,
            assessment: Assessment::default(),
        }
    }
}
