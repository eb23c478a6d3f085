//! Build the application (store, service, hub, background tasks, routes),
//! bind, run, drain. Tests and `main` start the server through the same
//! [`Application`].

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, Service as _};
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, App, HttpServer};

use crate::app::AppState;
use crate::config::{Secret, Settings, StoreMode};
use crate::core::ids::AccountId;
use crate::core::triage::Rules;
use crate::hub::{Hub, Outbound};
use crate::model::Account;
use crate::service::Service;
use crate::store::memory::MemoryStore;
use crate::store::redis::{Credentials, RedisOptions, RedisStore, RedisTarget, ReplicaWait};
use crate::store::{Store, StoreError};
use crate::{http, ws};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot use Redis: {0}")]
    Redis(StoreError),
    #[error(transparent)]
    DataDir(#[from] crate::store::embedded::OpenError),
    #[error("invalid settings: {0}")]
    Config(String),
    #[error("cannot read the triage rules file {path}: {source}")]
    RulesFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("the triage rules file {path} is invalid: {source}")]
    Rules {
        path: std::path::PathBuf,
        source: crate::core::triage::RulesError,
    },
    #[error("cannot create configured user {username}: {source}")]
    Seed {
        username: String,
        source: StoreError,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

pub struct Application {
    port: u16,
    server: Server,
    pub state: Arc<AppState>,
    /// Closed here after the server stops (the edges never see it).
    store: Arc<dyn Store>,
}

/// Powerful browser features none of the pages uses, refused for every
/// page and anything it could embed.
const PERMISSIONS_POLICY: &str = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), \
serial=(), bluetooth=(), midi=(), magnetometer=(), gyroscope=(), accelerometer=()";

/// Content-Security-Policy for every response: no inline script, nothing
/// from other origins.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

