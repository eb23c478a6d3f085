//! Rows: how each [`Change`] is written and how the [`Snapshot`] is read
//! back. Enums are stored as their wire names (`"active"`, `"listened"`),
//! ids as UUID text.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::core::conversation::ConversationState;
use crate::core::ids::{AccountId, ClientMsgId, ConversationId, Party};
use crate::core::stats::Assessment;
use crate::model::{
    Account, Channel, ConversationRecord, CounsellorRecord, Note, SessionRecord, SetupTicket,
    StoredMessage, TokenHash,
};
use crate::model::{HearingSheet, RiskReason, StartKey, Supervision};
use crate::store::journal::{Change, SavedConversation, Snapshot};
use crate::store::RiskLevel;

/// A row that cannot be turned back into a record.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    #[error("{table}: {detail}")]
    Bad { table: &'static str, detail: String },
}

fn bad(table: &'static str, detail: impl ToString) -> LoadError {
    LoadError::Bad {
        table,
        detail: detail.to_string(),
    }
}

/// The wire name of a unit enum (`Outcome::Listened` -> `listened`).
fn name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn parse<T: DeserializeOwned>(table: &'static str, s: &str) -> Result<T, LoadError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| bad(table, format!("{s:?}: {e}")))
}

fn id<T: std::str::FromStr>(table: &'static str, s: &str) -> Result<T, LoadError> {
    s.parse().map_err(|_| bad(table, format!("bad id {s:?}")))
}

fn hash(table: &'static str, v: Vec<u8>) -> Result<TokenHash, LoadError> {
    v.try_into()
        .map_err(|_| bad(table, "a token hash is not 32 bytes"))
}

/// Milliseconds are `u64` in Rust and `INTEGER` (i64) in SQLite; every
/// value we store is a time or a count far below `i64::MAX`.
fn i(v: u64) -> i64 {
    v as i64
}

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

