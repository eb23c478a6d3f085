//! Between Redis values and store records: script replies, hashes, stream
//! entries, the queue score. No I/O.

use std::collections::HashMap;
use std::sync::Arc;

use redis::Value;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::core::conversation::{ConversationState, TransitionError};
use crate::core::handoff::{Booking, Slot};
use crate::core::ids::{AccountId, ClientMsgId, ConversationId, Party};
use crate::core::prechat::PreChat;
use crate::core::queue::{Priority, QueuePolicy};
use crate::core::triage::RiskLevel;
use crate::model::Availability;
use crate::model::{
    Channel, ConversationRecord, CounsellorRecord, HearingSheet, NewConversation, SlotRecord,
    StartKey, StoredMessage, TokenHash,
};
use crate::store::{StoreError, StoreResult};

/// A stored value that does not parse: the data is not what this version
/// wrote. Reported as `Unavailable` (the operation cannot be served), never
/// as a client's fault.
pub fn corrupt(what: &str) -> StoreError {
    StoreError::Unavailable(format!("redis: unexpected data ({what})"))
}

/// What a script answered.
pub enum Reply {
    Ok(Vec<Value>),
    Dup(u64),
    Retry,
}

/// Split a script's `{"ok", ...}` / `{"dup", n}` / `{"retry"}` / `{"err", code}`.
pub fn reply(v: Value) -> StoreResult<Reply> {
    let Value::Array(mut items) = v else {
        return Err(corrupt("script reply"));
    };
    if items.is_empty() {
        return Err(corrupt("empty script reply"));
    }
    let rest = items.split_off(1);
    let tag = string(&items[0])?;
    match tag.as_str() {
        "ok" => Ok(Reply::Ok(rest)),
        "dup" => Ok(Reply::Dup(int(rest.first())?)),
        "retry" => Ok(Reply::Retry),
        "err" => Err(error_code(&string(
            rest.first().ok_or_else(|| corrupt("error code"))?,
        )?)),
        _ => Err(corrupt("script reply tag")),
    }
}

/// The scripts' refusal codes, as store errors.
pub fn error_code(code: &str) -> StoreError {
    match code {
        "not_found" => StoreError::NotFound,
        "queue_full" => StoreError::QueueFull,
        "capacity" => StoreError::CapacityReached,
        "not_available" => StoreError::NotAvailable,
        "not_queued" => TransitionError::NotQueued.into(),
        "not_active" => TransitionError::NotActive.into(),
        "ended" => TransitionError::AlreadyEnded.into(),
        "not_yours" => StoreError::NotYours,
        "taken" => StoreError::UsernameTaken,
        "exists" => StoreError::Unavailable("redis: conversation id already in use".into()),
        "conflict" => StoreError::Conflict,
        "slot_full" => StoreError::SlotFull,
        "slot_unavailable" => StoreError::SlotUnavailable,
        "slot_booked" => StoreError::SlotBooked,
        "library_full" => StoreError::LibraryFull,
        "letters_full" => StoreError::LettersFull,
        _ => corrupt("unknown refusal code"),
    }
}

pub fn string(v: &Value) -> StoreResult<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).map_err(|_| corrupt("utf-8")),
        Value::SimpleString(s) => Ok(s.clone()),
        Value::Okay => Ok("OK".into()),
        Value::Int(n) => Ok(n.to_string()),
        _ => Err(corrupt("string")),
    }
}

pub fn int(v: Option<&Value>) -> StoreResult<u64> {
    match v {
        Some(Value::Int(n)) if *n >= 0 => Ok(*n as u64),
        Some(v) => string(v)?.parse().map_err(|_| corrupt("integer")),
        None => Err(corrupt("missing integer")),
    }
}

/// A flat `[field, value, field, value, ...]` array (HGETALL from Lua).
pub fn hash(v: &Value) -> StoreResult<HashMap<String, String>> {
    let Value::Array(items) = v else {
        return Err(corrupt("hash"));
    };
    let mut map = HashMap::with_capacity(items.len() / 2);
    for pair in items.chunks(2) {
        let [k, v] = pair else {
            return Err(corrupt("odd hash"));
        };
        map.insert(string(k)?, string(v)?);
    }
    Ok(map)
}

