//! Use cases of the consented handoff: a counsellor offers, the visitor
//! answers and books, intake reads what was consented, admins manage slots.
//!
//! Every change of a conversation's handoff is "read the record, let the
//! pure core (`core::handoff`) compute the next one, write it over the
//! revision it was computed from" (`Store::write_handoff`, one atomic
//! step). A concurrent change makes the write fail with `Conflict` and the
//! step is computed again from fresh data; the slot's capacity is checked
//! by the store in the same step as the booking, so no slot is overbooked
//! whatever the timing.

use rand::RngCore;

use super::{refuse, resume_failed, Refusal, Service};
use crate::auth;
use crate::core::handoff::{
    self, Answer, AuditAction, Booking, BookingRef, CancelReason, Contact, ContactChoice,
    HandoffError, HandoffLink, HandoffRecord, LinkError, SlotId, Terms, NAME_MAX_CHARS,
    SUMMARY_MAX_CHARS,
};
use crate::core::ids::{AccountId, ConversationId, MessageText};
use crate::model::{BookingOp, Channel, Event, HandoffWrite, SlotRecord};
use crate::protocol::{BookedView, ConsentView, ErrorCode, HandoffView, SlotView, TermsView};
use crate::store::StoreError;

/// Attempts at a compare-and-set before giving up with `conflict`. Two
/// writers (the visitor and the counsellor) are the most a record sees.
const CAS_ATTEMPTS: usize = 5;

impl From<HandoffError> for Refusal {
    fn from(e: HandoffError) -> Self {
        let code = match &e {
            HandoffError::NoOffer => ErrorCode::NoOffer,
            HandoffError::OfferChanged => ErrorCode::OfferChanged,
            HandoffError::AlreadyAnswered => ErrorCode::AlreadyAnswered,
            HandoffError::AlreadyConsented => ErrorCode::AlreadyConsented,
            HandoffError::NoConsent => ErrorCode::NoConsent,
            HandoffError::OutsideConsent | HandoffError::TranscriptNotOffered => {
                ErrorCode::OutsideConsent
            }
            HandoffError::AlreadyBooked => ErrorCode::AlreadyBooked,
            HandoffError::NoBooking => ErrorCode::BookingNotFound,
            HandoffError::SlotFull => ErrorCode::SlotFull,
            HandoffError::SlotUnavailable => ErrorCode::SlotUnavailable,
            HandoffError::SameSlot => ErrorCode::SameSlot,
            HandoffError::BookingPast => ErrorCode::BookingPast,
            HandoffError::InvalidContact(_) => ErrorCode::InvalidContact,
            HandoffError::Invalid(_) | HandoffError::SlotOutsideHours(_) => ErrorCode::BadRequest,
        };
        refuse(code, e.to_string())
    }
}

impl From<LinkError> for Refusal {
    fn from(e: LinkError) -> Self {
        let code = match e {
            LinkError::Spent => ErrorCode::LinkSpent,
            LinkError::Expired => ErrorCode::LinkExpired,
        };
        refuse(code, e.to_string())
    }
}

/// Who the visitor is, on the handoff's HTTP edges: one of two proofs,
/// resolved to a conversation by [`Service::visitor_conversation`] and
/// then the same use cases. No `Debug`: both hold a secret.
#[derive(Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum VisitorAuth {
    /// The web visitor page: the conversation and its resume token.
    Resume {
        conversation_id: ConversationId,
        token: String,
    },
    /// The one-time link sent to a LINE visitor: the token only. It names
    /// no conversation; the store says which one it opens.
    Link { link: String },
}

/// A freshly made handoff link: the address to send (with the token in
/// its fragment) and what the store keeps.
pub struct NewLink {
    pub url: String,
    pub link: HandoffLink,
}

/// The language the visitor read the offer in; it decides which wording is
/// recorded with the consent.
pub use crate::core::ids::Lang;

/// What a visitor gets once, when a booking is made: the PIN is never
/// shown again (the store keeps only its hash).
pub struct Receipt {
    pub booking: BookedView,
    pub pin: String,
    pub calendar: String,
}

/// A booking as intake sees it: only what the consent covers.
#[derive(Clone, Debug, serde::Serialize)]
pub struct IntakeBookingView {
    pub reference: String,
    pub slot: SlotView,
    /// What they want to be called (if they said).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// How to reach them; absent when they will call the centre themselves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// The consented summary, word for word.
    pub summary: String,
    /// The consent includes the transcript.
    pub transcript: bool,
    pub consented_at: u64,
    pub wording_version: String,
    pub booked_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attended: Option<bool>,
    /// How they would like to hear from the centre (not personal data:
    /// shown whatever the consent's scope).
    pub contact_choice: ContactChoice,
    /// When the booking was last moved to another slot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rescheduled_at: Option<u64>,
}