pub fn write(conn: &Connection, change: &Change) -> rusqlite::Result<()> {
    match change {
        Change::Account(a) => {
            conn.prepare_cached(
                "INSERT INTO accounts (id, username, display_name, role, password_hash,
                     deactivated, last_login_ms, setup_hash, setup_expires_at_ms, session_epoch)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (id) DO UPDATE SET username = ?2, display_name = ?3,
                     role = ?4, password_hash = ?5, deactivated = ?6, last_login_ms = ?7,
                     setup_hash = ?8, setup_expires_at_ms = ?9, session_epoch = ?10",
            )?
            .execute(params![
                a.id.to_string(),
                a.username,
                a.display_name,
                name(&a.role),
                a.password_hash,
                i64::from(a.deactivated),
                a.last_login_ms.map(i),
                a.setup.map(|t| t.hash.to_vec()),
                a.setup.map(|t| i(t.expires_at_ms)),
                a.session_epoch,
            ])?;
        }
        Change::Session { token, session } => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO sessions (token_hash, account, expires_at_ms, epoch)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                &token[..],
                session.account.to_string(),
                i(session.expires_at_ms),
                session.epoch
            ])?;
        }
        Change::SessionDeleted(token) => {
            conn.prepare_cached("DELETE FROM sessions WHERE token_hash = ?1")?
                .execute(params![&token[..]])?;
        }
        Change::Conversation(r) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO conversations (id, token_hash, state, counsellor,
                     pre_chat, priority, requeued, queued_since_ms, started_at_ms,
                     assigned_at_ms, ended_at_ms, ended_by, outcome, first_message,
                     visitor_acked, counsellor_acked, safety)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            )?
            .execute(params![
                r.id.to_string(),
                &r.token_hash[..],
                r.state.name(),
                r.counsellor.map(|c| c.to_string()),
                serde_json::to_string(&r.pre_chat).unwrap_or_else(|_| "{}".into()),
                name(&r.priority),
                r.requeued,
                i(r.queued_since_ms),
                i(r.started_at_ms),
                r.assigned_at_ms.map(i),
                r.ended_at_ms.map(i),
                r.ended_by.as_ref().map(name),
                r.outcome.as_ref().map(name),
                r.first_message,
                i(r.visitor_acked),
                i(r.counsellor_acked),
                serde_json::to_string(&Safety::of(r)).unwrap_or_else(|_| "{}".into()),
            ])?;
        }
        Change::Acked {
            conversation,
            party,
            seq,
        } => {
            let sql = match party {
                Party::Visitor => "UPDATE conversations SET visitor_acked = ?2 WHERE id = ?1",
                Party::Counsellor => "UPDATE conversations SET counsellor_acked = ?2 WHERE id = ?1",
            };
            conn.prepare_cached(sql)?
                .execute(params![conversation.to_string(), i(*seq)])?;
        }
        Change::Message {
            conversation,
            message: m,
        } => {
            conn.prepare_cached(
                "INSERT INTO messages (conversation, seq, from_party, author, author_name,
                     client_id, text, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                conversation.to_string(),
                i(m.seq),
                name(&m.from),
                m.author.map(|a| a.to_string()),
                m.author_name,
                m.client_id.as_str(),
                m.text,
                i(m.at_ms),
            ])?;
        }
        Change::Note { conversation, note } => {
            conn.prepare_cached(
                "INSERT INTO notes (conversation, author, text, at_ms) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                conversation.to_string(),
                note.author.to_string(),
                note.text,
                i(note.at_ms)
            ])?;
        }
        Change::Counsellor(c) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO counsellors (id, status, capacity, last_assigned_ms)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                c.id.to_string(),
                name(&c.status),
                c.capacity,
                c.last_assigned_ms.map(i)
            ])?;
        }
        Change::Alert(a) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO alerts (id, at_ms, body) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                a.id.to_string(),
                i(a.at_ms),
                serde_json::to_string(&a).unwrap_or_default()
            ])?;
        }
        Change::Stats(stats) => {
            set_meta(
                conn,
                "stats",
                &serde_json::to_string(&stats).unwrap_or_default(),
            )?;
        }
        Change::Slot(slot) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO slots (id, starts_at_ms, body) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                slot.id.to_string(),
                i(slot.starts_at_ms),
                json(slot)
            ])?;
        }
        Change::Handoff(h) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO handoffs (conversation, body) VALUES (?1, ?2)",
            )?
            .execute(params![h.conversation.to_string(), json(h)])?;
        }
        Change::Booking(b) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO bookings (reference, slot, conversation, created_at_ms, body)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                b.reference.as_str(),
                b.slot.to_string(),
                b.conversation.to_string(),
                i(b.created_at_ms),
                json(b)
            ])?;
        }
        Change::Audit(a) => {
            conn.prepare_cached("INSERT INTO audit (at_ms, body) VALUES (?1, ?2)")?
                .execute(params![i(a.at_ms), json(a)])?;
        }
        Change::AuditPurged { before_ms } => {
            conn.prepare_cached("DELETE FROM audit WHERE at_ms < ?1")?
                .execute(params![i(*before_ms)])?;
        }
        Change::Whisper(w) => {
            conn.prepare_cached(
                "INSERT INTO whispers (conversation, at_ms, body) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![w.conversation.to_string(), i(w.at_ms), json(w)])?;
        }
        Change::Facts(f) => {
            conn.prepare_cached("INSERT INTO facts (body) VALUES (?1)")?
                .execute(params![json(f)])?;
        }
        Change::ConversationDeleted(id) => {
            let id = id.to_string();
            for sql in [
                "DELETE FROM messages WHERE conversation = ?1",
                "DELETE FROM notes WHERE conversation = ?1",
                "DELETE FROM line_links WHERE conversation = ?1",
                "DELETE FROM line_deliveries WHERE conversation = ?1",
                "DELETE FROM handoff_links WHERE conversation = ?1",
                "DELETE FROM whispers WHERE conversation = ?1",
                "DELETE FROM conversations WHERE id = ?1",
            ] {
                conn.prepare_cached(sql)?.execute(params![id])?;
            }
        }
        Change::Erased {
            conversation,
            notes,
        } => {
            let id = conversation.to_string();
            conn.prepare_cached("DELETE FROM messages WHERE conversation = ?1")?
                .execute(params![id])?;
            conn.prepare_cached("DELETE FROM handoff_links WHERE conversation = ?1")?
                .execute(params![id])?;
            conn.prepare_cached("DELETE FROM whispers WHERE conversation = ?1")?
                .execute(params![id])?;
            if *notes {
                conn.prepare_cached("DELETE FROM notes WHERE conversation = ?1")?
                    .execute(params![id])?;
            }
        }
        Change::HandoffDeleted(id) => {
            conn.prepare_cached("DELETE FROM handoffs WHERE conversation = ?1")?
                .execute(params![id.to_string()])?;
        }
        Change::SlotDeleted(id) => {
            let id = id.to_string();
            conn.prepare_cached("DELETE FROM bookings WHERE slot = ?1")?
                .execute(params![id])?;
            conn.prepare_cached("DELETE FROM slots WHERE id = ?1")?
                .execute(params![id])?;
        }
        Change::LineLink(l) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO line_links (conversation, body) VALUES (?1, ?2)",
            )?
            .execute(params![l.conversation.to_string(), json(l)])?;
        }
        Change::LineDelivery {
            conversation,
            delivery,
        } => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO line_deliveries (conversation, seq, body) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![conversation.to_string(), i(delivery.seq), json(delivery)])?;
        }
        Change::HandoffLink(l) => {
            // One row per conversation: a new link replaces the earlier one.
            conn.prepare_cached(
                "INSERT OR REPLACE INTO handoff_links (conversation, token_hash, body) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![l.conversation.to_string(), &l.token_hash[..], json(l)])?;
        }
        Change::SecondFactor(f) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO second_factors (account, body) VALUES (?1, ?2)",
            )?
            .execute(params![f.account.to_string(), json(f)])?;
        }
        Change::SecondFactorDeleted(account) => {
            conn.prepare_cached("DELETE FROM second_factors WHERE account = ?1")?
                .execute(params![account.to_string()])?;
        }
        Change::CannedReply(r) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO canned_replies (id, body) VALUES (?1, ?2)",
            )?
            .execute(params![r.id.to_string(), json(r)])?;
        }
        Change::CannedReplyDeleted(id) => {
            conn.prepare_cached("DELETE FROM canned_replies WHERE id = ?1")?
                .execute(params![id.to_string()])?;
        }
        Change::Partner(p) => {
            conn.prepare_cached("INSERT OR REPLACE INTO partners (id, body) VALUES (?1, ?2)")?
                .execute(params![p.id.to_string(), json(p)])?;
        }
        Change::PartnerDeleted(id) => {
            conn.prepare_cached("DELETE FROM partners WHERE id = ?1")?
                .execute(params![id.to_string()])?;
        }
        Change::FloorAlert(a) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO floor_alerts (id, raised_at_ms, body) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![a.id.to_string(), i(a.raised_at_ms), json(a)])?;
        }
        Change::FloorWebhook(w) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO floor_webhooks (id, body) VALUES (?1, ?2)",
            )?
            .execute(params![w.id.to_string(), json(w)])?;
        }
        Change::FloorWebhookDeleted(id) => {
            conn.prepare_cached("DELETE FROM floor_webhooks WHERE id = ?1")?
                .execute(params![id.to_string()])?;
        }
        Change::Case(c) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO cases (id, code_hash, body) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![c.id.to_string(), &c.code_hash[..], json(c)])?;
        }
        Change::CaseDeleted(id) => {
            conn.prepare_cached("DELETE FROM cases WHERE id = ?1")?
                .execute(params![id.to_string()])?;
        }
    }
    Ok(())
}

