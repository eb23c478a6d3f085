//! The durable embedded store, the default: the rules of
//! [`MemoryStore`](super::memory::MemoryStore) with SQLite underneath.
//!
//! Reads are served from memory. Every mutation is written to
//! `<data_dir>/tsunagu.db` and committed (WAL, `synchronous = FULL`, so
//! the commit is fsynced) before the caller hears `Ok`; concurrent
//! mutations share one commit ([`writer`]). At start the whole database is
//! read back into memory. Why SQLite, and what was measured: see
//! `docs/ARCHITECTURE.md`, "Durable embedded store".
//!
//! Owns: the data directory (its lock file, the database, migrations,
//! backups). Never: sockets, or any rule about conversations (those are
//! the memory store's).

pub mod rows;
pub mod schema;
mod writer;

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::memory::MemoryStore;
use writer::SqliteJournal;

/// The database inside the data directory.
pub const DB_FILE: &str = "tsunagu.db";
/// Held (flock) by the running server, so two servers never share a
/// data directory.
pub const LOCK_FILE: &str = "tsunagu.lock";
/// Free space the data directory must have at start.
pub const MIN_FREE_BYTES: u64 = 8 * 1024 * 1024;

/// Why the data directory cannot be used. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the data directory {dir} is not writable ({detail}); give the server's user write access to it, or choose another with TSUNAGU_DATA_DIR")]
    NotWritable { dir: PathBuf, detail: String },
    #[error("the data directory {dir} is full ({detail}); free some space and start again (nothing was changed)")]
    Full { dir: PathBuf, detail: String },
    #[error("the data directory {dir} is in use by another Tsunagu process (it holds {LOCK_FILE}); stop that one first")]
    InUse { dir: PathBuf },
    #[error("the data directory {dir} was written by a newer version of Tsunagu (schema v{found}; this version knows up to v{known}); run the newer version, or restore a backup made by this one (nothing was changed)")]
    Newer {
        dir: PathBuf,
        found: u32,
        known: u32,
    },
    #[error("the data in {dir} cannot be read back ({detail}); restore a backup (README, \"Backup and restore\")")]
    Corrupt { dir: PathBuf, detail: String },
    #[error("cannot use the data directory {dir}: {detail}")]
    Other { dir: PathBuf, detail: String },
    #[error("the data directory {dir} (setting `data_dir`, TSUNAGU_DATA_DIR) is not a directory: {path} is a file; move that file away, or set data_dir to a directory (it is created if missing)")]
    NotADirectory { dir: PathBuf, path: PathBuf },
}

impl OpenError {
    fn from_io(dir: &Path, e: io::Error) -> Self {
        let dir = dir.to_owned();
        let detail = e.to_string();
        match e.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                OpenError::NotWritable { dir, detail }
            }
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
                OpenError::Full { dir, detail }
            }
            _ => OpenError::Other { dir, detail },
        }
    }

    fn from_sql(dir: &Path, e: rusqlite::Error) -> Self {
        let dir = dir.to_owned();
        let detail = e.to_string();
        match e.sqlite_error_code() {
            Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
                OpenError::NotWritable { dir, detail }
            }
            Some(ErrorCode::DiskFull) => OpenError::Full { dir, detail },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => OpenError::InUse { dir },
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                OpenError::Corrupt { dir, detail }
            }
            _ => OpenError::Other { dir, detail },
        }
    }
}

/// What `open` found, for the start-up log.
#[derive(Clone, Debug)]
pub struct Opened {
    pub db_path: PathBuf,
    pub schema_found: u32,
    pub schema: u32,
    pub conversations: usize,
    pub messages: usize,
    pub accounts: usize,
}

