//! Settings: built-in defaults, then a TOML file, then `TSUNAGU_*`
//! environment variables, each overriding the one before.
//!
//! Every setting can come from the environment: `TSUNAGU_BIND` sets `bind`,
//! `TSUNAGU_LIMITS__MAX_QUEUE` sets `limits.max_queue` (a double underscore
//! goes one table down). Values are read as TOML (`true`, `30`, `"x"`), and
//! as a plain string when they are not valid TOML. Secrets are wrapped in
//! [`Secret`] so that printing the settings never shows them.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::core::hours::{HoursSpec, Schedule};
use crate::model::Role;
use crate::model::{Alternative, MatchingMode};

/// Defaults of the Redis settings (and of the store options they feed).
pub const DEFAULT_REDIS_NODE_TTL: Duration = Duration::from_secs(15);
pub const DEFAULT_REDIS_MAX_OUTSTANDING: usize = 1024;
pub const DEFAULT_REDIS_ADMISSION_WAIT: Duration = Duration::from_millis(500);
pub const DEFAULT_REDIS_WAIT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Longest `redis_wait_timeout_ms`: below Redis's 5 s response time-out,
/// so the wait ends with Redis's answer, not the connection's.
pub const MAX_REDIS_WAIT_TIMEOUT_MS: u64 = 4_000;

/// Longest accepted Redis key prefix.
pub const REDIS_PREFIX_MAX_CHARS: usize = 64;

/// Is `p` a usable key prefix? 1-64 characters of `A-Z a-z 0-9 _ . -`:
/// no `:` (so no prefix can be the start of another's keys), no braces
/// (they would change the hash tags), no glob characters (so a prefix can
/// be scanned for safely).
pub fn valid_redis_prefix(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= REDIS_PREFIX_MAX_CHARS
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

/// `host:port` with a port of 1-65535 and a host without spaces or `/`.
pub fn valid_host_port(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && !host.contains([' ', '/', '@'])
                && port.parse::<u16>().is_ok_and(|p| p > 0)
        }
        None => false,
    }
}

/// An ACL user name as a setting: 1-64 characters of `A-Z a-z 0-9 _ . - @`
/// (Redis allows more; these keep it one word in a URL and a log line).
pub fn valid_acl_username(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'@'))
}

/// A password setting that is there and not empty: an empty one (as
/// `${VAR:-}` in a compose file gives) counts as none.
pub fn password_set(p: &Option<Secret>) -> bool {
    p.as_ref().is_some_and(|p| !p.expose().is_empty())
}

/// A value that never prints.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Shared Redis for running several nodes. Unset: the embedded store.
    pub redis_url: Option<Secret>,
    /// Without Redis: `embedded` (the default) keeps everything in
    /// `data_dir` and survives restarts and crashes; `memory` keeps nothing
    /// (tests and trials).
    pub store: StoreMode,
    /// Where the embedded store keeps its data (relative to the working
    /// directory unless absolute).
    pub data_dir: PathBuf,
    /// First part of every Redis key and channel, so that several
    /// deployments (or test runs) can share one Redis. 1-64 characters of
    /// `A-Z a-z 0-9 _ . -`.
    pub redis_prefix: String,
    /// With Redis: at most this many commands of this node wait for
    /// Redis's answer at once; more wait for a place (see
    /// `redis_admission_wait_ms`). Bounds the latency an overload adds.
    pub redis_max_outstanding: usize,
    /// With Redis: how long a command waits for a place before it is
    /// refused as `unavailable` with `retry_after_ms` (nothing changed).
    pub redis_admission_wait_ms: u64,
    // ---- Redis Sentinel and replication waits (issue 25; docs/REDIS.md,
    // "Replicas and failover")
    /// Sentinels to ask for the primary (`host:port` each), instead of
    /// `redis_url`; the node follows a failover without a restart.
    pub redis_sentinels: Vec<String>,
    /// The name the Sentinels monitor the primary under (with `redis_sentinels`).
    pub redis_service: Option<String>,
    /// With `redis_sentinels`: the password of the primary and replicas
    /// (their `requirepass`, or `redis_username`'s ACL password).
    pub redis_password: Option<Secret>,
    /// With `redis_sentinels`: an ACL user on the primary and replicas
    /// (none: the `default` user).
    pub redis_username: Option<String>,
    /// With `redis_sentinels`: the Sentinels' own password (their
    /// `requirepass`, or `redis_sentinel_username`'s ACL password).
    pub redis_sentinel_password: Option<Secret>,
    /// With `redis_sentinels`: an ACL user on the Sentinels.
    pub redis_sentinel_username: Option<String>,
    /// Consent, booking, slot, account, session revocation and audit
    /// writes are confirmed only once this many replicas have them (`WAIT`);
    /// 0 (the default): no wait.
    pub redis_replicas_to_wait: u32,
    /// How long such a write waits for the replicas before it is refused as
    /// `unavailable` (it may still be on the primary: see docs/REDIS.md).
    pub redis_wait_timeout_ms: u64,
    /// Chat messages wait for the replicas too (costs relay throughput:
    /// docs/BENCHMARKS.md).
    pub redis_wait_messages: bool,
    /// Folder of the web pages served at `/`.
    pub web_dir: PathBuf,
    /// `auto`: the server assigns visitors. `manual`: counsellors pick.
    pub matching: MatchingMode,
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `tsunagu=debug`.
    pub log: String,
    /// `json` for one JSON object per line; `text` for people.
    pub log_format: LogFormat,
    /// Behind a trusted load balancer: take the client address for rate
    /// limiting from the last `X-Forwarded-For` entry. Never logged.
    pub trust_forwarded_for: bool,
    /// Extra browser origins allowed to open sockets and post to the API
    /// (the site's own origin is always allowed), e.g. `https://chat.example.jp`.
    pub allowed_origins: Vec<String>,
    /// Where visitors reach the site from outside, e.g.
    /// `https://chat.example.jp` (no path, query or fragment). Links the
    /// server sends out of the site (the handoff link to a LINE visitor)
    /// start with it. Unset: no such link can be made, and offering a
    /// handoff in a LINE conversation is refused (`handoff_link_unavailable`).
    pub public_url: Option<String>,
    /// Bearer token for `GET /metrics`. Unset: metrics only from loopback.
    pub metrics_token: Option<Secret>,
    /// Mark the session cookie `Secure` (set when TLS terminates in front).
    pub cookie_secure: bool,
    /// `Strict-Transport-Security: max-age=N` on every response; 0 (the
    /// default) sends none. Only with `cookie_secure` (that is, over HTTPS).
    pub hsts_max_age_secs: u64,
    pub session_ttl_secs: u64,
    pub limits: Limits,
    pub timing: Timing,
    /// What the pages show about the centre.
    pub site: Site,
    /// Round-the-clock services offered when the queue is full or closed,
    /// and (with the emergency numbers) on the safety panel when triage
    /// flags a visitor. None configured: [`Alternative::japan_defaults`].
    pub alternatives: Vec<Alternative>,
    /// Opening hours (Japan time). Default: Monday to Friday 9:00-17:00,
    /// last entry 16:30, closed on national holidays and 29 Dec - 3 Jan.
    pub hours: HoursSpec,
    pub triage: Triage,
    pub supervision: Supervision,
    /// The consented handoff to a first consultation: what the visitor is
    /// told before agreeing (see docs/PROTOCOL.md, "Handoff").
    pub handoff: Handoff,
    /// How long data is kept (promise 7).
    pub retention: RetentionSettings,
    /// The statistics report (`GET /api/admin/report`).
    pub report: ReportSettings,
    /// Letters written while the centre is closed or its queue full
    /// (issue 22).
    pub letters: LetterSettings,
    /// The hearing sheet counsellors fill (issue 23): every version the
    /// deployment has defined (`[[hearing.sheets]]`); the highest is
    /// filled, the older ones are kept to read what was answered under
    /// them. Default: `core::hearing::default_sheet`.
    pub hearing: HearingSettings,
    /// Relay sheets (issue 23): passing chosen hearing-sheet answers on
    /// to partner services with the visitor's consent.
    pub relay: RelaySettings,
    /// The LINE channel (off unless both secrets are set).
    pub line: Line,
    /// The empty-floor alert and its optional outbound webhook.
    pub alerts: Alerts,
    /// Accounts created at start if their username does not exist yet.
    pub users: Vec<UserSeed>,
    /// Staff sign-in: which roles must use a second factor (issue 21).
    pub auth: Auth,
}

