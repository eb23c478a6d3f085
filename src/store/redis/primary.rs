//! Which Redis is the primary, and moving every connection to a new one.
//!
//! A node reaches Redis either at a fixed `redis_url` or through Redis
//! Sentinel (`redis_sentinels`, `redis_service`). With Sentinel the node
//! asks the Sentinels for the primary's address
//! (`SENTINEL get-master-addr-by-name`), checks with `ROLE` that the server
//! there is a primary (a Sentinel may still name the old one during a
//! failover) and opens its connections to it: the lanes, the bulk
//! connection, the handoff's durable connection ([`Links`]). A task
//! ([`follow`]) asks again every [`POLL`]; when the answer changes it opens
//! a full set of connections to the new primary and swaps them in at once,
//! so no command goes to the old primary after the swap, and the event
//! forwarder re-subscribes there and resynchronises every socket.
//!
//! Why not the redis crate's `sentinel` module: it hands out a `Client` or
//! a connection for the primary of the moment, while the store's
//! connections are `ConnectionManager`s, which reconnect by themselves but
//! always to the address they were made with. Re-resolving on every
//! reconnection would need the crate's reconnect loop to ask the
//! Sentinels; swapping whole sets of managers keeps the existing
//! reconnection (a primary restarted in place) and adds the move.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use ::redis::{Client, IntoConnectionInfo, RedisConnectionInfo, RedisError, Value};
use tokio::sync::watch;

use super::{unavailable, LANES};
use crate::store::{StoreError, StoreResult};

/// How often a node asks the Sentinels where the primary is.
pub const POLL: Duration = Duration::from_millis(250);
/// One question to a Sentinel or a candidate primary, at most.
const ASK_TIMEOUT: Duration = Duration::from_secs(1);

/// Where the primary is.
#[derive(Clone, Debug)]
pub enum RedisTarget {
    /// A fixed address (`redis_url`). A managed Redis whose endpoint's
    /// name moves to the new primary on a failover is followed by the
    /// connections' own reconnection.
    Url(String),
    /// Ask these Sentinels (`host:port`) for the primary of `service`.
    Sentinel {
        sentinels: Vec<String>,
        service: String,
        /// For the primary and replicas (`requirepass`/`masterauth`, or an
        /// ACL user): `redis_username`, `redis_password`.
        data: Credentials,
        /// For the Sentinels themselves (their own `requirepass`, or an
        /// ACL user on them): `redis_sentinel_username`,
        /// `redis_sentinel_password`.
        sentinel: Credentials,
    },
}

/// A user and password to `AUTH` with; none: no `AUTH`, a password alone:
/// the `default` user. Its `Debug` never shows the password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

impl Credentials {
    /// Connection settings for `host:port` that authenticate with these.
    fn info(&self, addr: &str) -> StoreResult<::redis::ConnectionInfo> {
        let (host, port) = split_addr(addr)?;
        let mut settings = RedisConnectionInfo::default();
        if let Some(u) = &self.username {
            settings = settings.set_username(u);
        }
        if let Some(p) = &self.password {
            settings = settings.set_password(p);
        }
        Ok((host, port)
            .into_connection_info()
            .map_err(unavailable)?
            .set_redis_settings(settings))
    }
}

/// Why a server refused us, said for the operator when it is about
/// credentials (which setting to look at); otherwise the error as it is.
/// Never contains a password.
fn explain(e: &RedisError, what: &str, username: &str, password: &str) -> String {
    let text = e.to_string();
    let code = e.code().unwrap_or("");
    if code == "NOAUTH" || text.contains("NOAUTH") || text.contains("Authentication required") {
        format!("{what} requires a password: set {password} (and {username} for an ACL user)")
    } else if e.kind() == ::redis::ErrorKind::AuthenticationFailed
        || code == "WRONGPASS"
        || text.contains("WRONGPASS")
        || text.contains("invalid password")
        || text.contains("invalid username-password")
    {
        format!("{what} refused the credentials: check {password} and {username}")
    } else if code == "NOPERM" || text.contains("NOPERM") {
        format!("{what}: the user named by {username} lacks a permission ({text})")
    } else {
        format!("{what}: {text}")
    }
}

/// Writes confirmed only once replicas have them (`WAIT`).
#[derive(Clone, Copy, Debug)]
pub struct ReplicaWait {
    /// Replicas that must have a write; 0: no wait.
    pub replicas: u32,
    pub timeout: Duration,
    /// Chat messages wait too.
    pub messages: bool,
}