impl Application {
    /// Build on the store the settings choose (see [`open_store`]).
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let (store, store_kind) = open_store(&settings).await?;
        Self::build_with_store(settings, store, store_kind).await
    }

    pub async fn build_with_store(
        mut settings: Settings,
        store: Arc<dyn Store>,
        store_kind: &'static str,
    ) -> Result<Self, StartError> {
        if settings.handoff.pin_key.is_none() {
            match store_kind {
                "redis" => {
                    return Err(StartError::Config(
                        "handoff.pin_key is required with redis_url or redis_sentinels (every node must hash PINs \
                         with the same key)"
                            .into(),
                    ))
                }
                "embedded" => settings.handoff.pin_key = Some(pin_key_file(&settings.data_dir)?),
                _ => {}
            }
        }
        let settings = Arc::new(settings);
        match store.persistence().await {
            Ok(p) if p.acknowledged_writes_on_disk => {
                tracing::info!(store = store_kind, details = ?p.details, "acknowledged writes are on disk")
            }
            Ok(p) => tracing::warn!(
                store = store_kind,
                details = ?p.details,
                "ACKNOWLEDGED WRITES ARE NOT ON DISK: a crash loses confirmed messages \
                 (use the embedded store's data directory, or Redis with appendonly yes and appendfsync always)"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot read the store's persistence settings"),
        }
        let rules = load_rules(&settings)?;
        let schedule = settings
            .schedule()
            .map_err(|e| StartError::Config(e.to_string()))?;
        seed_users(store.as_ref(), &settings).await?;
        let hub = Hub::new(settings.limits.outbox_messages);
        let service = Service::new(store.clone(), settings.clone(), rules, schedule);
        let state = Arc::new(AppState::new(
            settings.clone(),
            service.clone(),
            hub.clone(),
            store_kind,
        ));
        let line = crate::channels::line::LineChannel::new(service.clone());
        // The node's own loops are exempt from the store's admission
        // control (`store::background`): each runs one step at a time, and
        // matching and grace periods must go on while visitors' sends are
        // being refused in an overload.
        use crate::store::background;
        if let Some(line) = &line {
            tokio::spawn(background(line.clone().run()));
        }
        if let Some(webhook) = crate::channels::webhook::FloorWebhookSender::new(service.clone()) {
            tokio::spawn(background(webhook.run()));
        }
        tokio::spawn(background(service.clone().run_floor_watch()));

        tokio::spawn(hub.clone().run(store.subscribe()));
        tokio::spawn(background(service.clone().run_matcher()));
        tokio::spawn(background(service.clone().run_sweeper()));
        tokio::spawn(background(service.clone().run_purger()));
        tokio::spawn(background(service.clone().run_alternatives_refresh()));
        tokio::spawn(background(ws::broadcast::run_queue_broadcaster(
            state.clone(),
        )));
        tokio::spawn(background(ws::broadcast::run_closing_notices(
            state.clone(),
        )));
        tokio::spawn(forget_idle_limits(state.clone()));

        let listener = TcpListener::bind(settings.bind).map_err(|source| StartError::Bind {
            addr: settings.bind,
            source,
        })?;
        let port = listener.local_addr()?.port();
        let data = web::Data::from(state.clone());
        let line = line.map(web::Data::from);
        let web_dir = settings.web_dir.clone();
        let hsts = (settings.hsts_max_age_secs > 0)
            .then(|| format!("max-age={}", settings.hsts_max_age_secs));
        let request_timeout = Duration::from_millis(settings.timing.http_request_timeout_ms);
        let server =
            HttpServer::new(move || {
                let mut headers = DefaultHeaders::new()
                    .add(("Content-Security-Policy", CSP))
                    .add(("Permissions-Policy", PERMISSIONS_POLICY))
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "no-referrer"))
                    .add(("X-Frame-Options", "DENY"));
                if let Some(hsts) = &hsts {
                    headers = headers.add(("Strict-Transport-Security", hsts.clone()));
                }
                App::new()
                .app_data(data.clone())
                .configure(|cfg| {
                    // Only when LINE is configured: the webhook extracts
                    // `Option<Data<LineChannel>>` and answers 404 without it.
                    if let Some(line) = &line {
                        cfg.app_data(line.clone());
                    }
                })
                .app_data(http::json_config())
                .app_data(http::query_config())
                .app_data(http::path_config())
                .wrap_fn(move |req, srv| {
                    // Count every HTTP refusal by its error code. And a
                    // request, its body included, has a bounded time to
                    // arrive and be answered: a body trickled in byte by
                    // byte no longer holds a connection for minutes.
                    let state = req.app_data::<web::Data<AppState>>().cloned();
                    let fut = srv.call(req);
                    async move {
                        let Ok(res) = tokio::time::timeout(request_timeout, fut).await else {
                            let code = crate::protocol::ErrorCode::RequestTimeout;
                            if let Some(state) = state {
                                state.service.metrics.refused(code);
                            }
                            let e =
                                http::ApiError::new(code, "the request took too long to arrive");
                            return Err(e.into());
                        };
                        let res = res?;
                        if let (Some(state), Some(code)) = (
                            state,
                            res.response()
                                .extensions()
                                .get::<crate::protocol::ErrorCode>()
                                .copied(),
                        ) {
                            state.service.metrics.refused(code);
                        }
                        Ok(res)
                    }
                })
                .wrap(headers)
                // A method a path does not take answers 405 with `Allow`
                // in the error format (not actix's empty 405 or 404).
                .service(get_only("/healthz").route(web::get().to(http::health::healthz)))
                .service(get_only("/readyz").route(web::get().to(http::health::readyz)))
                .service(get_only("/metrics").route(web::get().to(http::metrics::metrics)))
                .service(get_only("/ws/visitor").route(web::get().to(ws::visitor::upgrade)))
                .service(get_only("/ws/counsellor").route(web::get().to(ws::counsellor::upgrade)))
                .service(
                    web::resource("/channels/line/webhook")
                        .app_data(web::PayloadConfig::new(
                            crate::channels::line::MAX_WEBHOOK_BYTES,
                        ))
                        .route(web::post().to(crate::channels::line::webhook))
                        .default_service(web::to(http::post_only)),
                )
                .service(
                    web::scope("/api")
                        // Staff, intake, admin and booking answers hold
                        // personal data: no browser or proxy keeps a copy.
                        .wrap(DefaultHeaders::new().add(("Cache-Control", "no-store")))
                        .route("/info", web::get().to(http::health::info))
                        .route("/login", web::post().to(http::session::login))
                        .route("/logout", web::post().to(http::session::logout))
                        .route("/me", web::get().to(http::session::me))
                        .route("/accounts", web::get().to(http::accounts::list))
                        .route("/accounts", web::post().to(http::accounts::create))
                        // Staff accounts run from the product (issue 21).
                        .route("/accounts/{id}", web::post().to(http::accounts::edit))
                        .route(
                            "/accounts/{id}/setup",
                            web::post().to(http::accounts::issue_setup),
                        )
                        .route(
                            "/accounts/{id}/revoke-sessions",
                            web::post().to(http::accounts::revoke_sessions),
                        )
                        .route("/setup", web::post().to(http::accounts::setup))
                        .route(
                            "/me/password",
                            web::post().to(http::accounts::change_password),
                        )
                        .route(
                            "/me/logout-everywhere",
                            web::post().to(http::accounts::logout_everywhere),
                        )
                        .route("/handoff", web::post().to(http::handoff::show))
                        .route("/handoff/answer", web::post().to(http::handoff::answer))
                        .route("/handoff/book", web::post().to(http::handoff::book))
                        .route("/handoff/withdraw", web::post().to(http::handoff::withdraw))
                        .route("/handoff/pin", web::post().to(http::handoff::new_pin))
                        .route(
                            "/handoff/reschedule",
                            web::post().to(http::handoff::reschedule),
                        )
                        .route("/handoff/info", web::get().to(http::handoff::info))
                        .route("/visitor/way-back", web::post().to(http::way_back::redeem))
                        .route("/visitor/return-code", web::post().to(http::cases::take))
                        .route("/visitor/case", web::post().to(http::cases::visitor_case))
                        .service(
                            web::resource("/visitor/leave-quickly")
                                .app_data(http::json_config().content_type(|m| {
                                    m.essence_str() == "application/json"
                                        || m.essence_str() == "text/plain"
                                }))
                                .route(web::post().to(http::cases::leave_quickly))
                                .default_service(web::to(http::post_only)),
                        )
                        .route("/letters", web::post().to(http::letters::write))
                        .route("/letters/read", web::post().to(http::letters::read))
                        .route("/counsellor/letters", web::get().to(http::letters::queue))
                        .route(
                            "/counsellor/letters/{letter_id}/answer",
                            web::post().to(http::letters::answer),
                        )
                        .route(
                            "/counsellor/letters/{letter_id}/case",
                            web::get().to(http::letters::case),
                        )
                        .route(
                            "/counsellor/conversations/{conversation_id}/case",
                            web::get().to(http::cases::case),
                        )
                        .route("/hearing-sheets", web::get().to(http::hearing::sheets))
                        .route(
                            "/counsellor/conversations/{conversation_id}/relays",
                            web::post().to(http::relays::prepare),
                        )
                        .route(
                            "/counsellor/conversations/{conversation_id}/relays",
                            web::get().to(http::relays::list),
                        )
                        .route(
                            "/counsellor/conversations/{conversation_id}/relays/{relay_id}/link",
                            web::post().to(http::relays::link),
                        )
                        .route(
                            "/counsellor/conversations/{conversation_id}/relays/{relay_id}/print",
                            web::get().to(http::relays::print),
                        )
                        .route("/visitor/relays", web::post().to(http::relays::visitor_list))
                        .route("/visitor/relays/answer", web::post().to(http::relays::answer))
                        .route(
                            "/visitor/relays/withdraw",
                            web::post().to(http::relays::withdraw),
                        )
                        .route("/relay/view", web::post().to(http::relays::view))
                        .service(
                            // A sheet's answers may hold several texts of
                            // up to 2,000 characters: more than the API's
                            // usual body limit.
                            web::resource("/counsellor/conversations/{conversation_id}/hearing")
                                .app_data(http::json_config().limit(http::hearing::MAX_SHEET_BYTES))
                                .route(web::get().to(http::hearing::read))
                                .route(web::put().to(http::hearing::save))
                                .default_service(web::to(http::not_found)),
                        )
                        .route(
                            "/booking/reschedule",
                            web::post().to(http::handoff::reschedule_by_pin),
                        )
                        .route("/slots", web::get().to(http::handoff::bookable))
                        .route("/booking", web::post().to(http::handoff::lookup))
                        .route("/booking/cancel", web::post().to(http::handoff::cancel))
                        .route("/booking/calendar", web::post().to(http::handoff::calendar))
                        .route(
                            "/booking/withdraw",
                            web::post().to(http::handoff::withdraw_by_pin),
                        )
                        .route("/admin/slots", web::get().to(http::handoff::admin_slots))
                        .route("/admin/slots", web::post().to(http::handoff::create_slot))
                        .route(
                            "/admin/slots/{slot_id}/cancel",
                            web::post().to(http::handoff::cancel_slot),
                        )
                        .route("/admin/audit", web::get().to(http::handoff::audit))
                        .route("/floor", web::get().to(http::floor::floor))
                        .route("/admin/report", web::get().to(http::report::report))
                        .route(
                            "/intake/bookings",
                            web::get().to(http::handoff::intake_bookings),
                        )
                        .route(
                            "/intake/bookings/{reference}/transcript",
                            web::get().to(http::handoff::intake_transcript),
                        )
                        .route(
                            "/intake/bookings/{reference}/cancel",
                            web::post().to(http::handoff::intake_cancel),
                        )
                        .route(
                            "/intake/bookings/{reference}/pin",
                            web::post().to(http::handoff::intake_new_pin),
                        )
                        .route(
                            "/intake/bookings/{reference}/attended",
                            web::post().to(http::handoff::intake_attended),
                        )
                        // Second factor (issue 21).
                        .route(
                            "/login/second-factor",
                            web::post().to(http::second_factor::second_step),
                        )
                        .route("/second-factor", web::get().to(http::second_factor::status))
                        .route(
                            "/second-factor/setup",
                            web::post().to(http::second_factor::setup),
                        )
                        .route(
                            "/second-factor/confirm",
                            web::post().to(http::second_factor::confirm),
                        )
                        .route(
                            "/accounts/{id}/second-factor/reset",
                            web::post().to(http::second_factor::reset),
                        )
                        .route("/partners", web::get().to(http::partners::list))
                        .route("/partners", web::post().to(http::partners::create))
                        .route("/partners/{id}", web::put().to(http::partners::update))
                        .route("/partners/{id}", web::delete().to(http::partners::delete))
                        .route("/canned-replies", web::get().to(http::canned::list))
                        .route("/canned-replies", web::post().to(http::canned::create))
                        .route("/canned-replies/{id}", web::put().to(http::canned::update))
                        .route(
                            "/canned-replies/{id}",
                            web::delete().to(http::canned::delete),
                        )
                        .default_service(web::to(http::not_found)),
                )
                .service(actix_files::Files::new("/", web_dir.clone()).index_file("index.html"))
            })
            .disable_signals()
            // Small frames go out at once. The OS default (Nagle) holds a small
            // write until the previous one is acknowledged, and with the peer's
            // delayed ACK that added ~20-40 ms to relayed messages.
            .tcp_nodelay(true)
            .shutdown_timeout(10)
            .listen(listener)?
            .run();
        Ok(Self {
            port,
            server,
            state,
            store,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serve until SIGTERM or Ctrl-C, then drain: tell every socket to
    /// reconnect (close code 1012, "service restart"), stop accepting, and
    /// let in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let state = self.state.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("draining: asking every socket to reconnect elsewhere");
            state.start_draining();
            state.hub.broadcast(Outbound::Drain);
            tokio::time::sleep(Duration::from_millis(500)).await;
            handle.stop(true).await;
        });
        self.server.await?;
        // Requests have finished: commit what is in flight, close the store.
        if let Err(e) = self.store.close().await {
            tracing::warn!(error = %e, "closing the store");
        }
        Ok(())
    }

    /// Run in the background (tests).
    pub fn spawn(self) -> Arc<AppState> {
        let state = self.state.clone();
        tokio::spawn(self.server);
        state
    }
}