/// Staff sign-in (`[auth]`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Auth {
    /// Roles that must use a second factor (TOTP): an account in one of
    /// them that has not enrolled may, after its password, only enrol;
    /// every other call answers `second_factor_required`. Other roles may
    /// enrol by choice. Default: supervisor, intake and admin (the people
    /// who can read minors' conversations and bookings).
    pub second_factor_roles: Vec<Role>,
}

impl Default for Auth {
    fn default() -> Self {
        Self {
            second_factor_roles: vec![Role::Supervisor, Role::Intake, Role::Admin],
        }
    }
}

/// What a visitor is shown with a handoff offer, and recorded with their
/// consent. Change `wording_version` whenever the texts (here or in
/// `web/i18n.js`, `consent.*`) change: a consent records the version the
/// visitor saw, and an answer to an older version is refused.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Handoff {
    /// Who receives what the visitor agrees to pass on.
    pub recipient_ja: String,
    pub recipient_en: String,
    /// Why it is passed on.
    pub purpose_ja: String,
    pub purpose_en: String,
    pub wording_version: String,
    /// How long the one-time link sent to a LINE visitor with an offer
    /// works (seconds; default 7 days). A booking, a decline or a
    /// withdrawal ends it sooner.
    pub link_valid_secs: u64,
    /// The key of the booking PINs' hashes (HMAC-SHA256), so that a copy
    /// of the database alone does not reveal them. Required with Redis
    /// (every node must use the same). Unset: the embedded store keeps a
    /// generated one in `<data_dir>/pin.key` (outside the database), the
    /// memory store a random one per process.
    pub pin_key: Option<Secret>,
    /// The title of a booking in its calendar file and its confirmation:
    /// neutral, because a family-shared calendar shows it to others.
    pub appointment_title_ja: String,
    pub appointment_title_en: String,
    /// A name put in the calendar file's description; empty (the
    /// default): no name at all, so the file does not say whom the
    /// appointment is with.
    pub calendar_organiser: String,
    /// What happens at the first consultation (who they meet, how long,
    /// whether it can be online, that family are not told without
    /// consent): shown with the offer, before consent.
    pub first_consultation_ja: String,
    pub first_consultation_en: String,
    /// What to bring, shown with the booking.
    pub bring_ja: String,
    pub bring_en: String,
    /// How to reach the centre (e.g. a phone number and hours, an
    /// address), shown where a visitor needs the centre's help with a
    /// booking (a new PIN). Empty: the pages point to the chat instead.
    pub centre_contact_ja: String,
    pub centre_contact_en: String,
}

impl Default for Handoff {
    fn default() -> Self {
        Self {
            recipient_ja: "ひきこもり地域支援センター 初回相談の受付担当".into(),
            recipient_en: "the Hikikomori Support Centre's intake staff for first consultations"
                .into(),
            purpose_ja: "初回相談の準備のため（同じことを何度も話さなくてよいように）".into(),
            purpose_en:
                "to prepare your first consultation (so you do not have to tell everything again)"
                    .into(),
            wording_version: "2026-12".into(),
            link_valid_secs: crate::core::handoff::LINK_VALID_SECS,
            pin_key: None,
            appointment_title_ja: "予約".into(),
            appointment_title_en: "Appointment".into(),
            calendar_organiser: String::new(),
            first_consultation_ja: "初回相談では、センターの相談員（ふだんは2人）と会います。時間は1時間くらいです。センターに来る、オンライン（ビデオ通話）、お住まいの近くの場所など、選べます。話したくないことは話さなくてかまいません。あなたの同意なしに、ご家族や学校・職場に連絡することはありません（命に関わる危険があるときを除きます）。".into(),
            first_consultation_en: "At the first consultation you meet the centre's counsellors (usually two). It takes about an hour. It can be at the centre, online (video call) or at a place near you. You do not have to talk about anything you do not want to. Your family, school or workplace are not told without your consent (unless a life is in danger).".into(),
            bring_ja: "持ち物は特にありません。費用はかかりません。".into(),
            bring_en: "You need not bring anything. It is free of charge.".into(),
            centre_contact_ja: String::new(),
            centre_contact_en: String::new(),
        }
    }
}