impl Default for ReplicaWait {
    fn default() -> Self {
        Self {
            replicas: 0,
            timeout: crate::config::DEFAULT_REDIS_WAIT_TIMEOUT,
            messages: false,
        }
    }
}

/// A Sentinel service name: the same characters as a key prefix.
pub fn valid_service_name(s: &str) -> bool {
    crate::config::valid_redis_prefix(s)
}

/// One primary's connections.
pub struct Links {
    /// `host:port` of the primary (no credentials).
    pub addr: String,
    pub client: Client,
    pub lanes: Box<[ConnectionManager]>,
    pub bulk: ConnectionManager,
    /// The handoff's writes' own connection: there when they wait for
    /// something (`WAITAOF`, `WAIT`), so a wait holds up only them.
    pub durable: Option<ConnectionManager>,
    /// The server has `WAITAOF` (Redis 7.2+).
    pub waitaof: bool,
}

impl Links {
    async fn open(client: Client, addr: String, waits_for_replicas: bool) -> StoreResult<Links> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(super::CONNECT_TIMEOUT))
            .set_response_timeout(Some(super::RESPONSE_TIMEOUT))
            .set_max_delay(Duration::from_secs(2))
            // While Redis is away a request waits for the reconnection
            // attempts; few and short ones make it fail fast as
            // `Unavailable` (the client retries) instead of hanging.
            .set_number_of_retries(super::RECONNECT_RETRIES)
            .set_min_delay(Duration::from_millis(50));
        let manager = || async {
            client
                .get_connection_manager_with_config(config.clone())
                .await
                .map_err(unavailable)
        };
        let mut first = manager().await?;
        let bulk = manager().await?;
        let mut lanes = vec![first.clone()];
        for _ in 1..LANES {
            lanes.push(manager().await?);
        }
        let waitaof = super::has_waitaof(&mut first).await?;
        let durable = if waitaof || waits_for_replicas {
            Some(manager().await?)
        } else {
            None
        };
        Ok(Links {
            addr,
            client,
            lanes: lanes.into(),
            bulk,
            durable,
            waitaof,
        })
    }
}

/// The current primary's connections, and what the node knows of a
/// failover.
pub struct Primary {
    target: RedisTarget,
    waits_for_replicas: bool,
    links: RwLock<Arc<Links>>,
    failing_over: AtomicBool,
    /// Bumped on every move to a new primary.
    moved: watch::Sender<u64>,
}

impl Primary {
    /// Find the primary and connect to it; fails if it cannot be found or
    /// reached now.
    pub async fn connect(target: RedisTarget, waits_for_replicas: bool) -> StoreResult<Primary> {
        let (client, addr) = locate(&target, &mut None).await?;
        let links = Links::open(client, addr, waits_for_replicas).await?;
        Ok(Primary {
            target,
            waits_for_replicas,
            links: RwLock::new(Arc::new(links)),
            failing_over: AtomicBool::new(false),
            moved: watch::channel(0).0,
        })
    }