/// One audit line as admins read it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AuditView {
    pub at: u64,
    pub account: AccountId,
    pub display_name: String,
    pub action: AuditAction,
    pub references: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot_id: Option<SlotId>,
    /// Staff accounts: the account changed, and its display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<AccountId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    // ---- supervisor access (issue 20)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

pub(super) fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

impl Service {
    fn terms(&self, lang: Lang) -> Terms {
        let h = &self.settings.handoff;
        let (recipient, purpose) = match lang {
            Lang::Ja => (&h.recipient_ja, &h.purpose_ja),
            Lang::En => (&h.recipient_en, &h.purpose_en),
        };
        Terms {
            recipient: recipient.clone(),
            purpose: purpose.clone(),
            retention_days: self.settings.retention.booking_days,
            wording_version: format!("{}/{}", h.wording_version, lang.tag()),
        }
    }

    /// The view of a handoff; the booking's reference only `for_visitor`.
    pub async fn handoff_view(
        &self,
        rec: &HandoffRecord,
        for_visitor: bool,
    ) -> Result<HandoffView, Refusal> {
        let h = &self.settings.handoff;
        let booking = match &rec.booking {
            Some(reference) => match self.store.booking(reference).await? {
                Some(b) => self.store.slot(b.slot).await?.map(|slot| BookedView {
                    reference: for_visitor.then(|| reference.as_str().to_owned()),
                    slot: SlotView::from(&slot),
                }),
                None => None,
            },
            None => None,
        };
        Ok(HandoffView {
            state: rec.state.name(),
            version: rec.offer.version,
            summary: rec.offer.summary.clone(),
            include_transcript: rec.offer.include_transcript,
            offered_at: rec.offer.at_ms,
            terms: TermsView {
                recipient_ja: h.recipient_ja.clone(),
                recipient_en: h.recipient_en.clone(),
                purpose_ja: h.purpose_ja.clone(),
                purpose_en: h.purpose_en.clone(),
                retention_days: self.settings.retention.booking_days,
                wording_version: h.wording_version.clone(),
                first_consultation_ja: h.first_consultation_ja.clone(),
                first_consultation_en: h.first_consultation_en.clone(),
                bring_ja: h.bring_ja.clone(),
                bring_en: h.bring_en.clone(),
                appointment_title_ja: h.appointment_title_ja.clone(),
                appointment_title_en: h.appointment_title_en.clone(),
                centre_contact_ja: h.centre_contact_ja.clone(),
                centre_contact_en: h.centre_contact_en.clone(),
            },
            consent: rec.consents.last().map(|c| ConsentView {
                transcript: c.scope.transcript,
                contact: c.scope.contact,
                at: c.at_ms,
                wording_version: c.wording_version.clone(),
                withdrawn_at: c.withdrawn_at_ms,
            }),
            booking,
        })
    }

    /// The conversation's handoff as a view, if there is one.
    pub async fn handoff_of(
        &self,
        id: ConversationId,
        for_visitor: bool,
    ) -> Result<Option<HandoffView>, Refusal> {
        match self.store.handoff(id).await? {
            Some(rec) => Ok(Some(self.handoff_view(&rec, for_visitor).await?)),
            None => Ok(None),
        }
    }

