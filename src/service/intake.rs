//! The staff side of the handoff: admins' slots and audit log, and what
//! intake may see and do with a booking (only what the consent covers,
//! every look written to the audit log).

use super::{refuse, Refusal, Service};
use crate::core::handoff::{
    AuditAction, AuditEntry, AuditFilter, Booking, BookingRef, CancelReason, HandoffError,
    HandoffRecord, SlotId, SlotInput,
};
use crate::model::{Account, SlotRecord, StoredMessage};
use crate::protocol::{ErrorCode, SlotView};
use crate::store::StoreError;

use super::bookings::*;
use super::handoff::*;

/// How far back intake's list of bookings reaches (today's, if earlier).
const INTAKE_LOOKBACK_MS: u64 = 24 * 3_600_000;

impl Service {
    // ------------------------------------------------------------ slots

    /// Slots a visitor can book now: in the future, not cancelled, with a
    /// free place.
    pub async fn bookable_slots(&self) -> Result<Vec<SlotView>, Refusal> {
        let now = self.now_ms();
        Ok(self
            .store
            .slots(now + 1)
            .await?
            .iter()
            .filter(|r| r.slot.bookable(r.booked, now).is_ok())
            .map(SlotView::from)
            .collect())
    }

    /// Every slot from `from_ms` on, for admins and intake.
    pub async fn all_slots(&self, from_ms: u64) -> Result<Vec<SlotView>, Refusal> {
        Ok(self
            .store
            .slots(from_ms)
            .await?
            .iter()
            .map(SlotView::from)
            .collect())
    }

    pub async fn create_slot(&self, by: &Account, input: SlotInput) -> Result<SlotView, Refusal> {
        let now = self.now_ms();
        let slot = input.validate(SlotId(uuid::Uuid::new_v4()), by.id, now, &self.schedule)?;
        self.store.create_slot(slot.clone()).await?;
        self.audit(by, AuditAction::CreateSlot, Vec::new(), Some(slot.id))
            .await?;
        tracing::info!(by = %by.id, slot = %slot.id, "slot created");
        Ok(SlotView::from(&SlotRecord { slot, booked: 0 }))
    }

    pub async fn cancel_slot(&self, by: &Account, id: SlotId) -> Result<SlotView, Refusal> {
        let rec = self
            .store
            .cancel_slot(id, self.now_ms())
            .await
            .map_err(|e| match e {
                StoreError::NotFound => refuse(ErrorCode::NotFound, "no such slot"),
                e => e.into(),
            })?;
        self.audit(by, AuditAction::CancelSlot, Vec::new(), Some(id))
            .await?;
        Ok(SlotView::from(&rec))
    }

    // ------------------------------------------------------------ intake

    async fn audit(
        &self,
        by: &Account,
        action: AuditAction,
        references: Vec<BookingRef>,
        slot: Option<SlotId>,
    ) -> Result<(), Refusal> {
        self.store
            .append_audit(AuditEntry {
                at_ms: self.now_ms(),
                account: by.id,
                action,
                references,
                slot,
                target: None,
                detail: None,
                conversation: None,
                duration_ms: None,
            })
            .await?;
        Ok(())
    }

    /// A booking in force whose handoff intake may see, by reference.
    async fn intake_booking(&self, reference: &str) -> Result<(Booking, HandoffRecord), Refusal> {
        let missing = || refuse(ErrorCode::NotFound, "no such booking");
        let reference = BookingRef::parse(reference).map_err(|_| missing())?;
        let booking = self
            .store
            .booking(&reference)
            .await?
            .filter(Booking::active)
            .ok_or_else(missing)?;
        let rec = self
            .store
            .handoff(booking.conversation)
            .await?
            .filter(|h| h.visible_to_intake() && h.booking.as_ref() == Some(&reference))
            .ok_or_else(missing)?;
        Ok((booking, rec))
    }

    /// Upcoming bookings in force, with exactly what their consent covers.
    /// The view is recorded in the audit log (which references were shown).
    pub async fn intake_bookings(&self, by: &Account) -> Result<Vec<IntakeBookingView>, Refusal> {
        let from = self.now_ms().saturating_sub(INTAKE_LOOKBACK_MS);
        let mut out = Vec::new();
        for slot in self.store.slots(from).await? {
            if slot.booked == 0 {
                continue;
            }
            for b in self.store.slot_bookings(slot.slot.id).await? {
                if !b.active() {
                    continue;
                }
                let Some(rec) = self.store.handoff(b.conversation).await? else {
                    continue;
                };
                let Some(consent) = rec.consent() else {
                    continue;
                };
                if rec.booking.as_ref() != Some(&b.reference) {
                    continue;
                }
                out.push(IntakeBookingView {
                    reference: b.reference.as_str().to_owned(),
                    slot: SlotView::from(&slot),
                    name: b.name.clone(),
                    contact: (consent.scope.contact && b.contact.is_personal())
                        .then(|| b.contact.clone()),
                    summary: consent.summary.clone(),
                    transcript: consent.scope.transcript,
                    consented_at: consent.at_ms,
                    wording_version: consent.wording_version.clone(),
                    booked_at: b.created_at_ms,
                    attended: b.attended,
                    contact_choice: b.choice(),
                    rescheduled_at: b.rescheduled_at_ms,
                });
            }
        }
        let shown = out
            .iter()
            .filter_map(|v| BookingRef::parse(&v.reference).ok())
            .collect();
        self.audit(by, AuditAction::ListBookings, shown, None)
            .await?;
        Ok(out)
    }