fn field<'a>(m: &'a HashMap<String, String>, name: &str) -> StoreResult<&'a str> {
    m.get(name).map(String::as_str).ok_or_else(|| corrupt(name))
}

fn num(m: &HashMap<String, String>, name: &str) -> StoreResult<u64> {
    field(m, name)?.parse().map_err(|_| corrupt(name))
}

fn opt_num(m: &HashMap<String, String>, name: &str) -> StoreResult<Option<u64>> {
    match field(m, name)? {
        "" => Ok(None),
        s => s.parse().map(Some).map_err(|_| corrupt(name)),
    }
}

fn uuid(s: &str, what: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(s).map_err(|_| corrupt(what))
}

/// A unit enum as its serde (snake_case) name: `EndedBy::System` -> "system".
pub fn enum_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        // unwrap-free: every enum stored this way serialises to a string.
        _ => String::new(),
    }
}

pub fn parse_enum<T: DeserializeOwned>(s: &str, what: &str) -> StoreResult<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| corrupt(what))
}

fn opt_enum<T: DeserializeOwned>(
    m: &HashMap<String, String>,
    name: &str,
) -> StoreResult<Option<T>> {
    match field(m, name)? {
        "" => Ok(None),
        s => parse_enum(s, name).map(Some),
    }
}

/// The parts of a conversation that never change after it is created,
/// kept as one JSON field of its meta hash. (The priority follows the risk
/// level, which can change: it is the meta field `priority`.)
#[derive(Serialize, Deserialize)]
pub struct Static {
    pub token_hash: TokenHash,
    pub pre_chat: PreChat,
    pub started_at_ms: u64,
    pub queued_since_ms: u64,
    pub first_message: Option<String>,
    /// Absent in a record written before channels existed: web.
    #[serde(default)]
    pub channel: Channel,
    /// The `start`'s idempotency key (hash, sealed token), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_key: Option<StartKey>,
    /// Absent in a record written before it existed: Japanese.
    #[serde(default)]
    pub lang: crate::core::ids::Lang,
    /// Issue 22: a returning visitor's last counsellor (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefers: Option<AccountId>,
    /// Issue 22: a letter, not a chat (absent: a chat).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub letter: bool,
}

impl Static {
    /// What a new conversation (or letter) fixes at creation.
    pub fn of(new: &NewConversation) -> Static {
        Static {
            token_hash: new.token_hash,
            pre_chat: new.pre_chat,
            started_at_ms: new.now_ms,
            queued_since_ms: new.now_ms,
            first_message: new.first_message.clone(),
            channel: new.channel,
            start_key: new.start_key.clone(),
            lang: new.lang,
            prefers: new.prefers,
            letter: false,
        }
    }
}

