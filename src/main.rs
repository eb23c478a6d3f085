//! The `tsunagu` command: run the server, or manage accounts.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use tsunagu::auth;
use tsunagu::config::Settings;
use tsunagu::model::Role;
use tsunagu::startup::Application;

#[derive(Parser)]
#[command(name = "tsunagu", version, about = "Anonymous chat counselling server")]
struct Cli {
    /// TOML settings file (also TSUNAGU_CONFIG). Environment variables
    /// TSUNAGU_* override it.
    #[arg(long, env = "TSUNAGU_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Read a password on standard input and print its argon2id hash.
    HashPassword,
    /// Copy the embedded store's database to PATH (a new file), safely
    /// while the server runs. Restore: README, "Backup and restore".
    Backup {
        /// The copy to write; must not exist yet.
        path: PathBuf,
    },
    /// Staff accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an account to the settings file (created if missing); it is
    /// created in the store when the server starts. The password is read
    /// from standard input (or TSUNAGU_USER_PASSWORD).
    Add {
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: String,
        #[arg(long, value_parser = parse_role, default_value = "counsellor")]
        role: Role,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| "one of: counsellor, supervisor, intake, admin".to_owned())
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("TSUNAGU_USER_PASSWORD") {
        return Ok(p);
    }
    eprint!("password: ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Give large allocations back to the OS when they are freed.
///
/// Each login verifies an argon2id hash with a 19 MiB working buffer. glibc
/// raises its mmap threshold to the size of the largest block freed (up to
/// 32 MiB), so from the second login on those buffers came from the heap,
/// and fragmentation kept ~14 MB resident per login: 125 counsellor logins
/// left the server at 2.3 GB, 625 at 11 GB (found by benches/loadgen).
/// A fixed threshold turns off that adjustment: blocks of 128 KiB and more
/// are mapped and unmapped, so a login's buffer leaves with the login.
fn return_large_allocations_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

fn main() -> anyhow::Result<()> {
    return_large_allocations_to_the_os();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config),
        Command::Backup { path } => backup(cli.config, &path),
        Command::HashPassword => {
            let password = read_password()?;
            println!("{}", auth::hash_password(&password)?);
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Add {
                    username,
                    display_name,
                    role,
                },
        } => {
            if !tsunagu::model::valid_username(&username) {
                bail!("username: 3-32 characters of a-z, 0-9, '.', '_' or '-'");
            }
            let path = cli.config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
            if path.exists() {
                let existing = Settings::load(Some(&path), std::iter::empty())
                    .context("the settings file does not load")?;
                if existing.users.iter().any(|u| u.username == username) {
                    bail!("{username} is already in {}", path.display());
                }
            }
            let password = read_password()?;
            let hash = auth::hash_password(&password)?;
            let mut user = toml::Table::new();
            user.insert("username".into(), username.clone().into());
            user.insert("display_name".into(), display_name.into());
            user.insert(
                "role".into(),
                serde_json::to_value(role)?
                    .as_str()
                    .unwrap_or("counsellor")
                    .into(),
            );
            user.insert("password_hash".into(), hash.into());
            let mut doc = toml::Table::new();
            doc.insert(
                "users".into(),
                toml::Value::Array(vec![toml::Value::Table(user)]),
            );
            let entry = toml::to_string(&doc)?;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            writeln!(f, "\n{entry}")?;
            // Check the file still loads, so a typo shows now, not at start.
            Settings::load(Some(&path), std::iter::empty())
                .context("the settings file no longer loads")?;
            eprintln!(
                "added {username} to {}; it is created when the server starts",
                path.display()
            );
            Ok(())
        }
    }
}

/// The settings file: the one named, else `./tsunagu.toml` if it exists
/// (where `tsunagu user add` writes by default).
fn settings_file(config: Option<PathBuf>) -> Option<PathBuf> {
    config.or_else(|| {
        let default = PathBuf::from(DEFAULT_CONFIG);
        default.exists().then_some(default)
    })
}

const DEFAULT_CONFIG: &str = "tsunagu.toml";

fn backup(config: Option<PathBuf>, dest: &std::path::Path) -> anyhow::Result<()> {
    let file = settings_file(config);
    let settings = Settings::load(file.as_deref(), std::env::vars()).context("invalid settings")?;
    if settings.store != tsunagu::config::StoreMode::Embedded || settings.uses_redis() {
        bail!("backup copies the embedded store; these settings use another store");
    }
    let done = tsunagu::store::embedded::backup(&settings.data_dir, dest)?;
    eprintln!(
        "backed up {} to {} ({} bytes, schema v{}: {} accounts, {} conversations, {} messages)",
        settings.data_dir.display(),
        dest.display(),
        done.bytes,
        done.schema,
        done.accounts,
        done.conversations,
        done.messages
    );
    Ok(())
}

fn serve(config: Option<PathBuf>) -> anyhow::Result<()> {
    let file = settings_file(config);
    let settings = Settings::load(file.as_deref(), std::env::vars()).context("invalid settings")?;
    tsunagu::telemetry::init(&settings);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async move {
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            config_file = %file.as_ref().map_or("(none)".into(), |f| f.display().to_string()),
            settings = %serde_json::to_string(&settings).unwrap_or_default(),
            "starting"
        );
        let app = Application::build(settings).await?;
        tracing::info!(port = app.port(), store = app.state.store_kind, "listening");
        app.run_until_stopped().await?;
        tracing::info!("stopped");
        Ok(())
    })
}