/// How long data is kept (promise 7; see README, "Retention").
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// A conversation's record, transcript and notes are deleted this many
    /// days after it ended; its anonymous facts stay for the report.
    pub conversation_days: u32,
    /// The handoff record (consented summary and consent records) is
    /// deleted this many days after the later of the conversation's end
    /// and the booked appointment; a slot and its bookings (names,
    /// contact details) this many days after the appointment. It is also
    /// what the visitor is told with an offer (`retention_days`).
    pub booking_days: u32,
    /// "Erase my chat" keeps the counsellors' private notes (until the
    /// conversation is purged) instead of deleting them with the messages.
    pub keep_notes_on_erase: bool,
    /// How often the purge runs (seconds).
    pub purge_interval_secs: u64,
    /// An audit entry (a supervisor's access to a conversation, intake's
    /// reading of a transcript) is deleted this many days after it was
    /// written. Default 1825 (5 years): the entries hold only staff and
    /// conversation ids, and a question about who read a minor's
    /// conversation can come years later (a complaint, the general
    /// limitation period of the Civil Code is 5 years from knowing).
    /// Must be at least `booking_days`, so an entry outlives the records
    /// it is about.
    pub audit_days: u32,
    /// Issue 22: with the visitor's keep-longer consent, their case's
    /// conversations are kept until this many days after the case's last
    /// contact (instead of `conversation_days` after each one's end). The
    /// consent records the days it was given for. At least
    /// `conversation_days`.
    pub case_keep_days: u32,
    /// The version of the keep-longer consent's wording (`web/i18n.js`,
    /// `keep.*`): change it whenever that wording changes; a consent
    /// records the version (and language) shown, and an answer to another
    /// version is refused (`offer_changed`).
    pub case_keep_wording_version: String,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            conversation_days: 30,
            booking_days: 365,
            keep_notes_on_erase: false,
            purge_interval_secs: 300,
            audit_days: 1825,
            case_keep_days: 180,
            case_keep_wording_version: "2026-12".into(),
        }
    }
}

/// A LINE official account as a channel (`src/channels/line`). The
/// webhook answers only when both `channel_secret` and `access_token` are
/// set.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Line {
    /// The channel secret: checks each webhook's `x-line-signature`.
    pub channel_secret: Option<Secret>,
    /// A (long-lived) channel access token for the Messaging API.
    pub access_token: Option<Secret>,
    /// The Messaging API's base URL (a stand-in in tests).
    pub api_base: String,
    /// Tries per outgoing message on 429, 5xx or no answer.
    pub max_attempts: u32,
    /// First back-off between tries; doubled each time, at most 30 s.
    pub retry_base_ms: u64,
    /// Time-out of one call to the Messaging API.
    pub request_timeout_ms: u64,
    /// Queue position and wait estimate are pushed at most this often
    /// (pushes count against the account's quota).
    pub queue_notice_secs: u64,
    /// A reply token is used only this long after its event (LINE lets it
    /// be used once, for a short time); later messages are pushed.
    pub reply_token_secs: u64,
    /// How often each node looks for LINE messages not yet sent (events
    /// are the fast path; this bounds the latency of a lost one).
    pub catch_up_ms: u64,
    /// Webhook events older than this (by their `timestamp`), or already
    /// handled within it (by `webhookEventId`, remembered in the store for
    /// this long), are ignored: a replayed signed event changes nothing.
    /// Must cover LINE's redelivery of events we did not acknowledge.
    pub event_window_secs: u64,
}

impl Default for Line {
    fn default() -> Self {
        Self {
            channel_secret: None,
            access_token: None,
            api_base: "https://api.line.me".into(),
            max_attempts: 5,
            retry_base_ms: 500,
            request_timeout_ms: 10_000,
            queue_notice_secs: 300,
            reply_token_secs: 50,
            catch_up_ms: 2_000,
            event_window_secs: 3_600,
        }
    }
}

/// The empty-floor alert (see `docs/ARCHITECTURE.md`, "The empty-floor
/// alert"): during opening hours, supervisors are alerted when no
/// counsellor has been available for `empty_floor_after_secs`, or a visitor
/// has waited `long_wait_alert_secs`. With `webhook_url` and
/// `webhook_secret` each episode's raise and clear is also POSTed there,
/// signed (header `Tsunagu-Signature: t=<unix secs>,v1=<hex HMAC-SHA256 of
/// "<t>.<body>">`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Alerts {
    /// Turn the empty-floor alert off.
    pub empty_floor_disabled: bool,
    /// Nobody available this long (during opening hours) raises it.
    pub empty_floor_after_secs: u64,
    /// A visitor waiting this long raises it; 0 turns this trigger off.
    pub long_wait_alert_secs: u64,
    /// The operator's own receiver (pager, chat tool). Only this URL is
    /// ever called; nothing personal is sent.
    pub webhook_url: Option<String>,
    /// The HMAC key the receiver verifies with (required with the URL).
    pub webhook_secret: Option<Secret>,
    /// Attempts per delivery before it is given up (logged).
    pub webhook_max_attempts: u32,
    /// First back-off between attempts; doubled each time, at most 5 min.
    pub webhook_retry_base_ms: u64,
    /// Time-out of one call to the receiver.
    pub webhook_timeout_ms: u64,
}

impl Default for Alerts {
    fn default() -> Self {
        Self {
            empty_floor_disabled: false,
            empty_floor_after_secs: 120,
            long_wait_alert_secs: 900,
            webhook_url: None,
            webhook_secret: None,
            webhook_max_attempts: 8,
            webhook_retry_base_ms: 2_000,
            webhook_timeout_ms: 10_000,
        }
    }
}

impl Alerts {
    /// The decision's thresholds.
    pub fn floor_policy(&self) -> crate::core::floor::FloorPolicy {
        crate::core::floor::FloorPolicy {
            empty_after_ms: self.empty_floor_after_secs * 1000,
            long_wait_ms: (self.long_wait_alert_secs > 0)
                .then_some(self.long_wait_alert_secs * 1000),
        }
    }