/// Open (creating if needed) the data directory, migrate it, read it back,
/// and start the writer. Blocking: call from `spawn_blocking`.
pub fn open(
    dir: &Path,
    now_ms: u64,
    policy: crate::core::queue::QueuePolicy,
) -> Result<(MemoryStore, Opened), OpenError> {
    if let Some(path) = file_in_the_way(dir) {
        return Err(OpenError::NotADirectory {
            dir: dir.to_owned(),
            path,
        });
    }
    std::fs::create_dir_all(dir).map_err(|e| OpenError::from_io(dir, e))?;
    private_dir(dir).map_err(|e| OpenError::from_io(dir, e))?;
    let lock = lock_dir(dir)?;
    check_free_space(dir)?;
    let db_path = dir.join(DB_FILE);
    // SQLite gives the WAL and shared-memory files the database file's
    // permissions: creating it 0600 first makes all three private, whatever
    // the process's umask.
    private_file(&db_path).map_err(|e| OpenError::from_io(dir, e))?;
    let mut conn = connect(
        &db_path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    )
    .map_err(|e| OpenError::from_sql(dir, e))?;
    let schema_found = schema::migrate(&mut conn, schema::LATEST).map_err(|e| match e {
        schema::MigrateError::Newer { found, known } => OpenError::Newer {
            dir: dir.to_owned(),
            found,
            known,
        },
        schema::MigrateError::Sql(e) => OpenError::from_sql(dir, e),
    })?;
    // A write at every start: a directory that can be read but no longer
    // written (or has no room left) is refused now, not at the first chat.
    let stamp = || -> rusqlite::Result<()> {
        let tx = conn.unchecked_transaction()?;
        if rows::meta(&tx, "created_ms")?.is_none() {
            rows::set_meta(&tx, "created_ms", &now_ms.to_string())?;
        }
        rows::set_meta(&tx, "last_start_ms", &now_ms.to_string())?;
        rows::set_meta(&tx, "last_start_version", env!("CARGO_PKG_VERSION"))?;
        // Expired sessions are useless; drop them rather than load them.
        tx.execute(
            "DELETE FROM sessions WHERE expires_at_ms <= ?1",
            [now_ms as i64],
        )?;
        tx.commit()
    };
    stamp().map_err(|e| OpenError::from_sql(dir, e))?;
    let snapshot = rows::load(&conn).map_err(|e| match e {
        rows::LoadError::Sql(e) => OpenError::from_sql(dir, e),
        other => OpenError::Corrupt {
            dir: dir.to_owned(),
            detail: other.to_string(),
        },
    })?;
    let opened = Opened {
        db_path,
        schema_found,
        schema: schema::LATEST,
        conversations: snapshot.conversations.len(),
        messages: snapshot
            .conversations
            .iter()
            .map(|c| c.messages.len())
            .sum(),
        accounts: snapshot.accounts.len(),
    };
    let journal = SqliteJournal::start(conn, lock).map_err(|e| OpenError::from_io(dir, e))?;
    let store =
        MemoryStore::restore(snapshot, Arc::new(journal), now_ms, policy).map_err(|detail| {
            OpenError::Corrupt {
                dir: dir.to_owned(),
                detail,
            }
        })?;
    Ok((store, opened))
}

fn connect(path: &Path, flags: OpenFlags) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    // WAL: readers (a backup) never block the writer. synchronous = FULL:
    // every commit fsyncs the WAL, so a commit survives a power cut, not
    // only a crash of the process (NORMAL would lose the last commits).
    // secure_delete: a deleted or overwritten row's bytes are zeroed, not
    // left in free pages (erasure must be real).
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    if !flags.contains(OpenFlags::SQLITE_OPEN_READ_ONLY) {
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!(
                    "cannot use write-ahead logging (journal mode {mode})"
                )),
            ));
        }
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(conn)
}

/// `dir` itself, or the first of its ancestors, that exists as something
/// other than a directory (`create_dir_all` would say only "File exists"
/// or "Not a directory").
fn file_in_the_way(dir: &Path) -> Option<PathBuf> {
    let mut found = None;
    for p in dir.ancestors().filter(|p| !p.as_os_str().is_empty()) {
        match std::fs::metadata(p) {
            Ok(m) if !m.is_dir() => found = Some(p.to_owned()),
            Ok(_) => break,
            Err(_) => {}
        }
    }
    found
}

/// The data directory: readable by the server's own user only (0700).
#[cfg(unix)]
fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn private_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Create `path` 0600 if it is missing, and make it 0600 if it is not.
fn private_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

