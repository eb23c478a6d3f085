//! A counsellor's own use cases: presence, status and capacity, picking a
//! waiting visitor (manual matching), notes and ending, and the checks of
//! who holds or may write in a conversation.

use super::{refuse, Refusal, Service};
use crate::core::conversation::{ConversationState, EndedBy, TransitionError};
use crate::core::ids::{AccountId, ConversationId, InvalidInput, Party};
use crate::model::{Availability, MatchingMode};
use crate::model::{Closing, ConversationRecord, CounsellorRecord, Event, Note};
use crate::protocol::ErrorCode;
use crate::store::StoreError;

impl Service {
    pub async fn counsellor_presence(
        &self,
        id: AccountId,
        delta: i32,
    ) -> Result<CounsellorRecord, Refusal> {
        let rec = self
            .store
            .counsellor_connections(
                id,
                delta,
                self.settings.limits.default_capacity,
                self.now_ms(),
            )
            .await?;
        self.publish(Event::CounsellorChanged { counsellor: id })
            .await;
        self.wake_matcher();
        Ok(rec)
    }

    pub async fn set_status(&self, id: AccountId, status: Availability) -> Result<(), Refusal> {
        self.store.set_status(id, status).await?;
        self.publish(Event::CounsellorChanged { counsellor: id })
            .await;
        self.wake_matcher();
        Ok(())
    }

    pub async fn set_capacity(&self, id: AccountId, capacity: u32) -> Result<(), Refusal> {
        let max = self.settings.limits.max_capacity;
        if capacity == 0 || capacity > max {
            return Err(InvalidInput::Capacity { max }.into());
        }
        self.store.set_capacity(id, capacity).await?;
        self.publish(Event::CounsellorChanged { counsellor: id })
            .await;
        self.wake_matcher();
        Ok(())
    }

    pub async fn counsellor_record(&self, id: AccountId) -> Result<CounsellorRecord, Refusal> {
        self.store
            .counsellor(id)
            .await?
            .ok_or_else(|| refuse(ErrorCode::Internal, "counsellor not registered"))
    }

    /// The conversation, if `counsellor` has or last had it.
    pub async fn authorise(
        &self,
        id: ConversationId,
        counsellor: AccountId,
    ) -> Result<ConversationRecord, Refusal> {
        match self.store.conversation(id).await? {
            Some(rec)
                if rec.counsellor == Some(counsellor) && rec.state != ConversationState::Queued =>
            {
                Ok(rec)
            }
            _ => Err(StoreError::NotYours.into()),
        }
    }

    /// The conversation, if it is active with `counsellor` right now.
    pub async fn authorise_active(
        &self,
        id: ConversationId,
        counsellor: AccountId,
    ) -> Result<ConversationRecord, Refusal> {
        let rec = self.authorise(id, counsellor).await?;
        match rec.state {
            ConversationState::Active { counsellor: c } if c == counsellor => Ok(rec),
            ConversationState::Ended => {
                Err(StoreError::Transition(TransitionError::AlreadyEnded).into())
            }
            _ => Err(StoreError::NotYours.into()),
        }
    }

    /// The conversation, if `account` may write to the visitor in it now
    /// (its counsellor, or a supervisor who joined).
    pub async fn authorise_writer(
        &self,
        id: ConversationId,
        account: AccountId,
    ) -> Result<ConversationRecord, Refusal> {
        match self.store.conversation(id).await? {
            Some(rec) if rec.writable_by(account) => Ok(rec),
            Some(rec) if rec.state == ConversationState::Ended => {
                Err(StoreError::Transition(TransitionError::AlreadyEnded).into())
            }
            _ => Err(StoreError::NotYours.into()),
        }
    }