    /// The webhook's URL and key, when both are configured.
    pub fn webhook(&self) -> Option<(&str, &Secret)> {
        Some((self.webhook_url.as_deref()?, self.webhook_secret.as_ref()?))
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(url) = &self.webhook_url {
            let ok = url.starts_with("https://") || url.starts_with("http://");
            if !ok || url.contains(char::is_whitespace) || url.len() < 10 {
                return Err("alerts.webhook_url must be an http(s) URL".into());
            }
            if self
                .webhook_secret
                .as_ref()
                .is_none_or(|s| s.expose().len() < 16)
            {
                return Err(
                    "alerts.webhook_url needs alerts.webhook_secret of at least 16 characters"
                        .into(),
                );
            }
        } else if self.webhook_secret.is_some() {
            return Err("alerts.webhook_secret is set without alerts.webhook_url".into());
        }
        if self.webhook_max_attempts == 0 || self.webhook_timeout_ms == 0 {
            return Err(
                "alerts.webhook_max_attempts and webhook_timeout_ms must be at least 1".into(),
            );
        }
        Ok(())
    }
}

impl RetentionSettings {
    pub fn retention(&self) -> crate::model::Retention {
        const DAY_MS: u64 = 86_400_000;
        crate::model::Retention {
            conversation_ms: u64::from(self.conversation_days) * DAY_MS,
            booking_ms: u64::from(self.booking_days) * DAY_MS,
            audit_ms: u64::from(self.audit_days) * DAY_MS,
        }
    }
}

/// The statistics report.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportSettings {
    /// Counts below this (and above zero) are published as `"<N>"`, so
    /// that nobody is recognisable in a small cell.
    pub min_cell: u64,
    /// A person counts as ended (the centres' 終了) this many days after
    /// their last served contact with no other (issue 22), 1 to 3650.
    pub case_ends_after_days: u32,
}

impl Default for ReportSettings {
    fn default() -> Self {
        Self {
            min_cell: 3,
            case_ends_after_days: 90,
        }
    }
}

/// Letters (issue 22): what a visitor may leave for the centre while it
/// is closed or its queue is full, answered from the console's letters
/// queue.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LetterSettings {
    /// Offer letters at all. Off: the closed page lists other services
    /// only, as before, and `POST /api/letters` answers `closed`.
    pub enabled: bool,
    /// The longest letter, in characters (1 to 10000).
    pub max_chars: usize,
    /// At most this many letters wait for their answer; more are refused
    /// `letters_full` with the round-the-clock services.
    pub max_waiting: u32,
    /// One client address may write at most this many letters per
    /// `per_address_window_secs` (a LINE user: one waiting at a time).
    pub per_address: u32,
    pub per_address_window_secs: u32,
    /// For the writer's estimate of when the answer comes: the minutes a
    /// counsellor takes per letter, after the next opening.
    pub minutes_per_letter: u32,
}

impl Default for LetterSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_chars: 2000,
            max_waiting: 500,
            per_address: 3,
            per_address_window_secs: 86_400,
            minutes_per_letter: 15,
        }
    }
}

/// The hearing sheet (`[hearing]`, issue 23; docs/HEARING.md).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HearingSettings {
    pub sheets: Vec<crate::core::hearing::SheetDef>,
}

impl Default for HearingSettings {
    fn default() -> Self {
        Self {
            sheets: vec![crate::core::hearing::default_sheet()],
        }
    }
}

impl HearingSettings {
    /// The definitions, checked when the configuration loaded (not again
    /// on every save).
    pub fn sheets(&self) -> crate::core::hearing::Sheets<'_> {
        crate::core::hearing::Sheets::checked(&self.sheets)
    }
}

/// Relay sheets (`[relay]`, issue 23).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelaySettings {
    /// The version of the consent wording below; a visitor's answer names
    /// the version they read, and an answer under another is refused
    /// (`offer_changed`). Change it whenever the wording changes.
    pub wording_version: String,
    /// What the visitor reads above the partners and the answers that
    /// would go to each.
    pub notice_ja: String,
    pub notice_en: String,
    /// How long a partner's link works after it is issued (days, 1-90).
    pub link_valid_days: u32,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            wording_version: "2026-12".into(),
            notice_ja: "相談員が、あなたの話の一部を下の連携先に伝えることを提案しています。伝わるのは、連携先ごとに書かれている内容だけで、あなたが「この連携先に伝えてよい」を選んだ連携先だけです。名前や連絡先は伝わりません。同意はいつでも取り消せます。取り消すと、連携先はその時からこの内容を見られなくなります。".into(),
            notice_en: "Your counsellor suggests passing part of what you told us to the services below. Only what is listed under each service goes, and only to the services you say may have it. Your name and contact details do not go. You can take your agreement back at any time; from then on, the service can no longer see it.".into(),
            link_valid_days: 14,
        }
    }
}

