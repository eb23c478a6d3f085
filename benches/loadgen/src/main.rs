//! `loadgen`: a load generator for Tsunagu and its two relay baselines.
//!
//! It speaks the real protocol (docs/PROTOCOL.md) over real sockets, to
//! loopback addresses only, for a bounded time, and stops by itself.
//!
//! One coordinator process spawns worker processes (a process may hold at
//! most as many sockets as its open-file limit allows; each worker takes at
//! most [`PER_WORKER`]) and drives them through phases over their standard
//! input and output:
//!
//! 1. `pairs`: worker 0 logs in the counsellors, sets them available with
//!    their capacity, and starts one visitor per pair; every pair is matched.
//! 2. `idle`: every worker opens its share of idle visitors, each of which
//!    `start`s and waits in the queue until it is told its place.
//! 3. `go START END`: pairs exchange messages at the set rate; visitors join
//!    in a burst; with `--churn-after`, counsellors end conversations and the
//!    next waiting visitor is matched. Only what happens between START and END
//!    (Unix nanoseconds, the same clock in every process) is counted.
//! 4. `exit`: close everything.
//!
//! The coordinator reads the server's RSS from `/proc/<pid>/status` between
//! phases, merges the workers' histograms and prints one report (and writes it
//! as JSON with `--json`). `loadgen summarize FILE...` turns such reports into
//! the tables of docs/BENCHMARKS.md (medians over runs).
//!
//! Against `--target relay` (the Node relay and the bare Rust relay) a pair
//! is two plain sockets on `/relay?pair=N` that forward each other's frames;
//! idle sockets just connect and hold.

mod report;
mod worker;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};

use report::{Report, WorkerReport};

/// Sockets one worker process holds at most (the open-file limit here is
/// 20,000 per process, and a process needs a few descriptors of its own).
pub const PER_WORKER: usize = 18_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The Tsunagu server: visitors, counsellors, the queue.
    Tsunagu,
    /// A bare relay baseline: pairs forward frames on `/relay?pair=N`.
    Relay,
}

#[derive(Parser, Clone, Debug)]
#[command(name = "loadgen", about = "Load generator for Tsunagu (loopback only)")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    #[command(flatten)]
    pub args: Args,
}

#[derive(Subcommand, Clone, Debug)]
pub enum Cmd {
    /// Print the tables of docs/BENCHMARKS.md from JSON reports (medians).
    Summarize { files: Vec<PathBuf> },
}

#[derive(clap::Args, Clone, Debug, serde::Serialize)]
pub struct Args {
    /// What is listening at --addr.
    #[arg(long, value_enum, default_value = "tsunagu")]
    pub target: Target,
    /// The server; must be a loopback address (127.0.0.0/8).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Visitors that start and wait in the queue.
    #[arg(long, default_value_t = 0)]
    pub idle: usize,
    /// Active visitor-counsellor pairs exchanging messages.
    #[arg(long, default_value_t = 0)]
    pub pairs: usize,
    /// Messages per second per pair, both directions together.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Characters of text per message (Japanese, 3 bytes each in UTF-8).
    #[arg(long, default_value_t = 40)]
    pub text_chars: usize,
    /// Conversations per counsellor (the server's limits.max_capacity must allow it).
    #[arg(long, default_value_t = 8)]
    pub capacity: u32,
    /// Counsellor accounts are PREFIX0, PREFIX1, ... (seeded in the server's config).
    #[arg(long, default_value = "bench-c")]
    pub counsellor_prefix: String,
    /// The counsellors' password.
    #[arg(
        long,
        env = "LOADGEN_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    #[serde(skip)]
    pub password: String,
    /// A counsellor ends each conversation after sending this many messages
    /// (0: never); the next waiting visitor is then matched (match latency).
    #[arg(long, default_value_t = 0)]
    pub churn_after: u32,
    /// With --churn-after: a visitor whose chat ended joins the queue again.
    #[arg(long)]
    pub rejoin: bool,
    /// Visitors joining during the measurement, spread evenly over --burst-secs.
    #[arg(long, default_value_t = 0)]
    pub burst: usize,
    #[arg(long, default_value_t = 10.0)]
    pub burst_secs: f64,
    /// Seconds counted.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of traffic before counting starts.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Messages a sender may have in flight (sent, not yet received by its
    /// peer) per pair and direction; beyond it the sender skips ticks.
    /// Keeps saturated runs bounded; 0: open loop.
    #[arg(long, default_value_t = 8)]
    pub window: u64,
    /// Acknowledge every message received (`ack`), as a console would.
    #[arg(long)]
    pub ack: bool,
    /// Worker processes (default: enough for PER_WORKER sockets each).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Runtime threads per worker process.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Client sockets are spread over 127.0.0.1 ..= 127.0.0.N.
    #[arg(long, default_value_t = 8)]
    pub sources: u8,
    /// Sockets being opened at once while ramping up.
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,
    /// The server's process id, for its RSS (/proc/PID/status) and its
    /// CPU time over the measurement window (/proc/PID/stat).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// redis-server's process id (Redis store): its CPU time is reported
    /// apart from the server's.
    #[arg(long)]
    pub redis_pid: Option<u32>,
    /// Name of this run in the report (e.g. "relay-1000/tsunagu").
    #[arg(long, default_value = "")]
    pub label: String,
    /// Append the report as one JSON line to this file.
    #[arg(long)]
    #[serde(skip)]
    pub json: Option<PathBuf>,
    #[arg(long, hide = true)]
    #[serde(skip)]
    pub worker_index: Option<usize>,
    #[arg(long, hide = true, default_value_t = 1)]
    #[serde(skip)]
    pub worker_count: usize,
}

