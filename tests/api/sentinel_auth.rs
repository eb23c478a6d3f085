//! Sentinels and data servers that require passwords (issue 25): a primary
//! with `requirepass` and a Sentinel with its own `requirepass` (and
//! `sentinel auth-pass` for the primary), both this test's own
//! `redis-server` processes on free ports, never the machine's 6379. The
//! node's start-up (`startup::open_store`, from settings read as from the
//! environment) reaches the primary through the Sentinel with both
//! passwords, and is refused with an error that names the setting to fix
//! without the Sentinel's password, with a wrong one, or without the
//! primary's.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tsunagu::config::Settings;
use tsunagu::model::{Account, Role};

use crate::helpers::*;

pub(crate) const DATA_PASSWORD: &str = "data-pw-0a1b2c";
pub(crate) const SENTINEL_PASSWORD: &str = "sentinel-pw-3d4e5f";

/// A `redis-server` (or Sentinel) of this test's own; killed when dropped.
struct Own(Child);

impl Drop for Own {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `None` when the server could not keep its port (another process took
/// the free port first): the caller picks new ports.
fn start(args: &[&str], dir: &Path, port: u16) -> Option<Own> {
    let child = Command::new("redis-server")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server is installed (tests/run.sh installs it)");
    let mut own = Own(child);
    for _ in 0..200 {
        if own.0.try_wait().ok().flatten().is_some() {
            return None;
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            // Whoever answered, our server must still be running.
            std::thread::sleep(Duration::from_millis(50));
            return own.0.try_wait().ok().flatten().is_none().then_some(own);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("redis-server did not start on {port}");
}

/// A primary with `requirepass` and a Sentinel with its own.
pub(crate) struct Protected {
    _primary: Own,
    _sentinel: Own,
    pub(crate) sentinel: String,
    _dir: TempDir,
}

pub(crate) fn protected() -> Protected {
    (0..5)
        .find_map(|_| try_protected())
        .expect("a primary and a Sentinel on free ports")
}

fn try_protected() -> Option<Protected> {
    let dir = TempDir::new("sentinel-auth");
    let (data_port, sentinel_port) = (free_port(), free_port());
    if data_port == sentinel_port {
        return None;
    }
    let primary = start(
        &[
            "--port",
            &data_port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            DATA_PASSWORD,
            "--masterauth",
            DATA_PASSWORD,
        ],
        dir.path(),
        data_port,
    )?;
    let conf: PathBuf = dir.path().join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {sentinel_port}\nbind 127.0.0.1\nprotected-mode no\ndir {dir}\n\
             requirepass {SENTINEL_PASSWORD}\n\
             sentinel monitor tsunagu 127.0.0.1 {data_port} 1\n\
             sentinel auth-pass tsunagu {DATA_PASSWORD}\n\
             sentinel down-after-milliseconds tsunagu 5000\n",
            dir = dir.path().display()
        ),
    )
    .unwrap();
    let sentinel = start(
        &[conf.to_str().unwrap(), "--sentinel"],
        dir.path(),
        sentinel_port,
    )?;
    Some(Protected {
        _primary: primary,
        _sentinel: sentinel,
        sentinel: format!("127.0.0.1:{sentinel_port}"),
        _dir: dir,
    })
}

/// Settings as the environment gives them.
fn settings(sentinel: &str, pairs: &[(&str, &str)]) -> Settings {
    let mut env = vec![
        (
            "TSUNAGU_REDIS_SENTINELS".to_owned(),
            format!("[\"{sentinel}\"]"),
        ),
        ("TSUNAGU_REDIS_SERVICE".to_owned(), "tsunagu".to_owned()),
        ("TSUNAGU_REDIS_PREFIX".to_owned(), unique_prefix()),
    ];
    env.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::load(None, env).expect("valid settings")
}

async fn start_error(s: &Settings) -> String {
    match tsunagu::startup::open_store(s).await {
        Ok(_) => panic!("started without the right credentials"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn a_sentinel_with_a_password_is_reached_with_it_and_refused_without() {
    if suite_on_redis() || suite_on_embedded() {
        return; // it brings its own Redis and Sentinel; once per run is enough
    }
    let p = protected();
    let both = [
        ("TSUNAGU_REDIS_SENTINEL_PASSWORD", SENTINEL_PASSWORD),
        ("TSUNAGU_REDIS_PASSWORD", DATA_PASSWORD),
    ];

    // With both passwords: the node finds the primary and writes there.
    let (store, kind) = tsunagu::startup::open_store(&settings(&p.sentinel, &both))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(kind, "redis");
    store.ping().await.unwrap();
    let account = Account::new(
        tsunagu::core::ids::AccountId::new_random(),
        "sentinel-auth".into(),
        "見張り".into(),
        Role::Counsellor,
        password_hash().into(),
    );
    store
        .create_account(account.clone(), Vec::new())
        .await
        .unwrap();
    assert_eq!(store.account(account.id).await.unwrap(), Some(account));
    store.close().await.unwrap();

    let mut errors = Vec::new();
    // Without the Sentinel's password: a start-up error naming the setting.
    let e = start_error(&settings(
        &p.sentinel,
        &[("TSUNAGU_REDIS_PASSWORD", DATA_PASSWORD)],
    ))
    .await;
    assert!(
        e.contains(&format!(
            "the Sentinel at {} requires a password",
            p.sentinel
        )) && e.contains("redis_sentinel_password"),
        "{e}"
    );
    errors.push(e);
    // A wrong one: refused, and it says which.
    let e = start_error(&settings(
        &p.sentinel,
        &[
            ("TSUNAGU_REDIS_SENTINEL_PASSWORD", "not-the-password"),
            ("TSUNAGU_REDIS_PASSWORD", DATA_PASSWORD),
        ],
    ))
    .await;
    assert!(
        e.contains("refused the credentials") && e.contains("redis_sentinel_password"),
        "{e}"
    );
    errors.push(e);
    // The Sentinel's right, the primary's missing: the primary's setting.
    let e = start_error(&settings(
        &p.sentinel,
        &[("TSUNAGU_REDIS_SENTINEL_PASSWORD", SENTINEL_PASSWORD)],
    ))
    .await;
    assert!(
        e.contains("the primary at 127.0.0.1:") && e.contains("redis_password"),
        "{e}"
    );
    errors.push(e);
    // No error shows a password.
    for e in &errors {
        assert!(
            !e.contains(SENTINEL_PASSWORD)
                && !e.contains(DATA_PASSWORD)
                && !e.contains("not-the-password"),
            "{e}"
        );
    }
}