/// Risk triage of what waiting visitors write (see `docs/TRIAGE.md`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Triage {
    /// Turn triage off entirely (no rules are applied).
    pub disabled: bool,
    /// A rules file replacing the built-in list (`deploy/triage-rules.toml`).
    pub rules_file: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Supervision {
    /// Tell the visitor (`observed`) while a supervisor reads along. By
    /// default they are not told; a joined supervisor is always shown.
    pub tell_visitor_when_observed: bool,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StoreMode {
    /// Durable, on disk in `data_dir`.
    Embedded,
    /// In this process's memory only: a restart loses everything.
    Memory,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest WebSocket frame accepted, bytes. Kept low on purpose: actix
    /// keeps a connection's peak buffer for its whole life.
    pub max_frame_bytes: usize,
    /// Longest message or note, in characters.
    pub max_text_chars: usize,
    /// Visitors waiting at most; beyond it `start` answers `queue_full`.
    pub max_queue: u32,
    pub default_capacity: u32,
    pub max_capacity: u32,
    /// Queue entries sent to counsellors in each `queue` message.
    pub queue_view_entries: usize,
    /// Outgoing messages buffered per socket before the slow client is dropped.
    pub outbox_messages: usize,
    pub upgrades_per_ip_per_min: u32,
    pub upgrades_burst: u32,
    pub starts_per_ip_per_min: u32,
    pub starts_burst: u32,
    pub frames_per_sec: u32,
    pub frames_burst: u32,
    /// Refused frames in a row after which a flooding socket is closed.
    pub flood_close_after: u32,
    /// Login attempts per address (IPv6 by /64) per minute, right or
    /// wrong: a flood bound in this process, not the guessing guard
    /// (`login_failures_*`).
    pub logins_per_ip_per_min: u32,
    /// No longer used: it counted attempts, so anyone's wrong passwords
    /// locked the owner out (see `login_failures_*`); still accepted so
    /// that existing settings files load.
    pub logins_per_account_per_min: u32,
    pub logins_burst: u32,
    /// Booking look-ups by reference and PIN (view, cancel, withdraw,
    /// calendar file), per client address. Guessing from many addresses is
    /// stopped by `booking_pin_failures`, not by a limit per reference
    /// (which let a stranger lock the owner out).
    pub booking_lookups_per_ip_per_min: u32,
    /// No longer used (the per-reference limit is gone; see
    /// `booking_pin_failures`); still accepted so that existing settings
    /// files load.
    pub booking_lookups_per_ref_per_min: u32,
    pub booking_lookups_burst: u32,
    /// Wrong PINs, counted for the whole deployment over the booking's
    /// lifetime, after which a booking reference is locked: every PIN,
    /// the right one too, is answered `booking_locked` until the visitor
    /// (or intake) sets a new PIN.
    pub booking_pin_failures: u32,
    /// Requests made with a one-time handoff link (`{"link": ..}`), per
    /// client address: a page visit makes a handful.
    pub handoff_links_per_ip_per_min: u32,
    pub handoff_links_burst: u32,
    /// Wrong passwords for one account from one address (IPv6 by /64)
    /// within `login_failure_window_secs`, after which that address may
    /// not log in to that account (429) until the window passes. The hard
    /// limit: counted in the store, shared by every node.
    pub login_failures_per_account_address: u32,
    /// Wrong passwords for one account from all addresses together within
    /// the window, after which addresses that have failed on it are
    /// refused; an address that has not failed on it still logs in with
    /// the right password (so a stranger cannot lock the owner out).
    pub login_failures_per_account: u32,
    /// Wrong passwords from one address for any accounts within the
    /// window, after which the address may not log in at all.
    pub login_failures_per_address: u32,
    /// How long a wrong password counts.
    pub login_failure_window_secs: u64,
    /// Password checks (argon2, about 19 MiB and tens of ms of CPU each)
    /// running at once on this node; 0 means the number of cores.
    pub password_hash_concurrency: u32,
    /// How long a login may wait for a free password check before it is
    /// answered 503 `busy` with `retry_after_ms`.
    pub password_hash_wait_ms: u64,
    /// Visitor sockets open at once from one address (IPv6 by /64) on one
    /// node; past it the upgrade answers 429 `too_many_sockets`.
    pub sockets_per_address: u32,
    /// Conversations from one address waiting in the queue at once,
    /// counted for the whole deployment (in the store); past it `start`
    /// answers `too_many_waiting`.
    pub waiting_per_address: u32,
    /// Messages a visitor may write to one conversation while it waits to
    /// be matched for the first time (the first message included); past
    /// it `send` answers `waiting_budget_spent` and nothing is stored.
    /// With `waiting_per_address` it bounds an address too.
    pub waiting_messages_per_conversation: u32,
    /// Bytes of text (UTF-8) likewise.
    pub waiting_bytes_per_conversation: u32,
    /// Wrong way-back codes from one client address after which that
    /// address is refused (`way_back_locked`) for `way_back_lockout_secs`
    /// (counted for the whole deployment).
    pub way_back_failures: u32,
    /// How long an address's wrong way-back codes are counted, and so
    /// the longest it is refused after `way_back_failures` of them.
    pub way_back_lockout_secs: u32,
    /// Wrong return codes (issue 22) from one client address after which
    /// that address is refused (`return_code_locked`) for
    /// `return_code_lockout_secs` (counted for the whole deployment).
    pub return_code_failures: u32,
    /// How long an address's wrong return codes are counted, and so the
    /// longest it is refused after `return_code_failures` of them.
    pub return_code_lockout_secs: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timing {
    pub heartbeat_interval_ms: u64,
    /// A socket silent (no pong, no frame) this long is dead.
    pub client_timeout_ms: u64,
    /// A write to a socket that takes longer drops the connection.
    pub send_timeout_ms: u64,
    /// A queued visitor who is away longer loses their place.
    pub visitor_grace_secs: u64,
    /// How long a way-back code is valid after it is shown (it never
    /// outlives its conversation: an ended one's code no longer works).
    pub way_back_code_secs: u64,
    /// Issue 22: how much longer than an ordinary visitor a returning
    /// visitor may wait for the counsellor they last talked with (when
    /// that counsellor is available but full); past it, anyone. 0: no
    /// preference at all.
    pub return_preference_max_wait_secs: u64,
    /// A counsellor away longer has their visitors put back at the front.
    pub counsellor_grace_secs: u64,
    /// How long a staff password set-up code (a new account's, or a
    /// reset's) works after an admin is shown it; once only.
    pub account_setup_secs: u64,
    /// How often queue positions and estimates are pushed.
    pub queue_update_ms: u64,
    /// How often the grace periods are applied.
    pub sweep_interval_ms: u64,
    /// Average conversation length assumed until real ones are seen.
    pub handle_time_prior_secs: u64,
    /// With Redis: a node that has not renewed its liveness for this long
    /// is taken for dead, and its sockets stop counting as present (so its
    /// counsellors' grace period starts). Renewed every third of it.
    pub node_ttl_ms: u64,
    /// How much earlier than their arrival an urgent visitor is placed in
    /// the queue (the bound that keeps everyone else from starving).
    pub urgent_head_start_secs: u64,
    /// A visitor who has not answered the counsellor for this long is
    /// reported as silent (the counsellor decides whether to check in).
    pub silence_secs: u64,
    /// An HTTP request, body included, must arrive and be answered within
    /// this; a body trickled in byte by byte is cut off with 408
    /// `request_timeout`. (Socket upgrades answer at once and are not cut.)
    pub http_request_timeout_ms: u64,
    /// A visitor socket that has not sent `start` or `resume` this long
    /// after opening is closed (1008, reason `start_timeout`).
    pub start_timeout_ms: u64,
}

/// An account to create at start, e.g. the first admin. The hash comes
/// from `tsunagu hash-password`; `tsunagu user add` writes these entries.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserSeed {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: Secret,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            redis_url: None,
            store: StoreMode::Embedded,
            data_dir: PathBuf::from("data"),
            redis_prefix: "tsunagu".into(),
            redis_max_outstanding: DEFAULT_REDIS_MAX_OUTSTANDING,
            redis_admission_wait_ms: DEFAULT_REDIS_ADMISSION_WAIT.as_millis() as u64,
            redis_sentinels: Vec::new(),
            redis_service: None,
            redis_password: None,
            redis_username: None,
            redis_sentinel_password: None,
            redis_sentinel_username: None,
            redis_replicas_to_wait: 0,
            redis_wait_timeout_ms: DEFAULT_REDIS_WAIT_TIMEOUT.as_millis() as u64,
            redis_wait_messages: false,
            web_dir: PathBuf::from("web"),
            matching: MatchingMode::Auto,
            log: "info".into(),
            log_format: LogFormat::Text,
            trust_forwarded_for: false,
            allowed_origins: Vec::new(),
            public_url: None,
            metrics_token: None,
            cookie_secure: false,
            hsts_max_age_secs: 0,
            session_ttl_secs: 12 * 3600,
            limits: Limits::default(),
            timing: Timing::default(),
            site: Site::default(),
            alternatives: Alternative::japan_defaults(),
            hours: HoursSpec::default(),
            triage: Triage::default(),
            supervision: Supervision::default(),
            handoff: Handoff::default(),
            retention: RetentionSettings::default(),
            report: ReportSettings::default(),
            letters: LetterSettings::default(),
            hearing: HearingSettings::default(),
            relay: RelaySettings::default(),
            line: Line::default(),
            auth: Auth::default(),
            alerts: Alerts::default(),
            users: Vec::new(),
        }
    }
}

