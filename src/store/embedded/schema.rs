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
    Migration {
        version: 8,
        why: "second factor: each staff account's TOTP record (sealed secret, last used step, recovery code hashes)",
        sql: V8_SECOND_FACTORS,
    },
    Migration {
        version: 9,
        why: "staff accounts run from the product: deactivation, last login, a password set-up code's keyed hash and expiry",
        sql: V9_ACCOUNTS,
    },
    Migration {
        version: 10,
        why: "canned replies: the deployment's library of texts counsellors insert into the composer",
        sql: V10_CANNED,
    },
    Migration {
        version: 11,
        why: "the empty-floor alert: its episodes, and the outbox of webhook deliveries not yet accepted",
        sql: V11_FLOOR,
    },
    Migration {
        version: 12,
        why: "supervision: supervisors' whispers to the counsellor, apart from the conversation's messages; audit entries by time for the retention",
        sql: V12_WHISPERS,
    },
    Migration {
        version: 13,
        why: "issue 22: anonymous cases, linked by a return code (its keyed hash only)",
        sql: V13_CASES,
    },
    Migration {
        version: 14,
        why: "issue 23: the directory of partner services",
        sql: V14_PARTNERS,
    },
];

/// The schema this binary writes.
pub const LATEST: u32 = 14;

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

/// v8 (issue 21, second factor): one row per account, its record as JSON
/// (the secret sealed, recovery codes as keyed hashes only). A table of
/// its own, so the accounts table is untouched.
const V8_SECOND_FACTORS: &str = "
CREATE TABLE second_factors (
    account TEXT PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;
";

/// v10 (canned replies): one row per entry, read and written whole as JSON
/// (language, category, title, body, times). Not a conversation's data:
/// no purge touches it; an admin deletes an entry.
const V10_CANNED: &str = "
CREATE TABLE canned_replies (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;
";

/// v13 (issue 22): anonymous cases. The return code is never stored, only
/// its keyed hash (also in `body`, which is what is read back; the column
/// lets the database itself refuse two cases with one code).
const V13_CASES: &str = "
CREATE TABLE cases (
    id TEXT PRIMARY KEY,
    code_hash BLOB NOT NULL UNIQUE,
    body TEXT NOT NULL
) WITHOUT ROWID;
";

/// v14 (issue 23): the directory of partner services, admin-managed; no
/// personal data (services, not people).
const V14_PARTNERS: &str = "
CREATE TABLE partners (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;
";

/// v11 (the empty-floor alert): episodes are kept like risk alerts; a
/// webhook delivery's row lives from the step that raised or cleared the
/// episode until the receiver accepts it (or it is given up), so a restart
/// resends what was not confirmed (at least once; the receiver dedupes on
/// the delivery id). No personal data in either.
const V11_FLOOR: &str = "
CREATE TABLE floor_alerts (
    id TEXT PRIMARY KEY,
    raised_at_ms INTEGER NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE floor_webhooks (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;
";

/// v9 (issue 21): accounts deactivated, their last login, a set-up code.
const V9_ACCOUNTS: &str = "
ALTER TABLE accounts ADD COLUMN deactivated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN last_login_ms INTEGER;
ALTER TABLE accounts ADD COLUMN setup_hash BLOB;
ALTER TABLE accounts ADD COLUMN setup_expires_at_ms INTEGER;
ALTER TABLE accounts ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
";

/// v12 (whisper, issue 20): a supervisor's whispers, in their own table so
/// that nothing reading `messages` (the visitor's catch-up, transcripts,
/// intake, the report) can reach them. Rows belong to the conversation and
/// go with it (purge, erase). The audit's `at_ms` gets an index: the
/// retention deletes by it and the admin page filters by time.
const V12_WHISPERS: &str = "
CREATE TABLE whispers (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX whispers_by_conversation ON whispers (conversation);
CREATE INDEX audit_by_time ON audit (at_ms);
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
    fn v9_accounts_keep_their_rows_and_start_active() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, 7).unwrap();
        conn.execute(
            "INSERT INTO accounts (id, username, display_name, role, password_hash)
             VALUES ('a', 'sato', '佐藤', 'admin', 'x')",
            [],
        )
        .unwrap();
        migrate(&mut conn, 9).unwrap();
        assert_eq!(version(&conn).unwrap(), 9);
        let (deactivated, last, setup): (i64, Option<i64>, Option<Vec<u8>>) = conn
            .query_row(
                "SELECT deactivated, last_login_ms, setup_hash FROM accounts WHERE id = 'a'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((deactivated, last, setup), (0, None, None));
    }

    #[test]
    fn v12_adds_whispers_next_to_v7_data_and_keeps_the_audit() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, 7).unwrap();
        conn.execute("INSERT INTO audit (at_ms, body) VALUES (5, '{}')", [])
            .unwrap();
        assert_eq!(migrate(&mut conn, 12).unwrap(), 7);
        assert_eq!(version(&conn).unwrap(), 12);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM audit WHERE at_ms < 10", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 1, "v7 audit rows are kept");
        conn.execute(
            "INSERT INTO whispers (conversation, at_ms, body) VALUES ('c', 1, '{}')",
            [],
        )
        .unwrap();
    }

    #[test]
    fn v13_adds_cases_next_to_v7_data() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, 7).unwrap();
        conn.execute("INSERT INTO handoff_links VALUES ('c', x'01', '{}')", [])
            .unwrap();
        assert_eq!(migrate(&mut conn, 13).unwrap(), 7);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM handoff_links", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1, "v7 rows are kept");
        let insert = |c: &Connection, id: &str, hash: &[u8]| {
            c.execute(
                "INSERT INTO cases VALUES (?1, ?2, '{}')",
                rusqlite::params![id, hash],
            )
        };
        insert(&conn, "a", &[1; 32]).unwrap();
        assert!(insert(&conn, "b", &[1; 32]).is_err(), "one code, one case");
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

    #[test]
    fn v11_adds_the_floor_tables_and_keeps_v7_rows() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, 7).unwrap();
        conn.execute("INSERT INTO handoff_links VALUES ('c', x'01', '{}')", [])
            .unwrap();
        assert_eq!(migrate(&mut conn, 11).unwrap(), 7);
        assert_eq!(version(&conn).unwrap(), 11);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM handoff_links", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1, "v7 rows are kept");
        conn.execute("INSERT INTO floor_alerts VALUES ('a', 1, '{}')", [])
            .unwrap();
        assert!(conn
            .execute("INSERT INTO floor_alerts VALUES ('a', 2, '{}')", [])
            .is_err());
        conn.execute("INSERT INTO floor_webhooks VALUES ('w', '{}')", [])
            .unwrap();
    }

    #[test]
    fn v10_adds_canned_replies_next_to_earlier_data() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, 7).unwrap();
        conn.execute("INSERT INTO handoff_links VALUES ('c', x'01', '{}')", [])
            .unwrap();
        assert_eq!(migrate(&mut conn, 10).unwrap(), 7);
        assert_eq!(version(&conn).unwrap(), 10);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM handoff_links", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1, "v7 rows are kept");
        conn.execute("INSERT INTO canned_replies VALUES ('a', '{}')", [])
            .unwrap();
        assert!(
            conn.execute("INSERT INTO canned_replies VALUES ('a', '{}')", [])
                .is_err(),
            "one row per id"
        );
    }
}