/// A row kept as JSON. Our record types always serialise.
fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Every row of `table` (a JSON `body` column), in `order`.
fn bodies<T: DeserializeOwned>(
    conn: &Connection,
    table: &'static str,
    order: &str,
) -> Result<Vec<T>, LoadError> {
    let mut st = conn.prepare(&format!("SELECT body FROM {table} ORDER BY {order}"))?;
    let mut rows = st.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(serde_json::from_str(&r.get::<_, String>(0)?).map_err(|e| bad(table, e))?);
    }
    Ok(out)
}

/// A conversation's risk and supervision, stored as one JSON column (v3).
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Safety {
    #[serde(default)]
    risk: RiskLevel,
    #[serde(default)]
    risk_reasons: Vec<RiskReason>,
    #[serde(default)]
    supervisors: Vec<Supervision>,
    #[serde(default)]
    transfers: u32,
    /// Not safety, but the same kind of whole-read extra (v5 needs no
    /// column for them): the counsellor's assessment, the erasure time.
    #[serde(default)]
    assessment: Assessment,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    erased_at_ms: Option<u64>,
    /// v5: how the visitor reaches us (absent: web).
    #[serde(default)]
    channel: Channel,
    /// When the visitor last used the quick exit (absent: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    left_quickly_at_ms: Option<u64>,
    /// The `start`'s idempotency key: its hash and the sealed token (no
    /// column: like the rest of this JSON, absent in older rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start_key: Option<StartKey>,
    /// The language the visitor reads (absent: Japanese).
    #[serde(default)]
    lang: crate::core::ids::Lang,
    /// Issue 22: a returning visitor's last counsellor (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prefers: Option<AccountId>,
    /// Issue 22: a letter, not a chat (absent: a chat).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    letter: bool,
    /// Issue 23: the counsellor's hearing sheet (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hearing: Option<Box<HearingSheet>>,
    /// Issue 23: relay sheets (absent: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    relays: Vec<crate::core::relay::Relay>,
}

