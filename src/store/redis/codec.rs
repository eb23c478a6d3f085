//! Between Redis values and store records: script replies, hashes, stream
//! entries, the queue score. No I/O.

use std::collections::HashMap;
use std::sync::Arc;

use redis::Value;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::core::conversation::{ConversationState, TransitionError};
use crate::core::ids::{AccountId, ClientMsgId, ConversationId, Party};
use crate::core::prechat::PreChat;
use crate::core::queue::Priority;
use crate::protocol::Availability;
use crate::store::{
    ConversationRecord, CounsellorRecord, StoreError, StoreResult, StoredMessage, TokenHash,
};

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
        "not_queued" => TransitionError::NotQueued.into(),
        "not_active" => TransitionError::NotActive.into(),
        "ended" => TransitionError::AlreadyEnded.into(),
        "not_yours" => StoreError::NotYours,
        "taken" => StoreError::UsernameTaken,
        "exists" => StoreError::Unavailable("redis: conversation id already in use".into()),
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
/// kept as one JSON field of its meta hash.
#[derive(Serialize, Deserialize)]
pub struct Static {
    pub token_hash: TokenHash,
    pub pre_chat: PreChat,
    pub priority: Priority,
    pub started_at_ms: u64,
    pub queued_since_ms: u64,
    pub first_message: Option<String>,
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
    Ok(ConversationRecord {
        id,
        token_hash: fixed.token_hash,
        state,
        pre_chat: fixed.pre_chat,
        priority: fixed.priority,
        requeued: field(m, "requeued")? == "1",
        queued_since_ms: fixed.queued_since_ms,
        started_at_ms: fixed.started_at_ms,
        assigned_at_ms: opt_num(m, "assigned_at")?,
        ended_at_ms: opt_num(m, "ended_at")?,
        ended_by: opt_enum(m, "ended_by")?,
        outcome: opt_enum(m, "outcome")?,
        counsellor,
        first_message: fixed.first_message,
        last_seq: num(m, "last_seq")?,
        visitor_acked: num(m, "vacked")?,
        counsellor_acked: num(m, "cacked")?,
        visitor_connections: num(m, "vconn")? as u32,
        visitor_offline_since_ms: opt_num(m, "voff")?,
    })
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

/// The queue's sorted-set score. Ascending score is queue order: priority
/// (urgent first), then requeued before fresh, then arrival. Ties (same
/// millisecond) are broken by the member, the conversation id, which Redis
/// compares as bytes: the lowercase hyphenated form sorts like the UUID, so
/// ZRANGE order is exactly [`crate::core::queue::QueueEntry::key`] order.
/// Every score is below 2^53, so a double holds it exactly.
pub fn queue_score(priority: Priority, requeued: bool, since_ms: u64) -> u64 {
    let rank: u64 = match priority {
        Priority::Urgent => 0,
        Priority::Normal => 1,
    };
    (rank << 51) | (u64::from(!requeued) << 50) | since_ms.min(SINCE_MAX)
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
            raw in proptest::collection::vec((any::<u128>(), any::<bool>(), any::<bool>(), 0u64..5_000_000_000_000), 0..50)
        ) {
            let entries: Vec<QueueEntry> = raw.into_iter().map(|(n, urgent, requeued, since_ms)| QueueEntry {
                conversation: ConversationId(Uuid::from_u128(n)),
                priority: if urgent { Priority::Urgent } else { Priority::Normal },
                requeued,
                since_ms,
            }).collect();
            let mut by_key = entries.clone();
            by_key.sort_by_key(QueueEntry::key);
            let mut by_redis = entries;
            // What ZRANGE does: score as a double, then member bytes.
            by_redis.sort_by(|a, b| {
                let sa = queue_score(a.priority, a.requeued, a.since_ms) as f64;
                let sb = queue_score(b.priority, b.requeued, b.since_ms) as f64;
                sa.partial_cmp(&sb).unwrap()
                    .then_with(|| a.conversation.to_string().cmp(&b.conversation.to_string()))
            });
            prop_assert_eq!(by_key, by_redis);
        }
    }

    #[test]
    fn scores_are_exact_as_doubles() {
        let top = queue_score(Priority::Normal, false, u64::MAX);
        assert!(top < 1 << 53);
        assert_eq!(top as f64 as u64, top);
    }
}