/// The longest greeting (`site.greeting_ja`/`greeting_en`): a few lines, not a page.
pub const MAX_GREETING_CHARS: usize = 500;

/// Public facts about the centre, shown on the visitor page (`GET /api/info`).
/// Each text has a Japanese and an English form.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Site {
    pub name_ja: String,
    pub name_en: String,
    /// Opening hours as people read them.
    pub hours_ja: String,
    pub hours_en: String,
    /// Where "quick exit" goes: a neutral page that gives nothing away.
    pub quick_exit_url: String,
    /// Shown to the visitor as a line from the site (not from the
    /// counsellor) when a counsellor joins; empty: no greeting.
    pub greeting_ja: String,
    pub greeting_en: String,
}

impl Default for Site {
    fn default() -> Self {
        Self {
            name_ja: "ひきこもり地域支援センター チャット相談".into(),
            name_en: "Hikikomori Support Centre chat".into(),
            hours_ja: "月曜日から金曜日 9:00〜17:00（祝日・年末年始を除く）".into(),
            hours_en: "Monday to Friday, 9:00-17:00 Japan time (closed on national holidays and over the year end)".into(),
            quick_exit_url: "https://www.google.co.jp/".into(),
            greeting_ja: "つながりました。話せるところから、ゆっくり書いてください。短い言葉だけでも大丈夫です。"
                .into(),
            greeting_en: "You are connected. Write at your own pace, starting wherever feels easiest. A few words are enough."
                .into(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 16 * 1024,
            max_text_chars: 2000,
            max_queue: 500,
            default_capacity: 2,
            max_capacity: 8,
            queue_view_entries: 50,
            outbox_messages: 256,
            // Many young people share one address (school, mobile carrier
            // NAT): per-address limits stop floods, not crowds.
            upgrades_per_ip_per_min: 120,
            upgrades_burst: 60,
            starts_per_ip_per_min: 30,
            starts_burst: 20,
            frames_per_sec: 10,
            frames_burst: 40,
            flood_close_after: 200,
            logins_per_ip_per_min: 20,
            logins_per_account_per_min: 5,
            logins_burst: 5,
            booking_lookups_per_ip_per_min: 10,
            booking_lookups_per_ref_per_min: 5,
            booking_lookups_burst: 5,
            booking_pin_failures: 10,
            handoff_links_per_ip_per_min: 30,
            handoff_links_burst: 10,
            login_failures_per_account_address: 5,
            login_failures_per_account: 50,
            login_failures_per_address: 30,
            login_failure_window_secs: 15 * 60,
            password_hash_concurrency: 0,
            password_hash_wait_ms: 2_000,
            // A family behind one home router, a few friends at a school:
            // more than anyone holds at once for themselves.
            sockets_per_address: 8,
            waiting_per_address: 3,
            // Enough to tell a counsellor what it is about, several times
            // over; not a way to fill the disk while nobody reads.
            waiting_messages_per_conversation: 30,
            waiting_bytes_per_conversation: 32 * 1024,
            way_back_failures: 10,
            way_back_lockout_secs: 900,
            return_code_failures: 10,
            return_code_lockout_secs: 900,
        }
    }
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            heartbeat_interval_ms: 15_000,
            client_timeout_ms: 45_000,
            send_timeout_ms: 10_000,
            visitor_grace_secs: 120,
            way_back_code_secs: 1800,
            return_preference_max_wait_secs: 300,
            counsellor_grace_secs: 90,
            account_setup_secs: 86_400,
            queue_update_ms: 500,
            sweep_interval_ms: 1_000,
            handle_time_prior_secs: 20 * 60,
            node_ttl_ms: DEFAULT_REDIS_NODE_TTL.as_millis() as u64,
            urgent_head_start_secs: crate::core::queue::DEFAULT_URGENT_HEAD_START_MS / 1000,
            silence_secs: 10 * 60,
            http_request_timeout_ms: 15_000,
            start_timeout_ms: 10_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {source}")]
    Toml {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid setting: {0}")]
    Invalid(String),
}

impl Settings {
    /// Defaults, then the file (if any), then the environment.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str::<toml::Table>(&text).map_err(|source| ConfigError::Toml {
                    path: path.to_owned(),
                    source,
                })?
            }
            None => toml::Table::new(),
        };
        for (key, value) in env {
            let Some(rest) = key.strip_prefix("TSUNAGU_") else {
                continue;
            };
            // Variables of the command line and of the test suite, not settings.
            if rest == "CONFIG" || rest == "USER_PASSWORD" || rest.starts_with("TEST_") {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
            set_path(&mut table, &path, parse_env_value(&value));
        }
        let mut settings: Settings = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_owned()))?;
        // An empty list (`alternatives = []`) is "none configured" too: a
        // visitor in danger is never shown an empty list.
        if settings.alternatives.is_empty() {
            settings.alternatives = Alternative::japan_defaults();
        }
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if !(1..=86_400).contains(&self.timing.way_back_code_secs) {
            return bad("timing.way_back_code_secs must be between 1 and 86400");
        }
        if !(1..=7 * 86_400).contains(&self.timing.account_setup_secs) {
            return bad("timing.account_setup_secs must be between 1 and 604800");
        }
        if self.timing.return_preference_max_wait_secs > 3_600 {
            return bad("timing.return_preference_max_wait_secs must be at most 3600");
        }
        if self.hsts_max_age_secs > 0 && !self.cookie_secure {
            return bad("hsts_max_age_secs needs cookie_secure = true (HSTS only over HTTPS)");
        }
        if [&self.site.greeting_ja, &self.site.greeting_en]
            .iter()
            .any(|g| g.chars().count() > MAX_GREETING_CHARS)
        {
            return bad("site.greeting_ja and greeting_en must be at most 500 characters");
        }
        if self.line.event_window_secs < 60 {
            return bad("line.event_window_secs must be at least 60");
        }
        if self.timing.start_timeout_ms < 100 {
            return bad("timing.start_timeout_ms must be at least 100");
        }
        if self.timing.http_request_timeout_ms < 1000 {
            return bad("timing.http_request_timeout_ms must be at least 1000");
        }
        if l.max_frame_bytes < 1024 {
            return bad("limits.max_frame_bytes must be at least 1024");
        }
        if l.default_capacity == 0 || l.default_capacity > l.max_capacity {
            return bad("limits.default_capacity must be between 1 and limits.max_capacity");
        }
        for n in [
            l.upgrades_per_ip_per_min,
            l.starts_per_ip_per_min,
            l.frames_per_sec,
            l.logins_per_ip_per_min,
            l.upgrades_burst,
            l.starts_burst,
            l.frames_burst,
            l.logins_burst,
            l.booking_lookups_per_ip_per_min,
            l.booking_lookups_burst,
            l.booking_pin_failures,
            l.handoff_links_per_ip_per_min,
            l.handoff_links_burst,
            l.login_failures_per_account_address,
            l.login_failures_per_account,
            l.login_failures_per_address,
            l.sockets_per_address,
            l.waiting_per_address,
            l.waiting_messages_per_conversation,
            l.waiting_bytes_per_conversation,
            l.way_back_failures,
            l.way_back_lockout_secs,
            l.return_code_failures,
            l.return_code_lockout_secs,
        ] {
            if n == 0 {
                return bad("rate limits and bursts must be at least 1");
            }
        }
        if l.login_failure_window_secs == 0 {
            return bad("limits.login_failure_window_secs must be at least 1");
        }
        if l.password_hash_concurrency > 1024 || l.password_hash_wait_ms > 30_000 {
            return bad(
                "limits.password_hash_concurrency must be at most 1024 (0: the cores) and password_hash_wait_ms at most 30000",
            );
        }
        let h = &self.handoff;
        if h.wording_version.trim().is_empty()
            || h.recipient_ja.trim().is_empty()
            || h.purpose_ja.trim().is_empty()
        {
            return bad("handoff: recipient_ja, purpose_ja and wording_version are required");
        }
        if h.appointment_title_ja.trim().is_empty() || h.appointment_title_en.trim().is_empty() {
            return bad("handoff: appointment_title_ja and appointment_title_en must not be empty");
        }
        if h.link_valid_secs == 0 {
            return bad("handoff.link_valid_secs must be at least 1");
        }
        if h.pin_key.as_ref().is_some_and(|k| k.expose().len() < 16) {
            return bad("handoff.pin_key must be at least 16 characters");
        }
        // (Required with Redis: checked when the server starts on it,
        // `Application::build`.)
        if let Some(u) = &self.public_url {
            let rest = u
                .strip_prefix("https://")
                .or_else(|| u.strip_prefix("http://"));
            let host = rest.map(|r| r.trim_end_matches('/'));
            if !host.is_some_and(|h| !h.is_empty() && !h.contains(['/', '?', '#', ' '])) {
                return bad(
                    "public_url must be like https://chat.example.jp (no path, query or fragment)",
                );
            }
        }
        let r = &self.retention;
        if r.conversation_days == 0 || r.booking_days < r.conversation_days {
            return bad("retention: conversation_days >= 1 and booking_days >= conversation_days");
        }
        if r.case_keep_days < r.conversation_days {
            return bad("retention.case_keep_days must be at least retention.conversation_days");
        }
        if r.case_keep_wording_version.trim().is_empty() {
            return bad("retention.case_keep_wording_version is required");
        }
        if r.audit_days < r.booking_days {
            return bad("retention.audit_days must be at least retention.booking_days");
        }
        if r.purge_interval_secs == 0 {
            return bad("retention.purge_interval_secs must be at least 1");
        }
        crate::core::hearing::Sheets::check(&self.hearing.sheets).map_err(ConfigError::Invalid)?;
        let rl = &self.relay;
        if !(1..=90).contains(&rl.link_valid_days)
            || rl.wording_version.trim().is_empty()
            || rl.notice_ja.trim().is_empty()
            || rl.notice_en.trim().is_empty()
        {
            return bad("relay: link_valid_days 1 to 90; wording_version, notice_ja and notice_en not empty");
        }
        let lt = &self.letters;
        if !(1..=10_000).contains(&lt.max_chars)
            || lt.max_waiting == 0
            || lt.per_address == 0
            || lt.per_address_window_secs == 0
            || lt.minutes_per_letter == 0
        {
            return bad("letters: max_chars 1 to 10000; max_waiting, per_address, per_address_window_secs and minutes_per_letter at least 1");
        }
        if !(1..=3650).contains(&self.report.case_ends_after_days) {
            return bad("report.case_ends_after_days must be 1 to 3650");
        }
        if self.report.min_cell == 0 {
            return bad("report.min_cell must be at least 1");
        }
        if !valid_redis_prefix(&self.redis_prefix) {
            return bad("redis_prefix must be 1-64 characters of A-Z, a-z, 0-9, '_', '.' or '-'");
        }
        if self.redis_max_outstanding == 0 {
            return bad("redis_max_outstanding must be at least 1");
        }
        if self.redis_admission_wait_ms > 4_000 {
            return bad("redis_admission_wait_ms must be at most 4000 (below Redis's 5 s response time-out)");
        }
        self.check_sentinel_settings()?;
        if self.timing.node_ttl_ms < 300 {
            return bad("timing.node_ttl_ms must be at least 300");
        }
        let t = &self.timing;
        if [
            t.heartbeat_interval_ms,
            t.queue_update_ms,
            t.sweep_interval_ms,
            t.send_timeout_ms,
        ]
        .contains(&0)
        {
            return bad("timing intervals must be at least 1 ms");
        }
        if t.client_timeout_ms <= t.heartbeat_interval_ms {
            return bad(
                "timing.client_timeout_ms must be longer than timing.heartbeat_interval_ms",
            );
        }
        if l.outbox_messages == 0 || l.queue_view_entries == 0 || l.max_text_chars == 0 {
            return bad(
                "limits.outbox_messages, queue_view_entries and max_text_chars must be at least 1",
            );
        }
        if t.silence_secs == 0 {
            return bad("timing.silence_secs must be at least 1");
        }
        // `TSUNAGU_METRICS_TOKEN=$UNSET_VAR` in a unit or compose file gives
        // an empty token, which an empty `Bearer ` would match.
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.expose().is_empty())
        {
            return bad(
                "metrics_token must not be empty (leave it unset for loopback-only metrics)",
            );
        }
        self.alerts.validate().map_err(ConfigError::Invalid)?;
        self.schedule()?;
        let mut seen = std::collections::HashSet::new();
        for u in &self.users {
            if !crate::model::valid_username(&u.username) {
                return Err(ConfigError::Invalid(format!(
                    "users: username {:?} must be 3-32 characters of a-z, 0-9, '.', '_' or '-'",
                    u.username
                )));
            }
            if !crate::model::valid_display_name(&u.display_name) {
                return Err(ConfigError::Invalid(format!(
                    "users: {}'s display_name must be 1-40 characters with no line breaks \
                     or other control characters",
                    u.username
                )));
            }
            if !seen.insert(&u.username) {
                return Err(ConfigError::Invalid(format!(
                    "users: {} appears twice",
                    u.username
                )));
            }
            if argon2::PasswordHash::new(u.password_hash.expose()).is_err() {
                return Err(ConfigError::Invalid(format!(
                    "users: the password_hash of {} is not a PHC string (make one with `tsunagu hash-password`)",
                    u.username
                )));
            }
        }
        Ok(())
    }
}