    /// The connections to use now.
    pub fn links(&self) -> Arc<Links> {
        self.links.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes on every move to a new primary.
    pub fn moves(&self) -> watch::Receiver<u64> {
        self.moved.subscribe()
    }

    pub fn via_sentinel(&self) -> bool {
        matches!(self.target, RedisTarget::Sentinel { .. })
    }

    /// The primary does not answer, or the Sentinels name another one the
    /// node has not moved to yet.
    pub fn failing_over(&self) -> bool {
        self.failing_over.load(Ordering::Relaxed)
    }

    fn swap(&self, links: Links) {
        let addr = links.addr.clone();
        *self.links.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(links);
        self.moved.send_modify(|n| *n += 1);
        self.failing_over.store(false, Ordering::Relaxed);
        tracing::warn!(primary = %addr, "moved every Redis connection to the new primary");
    }
}

/// With Sentinel: ask where the primary is every [`POLL`] and move to a new
/// one as soon as it answers as a primary. Runs until aborted.
pub async fn follow(primary: Arc<Primary>) {
    if !primary.via_sentinel() {
        return;
    }
    let mut sentinel: Option<MultiplexedConnection> = None;
    loop {
        tokio::time::sleep(POLL).await;
        let current = primary.links();
        match named_primary(&primary.target, &mut sentinel).await {
            Ok(addr) if addr != current.addr => {
                primary.failing_over.store(true, Ordering::Relaxed);
                let moved = async {
                    let client = client_for(&primary.target, &addr)?;
                    match role(&client).await {
                        Ok(true) => {}
                        // Mid-promotion: the Sentinels named it, it has
                        // not taken the role yet. Ask again next round.
                        Ok(false) => return Ok(None),
                        // Refused credentials say so (the setting to
                        // fix); anything else is asked again next round.
                        Err(e)
                            if e.kind() == ::redis::ErrorKind::AuthenticationFailed
                                || e.code().is_some_and(|c| c == "NOAUTH" || c == "WRONGPASS") =>
                        {
                            return Err(StoreError::Unavailable(explain(
                                &e,
                                &format!("the new primary at {addr}"),
                                "redis_username",
                                "redis_password",
                            )))
                        }
                        Err(_) => return Ok(None),
                    }
                    Links::open(client, addr.clone(), primary.waits_for_replicas)
                        .await
                        .map(Some)
                };
                match moved.await {
                    Ok(Some(links)) => primary.swap(links),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(primary = %addr, error = %e, "cannot connect to the new primary yet")
                    }
                }
            }
            Ok(_) => {
                let up = answers(&current.lanes[0]).await;
                primary.failing_over.store(!up, Ordering::Relaxed);
            }
            Err(e) => {
                let up = answers(&current.lanes[0]).await;
                primary.failing_over.store(!up, Ordering::Relaxed);
                tracing::warn!(error = %e, "no Sentinel names the primary");
            }
        }
    }
}

/// The primary's client and address, checked to be a primary.
async fn locate(
    target: &RedisTarget,
    sentinel: &mut Option<MultiplexedConnection>,
) -> StoreResult<(Client, String)> {
    match target {
        RedisTarget::Url(url) => {
            let client = Client::open(url.as_str()).map_err(unavailable)?;
            let addr = client.get_connection_info().addr().to_string();
            Ok((client, addr))
        }
        RedisTarget::Sentinel { .. } => {
            let addr = named_primary(target, sentinel)
                .await
                .map_err(|e| StoreError::Unavailable(format!("redis sentinel: {e}")))?;
            let client = client_for(target, &addr)?;
            match role(&client).await {
                Ok(true) => Ok((client, addr)),
                Ok(false) => Err(StoreError::Unavailable(format!(
                    "redis sentinel: {addr}, named the primary, does not answer as one"
                ))),
                Err(e) => Err(StoreError::Unavailable(format!(
                    "redis sentinel: {}",
                    explain(
                        &e,
                        &format!("the primary at {addr}"),
                        "redis_username",
                        "redis_password"
                    )
                ))),
            }
        }
    }
}

fn client_for(target: &RedisTarget, addr: &str) -> StoreResult<Client> {
    let RedisTarget::Sentinel { data, .. } = target else {
        return Err(StoreError::Unavailable(
            "redis: not a Sentinel target".into(),
        ));
    };
    Client::open(data.info(addr)?).map_err(unavailable)
}

fn split_addr(addr: &str) -> StoreResult<(String, u16)> {
    let (h, p) = addr
        .rsplit_once(':')
        .ok_or_else(|| StoreError::Unavailable(format!("redis: bad address {addr:?}")))?;
    let port = p
        .parse()
        .map_err(|_| StoreError::Unavailable(format!("redis: bad address {addr:?}")))?;
    Ok((h.to_owned(), port))
}

