//! The database schema and its migrations.
//!
//! The version lives in SQLite's `PRAGMA user_version`. At start every
//! migration above it runs in order, each in its own transaction together
//! with the version bump, so a crash (or a full disk) during an upgrade
//! leaves the previous version intact. A database newer than
//! [`LATEST`] is refused: this binary cannot know what the newer one wrote.
//!
//! Rules for a new migration: append it, never edit one that shipped, and
//! test the upgrade from a data directory written by the version before it
//! (as `write_v1_fixture` in `tests/api/durability.rs` does for v1 -> v2:
//! v1's migration as shipped, rows in v1's SQL).

use rusqlite::{Connection, TransactionBehavior};

/// One step up: the version it produces and the SQL that gets there.
pub struct Migration {
    pub version: u32,
    pub why: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        why: "first schema: accounts, sessions, counsellors, conversations, messages, notes",
        sql: V1,
    },
    Migration {
        version: 2,
        why: "the database itself refuses a second copy of a message (same conversation, sender and client id)",
        sql: V2,
    },
    Migration {
        version: 3,
        why: "safety and supervision: a conversation's risk, reasons, supervisors and transfers; risk alerts",
        sql: V3,
    },
    Migration {
        version: 4,
        why: "handoff: appointment slots, handoff records with their consents, bookings, the audit log",
        sql: V4,
    },
    Migration {
        version: 5,
        why: "retention: the anonymous facts of purged conversations, so the report survives the purge",
        sql: V5,
    },
    Migration {
        version: 6,
        why: "the LINE channel: a LINE conversation's link to its user, and the delivery state of the messages sent to them",
        sql: V6,
    },
    Migration {
        version: 7,
        why: "handoff over LINE: a conversation's one-time link to its handoff page (the token's hash only)",
        sql: V7,
    },
];

/// The schema this binary writes.
pub const LATEST: u32 = 7;

/// Ids are UUIDs as text and enums their wire names, so an operator can
/// read the database with the `sqlite3` shell. Presence (connection
/// counts, offline-since) and derived values (a counsellor's active count,
/// a conversation's last sequence number) are not stored: they are rebuilt
/// at start.
const V1: &str = "
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    account TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE counsellors (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    last_assigned_ms INTEGER
);

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    token_hash BLOB NOT NULL,
    state TEXT NOT NULL,
    counsellor TEXT,
    pre_chat TEXT NOT NULL,
    priority TEXT NOT NULL,
    requeued INTEGER NOT NULL,
    queued_since_ms INTEGER NOT NULL,
    started_at_ms INTEGER NOT NULL,
    assigned_at_ms INTEGER,
    ended_at_ms INTEGER,
    ended_by TEXT,
    outcome TEXT,
    first_message TEXT,
    visitor_acked INTEGER NOT NULL,
    counsellor_acked INTEGER NOT NULL
);

CREATE TABLE messages (
    conversation TEXT NOT NULL,
    seq INTEGER NOT NULL,
    from_party TEXT NOT NULL,
    author TEXT,
    author_name TEXT,
    client_id TEXT NOT NULL,
    text TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (conversation, seq)
) WITHOUT ROWID;

CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    conversation TEXT NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
";

/// Promise 2 ("none doubled") held by the database too, not only by the
/// de-duplication map in memory: a bug that tried to store a resend a
/// second time fails its commit (and the store stops, fail-stop) instead of
/// leaving a double that the next start would refuse to load. `author` is
/// NULL for visitors and SQLite treats NULLs in a UNIQUE index as all
/// different, hence the `coalesce`.
const V2: &str = "
CREATE UNIQUE INDEX messages_once
    ON messages (conversation, from_party, coalesce(author, ''), client_id);
";

/// Risk and supervision travel together and are read as a whole, so they are
/// one JSON column (`{"risk":..,"risk_reasons":[..],"supervisors":[..],
/// "transfers":n}`) rather than four; existing rows get `{}`, which reads as
/// "no risk, nobody supervising". The queue counters live in `meta` under
/// `stats`.
const V3: &str = "
ALTER TABLE conversations ADD COLUMN safety TEXT NOT NULL DEFAULT '{}';
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
";