impl Safety {
    fn of(r: &ConversationRecord) -> Self {
        Self {
            risk: r.risk,
            risk_reasons: r.risk_reasons.clone(),
            supervisors: r.supervisors.clone(),
            transfers: r.transfers,
            assessment: r.assessment,
            erased_at_ms: r.erased_at_ms,
            channel: r.channel,
            left_quickly_at_ms: r.left_quickly_at_ms,
            start_key: r.start_key.clone(),
            lang: r.lang,
            prefers: r.prefers,
            letter: r.letter,
            hearing: r.hearing.clone(),
            relays: r.relays.clone(),
        }
    }
}

pub fn meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

pub fn set_meta(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        [key, value],
    )
    .map(drop)
}

/// Read everything back. Conversations come with their messages in
/// sequence order and their notes in the order written.
pub fn load(conn: &Connection) -> Result<Snapshot, LoadError> {
    let mut snap = Snapshot::default();

    let mut st = conn.prepare(
        "SELECT id, username, display_name, role, password_hash, deactivated, last_login_ms,
             setup_hash, setup_expires_at_ms, session_epoch
         FROM accounts",
    )?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let setup = match (r.get::<_, Option<Vec<u8>>>(7)?, r.get::<_, Option<i64>>(8)?) {
            (Some(h), Some(expires)) => Some(SetupTicket {
                hash: hash("accounts", h)?,
                expires_at_ms: u(expires),
            }),
            _ => None,
        };
        snap.accounts.push(Account {
            id: id("accounts", &r.get::<_, String>(0)?)?,
            username: r.get(1)?,
            display_name: r.get(2)?,
            role: parse("accounts", &r.get::<_, String>(3)?)?,
            password_hash: r.get(4)?,
            deactivated: r.get::<_, i64>(5)? != 0,
            last_login_ms: r.get::<_, Option<i64>>(6)?.map(u),
            setup,
            session_epoch: r.get(9)?,
        });
    }

    let mut st = conn.prepare("SELECT token_hash, account, expires_at_ms, epoch FROM sessions")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        snap.sessions.push((
            hash("sessions", r.get(0)?)?,
            SessionRecord {
                account: id("sessions", &r.get::<_, String>(1)?)?,
                expires_at_ms: u(r.get(2)?),
                epoch: r.get(3)?,
            },
        ));
    }

    let mut st = conn.prepare("SELECT id, status, capacity, last_assigned_ms FROM counsellors")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        snap.counsellors.push(CounsellorRecord {
            id: id("counsellors", &r.get::<_, String>(0)?)?,
            status: parse("counsellors", &r.get::<_, String>(1)?)?,
            capacity: r.get(2)?,
            active: 0,
            connections: 0,
            offline_since_ms: None,
            last_assigned_ms: r.get::<_, Option<i64>>(3)?.map(u),
        });
    }

    let mut convs = std::collections::HashMap::new();
    let mut order = Vec::new();
    let mut st = conn.prepare(
        "SELECT id, token_hash, state, counsellor, pre_chat, priority, requeued,
             queued_since_ms, started_at_ms, assigned_at_ms, ended_at_ms, ended_by, outcome,
             first_message, visitor_acked, counsellor_acked, safety
         FROM conversations ORDER BY started_at_ms, id",
    )?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let record = conversation(r)?;
        order.push(record.id);
        convs.insert(
            record.id,
            SavedConversation {
                record,
                messages: Vec::new(),
                notes: Vec::new(),
            },
        );
    }

    let mut st = conn.prepare(
        "SELECT conversation, seq, from_party, author, author_name, client_id, text, at_ms
         FROM messages ORDER BY conversation, seq",
    )?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let conv: ConversationId = id("messages", &r.get::<_, String>(0)?)?;
        let message = StoredMessage {
            seq: u(r.get(1)?),
            from: parse("messages", &r.get::<_, String>(2)?)?,
            author: r
                .get::<_, Option<String>>(3)?
                .map(|a| id("messages", &a))
                .transpose()?,
            author_name: r.get(4)?,
            client_id: ClientMsgId::from_stored(&r.get::<_, String>(5)?)
                .map_err(|e| bad("messages", e))?,
            text: r.get(6)?,
            at_ms: u(r.get(7)?),
        };
        convs
            .get_mut(&conv)
            .ok_or_else(|| {
                bad(
                    "messages",
                    format!("message of unknown conversation {conv}"),
                )
            })?
            .messages
            .push(message);
    }

    let mut st = conn.prepare("SELECT conversation, author, text, at_ms FROM notes ORDER BY id")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let conv: ConversationId = id("notes", &r.get::<_, String>(0)?)?;
        let note = Note {
            author: id("notes", &r.get::<_, String>(1)?)?,
            text: r.get(2)?,
            at_ms: u(r.get(3)?),
        };
        convs
            .get_mut(&conv)
            .ok_or_else(|| bad("notes", format!("note of unknown conversation {conv}")))?
            .notes
            .push(note);
    }

    snap.conversations = order
        .into_iter()
        .filter_map(|id| convs.remove(&id))
        .collect();

    snap.alerts = bodies(conn, "alerts", "at_ms, id")?;
    snap.slots = bodies(conn, "slots", "starts_at_ms, id")?;
    snap.handoffs = bodies(conn, "handoffs", "conversation")?;
    snap.bookings = bodies(conn, "bookings", "created_at_ms, reference")?;
    snap.audit = bodies(conn, "audit", "seq")?;
    snap.whispers = bodies(conn, "whispers", "seq")?;
    snap.facts = bodies(conn, "facts", "seq")?;
    snap.line_links = bodies(conn, "line_links", "conversation")?;
    snap.handoff_links = bodies(conn, "handoff_links", "conversation")?;
    snap.second_factors = bodies(conn, "second_factors", "account")?;
    snap.canned_replies = bodies(conn, "canned_replies", "id")?;
    snap.partners = bodies(conn, "partners", "id")?;
    snap.floor_alerts = bodies(conn, "floor_alerts", "raised_at_ms, id")?;
    snap.floor_webhooks = bodies(conn, "floor_webhooks", "id")?;
    snap.cases = bodies(conn, "cases", "id")?;
    let mut st =
        conn.prepare("SELECT conversation, body FROM line_deliveries ORDER BY conversation, seq")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let conv: ConversationId = id("line_deliveries", &r.get::<_, String>(0)?)?;
        let d =
            serde_json::from_str(&r.get::<_, String>(1)?).map_err(|e| bad("line_deliveries", e))?;
        snap.line_deliveries.push((conv, d));
    }
    if let Some(stats) = meta(conn, "stats")? {
        snap.stats = serde_json::from_str(&stats).map_err(|e| bad("meta", e))?;
    }
    Ok(snap)
}