/// Open the store the settings choose: Redis when `redis_url` or
/// `redis_sentinels` is set, else
/// the embedded store, durable in `data_dir` (the default) or a fresh
/// in-memory one. Returns the store and its kind (`redis`, `embedded`,
/// `memory`). The composition root hands it to the service; tests keep a
/// handle of their own to set up and inspect state.
pub async fn open_store(settings: &Settings) -> Result<(Arc<dyn Store>, &'static str), StartError> {
    let target = match (&settings.redis_url, settings.redis_sentinels.is_empty()) {
        (Some(url), _) => Some(RedisTarget::Url(url.expose().to_owned())),
        (None, false) => Some(RedisTarget::Sentinel {
            sentinels: settings.redis_sentinels.clone(),
            service: settings.redis_service.clone().unwrap_or_default(),
            data: Credentials {
                username: settings.redis_username.clone(),
                password: settings
                    .redis_password
                    .as_ref()
                    .map(|p| p.expose().to_owned())
                    .filter(|p| !p.is_empty()),
            },
            sentinel: Credentials {
                username: settings.redis_sentinel_username.clone(),
                password: settings
                    .redis_sentinel_password
                    .as_ref()
                    .map(|p| p.expose().to_owned())
                    .filter(|p| !p.is_empty()),
            },
        }),
        (None, true) => None,
    };
    match target {
        Some(target) => {
            let store = RedisStore::connect(RedisOptions {
                target,
                prefix: settings.redis_prefix.clone(),
                node_ttl: Duration::from_millis(settings.timing.node_ttl_ms),
                queue_policy: settings.queue_policy(),
                max_outstanding: settings.redis_max_outstanding,
                admission_wait: Duration::from_millis(settings.redis_admission_wait_ms),
                wait: ReplicaWait {
                    replicas: settings.redis_replicas_to_wait,
                    timeout: Duration::from_millis(settings.redis_wait_timeout_ms),
                    messages: settings.redis_wait_messages,
                },
            })
            .await
            .map_err(StartError::Redis)?;
            Ok((Arc::new(store), "redis"))
        }
        None => match settings.store {
            StoreMode::Memory => {
                let store = MemoryStore::with_queue_policy(settings.queue_policy());
                Ok((Arc::new(store), "memory"))
            }
            StoreMode::Embedded => Ok((open_embedded(settings).await?, "embedded")),
        },
    }
}

