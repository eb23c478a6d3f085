//! The conversation state machine.
//!
//! ```text
//!            assign              end
//!   Queued ──────────▶ Active ──────────▶ Ended
//!     ▲  │              │  ▲
//!     │  │              └──┘ transfer (to another counsellor)
//!     │  └──── end ───────┼──────────────▶ Ended
//!     └──── requeue ──────┘
//! ```
//! `requeue` happens when a counsellor stays away past the grace period, or
//! hands the conversation back to the queue. `transfer` hands an active
//! conversation to a colleague (or a supervisor takes it over). Ended is
//! final. Every store
//! backend applies these same rules, so a rule changes here or nowhere.

use serde::{Deserialize, Serialize};

use super::ids::AccountId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConversationState {
    /// Waiting in the queue.
    Queued,
    /// Assigned to a counsellor; the two can chat.
    Active { counsellor: AccountId },
    /// Over. Nothing more can be written.
    Ended,
}

impl ConversationState {
    pub fn name(&self) -> &'static str {
        match self {
            ConversationState::Queued => "queued",
            ConversationState::Active { .. } => "active",
            ConversationState::Ended => "ended",
        }
    }

    pub fn counsellor(&self) -> Option<AccountId> {
        match self {
            ConversationState::Active { counsellor } => Some(*counsellor),
            _ => None,
        }
    }
}

/// What can happen to a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Assign(AccountId),
    /// From the current counsellor to another one, staying active.
    Transfer(AccountId),
    Requeue,
    End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the conversation is not waiting in the queue")]
    NotQueued,
    #[error("the conversation is not active")]
    NotActive,
    #[error("the conversation has ended")]
    AlreadyEnded,
}

/// The one definition of which transitions are allowed.
pub fn apply(
    state: ConversationState,
    t: Transition,
) -> Result<ConversationState, TransitionError> {
    use ConversationState::*;
    match (state, t) {
        (Ended, _) => Err(TransitionError::AlreadyEnded),
        (Queued, Transition::Assign(c)) => Ok(Active { counsellor: c }),
        (Active { .. }, Transition::Assign(_)) => Err(TransitionError::NotQueued),
        (Active { .. }, Transition::Transfer(c)) => Ok(Active { counsellor: c }),
        (Queued, Transition::Transfer(_)) => Err(TransitionError::NotActive),
        (Active { .. }, Transition::Requeue) => Ok(Queued),
        (Queued, Transition::Requeue) => Err(TransitionError::NotActive),
        (_, Transition::End) => Ok(Ended),
    }
}

/// Who ended a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    Visitor,
    Counsellor,
    /// The service: the visitor left the queue by going away past the grace
    /// period.
    System,
}

/// What the counsellor records when a conversation ends. Listening only and
/// information only are legitimate outcomes (see `shared/DOMAIN.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Listened,
    InformationGiven,
    /// Referred by name to another agency (including an out-of-area centre).
    Referred,
    OutOfArea,
    /// The visitor agreed to a first consultation (the handoff issue books it).
    HandoffAgreed,
    VisitorLeft,
    NoResponse,
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn c() -> AccountId {
        AccountId(Uuid::from_u128(7))
    }

    #[test]
    fn a_queued_conversation_is_assigned_once() {
        let active = apply(ConversationState::Queued, Transition::Assign(c())).unwrap();
        assert_eq!(active, ConversationState::Active { counsellor: c() });
        assert_eq!(
            apply(active, Transition::Assign(c())),
            Err(TransitionError::NotQueued)
        );
    }

    #[test]
    fn ended_is_final() {
        for t in [
            Transition::Assign(c()),
            Transition::Transfer(c()),
            Transition::Requeue,
            Transition::End,
        ] {
            assert_eq!(
                apply(ConversationState::Ended, t),
                Err(TransitionError::AlreadyEnded)
            );
        }
    }

    #[test]
    fn requeue_only_from_active() {
        assert_eq!(
            apply(ConversationState::Queued, Transition::Requeue),
            Err(TransitionError::NotActive)
        );
        assert_eq!(
            apply(
                ConversationState::Active { counsellor: c() },
                Transition::Requeue
            ),
            Ok(ConversationState::Queued)
        );
    }

    #[test]
    fn transfer_only_between_counsellors_of_an_active_conversation() {
        let other = AccountId(Uuid::from_u128(8));
        assert_eq!(
            apply(
                ConversationState::Active { counsellor: c() },
                Transition::Transfer(other)
            ),
            Ok(ConversationState::Active { counsellor: other })
        );
        assert_eq!(
            apply(ConversationState::Queued, Transition::Transfer(other)),
            Err(TransitionError::NotActive)
        );
        assert_eq!(
            apply(ConversationState::Ended, Transition::Transfer(other)),
            Err(TransitionError::AlreadyEnded)
        );
    }

    #[test]
    fn both_queued_and_active_can_end() {
        assert_eq!(
            apply(ConversationState::Queued, Transition::End),
            Ok(ConversationState::Ended)
        );
        assert_eq!(
            apply(
                ConversationState::Active { counsellor: c() },
                Transition::End
            ),
            Ok(ConversationState::Ended)
        );
    }
}