/// How long `open` waits for the lock to be let go before it says the
/// directory is in use.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Take the data directory's lock file, or say who holds it. A holder
/// that is letting go gets [`LOCK_WAIT`]: a server restarted by its
/// supervisor while the old process is still exiting, or (seen in the test
/// suite) a child process forked elsewhere in this process that still has
/// a copy of the descriptor until its `exec`.
fn lock_dir(dir: &Path) -> Result<File, OpenError> {
    let file = private_file(&dir.join(LOCK_FILE)).map_err(|e| OpenError::from_io(dir, e))?;
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match try_lock(&file) {
            Ok(()) => return Ok(file),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if std::time::Instant::now() >= deadline {
                    return Err(OpenError::InUse {
                        dir: dir.to_owned(),
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(OpenError::from_io(dir, e)),
        }
    }
}

#[cfg(unix)]
fn try_lock(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor we own; no memory is involved.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn check_free_space(dir: &Path) -> Result<(), OpenError> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(|_| OpenError::Other {
        dir: dir.to_owned(),
        detail: "the path contains a NUL byte".into(),
    })?;
    // SAFETY: statvfs fills the struct we pass; the path is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(OpenError::from_io(dir, io::Error::last_os_error()));
    }
    let free = st.f_bavail as u64 * st.f_frsize as u64;
    if free < MIN_FREE_BYTES {
        return Err(OpenError::Full {
            dir: dir.to_owned(),
            detail: format!(
                "{} KiB free, at least {} KiB needed",
                free / 1024,
                MIN_FREE_BYTES / 1024
            ),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_free_space(_dir: &Path) -> Result<(), OpenError> {
    Ok(())
}

/// A consistent copy of the data directory's database at `dest`, taken
/// while the server runs (`VACUUM INTO` reads one snapshot of the WAL
/// database; the server keeps writing meanwhile). The copy is compact: no
/// free pages, so nothing erased before the backup is carried into it.
/// Restore: stop the server, put the copy at `<data_dir>/tsunagu.db` in an
/// empty data directory, start (README, "Backup and restore").
pub fn backup(dir: &Path, dest: &Path) -> Result<BackupDone, OpenError> {
    let db_path = dir.join(DB_FILE);
    if !db_path.exists() {
        return Err(OpenError::Other {
            dir: dir.to_owned(),
            detail: format!("there is no {DB_FILE} here to back up"),
        });
    }
    if dest.exists() {
        return Err(OpenError::Other {
            dir: dir.to_owned(),
            detail: format!("{} exists already; name a new file", dest.display()),
        });
    }
    let dest_str = dest.to_str().ok_or_else(|| OpenError::Other {
        dir: dir.to_owned(),
        detail: "the backup path is not valid UTF-8".into(),
    })?;
    let conn = connect(&db_path, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| OpenError::from_sql(dir, e))?;
    let version = schema::version(&conn).map_err(|e| OpenError::from_sql(dir, e))?;
    if version > schema::LATEST {
        return Err(OpenError::Newer {
            dir: dir.to_owned(),
            found: version,
            known: schema::LATEST,
        });
    }
    conn.execute("VACUUM INTO ?1", [dest_str])
        .map_err(|e| OpenError::from_sql(dir, e))?;
    // Check the copy before calling it a backup.
    let copy = Connection::open_with_flags(dest, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| OpenError::from_sql(dir, e))?;
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| OpenError::from_sql(dir, e))?;
    if check != "ok" {
        return Err(OpenError::Corrupt {
            dir: dir.to_owned(),
            detail: format!("the copy fails its integrity check: {check}"),
        });
    }
    let snapshot = rows::load(&copy).map_err(|e| OpenError::Corrupt {
        dir: dir.to_owned(),
        detail: e.to_string(),
    })?;
    Ok(BackupDone {
        schema: version,
        bytes: std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0),
        conversations: snapshot.conversations.len(),
        messages: snapshot
            .conversations
            .iter()
            .map(|c| c.messages.len())
            .sum(),
        accounts: snapshot.accounts.len(),
    })
}

#[derive(Clone, Debug)]
pub struct BackupDone {
    pub schema: u32,
    pub bytes: u64,
    pub conversations: usize,
    pub messages: usize,
    pub accounts: usize,
}