/// The first answer of a Sentinel, in the configured order; the last
/// Sentinel that answered is asked first next time.
async fn named_primary(
    target: &RedisTarget,
    cached: &mut Option<MultiplexedConnection>,
) -> Result<String, String> {
    let RedisTarget::Sentinel {
        sentinels,
        service,
        sentinel: credentials,
        ..
    } = target
    else {
        return Err("not a Sentinel target".into());
    };
    let ask = |mut conn: MultiplexedConnection| {
        let service = service.clone();
        async move {
            let answer: Result<Option<(String, u16)>, RedisError> = tokio::time::timeout(
                ASK_TIMEOUT,
                ::redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(&service)
                    .query_async(&mut conn),
            )
            .await
            .unwrap_or_else(|_| {
                Err(RedisError::from(std::io::Error::from(
                    std::io::ErrorKind::TimedOut,
                )))
            });
            (answer, conn)
        }
    };
    if let Some(conn) = cached.take() {
        if let (Ok(Some((h, p))), conn) = ask(conn).await {
            *cached = Some(conn);
            return Ok(format!("{h}:{p}"));
        }
    }
    let mut last = String::from("no Sentinel configured");
    for s in sentinels {
        let info = match credentials.info(s) {
            Ok(i) => i,
            Err(e) => {
                last = format!("{s}: {e}");
                continue;
            }
        };
        let connect = async {
            let client = Client::open(info)?;
            client.get_multiplexed_async_connection().await
        };
        let sentinel_at = format!("the Sentinel at {s}");
        let why = |e: &RedisError| {
            explain(
                e,
                &sentinel_at,
                "redis_sentinel_username",
                "redis_sentinel_password",
            )
        };
        let conn = match tokio::time::timeout(ASK_TIMEOUT, connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                last = why(&e);
                continue;
            }
            Err(_) => {
                last = format!("{s}: timed out");
                continue;
            }
        };
        match ask(conn).await {
            (Ok(Some((h, p))), conn) => {
                *cached = Some(conn);
                return Ok(format!("{h}:{p}"));
            }
            (Ok(None), _) => last = format!("{s}: does not monitor {service:?}"),
            (Err(e), _) => last = why(&e),
        }
    }
    Err(last)
}

/// Whether `ROLE` answers `master` there; the error if it cannot be asked
/// (refused credentials among them).
async fn role(client: &Client) -> Result<bool, RedisError> {
    let ask = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        ::redis::cmd("ROLE").query_async::<Value>(&mut conn).await
    };
    match tokio::time::timeout(ASK_TIMEOUT, ask).await {
        Ok(Ok(Value::Array(v))) => Ok(matches!(
            v.first(),
            Some(Value::BulkString(b)) if b == b"master"
        ) || matches!(v.first(), Some(Value::SimpleString(s)) if s == "master")),
        Ok(Ok(_)) => Ok(false),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(RedisError::from(std::io::Error::from(
            std::io::ErrorKind::TimedOut,
        ))),
    }
}

/// The connection answers a `PING` within [`ASK_TIMEOUT`].
async fn answers(conn: &ConnectionManager) -> bool {
    let mut conn = conn.clone();
    let ping = ::redis::cmd("PING");
    let answer = tokio::time::timeout(ASK_TIMEOUT, ping.query_async::<String>(&mut conn)).await;
    matches!(answer, Ok(Ok(_)))
}

/// Replicas connected to the primary (`INFO replication`'s
/// `connected_slaves`).
pub async fn replicas_seen(conn: &mut ConnectionManager) -> StoreResult<u32> {
    let info: String = ::redis::cmd("INFO")
        .arg("replication")
        .query_async(conn)
        .await
        .map_err(unavailable)?;
    Ok(info
        .lines()
        .find_map(|l| l.trim().strip_prefix("connected_slaves:"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_at_the_last_colon() {
        assert_eq!(
            split_addr("127.0.0.10:6380").unwrap(),
            ("127.0.0.10".into(), 6380)
        );
        assert!(split_addr("redis").is_err());
        assert!(split_addr("redis:port").is_err());
    }

    #[test]
    fn a_sentinel_target_makes_clients_with_the_password_only_for_the_data_nodes() {
        let t = RedisTarget::Sentinel {
            sentinels: vec!["127.0.0.1:26379".into()],
            service: "tsunagu".into(),
            data: Credentials {
                username: Some("tsunagu".into()),
                password: Some("pw".into()),
            },
            sentinel: Credentials {
                username: None,
                password: Some("sentinel-pw".into()),
            },
        };
        let c = client_for(&t, "10.0.0.5:6379").unwrap();
        assert_eq!(c.get_connection_info().addr().to_string(), "10.0.0.5:6379");
        assert_eq!(
            c.get_connection_info().redis_settings().password(),
            Some("pw")
        );
        assert_eq!(
            c.get_connection_info().redis_settings().username(),
            Some("tsunagu")
        );
        let RedisTarget::Sentinel { sentinel, .. } = &t else {
            unreachable!()
        };
        let info = sentinel.info("127.0.0.1:26379").unwrap();
        assert_eq!(info.redis_settings().password(), Some("sentinel-pw"));
        assert_eq!(info.redis_settings().username(), None);
        // Printing the target never shows a password.
        let shown = format!("{t:?}");
        assert!(
            !shown.contains("pw\"") && !shown.contains("sentinel-pw"),
            "{shown}"
        );
        assert!(shown.contains("<hidden>"));
    }
}