    /// Write one step computed by `step` from the current record, retrying
    /// on a concurrent change; then tell both sides.
    pub(super) async fn change_handoff(
        &self,
        id: ConversationId,
        mut step: impl FnMut(Option<&HandoffRecord>) -> Result<(HandoffRecord, BookingOp), Refusal>,
    ) -> Result<HandoffRecord, Refusal> {
        for _ in 0..CAS_ATTEMPTS {
            let current = self.store.handoff(id).await?;
            let (record, booking) = step(current.as_ref())?;
            let write = HandoffWrite {
                expected_rev: current.map_or(0, |c| c.rev),
                record: record.clone(),
                booking,
            };
            match self.store.write_handoff(write).await {
                Ok(()) => {
                    self.publish(Event::Handoff { conversation: id }).await;
                    return Ok(record);
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// A counsellor (the one holding the conversation, while it is active)
    /// offers the handoff, or revises an offer not yet consented to.
    pub async fn offer_handoff(
        &self,
        id: ConversationId,
        counsellor: AccountId,
        summary: String,
        include_transcript: bool,
    ) -> Result<(), Refusal> {
        let summary = MessageText::parse(summary, SUMMARY_MAX_CHARS)?;
        let conv = self.authorise_active(id, counsellor).await?;
        if conv.channel == Channel::Line && self.settings.public_base().is_none() {
            // The LINE visitor would get no working link: offer nothing.
            tracing::warn!(conversation = %id, "handoff not offered: a LINE visitor needs public_url set for the handoff link");
            return Err(refuse(
                ErrorCode::HandoffLinkUnavailable,
                "this visitor is on LINE and the server has no public_url, so no link to the handoff page can be sent; ask the administrator to set public_url",
            ));
        }
        let now = self.now_ms();
        self.change_handoff(id, |cur| {
            let next = handoff::offer(
                cur,
                id,
                summary.as_str(),
                include_transcript,
                counsellor,
                now,
            )?;
            Ok((next, BookingOp::Keep))
        })
        .await?;
        self.metrics.handoff("offered");
        tracing::info!(conversation = %id, by = %counsellor, "handoff offered");
        Ok(())
    }

    /// The conversation a visitor's proof opens. A resume token is checked
    /// like `resume`. A link is looked up by its hash: unknown (never
    /// made, replaced by a newer one, purged) answers exactly like a wrong
    /// token; a known one must not be spent or expired
    /// ([`HandoffLink::check`]) and opens only its own conversation.
    pub async fn visitor_conversation(&self, who: &VisitorAuth) -> Result<ConversationId, Refusal> {
        match who {
            VisitorAuth::Resume {
                conversation_id,
                token,
            } => Ok(self.resume(*conversation_id, token).await?.id),
            VisitorAuth::Link { link } => {
                let link = self
                    .store
                    .handoff_link(&crate::model::hash_token(link))
                    .await?
                    .ok_or_else(resume_failed)?;
                let rec = self.store.handoff(link.conversation).await?;
                link.check(rec.as_ref(), self.now_ms())?;
                Ok(link.conversation)
            }
        }
    }

    /// Make and store a fresh link to the handoff page for `rec`'s offer,
    /// replacing the conversation's earlier one. `None` without
    /// `public_url` (the offer was refused for LINE conversations then).
    pub async fn issue_handoff_link(
        &self,
        rec: &HandoffRecord,
    ) -> Result<Option<NewLink>, Refusal> {
        let Some(base) = self.settings.public_base() else {
            return Ok(None);
        };
        let (token, token_hash) = auth::new_token();
        let now = self.now_ms();
        let link = HandoffLink {
            conversation: rec.conversation,
            token_hash,
            offer_version: rec.offer.version,
            bookings_at_issue: rec.bookings_made,
            created_at_ms: now,
            expires_at_ms: now
                .saturating_add(self.settings.handoff.link_valid_secs.saturating_mul(1000)),
            sent: false,
        };
        self.store.put_handoff_link(link.clone()).await?;
        // The token in the fragment: browsers never send it to a server,
        // so no access log, proxy or Referer keeps it.
        Ok(Some(NewLink {
            url: format!("{base}/handoff/#{token}"),
            link,
        }))
    }

    /// The visitor's own handoff.
    pub async fn visitor_handoff(&self, who: &VisitorAuth) -> Result<Option<HandoffView>, Refusal> {
        let id = self.visitor_conversation(who).await?;
        self.handoff_of(id, true).await
    }

    /// The visitor answers: consent (with its scope), decline, or ask for a
    /// change. `wording_version` is what their screen showed.
    pub async fn answer_handoff(
        &self,
        who: &VisitorAuth,
        version: u32,
        wording_version: &str,
        lang: Lang,
        answer: Answer,
    ) -> Result<HandoffView, Refusal> {
        let id = self.visitor_conversation(who).await?;
        let terms = self.terms(lang);
        // The screen shows the deployment's version; the record keeps it
        // with the language it was read in.
        let shown = format!("{wording_version}/{}", lang.tag());
        let now = self.now_ms();
        let rec = self
            .change_handoff(id, |cur| {
                let cur = cur.ok_or(HandoffError::NoOffer)?;
                let next = handoff::answer(cur, version, &shown, answer, &terms, now)?;
                Ok((next, BookingOp::Keep))
            })
            .await?;
        let outcome = match answer {
            Answer::Consent { .. } => "consented",
            Answer::Decline => "declined",
            Answer::RequestChange => "change_requested",
        };
        self.metrics.handoff(outcome);
        tracing::info!(conversation = %id, outcome, "handoff answered");
        self.handoff_view(&rec, true).await
    }

    /// Book a slot under the consent in force. The slot's capacity is
    /// checked by the store in the same step as the write.
    pub async fn book(
        &self,
        who: &VisitorAuth,
        slot_id: SlotId,
        name: Option<String>,
        contact: Contact,
        choice: Option<ContactChoice>,
        lang: Lang,
    ) -> Result<Receipt, Refusal> {
        let id = self.visitor_conversation(who).await?;
        let choice = match choice {
            Some(c) => {
                c.check(&contact)?;
                c
            }
            None => ContactChoice::implied_by(&contact),
        };
        let name = match name.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(n) => Some(handoff::form_text(n, "name", NAME_MAX_CHARS)?),
        };
        let slot = self
            .store
            .slot(slot_id)
            .await?
            .ok_or(HandoffError::SlotUnavailable)?;
        // The capacity is checked again by the store in the same step as
        // the write; the slot read here only gives the early, clear answer.
        let mut made = None;
        self.change_handoff(id, |cur| {
            let cur = cur.ok_or(HandoffError::NoConsent)?;
            let now = self.now_ms();
            // Fresh on every attempt: a `Conflict` may also mean that this
            // reference (40 random bits) was taken.
            let reference = BookingRef::from_random(random());
            let pin = handoff::pin_from_random(random());
            let next = handoff::book(
                cur,
                &slot.slot,
                slot.booked,
                &contact,
                reference.clone(),
                now,
            )?;
            let booking = Booking {
                reference: reference.clone(),
                pin_hash: self.pin_hash(&reference, &pin),
                slot: slot_id,
                conversation: id,
                name: name.clone(),
                contact: contact.clone(),
                created_at_ms: now,
                cancelled_at_ms: None,
                cancel_reason: None,
                attended: None,
                contact_choice: Some(choice),
                rescheduled_at_ms: None,
            };
            made = Some((reference, pin));
            Ok((next, BookingOp::Create(booking)))
        })
        .await?;
        let (reference, pin) =
            made.ok_or_else(|| refuse(ErrorCode::Internal, "no booking made"))?;
        self.metrics.handoff("booked");
        tracing::info!(conversation = %id, slot = %slot_id, "booked");
        let mut held = slot;
        held.booked += 1;
        let calendar = self.calendar(&reference, &held, lang);
        Ok(Receipt {
            booking: BookedView {
                reference: Some(reference.as_str().to_owned()),
                slot: SlotView::from(&held),
            },
            pin,
            calendar,
        })
    }

    /// The calendar file: the deployment's neutral title in the visitor's
    /// language, and a name only if one is configured (a family-shared
    /// calendar must not say whom the appointment is with).
    pub(super) fn calendar(&self, reference: &BookingRef, slot: &SlotRecord, lang: Lang) -> String {
        let h = &self.settings.handoff;
        let title = match lang {
            Lang::Ja => &h.appointment_title_ja,
            Lang::En => &h.appointment_title_en,
        };
        handoff::ics(
            reference,
            &slot.slot,
            title,
            &h.calendar_organiser,
            self.now_ms(),
        )
    }

    /// The visitor withdraws their consent: intake sees nothing from now
    /// on, and the booking (if any) is cancelled in the same step.
    pub async fn withdraw_consent(&self, who: &VisitorAuth) -> Result<HandoffView, Refusal> {
        let id = self.visitor_conversation(who).await?;
        self.withdraw(id).await
    }

    /// The same for a visitor who has only their booking's reference and
    /// PIN (the chat tab is long closed), checked by the caller through
    /// `booking_with_pin`.
    pub async fn withdraw_with_booking(&self, booking: &Booking) -> Result<HandoffView, Refusal> {
        self.withdraw(booking.conversation).await
    }

    async fn withdraw(&self, id: ConversationId) -> Result<HandoffView, Refusal> {
        let now = self.now_ms();
        let rec = self
            .change_handoff(id, |cur| {
                let cur = cur.ok_or(HandoffError::NoConsent)?;
                let (next, cancelled) = handoff::withdraw(cur, now)?;
                let op = match cancelled {
                    Some(reference) => BookingOp::Cancel {
                        reference,
                        reason: CancelReason::ConsentWithdrawn,
                        now_ms: now,
                    },
                    None => BookingOp::Keep,
                };
                Ok((next, op))
            })
            .await?;
        self.metrics.handoff("withdrawn");
        tracing::info!(conversation = %id, "consent withdrawn");
        self.handoff_view(&rec, true).await
    }
}