impl Args {
    /// Counsellor accounts needed for the pairs.
    pub fn counsellors(&self) -> usize {
        match self.target {
            Target::Tsunagu => self.pairs.div_ceil(self.capacity.max(1) as usize),
            Target::Relay => 0,
        }
    }

    /// Sockets worker 0 holds besides its idle share.
    fn worker0_extra(&self) -> usize {
        let pair_sockets = match self.target {
            Target::Tsunagu => self.pairs + self.counsellors(),
            Target::Relay => 2 * self.pairs,
        };
        pair_sockets + self.burst
    }

    pub fn idle_share(&self, index: usize) -> usize {
        let w = self.worker_count.max(1);
        self.idle / w + usize::from(index < self.idle % w)
    }
}

fn main() {
    let cli = Cli::parse();
    if let Some(Cmd::Summarize { files }) = cli.command {
        report::summarize(&files);
        return;
    }
    let args = cli.args;
    if !args.addr.ip().is_loopback() {
        eprintln!("loadgen only sends to loopback addresses (127.0.0.0/8, ::1)");
        std::process::exit(2);
    }
    if args.sources == 0 {
        eprintln!("--sources must be at least 1");
        std::process::exit(2);
    }
    if args.worker_index.is_some() {
        worker::main(args);
        return;
    }
    match coordinate(args) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(1);
        }
    }
}

/// One worker process and the lines it prints.
struct Worker {
    child: Child,
    stdin: ChildStdin,
}

enum Line {
    Msg(usize, String),
    Gone(usize),
}

fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// CPU seconds (user + system) a process has used, from /proc/PID/stat:
/// fields 14 and 15 after the command name, in clock ticks. Threads that
/// ended are included (unlike summing /proc/PID/task/*).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields start after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clock_ticks_per_sec())
}

/// USER_HZ: 100 on every Linux build this runs on; asked of `getconf`
/// once in case it is not.
fn clock_ticks_per_sec() -> f64 {
    static HZ: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The cores this process may run on (its affinity, e.g. under taskset).
fn allowed_cores() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|list| {
                    list.trim()
                        .split(',')
                        .filter_map(|r| match r.split_once('-') {
                            Some((a, b)) => {
                                Some(b.parse::<usize>().ok()? + 1 - a.parse::<usize>().ok()?)
                            }
                            None => r.parse::<usize>().ok().map(|_| 1),
                        })
                        .sum()
                })
        })
        .unwrap_or(1)
}

/// Samples CPU time at the window's start and end (wall-clock ns, as the
/// workers' window), on a thread of its own while the workers run.
fn sample_cpu(
    args: &Args,
    workers: Vec<u32>,
    start_ns: u64,
    end_ns: u64,
) -> std::thread::JoinHandle<Option<report::Cpu>> {
    let server = args.server_pid;
    let redis = args.redis_pid;
    std::thread::spawn(move || {
        let server = server?;
        let read = || {
            let gen: f64 = workers.iter().filter_map(|&p| cpu_secs(p)).sum();
            (cpu_secs(server), redis.and_then(cpu_secs), gen, now_ns())
        };
        std::thread::sleep(Duration::from_nanos(start_ns.saturating_sub(now_ns())));
        let (s0, r0, g0, t0) = read();
        std::thread::sleep(Duration::from_nanos(end_ns.saturating_sub(now_ns())));
        let (s1, r1, g1, t1) = read();
        Some(report::Cpu {
            window_secs: t1.saturating_sub(t0) as f64 / 1e9,
            server_secs: s1? - s0?,
            redis_secs: match (r0, r1) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            },
            generator_secs: g1 - g0,
            generator_cores: allowed_cores(),
        })
    })
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The soft open-file limit of this process, from /proc/self/limits.
pub fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
}