/// A conversation's meta hash as a record.
pub fn conversation(m: &HashMap<String, String>) -> StoreResult<ConversationRecord> {
    let id = ConversationId(uuid(field(m, "id")?, "conversation id")?);
    let fixed: Static = serde_json::from_str(field(m, "static")?).map_err(|_| corrupt("static"))?;
    let counsellor = match field(m, "counsellor")? {
        "" => None,
        s => Some(AccountId(uuid(s, "counsellor id")?)),
    };
    let state = match (field(m, "state")?, counsellor) {
        ("queued", _) => ConversationState::Queued,
        ("active", Some(c)) => ConversationState::Active { counsellor: c },
        ("ended", _) => ConversationState::Ended,
        _ => return Err(corrupt("state")),
    };
    // The safety fields: absent in a record written before they existed.
    let risk: RiskLevel = match m.get("risk").map(String::as_str) {
        None | Some("") => RiskLevel::None,
        Some(s) => parse_enum(s, "risk")?,
    };
    let json_list = |name: &str| -> StoreResult<String> {
        Ok(m.get(name).cloned().unwrap_or_else(|| "[]".into()))
    };
    let risk_reasons =
        serde_json::from_str(&json_list("reasons")?).map_err(|_| corrupt("reasons"))?;
    let supervisors = serde_json::from_str(&json_list("sups")?).map_err(|_| corrupt("sups"))?;
    let maybe = |name: &str| -> StoreResult<Option<u64>> {
        match m.get(name).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|_| corrupt(name)),
        }
    };
    Ok(ConversationRecord {
        id,
        // `tok`: a way-back code replaced the token it was created with.
        token_hash: match m.get("tok").map(String::as_str) {
            None | Some("") => fixed.token_hash,
            Some(h) => unhex32(h).ok_or_else(|| corrupt("tok"))?,
        },
        state,
        pre_chat: fixed.pre_chat,
        priority: risk.priority(),
        requeued: field(m, "requeued")? == "1",
        queued_since_ms: fixed.queued_since_ms,
        started_at_ms: fixed.started_at_ms,
        assigned_at_ms: opt_num(m, "assigned_at")?,
        ended_at_ms: opt_num(m, "ended_at")?,
        ended_by: opt_enum(m, "ended_by")?,
        outcome: opt_enum(m, "outcome")?,
        counsellor,
        first_message: fixed.first_message,
        channel: fixed.channel,
        start_key: fixed.start_key,
        lang: fixed.lang,
        prefers: fixed.prefers,
        letter: fixed.letter,
        last_seq: num(m, "last_seq")?,
        visitor_acked: num(m, "vacked")?,
        counsellor_acked: num(m, "cacked")?,
        visitor_connections: num(m, "vconn")? as u32,
        visitor_offline_since_ms: opt_num(m, "voff")?,
        risk,
        risk_reasons,
        supervisors,
        transfers: maybe("transfers")?.unwrap_or(0) as u32,
        last_visitor_msg_ms: maybe("lvmsg")?,
        last_counsellor_msg_ms: maybe("lcmsg")?,
        silent_since_ms: maybe("silent")?,
        assessment: match m.get("assess").map(String::as_str) {
            None | Some("") => Default::default(),
            Some(s) => serde_json::from_str(s).map_err(|_| corrupt("assess"))?,
        },
        erased_at_ms: maybe("erased")?,
        left_quickly_at_ms: maybe("lq")?,
        hearing: hearing(m)?,
        relays: match m.get("relays").map(String::as_str) {
            None | Some("") => Vec::new(),
            Some(s) => serde_json::from_str(s).map_err(|_| corrupt("relays"))?,
        },
    })
}

/// A conversation's relays as their meta field ('' for none), exactly as
/// `save_relays.lua` compares it.
pub fn relays_field(relays: &[crate::core::relay::Relay]) -> String {
    if relays.is_empty() {
        String::new()
    } else {
        serde_json::to_string(relays).expect("relays serialise")
    }
}

/// A hearing sheet as its two meta fields: the JSON without the free
/// text (`hs`), and the free text (`hst`; '' for none).
pub fn hearing_fields(mut sheet: HearingSheet) -> (String, String) {
    let texts = std::mem::take(&mut sheet.texts);
    let rest = serde_json::to_string(&sheet).expect("a sheet serialises");
    let texts = if texts.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&texts).expect("texts serialise")
    };
    (rest, texts)
}

/// The inverse of [`hearing_fields`] (none when `hs` is absent).
fn hearing(m: &HashMap<String, String>) -> StoreResult<Option<Box<HearingSheet>>> {
    let Some(rest) = m.get("hs").filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let mut sheet: HearingSheet = serde_json::from_str(rest).map_err(|_| corrupt("hs"))?;
    if let Some(t) = m.get("hst").filter(|s| !s.is_empty()) {
        sheet.texts = serde_json::from_str(t).map_err(|_| corrupt("hst"))?;
    }
    Ok(Some(Box::new(sheet)))
}

/// A counsellor hash as a record.
pub fn counsellor(m: &HashMap<String, String>) -> StoreResult<CounsellorRecord> {
    Ok(CounsellorRecord {
        id: AccountId(uuid(field(m, "id")?, "counsellor id")?),
        status: parse_enum::<Availability>(field(m, "status")?, "status")?,
        capacity: num(m, "capacity")? as u32,
        active: num(m, "active")? as u32,
        connections: num(m, "connections")? as u32,
        offline_since_ms: opt_num(m, "off")?,
        last_assigned_ms: opt_num(m, "last_assigned")?,
    })
}

