//! Data at rest on the durable embedded store: the data directory is the
//! server's own (0700, files 0600) whatever the umask or the directory's
//! earlier mode, and an erased conversation's words are, once the erase is
//! confirmed, in neither the database file nor its write-ahead log.

use std::path::Path;
use std::sync::Arc;

use tsunagu::core::ids::Party;
use tsunagu::core::queue::QueuePolicy;
use tsunagu::model::Retention;
use tsunagu::store::embedded::{open, DB_FILE, LOCK_FILE};
use tsunagu::store::Store;

use crate::helpers::TempDir;
use crate::store_conformance::{conv_at, create, message};

const T0: u64 = 1_700_000_000_000;

fn open_store(dir: &Path) -> Arc<dyn Store> {
    let (store, _) = open(dir, T0, QueuePolicy::default()).unwrap();
    Arc::new(store)
}

/// Does any file of the data directory hold `needle`? (database, WAL, ...)
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap_or_default();
        if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            found.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    found.sort();
    found
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_its_files_are_the_servers_own() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = TempDir::new("at-rest-mode");
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Files left world-readable by an earlier version are tightened.
    for name in [DB_FILE, LOCK_FILE] {
        std::fs::write(dir.join(name), b"").unwrap();
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let store = open_store(&dir);
    let id = create(&store, conv_at(T0)).await;
    store
        .append(id, message(Party::Visitor, "m-1", "こんにちは"))
        .await
        .unwrap();
    assert_eq!(mode(&dir), 0o700, "the data directory");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        files.push(path.file_name().unwrap().to_string_lossy().into_owned());
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    files.sort();
    println!("files in the data directory, each 0600: {files:?}");
    assert!(files.contains(&DB_FILE.to_owned()));
    assert!(files.contains(&format!("{DB_FILE}-wal")), "{files:?}");
    store.close().await.unwrap();
}

#[tokio::test]
async fn erased_words_are_in_neither_the_database_nor_the_wal() {
    let tmp = TempDir::new("at-rest-erase");
    let store = open_store(tmp.path());
    let words = "消えたい-erase-me-7f3a9c";
    let kept = "残る-keep-me-5b2e";
    let id = create(&store, conv_at(T0)).await;
    store
        .append(id, message(Party::Visitor, "m-1", words))
        .await
        .unwrap();
    let other = create(&store, conv_at(T0)).await;
    store
        .append(other, message(Party::Visitor, "m-1", kept))
        .await
        .unwrap();
    // Confirmed means on disk: before the erase the words are there (in the
    // WAL until a checkpoint), so the search below can find them.
    assert!(!files_holding(tmp.path(), words).is_empty());

    store.erase(id, false, T0 + 1_000).await.unwrap();
    let left = files_holding(tmp.path(), words);
    println!("files holding the erased words after the erase: {left:?}");
    assert!(left.is_empty(), "{left:?}");
    // The other conversation is untouched, and on disk.
    assert!(!files_holding(tmp.path(), kept).is_empty());

    // A purge is held to the same rule.
    store
        .end(
            other,
            tsunagu::core::conversation::EndedBy::Visitor,
            None,
            T0 + 2_000,
        )
        .await
        .unwrap();
    let retention = Retention {
        conversation_ms: 1,
        booking_ms: 1,
        audit_ms: 1,
    };
    store.purge(T0 + 100_000, &retention).await.unwrap();
    let left = files_holding(tmp.path(), kept);
    println!("files holding the purged words after the purge: {left:?}");
    assert!(left.is_empty(), "{left:?}");
    store.close().await.unwrap();
}
