//! What one client address (IPv6 by /64) may hold at once in the queue
//! (issue 18): at most `limits.waiting_per_address` conversations
//! waiting, counted for the whole deployment with a guard set in the store
//! (`GuardStore::hold`), so N nodes do not multiply it.
//!
//! The set holds the ids of the conversations started from the address.
//! Nobody has to remember to give a place back when a conversation leaves
//! the queue (matched on any node, ended, timed out): before each hold the
//! members are checked, and those no longer waiting are released.

use std::net::IpAddr;

use super::{refuse, Refusal, Service};
use crate::core::conversation::ConversationState;
use crate::core::ids::ConversationId;
use crate::protocol::ErrorCode;

/// How long an address's set outlives its last hold: longer than anyone
/// waits, so a set is forgotten only once nobody from there is waiting.
const WAITING_SET_TTL_MS: u64 = 24 * 3600 * 1000;

/// A waiting place held for a conversation about to start.
pub(super) struct WaitingPlace {
    key: String,
    member: String,
}

impl Service {
    fn waiting_key(&self, address: IpAddr) -> String {
        self.guard_key("waiting", &[&address.to_string()])
    }

    /// Hold one of the address's waiting places for `id`, or refuse with
    /// `too_many_waiting` (nothing changed).
    pub(super) async fn hold_waiting_place(
        &self,
        address: IpAddr,
        id: ConversationId,
    ) -> Result<WaitingPlace, Refusal> {
        let key = self.waiting_key(address);
        let now = self.now_ms();
        for member in self.store.held(&key, now).await? {
            let waiting = match member.parse::<ConversationId>() {
                Ok(c) => matches!(
                    self.store.conversation(c).await?,
                    Some(r) if r.state == ConversationState::Queued
                ),
                Err(_) => false,
            };
            if !waiting {
                self.store.release(&key, &member).await?;
            }
        }
        let member = id.to_string();
        let cap = self.settings.limits.waiting_per_address;
        if !self
            .store
            .hold(&key, &member, cap, now, WAITING_SET_TTL_MS)
            .await?
        {
            return Err(refuse(
                ErrorCode::TooManyWaiting,
                "there are already chats from here waiting; please use one of them (each waits for the next counsellor)",
            ));
        }
        Ok(WaitingPlace { key, member })
    }

    /// Give a place back (the conversation was not started).
    pub(super) async fn release_waiting_place(&self, place: WaitingPlace) {
        if let Err(e) = self.store.release(&place.key, &place.member).await {
            tracing::warn!(error = %e, "could not release a waiting place");
        }
    }
}
