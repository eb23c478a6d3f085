//! Moving a booking to another free slot, in one atomic step: the new
//! place is taken and the old one freed by the store in the same write
//! (`BookingOp::Move`), so there is never a moment without a place and a
//! slot is never overbooked. The visitor proves who they are with the
//! chat's resume token (or LINE link) or with the booking's reference and
//! PIN; the rules are those of a new booking (`core::handoff::reschedule`).

use super::handoff::{Lang, VisitorAuth};
use super::{refuse, Refusal, Service};
use crate::core::handoff::{self, Booking, BookingRef, HandoffError, SlotId};
use crate::core::ids::ConversationId;
use crate::model::{BookingOp, Event, HandoffWrite};
use crate::protocol::{BookedView, ErrorCode, SlotView};
use crate::store::StoreError;

/// Attempts before giving up with `conflict`: only a concurrent change of
/// the same conversation's handoff (the visitor on two tabs, a withdrawal)
/// makes one retry.
const MOVE_ATTEMPTS: usize = 5;

/// What a moved booking answers: the booking where it is now and its new
/// calendar file (the PIN does not change).
pub struct Moved {
    pub booking: BookedView,
    pub calendar: String,
}

impl Service {
    /// The visitor (resume token or handoff link) moves their booking in
    /// force to `to`.
    pub async fn reschedule(
        &self,
        who: &VisitorAuth,
        to: SlotId,
        lang: Lang,
    ) -> Result<Moved, Refusal> {
        let id = self.visitor_conversation(who).await?;
        self.move_booking(id, None, to, lang).await
    }

    /// The same with the booking's reference and PIN (checked by the
    /// caller through `booking_with_pin`).
    pub async fn reschedule_with_booking(
        &self,
        booking: &Booking,
        to: SlotId,
        lang: Lang,
    ) -> Result<Moved, Refusal> {
        if !booking.active() {
            return Err(HandoffError::NoBooking.into());
        }
        self.move_booking(booking.conversation, Some(&booking.reference), to, lang)
            .await
    }

    async fn move_booking(
        &self,
        id: ConversationId,
        expected: Option<&BookingRef>,
        to: SlotId,
        lang: Lang,
    ) -> Result<Moved, Refusal> {
        for _ in 0..MOVE_ATTEMPTS {
            let rec = self
                .store
                .handoff(id)
                .await?
                .ok_or(HandoffError::NoBooking)?;
            let reference = rec.booking.clone().ok_or(HandoffError::NoBooking)?;
            if expected.is_some_and(|e| *e != reference) {
                return Err(HandoffError::NoBooking.into());
            }
            let booking = self
                .store
                .booking(&reference)
                .await?
                .ok_or(HandoffError::NoBooking)?;
            let current = self
                .store
                .slot(booking.slot)
                .await?
                .ok_or(HandoffError::NoBooking)?;
            let target = self
                .store
                .slot(to)
                .await?
                .ok_or(HandoffError::SlotUnavailable)?;
            let now = self.now_ms();
            // The early, clear answer; the store checks the capacity again
            // in the same step as the write.
            let next = handoff::reschedule(
                &rec,
                &booking,
                &current.slot,
                &target.slot,
                target.booked,
                now,
            )?;
            let write = HandoffWrite {
                expected_rev: rec.rev,
                record: next,
                booking: BookingOp::Move {
                    reference: reference.clone(),
                    from: booking.slot,
                    to,
                    now_ms: now,
                },
            };
            match self.store.write_handoff(write).await {
                Ok(()) => {
                    self.publish(Event::Handoff { conversation: id }).await;
                    self.metrics.handoff("rescheduled");
                    tracing::info!(conversation = %id, slot = %to, "booking rescheduled");
                    let mut held = target;
                    held.booked += 1;
                    return Ok(Moved {
                        booking: BookedView {
                            reference: Some(reference.as_str().to_owned()),
                            slot: SlotView::from(&held),
                        },
                        calendar: self.calendar(&reference, &held, lang),
                    });
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(refuse(
            ErrorCode::Conflict,
            "the booking changed while it was being moved; try again",
        ))
    }
}