/// Handoff records are read and written whole (offer, state, consent
/// records), so each table is a key, what it is looked up or ordered by,
/// and the row as JSON. The audit log is append-only, in insertion order.
const V4: &str = "
CREATE TABLE slots (
    id TEXT PRIMARY KEY,
    starts_at_ms INTEGER NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE handoffs (
    conversation TEXT PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE bookings (
    reference TEXT PRIMARY KEY,
    slot TEXT NOT NULL,
    conversation TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
";

/// One anonymous facts record per purged conversation (month, hour, wait,
/// pre-chat answers, outcome, assessment, handoff progress; no id, no
/// text), append only, as JSON. The counsellor's assessment and the
/// erasure time go into the conversation's `safety` JSON (read whole,
/// absent in older rows = none), so no column changes.
const V5: &str = "
CREATE TABLE facts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL
);
";

/// v6 (LINE): a conversation's channel lives in its `safety` JSON (absent: `web`).
/// The LINE user id is only in `line_links.body`; the table belongs to the
/// conversation and goes with it.
const V6: &str = "
CREATE TABLE line_links (
    conversation TEXT PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE line_deliveries (
    conversation TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (conversation, seq)
) WITHOUT ROWID;
";

/// v7 (handoff over LINE): at most one link per conversation, so the
/// conversation is the key and a new link replaces the row. The token is
/// never stored, only its SHA-256 (also in `body`, which is what is read
/// back; the column lets an operator see that a hash is unique). The row
/// belongs to the conversation and goes with it (purge, erase).
const V7: &str = "
CREATE TABLE handoff_links (
    conversation TEXT PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    body TEXT NOT NULL
) WITHOUT ROWID;
";

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("schema v{found} is newer than this version knows (v{known})")]
    Newer { found: u32, known: u32 },
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

pub fn version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Bring the database up to `target` (normally [`LATEST`]). Returns the
/// version found before.
pub fn migrate(conn: &mut Connection, target: u32) -> Result<u32, MigrateError> {
    let found = version(conn)?;
    if found > LATEST {
        return Err(MigrateError::Newer {
            found,
            known: LATEST,
        });
    }
    for m in MIGRATIONS
        .iter()
        .filter(|m| m.version > found && m.version <= target)
    {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(m.sql)?;
        tx.pragma_update(None, "user_version", m.version)?;
        tx.commit()?;
        tracing::info!(version = m.version, why = m.why, "data directory migrated");
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_up_to_latest() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as u32 + 1);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(LATEST));
    }

    #[test]
    fn v2_refuses_a_second_copy_of_a_message_even_from_a_visitor() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, 1).unwrap();
        let insert = |c: &Connection, seq: i64, author: Option<&str>| {
            c.execute(
                "INSERT INTO messages VALUES ('c', ?1, 'visitor', ?2, NULL, 'm-1', 't', 0)",
                rusqlite::params![seq, author],
            )
        };
        // v1 allowed it (NULL author on both).
        insert(&conn, 1, None).unwrap();
        insert(&conn, 2, None).unwrap();
        conn.execute("DELETE FROM messages WHERE seq = 2", [])
            .unwrap();
        assert_eq!(migrate(&mut conn, 2).unwrap(), 1);
        assert_eq!(version(&conn).unwrap(), 2);
        assert!(insert(&conn, 2, None).is_err());
        // Another sender may use the same client id.
        insert(&conn, 2, Some("someone")).unwrap();
    }

    #[test]
    fn v7_adds_handoff_links_next_to_v6_data() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, 6).unwrap();
        conn.execute("INSERT INTO line_links VALUES ('c', '{}')", [])
            .unwrap();
        assert_eq!(migrate(&mut conn, 7).unwrap(), 6);
        assert_eq!(version(&conn).unwrap(), 7);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM line_links", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1, "v6 rows are kept");
        let insert = |c: &Connection, conv: &str, hash: &[u8]| {
            c.execute(
                "INSERT INTO handoff_links VALUES (?1, ?2, '{}')",
                rusqlite::params![conv, hash],
            )
        };
        insert(&conn, "a", &[1; 32]).unwrap();
        assert!(insert(&conn, "b", &[1; 32]).is_err(), "one hash, one link");
        assert!(
            insert(&conn, "a", &[2; 32]).is_err(),
            "one link per conversation"
        );
    }

    #[test]
    fn a_newer_database_is_refused_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", LATEST + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn, LATEST),
            Err(MigrateError::Newer { .. })
        ));
        assert_eq!(version(&conn).unwrap(), LATEST + 1);
    }
}