/// A slot hash as a record. The JSON is the slot as created; what changes
/// afterwards (cancellation, the bookings in force) are fields of their own
/// that the scripts check and write without parsing JSON.
pub fn slot(m: &HashMap<String, String>) -> StoreResult<SlotRecord> {
    let mut slot: Slot = serde_json::from_str(field(m, "json")?).map_err(|_| corrupt("slot"))?;
    slot.cancelled_at_ms = opt_num(m, "cancelled")?;
    Ok(SlotRecord {
        slot,
        booked: num(m, "booked")? as u32,
    })
}

/// A booking hash as a booking: the JSON as made, with the cancellation
/// and attendance fields (written by scripts, never in the JSON) applied.
pub fn booking(m: &HashMap<String, String>) -> StoreResult<Booking> {
    let mut b: Booking = serde_json::from_str(field(m, "json")?).map_err(|_| corrupt("booking"))?;
    b.cancelled_at_ms = opt_num(m, "cancelled")?;
    b.cancel_reason = opt_enum(m, "reason")?;
    // The inverse of `attended_field`.
    b.attended = match field(m, "attended")? {
        "" => None,
        "1" => Some(true),
        "0" => Some(false),
        _ => return Err(corrupt("attended")),
    };
    // A PIN replaced after booking (`write_handoff`'s `repin`).
    if let Some(pin) = m.get("pin").filter(|p| !p.is_empty()) {
        b.pin_hash = unhex32(pin).ok_or_else(|| corrupt("pin"))?;
    }
    // A booking moved to another slot (`write_handoff`'s `move`).
    if let Some(slot) = m.get("slot").filter(|s| !s.is_empty()) {
        b.slot = crate::core::handoff::SlotId(uuid(slot, "slot")?);
    }
    if let Some(at) = m.get("moved").filter(|s| !s.is_empty()) {
        b.rescheduled_at_ms = Some(at.parse().map_err(|_| corrupt("moved"))?);
    }
    Ok(b)
}

/// Whether the person came, as the booking's `attended` field.
pub fn attended_field(attended: Option<bool>) -> &'static str {
    match attended {
        None => "",
        Some(true) => "1",
        Some(false) => "0",
    }
}