fn coordinate(mut args: Args) -> Result<(), String> {
    let extra = args.worker0_extra();
    if extra > PER_WORKER {
        return Err(format!(
            "pairs, counsellors and burst need {extra} sockets in worker 0; at most {PER_WORKER}"
        ));
    }
    let total = args.idle + extra;
    let workers = args
        .workers
        .unwrap_or_else(|| total.div_ceil(PER_WORKER).max(1));
    args.worker_count = workers;
    for i in 0..workers {
        let n = args.idle_share(i) + if i == 0 { extra } else { 0 };
        if n > PER_WORKER {
            return Err(format!(
                "worker {i} would hold {n} sockets (max {PER_WORKER}); add --workers"
            ));
        }
    }
    let limit = open_file_limit();
    eprintln!(
        "loadgen: {} -> {} ({:?}): idle {} pairs {} burst {} rate {}/s/pair, {} worker(s); open-file limit {} per process (each worker needs its sockets + ~50: raise with `ulimit -n`)",
        args.label,
        args.addr,
        args.target,
        args.idle,
        args.pairs,
        args.burst,
        args.rate,
        workers,
        limit.map_or("?".into(), |l| l.to_string()),
    );

    let load_start = load_average();
    let rss_before = rss_kib(args.server_pid);
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let passthrough: Vec<String> = std::env::args().skip(1).collect();
    let (tx, rx) = mpsc::channel::<Line>();
    let mut procs = Vec::new();
    for i in 0..workers {
        let mut child = Command::new(&exe)
            .args(&passthrough)
            .arg("--worker-index")
            .arg(i.to_string())
            .arg("--worker-count")
            .arg(workers.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start worker: {e}"))?;
        let stdout = child.stdout.take().ok_or("no worker stdout")?;
        let stdin = child.stdin.take().ok_or("no worker stdin")?;
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(Line::Msg(i, l)).is_err() {
                            return;
                        }
                    }
                    Err(_) => break,
                }
            }
            let _ = tx.send(Line::Gone(i));
        });
        procs.push(Worker { child, stdin });
    }

    let result = drive(&args, &mut procs, &rx, rss_before, load_start);
    // Whatever happened, every worker is told to exit, then waited for.
    for w in procs.iter_mut() {
        let _ = writeln!(w.stdin, "exit");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for w in procs.iter_mut() {
        loop {
            match w.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = w.child.kill();
                    let _ = w.child.wait();
                    break;
                }
            }
        }
    }
    let report = result?;
    println!("{}", report.human());
    if let Some(path) = &args.json {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        writeln!(f, "{}", serde_json::to_string(&report).unwrap_or_default())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Send a command to every worker and collect one answer line from each
/// (answers start with `ok` or `report`).
fn phase(
    procs: &mut [Worker],
    rx: &mpsc::Receiver<Line>,
    cmd: &str,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    for w in procs.iter_mut() {
        writeln!(w.stdin, "{cmd}").map_err(|e| format!("worker gone: {e}"))?;
        w.stdin.flush().map_err(|e| e.to_string())?;
    }
    let mut answers: Vec<Option<String>> = vec![None; procs.len()];
    let deadline = Instant::now() + timeout;
    while answers.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Line::Msg(i, l)) => {
                if let Some(rest) = l.strip_prefix("fail ") {
                    return Err(format!("worker {i} failed in {cmd}: {rest}"));
                }
                answers[i] = Some(l);
            }
            Ok(Line::Gone(i)) => return Err(format!("worker {i} exited during {cmd}")),
            Err(_) => return Err(format!("phase `{cmd}` timed out after {timeout:?}")),
        }
    }
    Ok(answers.into_iter().flatten().collect())
}

fn now_ns() -> u64 {
    worker::now_ns()
}

fn drive(
    args: &Args,
    procs: &mut [Worker],
    rx: &mpsc::Receiver<Line>,
    rss_before: Option<u64>,
    load_start: String,
) -> Result<Report, String> {
    let setup_timeout =
        |n: usize| Duration::from_secs(60) + Duration::from_millis(20 * n as u64 + 1);
    let t = Instant::now();
    phase(procs, rx, "pairs", setup_timeout(args.pairs * 4))?;
    let pairs_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let oks = phase(procs, rx, "idle", setup_timeout(args.idle))?;
    let idle_secs = t.elapsed().as_secs_f64();
    // Let the ramp's garbage settle before reading the resident size.
    std::thread::sleep(Duration::from_secs(2));
    let rss_ready = rss_kib(args.server_pid);
    let held: u64 = oks
        .iter()
        .filter_map(|l| l.strip_prefix("ok idle "))
        .filter_map(|v| v.trim().parse::<u64>().ok())
        .sum();

    let start = now_ns() + (args.warmup * 1e9) as u64 + 200_000_000;
    let end = start + (args.duration * 1e9) as u64;
    let run_for = Duration::from_secs_f64(args.warmup + args.duration + 0.2);
    let pids = procs.iter().map(|w| w.child.id()).collect();
    let cpu = sample_cpu(args, pids, start, end);
    let lines = phase(
        procs,
        rx,
        &format!("go {start} {end}"),
        run_for + Duration::from_secs(60),
    )?;
    let rss_end = rss_kib(args.server_pid);
    let mut workers = Vec::new();
    for l in lines {
        let json = l
            .strip_prefix("report ")
            .ok_or_else(|| format!("unexpected worker answer: {l}"))?;
        workers.push(
            serde_json::from_str::<WorkerReport>(json).map_err(|e| format!("bad report: {e}"))?,
        );
    }
    Ok(Report::build(
        args,
        &workers,
        report::Setup {
            rss_before,
            rss_ready,
            rss_end,
            held,
            load_start,
            load_end: load_average(),
            pairs_secs,
            idle_secs,
            cpu: cpu.join().ok().flatten(),
        },
    ))
}
