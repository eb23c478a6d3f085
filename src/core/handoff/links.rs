//! One-time links that carry a LINE visitor to the handoff page.

use serde::{Deserialize, Serialize};

use super::*;
use crate::core::ids::ConversationId;

// ------------------------------------------------------ one-time links

/// How long a handoff link works after it was sent, unless configured
/// (`handoff.link_valid_secs`).
pub const LINK_VALID_SECS: u64 = 7 * 86_400;

/// A one-time link to a conversation's handoff page, for a visitor whose
/// channel cannot show the consent and booking screens (LINE). The link
/// carries only a random token; the store keeps its SHA-256 and the one
/// conversation it opens, so a link can never name another conversation.
///
/// At most one link per conversation is in force: a revised offer gets a
/// fresh link and the earlier one stops working. "Spent" is not a flag
/// written after the fact but read from the handoff record itself, so it
/// is exactly as atomic as the booking: see [`HandoffLink::check`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffLink {
    pub conversation: ConversationId,
    /// SHA-256 of the token (`auth::hash_token`); the token itself is only
    /// ever in the message sent to the visitor.
    pub token_hash: [u8; 32],
    /// The offer version the link was sent for.
    pub offer_version: u32,
    /// The handoff's `bookings_made` when the link was made: a booking
    /// made after it spends the link.
    pub bookings_at_issue: u32,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
    /// The message carrying it was accepted by the channel. A link never
    /// confirmed sent is replaced by a fresh one (its token is gone).
    #[serde(default)]
    pub sent: bool,
}

/// Why a link that exists authorises nothing any more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("this link has been used: a booking was made with it, or the offer was declined or withdrawn")]
    Spent,
    #[error("this link has expired")]
    Expired,
}

impl HandoffLink {
    /// May this link act on its conversation's handoff `rec` at `now_ms`?
    /// Spent once a booking was made after it was issued (cancelling that
    /// booking later does not revive it), or once the visitor declined or
    /// withdrew (a new offer comes with a new link); otherwise expired
    /// at `expires_at_ms`.
    pub fn check(&self, rec: Option<&HandoffRecord>, now_ms: u64) -> Result<(), LinkError> {
        let Some(rec) = rec else {
            return Err(LinkError::Spent);
        };
        if rec.bookings_made > self.bookings_at_issue
            || matches!(rec.state, HandoffState::Declined | HandoffState::Withdrawn)
        {
            return Err(LinkError::Spent);
        }
        if now_ms >= self.expires_at_ms {
            return Err(LinkError::Expired);
        }
        Ok(())
    }

    /// Does this link need (re)sending for `rec`: a link for an older
    /// offer, or one never confirmed sent, while the offer awaits an answer?
    pub fn stale_for(link: Option<&HandoffLink>, rec: &HandoffRecord) -> bool {
        rec.state == HandoffState::Offered
            && link.is_none_or(|l| l.offer_version != rec.offer.version || !l.sent)
    }
}
