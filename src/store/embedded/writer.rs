//! The writer thread: group commit.
//!
//! One OS thread owns the SQLite connection, so database I/O never blocks
//! the async executor. Callers hand it jobs through a channel (never
//! blocking: they may hold the store's lock) and await a oneshot answer.
//! The thread takes the first job, then every job that queued up behind it
//! (up to [`MAX_BATCH_JOBS`]), writes them all in one transaction and
//! commits once: one fsync for the whole batch. Only then does it answer
//! each job. While that fsync runs the next batch queues up, so under load
//! the batches grow by themselves and the fsync is shared, never skipped;
//! with one writer at a time a batch is one job and there is no added
//! delay.
//!
//! A failed commit (disk full, I/O error) answers every job in the batch
//! with an error and marks the journal unhealthy: memory then holds
//! changes the disk does not, so the store refuses everything until the
//! process is restarted and reloads the disk's consistent state.

use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::rows;
use crate::store::journal::{Change, Commit, Journal};
use crate::store::{StoreError, StoreResult};

/// Jobs committed together at most (a job is one store call's changes).
pub const MAX_BATCH_JOBS: usize = 1024;

/// How often the WAL is folded into the database and truncated to zero,
/// even under load. Bounds how long an overwritten or deleted row's old
/// bytes can linger in the WAL (see ARCHITECTURE.md, "Durable embedded
/// store").
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(300);

enum Msg {
    Job {
        changes: Vec<Change>,
        done: oneshot::Sender<StoreResult<()>>,
    },
    Close(oneshot::Sender<StoreResult<()>>),
}

pub struct SqliteJournal {
    tx: mpsc::Sender<Msg>,
    healthy: Arc<AtomicBool>,
}

fn closed() -> StoreError {
    StoreError::Unavailable("the store is closed".into())
}

impl SqliteJournal {
    /// Start the writer thread. It owns `conn` and `lock` (the data
    /// directory's lock file, released when the thread ends).
    pub fn start(conn: Connection, lock: File) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let healthy = Arc::new(AtomicBool::new(true));
        let h = healthy.clone();
        std::thread::Builder::new()
            .name("tsunagu-store-writer".into())
            .spawn(move || run(conn, lock, rx, h))?;
        Ok(Self { tx, healthy })
    }

    fn send(&self, make: impl FnOnce(oneshot::Sender<StoreResult<()>>) -> Msg) -> Commit {
        let (done, answer) = oneshot::channel();
        if self.tx.send(make(done)).is_err() {
            return Box::pin(std::future::ready(Err(closed())));
        }
        Box::pin(async move { answer.await.unwrap_or_else(|_| Err(closed())) })
    }
}

impl Journal for SqliteJournal {
    fn submit(&self, changes: Vec<Change>) -> Commit {
        self.send(|done| Msg::Job { changes, done })
    }

    fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    fn close(&self) -> Commit {
        self.send(Msg::Close)
    }

    fn describe(&self) -> std::collections::BTreeMap<String, String> {
        [
            ("engine", "sqlite"),
            ("journal_mode", "wal"),
            ("synchronous", "full (every commit fsynced)"),
            ("group_commit", "on"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}

fn run(mut conn: Connection, lock: File, rx: mpsc::Receiver<Msg>, healthy: Arc<AtomicBool>) {
    let mut last_checkpoint = Instant::now();
    loop {
        let first = match rx.recv_timeout(CHECKPOINT_INTERVAL) {
            Ok(m) => m,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                checkpoint(&conn);
                last_checkpoint = Instant::now();
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut jobs = Vec::new();
        let mut close = None;
        match first {
            Msg::Job { changes, done } => jobs.push((changes, done)),
            Msg::Close(done) => close = Some(done),
        }
        while close.is_none() && jobs.len() < MAX_BATCH_JOBS {
            match rx.try_recv() {
                Ok(Msg::Job { changes, done }) => jobs.push((changes, done)),
                Ok(Msg::Close(done)) => close = Some(done),
                Err(_) => break,
            }
        }
        if !jobs.is_empty() {
            let deletes = jobs
                .iter()
                .any(|(changes, _)| changes.iter().any(Change::deletes_personal_data));
            let result = if healthy.load(Ordering::Acquire) {
                commit(&mut conn, &jobs).map_err(|e| {
                    healthy.store(false, Ordering::Release);
                    tracing::error!(
                        error = %e,
                        "cannot write to the data directory; the store refuses every request \
                         until the server is restarted (nothing unacknowledged is lost: \
                         every request whose write failed was answered with an error)"
                    );
                    StoreError::Unavailable(format!("write failed: {e}"))
                })
            } else {
                Err(StoreError::Unavailable("an earlier write failed".into()))
            };
            if deletes && result.is_ok() {
                // An erase or a purge is confirmed only once the deleted
                // rows' old bytes are out of the WAL too (secure_delete
                // zeroes them in the database file).
                checkpoint(&conn);
                last_checkpoint = Instant::now();
            }
            for (_, done) in jobs {
                // The caller may have gone away (client disconnected): fine.
                let _ = done.send(result.clone());
            }
        }
        if let Some(done) = close {
            checkpoint(&conn);
            let result = conn.close().map_err(|(_, e)| {
                StoreError::Unavailable(format!("closing the database failed: {e}"))
            });
            drop(lock);
            let _ = done.send(result);
            return;
        }
        if last_checkpoint.elapsed() >= CHECKPOINT_INTERVAL {
            checkpoint(&conn);
            last_checkpoint = Instant::now();
        }
    }
    checkpoint(&conn);
    drop(lock);
}

fn commit(
    conn: &mut Connection,
    jobs: &[(Vec<Change>, oneshot::Sender<StoreResult<()>>)],
) -> rusqlite::Result<()> {
    if jobs.iter().all(|(changes, _)| changes.is_empty()) {
        // Only barriers: everything before them is already committed.
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for (changes, _) in jobs {
        for change in changes {
            rows::write(&tx, change)?;
        }
    }
    tx.commit()
}

/// Copy the WAL into the database and truncate it. Skipped (and retried
/// later) while a reader such as `tsunagu backup` holds an old snapshot.
fn checkpoint(conn: &Connection) {
    match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(0) => {}
        Ok(_) => tracing::debug!("checkpoint postponed: a reader is busy"),
        Err(e) => tracing::warn!(error = %e, "checkpoint failed"),
    }
}