/// An optional number as a hash field: empty for none.
pub fn opt_field(v: Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

/// One XRANGE entry `[id, [field, value, ...]]` as a message.
pub fn stream_message(v: &Value) -> StoreResult<Arc<StoredMessage>> {
    let Value::Array(parts) = v else {
        return Err(corrupt("stream entry"));
    };
    let [id, fields] = parts.as_slice() else {
        return Err(corrupt("stream entry shape"));
    };
    let id = string(id)?;
    let seq = id
        .split_once('-')
        .and_then(|(s, _)| s.parse().ok())
        .ok_or_else(|| corrupt("stream id"))?;
    let m = hash(fields)?;
    let cid = field(&m, "cid")?;
    let client_id = if cid == ClientMsgId::first_message().as_str() {
        ClientMsgId::first_message()
    } else {
        ClientMsgId::parse(cid).map_err(|_| corrupt("client id"))?
    };
    Ok(Arc::new(StoredMessage {
        seq,
        from: parse_enum::<Party>(field(&m, "from")?, "party")?,
        author: m
            .get("author")
            .map(|a| uuid(a, "author").map(AccountId))
            .transpose()?,
        author_name: m.get("name").cloned(),
        client_id,
        text: field(&m, "text")?.to_owned(),
        at_ms: num(&m, "at")?,
    }))
}

/// Largest `since_ms` the score can hold exactly (year 37,000 and more).
const SINCE_MAX: u64 = (1 << 50) - 1;
/// Largest urgent head start the score can hold exactly (about 35,000 years).
const HEAD_START_MAX: u64 = 1 << 50;

/// The queue's sorted-set score. Ascending score is queue order
/// ([`crate::core::queue::QueueEntry::key`] under `policy`): requeued
/// before fresh, then the rank time (arrival, minus the urgent head start
/// for urgent visitors), shifted by 2^50 so it is never negative. Ties
/// (same rank millisecond) are broken by the member, the conversation id,
/// which Redis compares as bytes: the lowercase hyphenated form sorts like
/// the UUID, so ZRANGE order is exactly the key order. Every score is below
/// 2^52, so a double holds it exactly.
pub fn queue_score(policy: QueuePolicy, priority: Priority, requeued: bool, since_ms: u64) -> u64 {
    let head_start = match priority {
        Priority::Urgent => policy.urgent_head_start_ms.min(HEAD_START_MAX),
        Priority::Normal => 0,
    };
    let rank = since_ms.min(SINCE_MAX) + HEAD_START_MAX - head_start;
    (u64::from(!requeued) << 51) | rank
}

/// The four scores a conversation can have (priority x requeued), stored in
/// its meta hash so that the scripts that move it (set_risk, requeue, the
/// sweep) need no arithmetic: `score_<priority>` and `score_<priority>_rq`.
pub fn queue_scores(policy: QueuePolicy, since_ms: u64) -> [(String, u64); 4] {
    let mut out: [(String, u64); 4] = Default::default();
    let mut i = 0;
    for p in [Priority::Normal, Priority::Urgent] {
        for rq in [false, true] {
            let name = format!("score_{}{}", enum_name(&p), if rq { "_rq" } else { "" });
            out[i] = (name, queue_score(policy, p, rq, since_ms));
            i += 1;
        }
    }
    out
}

/// The risk levels in ascending order and the queue class of each, as two
/// JSON arrays of names: the scripts compare and map levels with these, so
/// `RiskLevel`'s order and `RiskLevel::priority` stay the only definition.
pub fn risk_tables() -> (String, String) {
    let levels = [RiskLevel::None, RiskLevel::Watch, RiskLevel::Urgent];
    let names: Vec<String> = levels.iter().map(enum_name).collect();
    let prios: Vec<String> = levels.iter().map(|l| enum_name(&l.priority())).collect();
    (
        serde_json::to_string(&names).unwrap_or_default(),
        serde_json::to_string(&prios).unwrap_or_default(),
    )
}

/// The inverse of [`hex`] for 32 bytes.
pub fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::queue::QueueEntry;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn score_then_member_order_is_queue_order(
            raw in proptest::collection::vec((any::<u128>(), any::<bool>(), any::<bool>(), 0u64..5_000_000_000_000), 0..50),
            head_start in prop_oneof![Just(0u64), 0u64..10_000, Just(crate::core::queue::DEFAULT_URGENT_HEAD_START_MS), 0u64..5_000_000_000_000],
            ties in any::<bool>(),
        ) {
            let policy = QueuePolicy { urgent_head_start_ms: head_start };
            let entries: Vec<QueueEntry> = raw.into_iter().map(|(n, urgent, requeued, since_ms)| QueueEntry {
                conversation: ConversationId(Uuid::from_u128(n)),
                priority: if urgent { Priority::Urgent } else { Priority::Normal },
                requeued,
                // Few distinct times make rank ties (urgent and normal
                // visitors exactly a head start apart) likely.
                since_ms: if ties { since_ms % 4 * head_start.max(1) } else { since_ms },
            }).collect();
            let mut by_key = entries.clone();
            by_key.sort_by_key(|e| e.key(policy));
            let mut by_redis = entries;
            // What ZRANGE does: score as a double, then member bytes.
            by_redis.sort_by(|a, b| {
                let sa = queue_score(policy, a.priority, a.requeued, a.since_ms) as f64;
                let sb = queue_score(policy, b.priority, b.requeued, b.since_ms) as f64;
                sa.partial_cmp(&sb).unwrap()
                    .then_with(|| a.conversation.to_string().cmp(&b.conversation.to_string()))
            });
            prop_assert_eq!(by_key, by_redis);
        }
    }

    #[test]
    fn scores_are_exact_as_doubles() {
        let policy = QueuePolicy {
            urgent_head_start_ms: u64::MAX,
        };
        let top = queue_score(policy, Priority::Normal, false, u64::MAX);
        assert!(top < 1 << 52);
        assert_eq!(top as f64 as u64, top);
        assert_eq!(queue_score(policy, Priority::Urgent, true, 0), 0);
    }

    #[test]
    fn the_stored_scores_are_the_queue_scores() {
        let policy = QueuePolicy::default();
        let scores = queue_scores(policy, 1_000);
        assert_eq!(
            scores[3],
            (
                "score_urgent_rq".to_owned(),
                queue_score(policy, Priority::Urgent, true, 1_000)
            )
        );
        assert_eq!(scores[0].0, "score_normal");
    }

    /// A booking reads as its JSON with the script-written fields applied:
    /// marking attendance never rewrites the JSON (a cancel rewrites it
    /// only to delete the name and contact).
    #[test]
    fn booking_fields_override_the_json() {
        use crate::core::handoff::{BookingRef, CancelReason, Contact, SlotId};
        let made = Booking {
            reference: BookingRef::from_random([1; 8]),
            pin_hash: [2; 32],
            slot: SlotId(Uuid::from_u128(3)),
            conversation: ConversationId(Uuid::from_u128(4)),
            name: None,
            contact: Contact::SelfCall,
            created_at_ms: 5,
            cancelled_at_ms: None,
            cancel_reason: None,
            attended: None,
            contact_choice: None,
            rescheduled_at_ms: None,
        };
        let mut m: HashMap<String, String> = [
            ("json", serde_json::to_string(&made).unwrap()),
            ("cancelled", String::new()),
            ("reason", String::new()),
            ("attended", attended_field(None).into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(booking(&m).unwrap(), made);
        m.insert("cancelled".into(), "9".into());
        m.insert("reason".into(), enum_name(&CancelReason::Staff));
        m.insert("attended".into(), attended_field(Some(false)).into());
        let b = booking(&m).unwrap();
        assert_eq!(b.cancelled_at_ms, Some(9));
        assert_eq!(b.cancel_reason, Some(CancelReason::Staff));
        assert_eq!(b.attended, Some(false));
        m.insert("attended".into(), "yes".into());
        assert!(booking(&m).is_err(), "an unknown value is not guessed");
    }

    #[test]
    fn risk_tables_follow_the_core() {
        let (levels, prios) = risk_tables();
        assert_eq!(levels, r#"["none","watch","urgent"]"#);
        assert_eq!(prios, r#"["normal","normal","urgent"]"#);
    }

    /// Events travel between nodes as JSON over pub/sub: every kind the
    /// safety features added must come back as it left.
    #[test]
    fn safety_events_round_trip_as_json() {
        use crate::core::ids::AlertId;
        use crate::model::{Alert, Event, ReleaseReason, RiskReason, RiskSource, SupervisionMode};
        let c = ConversationId(Uuid::from_u128(1));
        let a = AccountId(Uuid::from_u128(2));
        let b = AccountId(Uuid::from_u128(3));
        let alert = Alert {
            id: AlertId(Uuid::from_u128(4)),
            conversation: c,
            level: RiskLevel::Urgent,
            reasons: vec![
                RiskReason {
                    level: RiskLevel::Urgent,
                    source: RiskSource::Triage {
                        rule: "r1".into(),
                        category: "self_harm".into(),
                    },
                    at_ms: 5,
                },
                RiskReason {
                    level: RiskLevel::Watch,
                    source: RiskSource::Staff { by: a },
                    at_ms: 6,
                },
            ],
            at_ms: 7,
            acked_by: Some(b),
            acked_at_ms: Some(8),
        };
        let events = vec![
            Event::Requeued {
                conversation: c,
                counsellor: a,
                by_transfer: true,
            },
            Event::Released {
                conversation: c,
                counsellor: a,
                to: b,
                reason: ReleaseReason::TakenOver,
            },
            Event::RiskChanged {
                conversation: c,
                level: RiskLevel::Watch,
                counsellor: Some(a),
            },
            Event::Alert {
                alert: Box::new(alert.clone()),
            },
            Event::AlertAcked {
                alert: Box::new(alert),
            },
            Event::Supervision {
                conversation: c,
                supervisor: b,
                mode: Some(SupervisionMode::Join),
                previous: Some(SupervisionMode::Observe),
            },
            Event::Supervision {
                conversation: c,
                supervisor: b,
                mode: None,
                previous: None,
            },
            Event::Silent {
                conversation: c,
                since_ms: 9,
            },
        ];
        for e in events {
            let json = serde_json::to_string(&e).unwrap();
            let back: Event = serde_json::from_str(&json).unwrap();
            assert_eq!(format!("{back:?}"), format!("{e:?}"), "{json}");
        }
        // A Requeued from a node without the field still parses.
        let old = format!(r#"{{"event":"requeued","conversation":"{c}","counsellor":"{a}"}}"#);
        assert!(matches!(
            serde_json::from_str::<Event>(&old).unwrap(),
            Event::Requeued {
                by_transfer: false,
                ..
            }
        ));
    }
}