impl Settings {
    /// The Sentinel settings: either `redis_url` or `redis_sentinels` with
    /// `redis_service`, each Sentinel as `host:port`; a wait that can end.
    fn check_sentinel_settings(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.into()));
        if !self.redis_sentinels.is_empty() {
            if self.redis_url.is_some() {
                return bad("set either redis_url or redis_sentinels, not both");
            }
            for s in &self.redis_sentinels {
                if !valid_host_port(s) {
                    return Err(ConfigError::Invalid(format!(
                        "redis_sentinels: {s:?} must be host:port (a port of 1-65535)"
                    )));
                }
            }
            if !self
                .redis_service
                .as_deref()
                .is_some_and(valid_redis_prefix)
            {
                return bad(
                    "redis_service must name the monitored primary with redis_sentinels \
                     (1-64 characters of A-Z, a-z, 0-9, '_', '.' or '-')",
                );
            }
            for (name, user) in [
                ("redis_username", &self.redis_username),
                ("redis_sentinel_username", &self.redis_sentinel_username),
            ] {
                if user.as_deref().is_some_and(|u| !valid_acl_username(u)) {
                    return Err(ConfigError::Invalid(format!(
                        "{name} must be 1-64 characters of A-Z, a-z, 0-9, '_', '.', '-' or '@' \
                         (an ACL user on the server)"
                    )));
                }
            }
            for (name, user, password) in [
                ("redis", &self.redis_username, &self.redis_password),
                (
                    "redis_sentinel",
                    &self.redis_sentinel_username,
                    &self.redis_sentinel_password,
                ),
            ] {
                if user.is_some() && !password_set(password) {
                    return Err(ConfigError::Invalid(format!(
                        "{name}_username needs {name}_password (an ACL user logs in with its password)"
                    )));
                }
            }
        } else if self.redis_service.is_some()
            || password_set(&self.redis_password)
            || self.redis_username.is_some()
            || password_set(&self.redis_sentinel_password)
            || self.redis_sentinel_username.is_some()
        {
            return bad(
                "redis_service, redis_username, redis_password, redis_sentinel_username and \
                 redis_sentinel_password are for redis_sentinels (put a password in redis_url)",
            );
        }
        if self.redis_wait_timeout_ms == 0 || self.redis_wait_timeout_ms > MAX_REDIS_WAIT_TIMEOUT_MS
        {
            return bad(
                "redis_wait_timeout_ms must be 1-4000 (below Redis's 5 s response time-out)",
            );
        }
        if self.redis_replicas_to_wait > 16 {
            return bad("redis_replicas_to_wait must be at most 16");
        }
        if self.redis_wait_messages && self.redis_replicas_to_wait == 0 {
            return bad("redis_wait_messages needs redis_replicas_to_wait of at least 1");
        }
        Ok(())
    }

    /// Is a Redis store configured (`redis_url` or `redis_sentinels`)?
    pub fn uses_redis(&self) -> bool {
        self.redis_url.is_some() || !self.redis_sentinels.is_empty()
    }

    /// `public_url` without a trailing slash, if set.
    pub fn public_base(&self) -> Option<&str> {
        self.public_url.as_deref().map(|u| u.trim_end_matches('/'))
    }

    /// The opening-hours schedule (checked by `load`).
    pub fn schedule(&self) -> Result<Schedule, ConfigError> {
        Schedule::new(&self.hours).map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    /// Password checks at once: `limits.password_hash_concurrency`, or
    /// the number of cores when it is 0.
    pub fn password_hash_concurrency(&self) -> usize {
        match self.limits.password_hash_concurrency {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n as usize,
        }
    }

    /// The queue order parameters.
    pub fn queue_policy(&self) -> crate::core::queue::QueuePolicy {
        crate::core::queue::QueuePolicy {
            urgent_head_start_ms: self.timing.urgent_head_start_secs.saturating_mul(1000),
        }
    }
}

fn parse_env_value(raw: &str) -> toml::Value {
    // Parse as the right-hand side of a TOML assignment; fall back to string.
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) {
    match path {
        [] => {}
        [last] => {
            table.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(t) = entry {
                set_path(t, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests;