    /// The transcript of a booking whose consent includes it; otherwise
    /// `outside_consent`. Recorded in the audit log.
    pub async fn intake_transcript(
        &self,
        by: &Account,
        reference: &str,
    ) -> Result<Vec<std::sync::Arc<StoredMessage>>, Refusal> {
        let (booking, rec) = self.intake_booking(reference).await?;
        let consent = rec.consent().ok_or(HandoffError::NoConsent)?;
        if !consent.scope.transcript {
            // "Each call is written to the audit log", refusals included.
            self.audit(
                by,
                AuditAction::TranscriptRefused,
                vec![booking.reference.clone()],
                Some(booking.slot),
            )
            .await?;
            return Err(refuse(
                ErrorCode::OutsideConsent,
                "the visitor did not agree to pass on the transcript",
            ));
        }
        let mut messages = Vec::new();
        loop {
            let after = messages
                .last()
                .map_or(0, |m: &std::sync::Arc<StoredMessage>| m.seq);
            let page = self
                .store
                .messages_after(booking.conversation, after, 500)
                .await?;
            if page.is_empty() {
                break;
            }
            messages.extend(page);
        }
        self.audit(
            by,
            AuditAction::ViewTranscript,
            vec![booking.reference.clone()],
            Some(booking.slot),
        )
        .await?;
        Ok(messages)
    }

    pub async fn intake_cancel(&self, by: &Account, reference: &str) -> Result<(), Refusal> {
        let (booking, _) = self.intake_booking(reference).await?;
        self.cancel_booking(&booking, CancelReason::Staff).await?;
        self.audit(
            by,
            AuditAction::CancelBooking,
            vec![booking.reference.clone()],
            Some(booking.slot),
        )
        .await
    }

    /// Intake sets a new PIN for a booking in force (the visitor lost it,
    /// or it is locked): the old PIN stops working, a lockout ends.
    /// Recorded in the audit log.
    pub async fn intake_new_pin(&self, by: &Account, reference: &str) -> Result<NewPin, Refusal> {
        let (booking, _) = self.intake_booking(reference).await?;
        let new = self
            .replace_pin(booking.conversation, Some(&booking.reference))
            .await?;
        self.metrics.handoff("pin_replaced");
        tracing::info!(conversation = %booking.conversation, by = %by.id, "booking PIN replaced");
        self.audit(
            by,
            AuditAction::ResetPin,
            vec![booking.reference.clone()],
            Some(booking.slot),
        )
        .await?;
        Ok(new)
    }

    pub async fn intake_attended(
        &self,
        by: &Account,
        reference: &str,
        attended: bool,
    ) -> Result<(), Refusal> {
        let (booking, _) = self.intake_booking(reference).await?;
        self.store
            .set_attended(&booking.reference, attended)
            .await?;
        if attended {
            self.metrics.handoff("attended");
        }
        self.audit(
            by,
            AuditAction::MarkAttended,
            vec![booking.reference.clone()],
            Some(booking.slot),
        )
        .await
    }

    /// The audit entries matching `filter`, newest first, with the staff
    /// member's name.
    pub async fn audit_log(&self, filter: AuditFilter) -> Result<Vec<AuditView>, Refusal> {
        let names = self.names().await?;
        Ok(self
            .store
            .audit_log(&filter)
            .await?
            .into_iter()
            .map(|e| AuditView {
                at: e.at_ms,
                account: e.account,
                display_name: names
                    .get(&e.account)
                    .map(|a| a.display_name.clone())
                    .unwrap_or_default(),
                action: e.action,
                references: e.references.iter().map(|r| r.as_str().to_owned()).collect(),
                slot_id: e.slot,
                target: e.target,
                target_name: e
                    .target
                    .and_then(|t| names.get(&t).map(|a| a.display_name.clone())),
                detail: e.detail,
                conversation_id: e.conversation,
                duration_ms: e.duration_ms,
            })
            .collect())
    }
}