    /// The conversation, if `account` holds it (see `authorise`) or may
    /// write in it (a joined supervisor).
    pub async fn authorise_holder_or_writer(
        &self,
        id: ConversationId,
        account: AccountId,
    ) -> Result<ConversationRecord, Refusal> {
        match self.authorise(id, account).await {
            Ok(rec) => Ok(rec),
            Err(_) => self.authorise_writer(id, account).await,
        }
    }

    /// A counsellor's acknowledgement of the visitor's messages: only from
    /// whoever holds the conversation or may write in it.
    pub async fn counsellor_ack(
        &self,
        id: ConversationId,
        who: AccountId,
        seq: u64,
    ) -> Result<(), Refusal> {
        self.authorise_holder_or_writer(id, who).await?;
        self.ack(id, Party::Counsellor, seq).await
    }

    /// A counsellor's typing signal: only from whoever may write to the
    /// visitor now.
    pub async fn counsellor_typing(
        &self,
        id: ConversationId,
        who: AccountId,
        active: bool,
    ) -> Result<(), Refusal> {
        self.authorise_writer(id, who).await?;
        self.typing(id, Party::Counsellor, active).await;
        Ok(())
    }

    pub async fn pick(&self, id: ConversationId, counsellor: AccountId) -> Result<(), Refusal> {
        if self.settings.matching != MatchingMode::Manual {
            return Err(refuse(
                ErrorCode::PickingDisabled,
                "this deployment assigns visitors automatically",
            ));
        }
        let rec = self.counsellor_record(counsellor).await?;
        if rec.status != Availability::Available {
            return Err(refuse(
                ErrorCode::NotAvailable,
                "set yourself available to take chats",
            ));
        }
        self.assign(id, counsellor).await
    }

    pub(super) async fn assign(
        &self,
        id: ConversationId,
        counsellor: AccountId,
    ) -> Result<(), Refusal> {
        let now = self.now_ms();
        let rec = self.store.assign(id, counsellor, now).await?;
        tracing::info!(conversation = %id, %counsellor, "assigned");
        self.metrics
            .assigned(now.saturating_sub(rec.queued_since_ms) as f64 / 1000.0);
        self.publish(Event::Assigned {
            conversation: id,
            counsellor,
        })
        .await;
        self.publish(Event::CounsellorChanged { counsellor }).await;
        Ok(())
    }

    pub async fn note(
        &self,
        id: ConversationId,
        counsellor: AccountId,
        text: String,
    ) -> Result<(), Refusal> {
        let text = self.text(text)?;
        self.authorise_holder_or_writer(id, counsellor).await?;
        let note = Note {
            author: counsellor,
            text: text.into_string(),
            at_ms: self.now_ms(),
        };
        self.store.add_note(id, note.clone()).await?;
        self.publish(Event::NoteSaved {
            conversation: id,
            counsellor,
            note: Box::new(note),
        })
        .await;
        Ok(())
    }

    /// End an active conversation with an outcome, or record the outcome of
    /// one the visitor (or the system) ended.
    pub async fn counsellor_end(
        &self,
        id: ConversationId,
        counsellor: AccountId,
        closing: Closing,
    ) -> Result<(), Refusal> {
        let rec = self.authorise(id, counsellor).await?;
        if rec.state == ConversationState::Ended {
            if rec.outcome.is_some() {
                return Err(StoreError::Transition(TransitionError::AlreadyEnded).into());
            }
            let rec = self.store.set_outcome(id, counsellor, closing).await?;
            self.publish(Event::Ended {
                conversation: id,
                by: rec.ended_by.unwrap_or(EndedBy::Visitor),
                outcome: rec.outcome,
                counsellor: Some(counsellor),
                erased: rec.erased_at_ms.is_some(),
            })
            .await;
            return Ok(());
        }
        self.authorise_active(id, counsellor).await?;
        let ended = self
            .store
            .end(id, EndedBy::Counsellor, Some(closing), self.now_ms())
            .await?;
        self.after_end(&ended.record, ended.was, EndedBy::Counsellor)
            .await;
        Ok(())
    }
}