/// The PIN hashes' key of an embedded store without `handoff.pin_key`:
/// generated once and kept in `<data_dir>/pin.key` (mode 0600), outside
/// the database, so that a copy of the database alone reveals no PIN.
fn pin_key_file(dir: &std::path::Path) -> Result<Secret, StartError> {
    use rand::RngCore;
    use std::io::Write;
    let path = dir.join("pin.key");
    let failed =
        |e: std::io::Error| StartError::Config(format!("the PIN key {}: {e}", path.display()));
    match std::fs::read_to_string(&path) {
        Ok(k) if k.trim().len() >= 32 => return Ok(Secret::new(k.trim())),
        Ok(_) => {
            return Err(StartError::Config(format!(
                "the PIN key {} is too short; restore it from a backup (without it no booking PIN works)",
                path.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(failed(e)),
    }
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let key: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&path).map_err(failed)?;
    f.write_all(key.as_bytes()).map_err(failed)?;
    f.sync_all().map_err(failed)?;
    tracing::info!(path = %path.display(), "generated the key of booking PIN hashes");
    Ok(Secret::new(key))
}

/// Open the durable store in `data_dir` (off the executor: it reads the
/// whole database) and say where it is.
async fn open_embedded(settings: &Settings) -> Result<Arc<dyn Store>, StartError> {
    let dir = settings.data_dir.clone();
    let now = crate::clock::now_ms();
    let policy = settings.queue_policy();
    let (store, opened) =
        tokio::task::spawn_blocking(move || crate::store::embedded::open(&dir, now, policy))
            .await
            .map_err(|e| std::io::Error::other(format!("opening the data directory: {e}")))??;
    let path = std::fs::canonicalize(&opened.db_path).unwrap_or(opened.db_path.clone());
    tracing::info!(
        database = %path.display(),
        schema = opened.schema,
        schema_found = opened.schema_found,
        accounts = opened.accounts,
        conversations = opened.conversations,
        messages = opened.messages,
        "store: embedded (durable: every change is on disk before it is confirmed)"
    );
    Ok(Arc::new(store))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The triage rules: the deployment's file, or the built-in list.
fn load_rules(settings: &Settings) -> Result<Rules, StartError> {
    if settings.triage.disabled {
        tracing::info!("risk triage is disabled");
        return Ok(Rules::default());
    }
    let rules = match &settings.triage.rules_file {
        None => Rules::default_rules(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| StartError::RulesFile {
                path: path.clone(),
                source,
            })?;
            Rules::parse(&text).map_err(|source| StartError::Rules {
                path: path.clone(),
                source,
            })?
        }
    };
    tracing::info!(rules = rules.len(), "risk triage rules loaded");
    Ok(rules)
}

async fn seed_users(store: &dyn Store, settings: &Settings) -> Result<(), StartError> {
    for u in &settings.users {
        let existing = store
            .account_by_username(&u.username)
            .await
            .map_err(|source| StartError::Seed {
                username: u.username.clone(),
                source,
            })?;
        if let Some(a) = existing {
            // `[[users]]` is for the first admin only: once an account is
            // in the store it is run from the product, and the store's
            // record (role, password, state) is the one in force.
            let differs = a.role != u.role
                || a.display_name != u.display_name
                || a.password_hash != u.password_hash.expose()
                || a.deactivated;
            if differs {
                tracing::info!(account = %a.id, "configured user is already in the store; the store's account is kept (the store wins)");
            }
            continue;
        }
        let account = Account::new(
            AccountId::new_random(),
            u.username.clone(),
            u.display_name.clone(),
            u.role,
            u.password_hash.expose().to_owned(),
        );
        match store.create_account(account, Vec::new()).await {
            Ok(()) => {
                tracing::info!(username = %u.username, role = ?u.role, "created configured user")
            }
            // Several nodes sharing Redis start at once with the same
            // `[[users]]` (compose, a Deployment): another node created it
            // between our look-up and our write. Not an error.
            Err(StoreError::UsernameTaken) => {}
            Err(source) => {
                return Err(StartError::Seed {
                    username: u.username.clone(),
                    source,
                })
            }
        }
    }
    Ok(())
}

async fn forget_idle_limits(app: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        app.limits.forget_idle();
    }
}

/// A resource that takes GET; any other method answers 405 in the error
/// format with `Allow: GET`.
fn get_only(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(http::get_only))
}