fn conversation(r: &Row<'_>) -> Result<ConversationRecord, LoadError> {
    const T: &str = "conversations";
    let id: ConversationId = id(T, &r.get::<_, String>(0)?)?;
    let counsellor: Option<AccountId> = r
        .get::<_, Option<String>>(3)?
        .map(|c| self::id(T, &c))
        .transpose()?;
    let state = match r.get::<_, String>(2)?.as_str() {
        "queued" => ConversationState::Queued,
        "active" => ConversationState::Active {
            counsellor: counsellor
                .ok_or_else(|| bad(T, format!("{id} is active without a counsellor")))?,
        },
        "ended" => ConversationState::Ended,
        other => return Err(bad(T, format!("{id}: unknown state {other:?}"))),
    };
    let safety: Safety = serde_json::from_str(&r.get::<_, String>(16)?).map_err(|e| bad(T, e))?;
    Ok(ConversationRecord {
        id,
        token_hash: hash(T, r.get(1)?)?,
        state,
        pre_chat: serde_json::from_str(&r.get::<_, String>(4)?).map_err(|e| bad(T, e))?,
        priority: parse(T, &r.get::<_, String>(5)?)?,
        requeued: r.get(6)?,
        queued_since_ms: u(r.get(7)?),
        started_at_ms: u(r.get(8)?),
        assigned_at_ms: r.get::<_, Option<i64>>(9)?.map(u),
        ended_at_ms: r.get::<_, Option<i64>>(10)?.map(u),
        ended_by: r
            .get::<_, Option<String>>(11)?
            .map(|s| parse(T, &s))
            .transpose()?,
        outcome: r
            .get::<_, Option<String>>(12)?
            .map(|s| parse(T, &s))
            .transpose()?,
        counsellor,
        first_message: r.get(13)?,
        last_seq: 0,
        visitor_acked: u(r.get(14)?),
        counsellor_acked: u(r.get(15)?),
        visitor_connections: 0,
        visitor_offline_since_ms: None,
        risk: safety.risk,
        risk_reasons: safety.risk_reasons,
        supervisors: safety.supervisors,
        transfers: safety.transfers,
        // Derived from the log on restore.
        last_visitor_msg_ms: None,
        last_counsellor_msg_ms: None,
        silent_since_ms: None,
        assessment: safety.assessment,
        erased_at_ms: safety.erased_at_ms,
        channel: safety.channel,
        left_quickly_at_ms: safety.left_quickly_at_ms,
        start_key: safety.start_key,
        lang: safety.lang,
        prefers: safety.prefers,
        letter: safety.letter,
        hearing: safety.hearing,
        relays: safety.relays,
    })
}
