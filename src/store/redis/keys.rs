//! Every Redis key and channel name, in one place (docs/REDIS.md lists
//! them with their types and lifetimes).
//!
//! Two hash tags decide the slots: keys shared by the whole deployment (the
//! queue, counsellors, accounts, nodes) carry the tag `{<prefix>}`; a
//! conversation's own keys carry the tag `{<conversation id>}`, so its meta,
//! log, seen and notes always live in one slot. The handoff's keys (slots,
//! handoff records, bookings, audit) are all shared ones, so one script can
//! check a slot's capacity and write a booking and a handoff record.

use crate::core::handoff::{BookingRef, SlotId};
use crate::core::ids::{AccountId, CaseId, ConversationId};

#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// `prefix` must satisfy [`crate::config::valid_redis_prefix`].
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A key shared by the deployment: `<p>:{<p>}:<name>`.
    fn global(&self, name: &str) -> String {
        format!("{p}:{{{p}}}:{name}", p = self.prefix)
    }

    fn conv(&self, id: ConversationId, part: &str) -> String {
        format!("{}:conv:{{{id}}}:{part}", self.prefix)
    }

    /// Pattern matching every key of this prefix (for `purge`).
    pub fn all_pattern(&self) -> String {
        format!("{}:*", self.prefix)
    }

    // ---- shared (tag {prefix})
    pub fn queue(&self) -> String {
        self.global("queue")
    }
    pub fn accounts(&self) -> String {
        self.global("accounts")
    }
    pub fn usernames(&self) -> String {
        self.global("usernames")
    }
    pub fn counsellor_ids(&self) -> String {
        self.global("counsellors")
    }
    /// The waiting conversation a `start`'s idempotency key started (by
    /// the key's hash, hex); `-` names no key (never written).
    pub fn start_key(&self, hash_hex: &str) -> String {
        self.global(&format!("startkey:{hash_hex}"))
    }
    pub fn counsellor(&self, id: AccountId) -> String {
        self.global(&format!("counsellor:{id}"))
    }
    /// The key of "no counsellor": named (every key goes in KEYS) but
    /// never written, because the scripts only touch it for a counsellor.
    pub fn no_counsellor(&self) -> String {
        self.global("counsellor:-")
    }
    pub fn held(&self, id: AccountId) -> String {
        self.global(&format!("held:{id}"))
    }
    pub fn no_held(&self) -> String {
        self.global("held:-")
    }
    /// Queued and active conversations (set of ids).
    pub fn live(&self) -> String {
        self.global("live")
    }
    /// The conversations a supervisor observes or joined (set of ids).
    pub fn supervising(&self, supervisor: AccountId) -> String {
        self.global(&format!("supervising:{supervisor}"))
    }
    /// Alerts: id -> alert JSON as raised (never rewritten).
    pub fn alerts(&self) -> String {
        self.global("alerts")
    }
    /// Alert ids scored by the time they were raised (oldest first).
    pub fn alert_order(&self) -> String {
        self.global("alert_order")
    }
    /// Acknowledgements: alert id -> `{"by", "at_ms"}` (the first one).
    pub fn alert_acks(&self) -> String {
        self.global("alert_acks")
    }
    /// Empty-floor episodes: id -> episode JSON (rewritten when cleared or
    /// acknowledged, by compare-and-set on the whole JSON).
    pub fn floor_alerts(&self) -> String {
        self.global("floor_alerts")
    }
    /// Empty-floor episode ids scored by when they were raised.
    pub fn floor_order(&self) -> String {
        self.global("floor_order")
    }
    /// The uncleared episode's id (string; absent: none).
    pub fn floor_open(&self) -> String {
        self.global("floor_open")
    }
    /// Webhook deliveries: id -> delivery JSON as queued.
    pub fn floor_webhooks(&self) -> String {
        self.global("floor_webhooks")
    }
    /// Webhook delivery ids scored by when they may next be tried.
    pub fn floor_webhook_due(&self) -> String {
        self.global("floor_webhook_due")
    }
    /// Webhook delivery id -> attempts started.
    pub fn floor_webhook_attempts(&self) -> String {
        self.global("floor_webhook_attempts")
    }
    /// The floor counters (`left_queue`, `went_silent`).
    pub fn stats(&self) -> String {
        self.global("stats")
    }
    pub fn nodes(&self) -> String {
        self.global("nodes")
    }
    pub fn node_alive(&self, node: &str) -> String {
        self.global(&format!("node:{node}:alive"))
    }
    pub fn node_counsellors(&self, node: &str) -> String {
        self.global(&format!("node:{node}:counsellors"))
    }
    pub fn node_visitors(&self, node: &str) -> String {
        self.global(&format!("node:{node}:visitors"))
    }

    // ---- handoff (tag {prefix})
    /// A slot: `json` (as created), `starts`, `capacity`, `cancelled`, `booked`.
    pub fn slot(&self, id: SlotId) -> String {
        self.global(&format!("slot:{id}"))
    }
    /// Slot ids scored by their start time.
    pub fn slot_order(&self) -> String {
        self.global("slots")
    }
    /// The references of a slot's bookings, in the order they were made.
    pub fn slot_bookings(&self, id: SlotId) -> String {
        self.global(&format!("slot_bookings:{id}"))
    }
    /// A conversation's handoff record: `rev`, `json`.
    pub fn handoff(&self, id: ConversationId) -> String {
        self.global(&format!("handoff:{id}"))
    }
    /// A booking: `json` (as made), `conversation`, `slot`, `cancelled`,
    /// `reason`, `attended`.
    pub fn booking(&self, reference: &BookingRef) -> String {
        self.global(&format!("booking:{}", reference.as_str()))
    }
    /// A guard counter (`GuardStore`), named by the hash of its key:
    /// a string, the count, expiring with the counter.
    pub fn guard(&self, key_hash: &[u8; 32]) -> String {
        self.global(&format!("guard:{}", super::codec::hex(key_hash)))
    }
    /// A guard set (`GuardStore::hold`), named by the hash of its key: a
    /// set of the members holding a place, expiring with the set.
    pub fn guard_set(&self, key_hash: &[u8; 32]) -> String {
        self.global(&format!("guard_set:{}", super::codec::hex(key_hash)))
    }
    /// The keys of "no slot" and "no booking" for a `write_handoff` that
    /// books nothing: named (every key goes in KEYS), never written.
    pub fn no_slot(&self) -> String {
        self.global("slot:-")
    }
    pub fn no_slot_bookings(&self) -> String {
        self.global("slot_bookings:-")
    }
    pub fn no_booking(&self) -> String {
        self.global("booking:-")
    }
    /// Letters waiting for their answer, scored by when they were written
    /// (ms). May hold letters erased or purged since (dropped when read).
    pub fn letters(&self) -> String {
        self.global("letters")
    }
    /// Ended conversations scored by their end (ms): the purge's index.
    pub fn ended(&self) -> String {
        self.global("ended")
    }
    /// Facts of purged conversations (JSON), in the order purged.
    pub fn facts(&self) -> String {
        self.global("facts")
    }
    /// Handoffs of purged conversations scored by their expiry (ms).
    pub fn handoff_expiry(&self) -> String {
        self.global("handoff_expiry")
    }
    /// The audit log: entry JSON, newest first.
    pub fn audit(&self) -> String {
        self.global("audit")
    }
    /// A one-time handoff link (JSON), under the SHA-256 of its token
    /// (hex): the token itself is never stored. Tag `{prefix}`, with the
    /// handoff records.
    pub fn handoff_link(&self, token_hash_hex: &str) -> String {
        self.global(&format!("handoff_link:{token_hash_hex}"))
    }
    /// The token hash (hex) of a conversation's link in force.
    pub fn handoff_link_of(&self, id: ConversationId) -> String {
        self.global(&format!("handoff_link_of:{id}"))
    }
    /// A relay link's token hash (hex) -> its conversation (issue 23;
    /// expires with the link).
    pub fn relay_link(&self, token_hash_hex: &str) -> String {
        self.global(&format!("relay_link:{token_hash_hex}"))
    }
    /// The library of canned replies: id -> the entry's JSON.
    pub fn canned_replies(&self) -> String {
        self.global("canned_replies")
    }
    /// The directory of partner services (issue 23): hash, id -> JSON.
    pub fn partners(&self) -> String {
        self.global("partners")
    }
    /// A way-back code's index (string: the conversation id, expiring
    /// with the code), under the code's keyed hash (hex).
    pub fn way_back(&self, code_hash_hex: &str) -> String {
        self.global(&format!("way_back:{code_hash_hex}"))
    }
    /// An account's second factor (hash; see `second_factors.rs`).
    pub fn second_factor(&self, account: AccountId) -> String {
        self.global(&format!("second_factor:{account}"))
    }
    /// An anonymous case (issue 22): its record as JSON. Tag `{prefix}`,
    /// with its two indexes, so one script writes all three.
    pub fn case(&self, id: CaseId) -> String {
        self.global(&format!("case:{id}"))
    }
    /// A return code's index (string: the case id), under the code's
    /// keyed hash (hex). Only the code in force has one.
    pub fn case_code(&self, code_hash_hex: &str) -> String {
        self.global(&format!("case_code:{code_hash_hex}"))
    }
    /// The case a conversation belongs to (string: the case id).
    pub fn case_of(&self, id: ConversationId) -> String {
        self.global(&format!("case_of:{id}"))
    }
    /// "No link": named in KEYS when there is none to delete, never written.
    pub fn no_handoff_link(&self) -> String {
        self.global("handoff_link:-")
    }

    // ---- one conversation (tag {conversation id})
    pub fn meta(&self, id: ConversationId) -> String {
        self.conv(id, "meta")
    }
    pub fn log(&self, id: ConversationId) -> String {
        self.conv(id, "log")
    }
    pub fn seen(&self, id: ConversationId) -> String {
        self.conv(id, "seen")
    }
    pub fn notes(&self, id: ConversationId) -> String {
        self.conv(id, "notes")
    }
    /// A conversation's whispers (list of JSON, oldest first): apart from
    /// its log, deleted with it (purge, erase).
    pub fn whispers(&self, id: ConversationId) -> String {
        self.conv(id, "whispers")
    }
    /// A LINE conversation's link: `json` (conversation, LINE user id until
    /// forgotten, the opening event id, created).
    pub fn line(&self, id: ConversationId) -> String {
        self.conv(id, "line")
    }
    /// seq -> delivery JSON of the messages sent to LINE.
    pub fn line_deliveries(&self, id: ConversationId) -> String {
        self.conv(id, "line_delivery")
    }
    /// Who may send this conversation's messages to LINE (expiring).
    pub fn line_lease(&self, id: ConversationId) -> String {
        self.conv(id, "line_lease")
    }
    /// A LINE user's current conversation, under the SHA-256 of the user id
    /// (hex), so no key name spells the id out. Tag `{prefix}`.
    pub fn line_user(&self, user_key_hex: &str) -> String {
        self.global(&format!("line_user:{user_key_hex}"))
    }

    // ---- sessions (tag {token hash})
    pub fn session(&self, token_hex: &str) -> String {
        format!("{}:session:{{{token_hex}}}", self.prefix)
    }

    // ---- pub/sub (channels are not keys)
    pub fn events_channel(&self) -> String {
        format!("{}:events", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    /// The slot-deciding part of a key: the first `{...}` with something in it.
    fn hash_tag(key: &str) -> &str {
        let open = key.find('{').expect("a hash tag");
        let close = open + key[open..].find('}').expect("a closing brace");
        &key[open + 1..close]
    }

    #[test]
    fn a_conversations_keys_share_one_hash_tag() {
        let k = Keys::new("tsunagu");
        let id = ConversationId(Uuid::from_u128(42));
        let tags: Vec<_> = [k.meta(id), k.log(id), k.seen(id), k.notes(id)]
            .iter()
            .map(|key| hash_tag(key).to_owned())
            .collect();
        assert!(tags.iter().all(|t| *t == id.to_string()), "{tags:?}");
    }

    #[test]
    fn shared_keys_share_the_prefix_tag() {
        let k = Keys::new("tsunagu");
        let c = AccountId(Uuid::from_u128(7));
        for key in [
            k.queue(),
            k.accounts(),
            k.usernames(),
            k.counsellor_ids(),
            k.counsellor(c),
            k.held(c),
            k.nodes(),
            k.live(),
            k.supervising(c),
            k.alerts(),
            k.alert_order(),
            k.alert_acks(),
            k.stats(),
            k.node_alive("n1"),
            k.node_counsellors("n1"),
            k.slot(SlotId(Uuid::from_u128(3))),
            k.slot_order(),
            k.slot_bookings(SlotId(Uuid::from_u128(3))),
            k.handoff(ConversationId(Uuid::from_u128(4))),
            k.booking(&BookingRef::from_random([5; 8])),
            k.no_slot(),
            k.no_slot_bookings(),
            k.no_booking(),
            k.audit(),
        ] {
            assert_eq!(hash_tag(&key), "tsunagu", "{key}");
            assert!(key.starts_with("tsunagu:"), "{key}");
        }
    }

    #[test]
    fn prefixes_cannot_reach_into_each_other() {
        assert!(crate::config::valid_redis_prefix("tsunagu"));
        assert!(crate::config::valid_redis_prefix("tsunagu-test-1a2b.x_y"));
        for bad in ["", "a:b", "{x}", "a*", "a b", "a?", &"x".repeat(65)] {
            assert!(!crate::config::valid_redis_prefix(bad), "{bad:?}");
        }
    }
}
