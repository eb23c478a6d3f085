//! Reports: one per worker, merged into one per run; and `summarize`,
//! which turns runs into the tables of docs/BENCHMARKS.md.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::{Args, Target};

/// A histogram as (value, count) pairs, to cross process boundaries.
pub fn hist_to_vec(h: &Histogram<u64>) -> Vec<(u64, u64)> {
    h.iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

fn hist_from(pairs: &[(u64, u64)], into: &mut Histogram<u64>) {
    for &(v, c) in pairs {
        into.saturating_record_n(v, c);
    }
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

#[derive(Serialize, Deserialize, Debug, Default)]
pub struct WorkerReport {
    pub index: usize,
    pub open: u64,
    pub idle_told: u64,
    pub idle_failed: u64,
    pub pairs_matched: u64,
    pub sent: u64,
    pub delivered: u64,
    pub confirmed: u64,
    #[serde(default)]
    pub frames_in: u64,
    #[serde(default)]
    pub frames_out: u64,
    pub skipped: u64,
    pub burst_told: u64,
    #[serde(default)]
    pub late_sends: u64,
    pub errors: BTreeMap<String, u64>,
    pub latency_us: Vec<(u64, u64)>,
    pub burst_us: Vec<(u64, u64)>,
    pub frees: Vec<(String, u64)>,
    pub matches: Vec<(String, u64)>,
}

/// What the coordinator measured around the workers.
pub struct Setup {
    pub rss_before: Option<u64>,
    pub rss_ready: Option<u64>,
    pub rss_end: Option<u64>,
    pub held: u64,
    pub load_start: String,
    pub load_end: String,
    pub pairs_secs: f64,
    pub idle_secs: f64,
    /// CPU seconds (user + system, from /proc/PID/stat) over the
    /// measurement window: the server, redis-server (if given), and the
    /// generator's own worker processes.
    pub cpu: Option<Cpu>,
}

/// CPU time spent during the measurement window, in seconds.
#[derive(Serialize, Deserialize, Debug, Default, Clone, Copy)]
pub struct Cpu {
    pub window_secs: f64,
    pub server_secs: f64,
    pub redis_secs: Option<f64>,
    pub generator_secs: f64,
    /// Cores the generator may use (its affinity mask), to tell when the
    /// generator rather than the server was the limit.
    pub generator_cores: usize,
}

#[derive(Serialize, Deserialize, Debug, Default, Clone, Copy)]
pub struct Percentiles {
    pub count: u64,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    /// From a histogram in microseconds, in milliseconds.
    fn ms(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let q = |p: f64| h.value_at_quantile(p) as f64 / 1000.0;
        Self {
            count: h.len(),
            p50: q(0.5),
            p99: q(0.99),
            p999: q(0.999),
            max: h.max() as f64 / 1000.0,
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Default)]
pub struct Report {
    pub label: String,
    pub target: Option<Target>,
    pub idle: usize,
    pub pairs: usize,
    pub rate_per_pair: f64,
    pub capacity: u32,
    pub burst: usize,
    pub burst_secs: f64,
    pub churn_after: u32,
    pub duration_secs: f64,
    pub workers: usize,
    pub load_average_start: String,
    pub load_average_end: String,
    /// Sockets open to the server once set up.
    pub connections_held: u64,
    pub idle_told: u64,
    pub idle_failed: u64,
    pub setup_secs_pairs: f64,
    pub setup_secs_idle: f64,
    pub rss_kib_before: Option<u64>,
    pub rss_kib_ready: Option<u64>,
    pub rss_kib_end: Option<u64>,
    /// (RSS once set up - RSS before) / connections held.
    pub rss_bytes_per_connection: Option<f64>,
    pub offered_per_sec: f64,
    pub sent_per_sec: f64,
    pub delivered_per_sec: f64,
    pub confirmed_per_sec: f64,
    /// Sender ticks skipped because --window messages were in flight.
    #[serde(default)]
    pub held_back_per_sec: f64,
    pub latency_ms: Percentiles,
    pub match_ms: Percentiles,
    pub burst_told: u64,
    pub burst_within_1s: u64,
    pub burst_ms: Percentiles,
    /// Visitor sends answered `conversation_ended` because they crossed the
    /// counsellor's `end` (churn); expected, not errors.
    #[serde(default)]
    pub late_sends: u64,
    /// Text frames the server handled in the window (received from the
    /// generator plus sent to it).
    #[serde(default)]
    pub frames: u64,
    #[serde(default)]
    pub cpu: Option<Cpu>,
    /// Server CPU per delivered message and per frame, microseconds.
    #[serde(default)]
    pub server_cpu_us_per_message: Option<f64>,
    #[serde(default)]
    pub server_cpu_us_per_frame: Option<f64>,
    /// redis-server's CPU per delivered message (Redis store only).
    #[serde(default)]
    pub redis_cpu_us_per_message: Option<f64>,
    /// The generator's CPU use as a share of the cores it may use (1.0:
    /// every one of them busy the whole window, so it was the limit).
    #[serde(default)]
    pub generator_busy: Option<f64>,
    pub errors: BTreeMap<String, u64>,
    pub error_total: u64,
}

impl Report {
    pub fn build(args: &Args, workers: &[WorkerReport], s: Setup) -> Self {
        let mut latency = new_hist();
        let mut burst = new_hist();
        let mut errors = BTreeMap::new();
        let mut frees = HashMap::new();
        let mut matches = Vec::new();
        let (mut sent, mut delivered, mut confirmed, mut skipped) = (0, 0, 0, 0);
        let mut frames = 0;
        let (mut idle_told, mut idle_failed, mut burst_told, mut late_sends) = (0, 0, 0, 0);
        for w in workers {
            hist_from(&w.latency_us, &mut latency);
            hist_from(&w.burst_us, &mut burst);
            for (k, v) in &w.errors {
                *errors.entry(k.clone()).or_insert(0) += v;
            }
            for (c, t) in &w.frees {
                frees.insert(c.clone(), *t);
            }
            matches.extend(w.matches.iter().cloned());
            sent += w.sent;
            delivered += w.delivered;
            confirmed += w.confirmed;
            frames += w.frames_in + w.frames_out;
            skipped += w.skipped;
            idle_told += w.idle_told;
            idle_failed += w.idle_failed;
            burst_told += w.burst_told;
            late_sends += w.late_sends;
        }
        // Match latency: the counsellor freed a place at t0 (sent `end`);
        // the visitor given that place was told `matched` at t1.
        let mut matching = new_hist();
        for (c, t1) in &matches {
            if let Some(t0) = frees.get(c) {
                matching.saturating_record((t1.saturating_sub(*t0) / 1000).max(1));
            }
        }
        let d = args.duration.max(0.001);
        let per_conn = match (s.rss_before, s.rss_ready) {
            (Some(b), Some(r)) if s.held > 0 => {
                Some((r.saturating_sub(b) as f64 * 1024.0) / s.held as f64)
            }
            _ => None,
        };
        let per = |secs: f64, n: u64| (n > 0).then(|| secs * 1e6 / n as f64);
        let cpu = s.cpu;
        let burst_within_1s = burst
            .iter_recorded()
            .filter(|v| v.value_iterated_to() <= 1_000_000)
            .map(|v| v.count_at_value())
            .sum();
        Report {
            label: args.label.clone(),
            target: Some(args.target),
            idle: args.idle,
            pairs: args.pairs,
            rate_per_pair: args.rate,
            capacity: args.capacity,
            burst: args.burst,
            burst_secs: args.burst_secs,
            churn_after: args.churn_after,
            duration_secs: args.duration,
            workers: args.worker_count,
            load_average_start: s.load_start,
            load_average_end: s.load_end,
            connections_held: s.held,
            idle_told,
            idle_failed,
            setup_secs_pairs: s.pairs_secs,
            setup_secs_idle: s.idle_secs,
            rss_kib_before: s.rss_before,
            rss_kib_ready: s.rss_ready,
            rss_kib_end: s.rss_end,
            rss_bytes_per_connection: per_conn,
            offered_per_sec: if args.pairs > 0 {
                args.rate * args.pairs as f64
            } else {
                0.0
            },
            sent_per_sec: sent as f64 / d,
            delivered_per_sec: delivered as f64 / d,
            confirmed_per_sec: confirmed as f64 / d,
            held_back_per_sec: skipped as f64 / (args.duration + args.warmup).max(0.001),
            latency_ms: Percentiles::ms(&latency),
            match_ms: Percentiles::ms(&matching),
            burst_told,
            burst_within_1s,
            burst_ms: Percentiles::ms(&burst),
            late_sends,
            frames,
            cpu,
            server_cpu_us_per_message: cpu.and_then(|c| per(c.server_secs, delivered)),
            server_cpu_us_per_frame: cpu.and_then(|c| per(c.server_secs, frames)),
            redis_cpu_us_per_message: cpu
                .and_then(|c| c.redis_secs)
                .and_then(|r| per(r, delivered)),
            generator_busy: cpu.map(|c| {
                c.generator_secs / (c.window_secs.max(0.001) * c.generator_cores.max(1) as f64)
            }),
            error_total: errors.values().sum(),
            errors,
        }
    }

    pub fn human(&self) -> String {
        let mut out = format!(
            "== {} ({:?})  load {} -> {}\n",
            self.label,
            self.target.unwrap_or(Target::Tsunagu),
            self.load_average_start,
            self.load_average_end
        );
        out += &format!(
            "connections held {}  (idle told {} failed {})  setup {:.1}s + {:.1}s\n",
            self.connections_held,
            self.idle_told,
            self.idle_failed,
            self.setup_secs_pairs,
            self.setup_secs_idle
        );
        if let (Some(b), Some(r)) = (self.rss_kib_before, self.rss_kib_ready) {
            out += &format!(
                "server RSS {} KiB before, {} KiB held, {} KiB at end; {:.0} bytes per connection\n",
                b,
                r,
                self.rss_kib_end.unwrap_or(0),
                self.rss_bytes_per_connection.unwrap_or(0.0)
            );
        }
        if self.pairs > 0 {
            let l = self.latency_ms;
            out += &format!(
                "messages: offered {:.0}/s sent {:.0}/s delivered {:.0}/s confirmed {:.0}/s held back {:.0}/s\nlatency ms: p50 {:.3} p99 {:.3} p99.9 {:.3} max {:.3} (n={})\n",
                self.offered_per_sec, self.sent_per_sec, self.delivered_per_sec, self.confirmed_per_sec, self.held_back_per_sec,
                l.p50, l.p99, l.p999, l.max, l.count
            );
        }
        if let Some(c) = self.cpu {
            let us = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.1}"));
            out += &format!(
                "server CPU {:.2}s in {:.1}s: {} µs per delivered message, {} µs per frame ({} frames); redis-server {} µs per message; generator {:.0}% of its {} core(s)\n",
                c.server_secs,
                c.window_secs,
                us(self.server_cpu_us_per_message),
                us(self.server_cpu_us_per_frame),
                self.frames,
                us(self.redis_cpu_us_per_message),
                self.generator_busy.unwrap_or(0.0) * 100.0,
                c.generator_cores,
            );
        }
        if self.match_ms.count > 0 {
            let m = self.match_ms;
            out += &format!(
                "match latency ms: p50 {:.3} p99 {:.3} max {:.3} (n={})\n",
                m.p50, m.p99, m.max, m.count
            );
        }
        if self.burst > 0 {
            let b = self.burst_ms;
            out += &format!(
                "burst: {} joins, {} told their place, {} within 1 s; ms p50 {:.1} p99 {:.1} max {:.1}\n",
                self.burst, self.burst_told, self.burst_within_1s, b.p50, b.p99, b.max
            );
        }
        out += &format!("errors: {} {:?}", self.error_total, self.errors);
        out
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Medians over runs with the same label, as Markdown tables.
pub fn summarize(files: &[PathBuf]) {
    let mut runs: BTreeMap<String, Vec<Report>> = BTreeMap::new();
    let mut order = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(f) else {
            eprintln!("cannot read {}", f.display());
            continue;
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<Report>(line) {
                Ok(r) => {
                    if !runs.contains_key(&r.label) {
                        order.push(r.label.clone());
                    }
                    runs.entry(r.label.clone()).or_default().push(r);
                }
                Err(e) => eprintln!("skipping a line of {}: {e}", f.display()),
            }
        }
    }
    let m = |rs: &[Report], f: &dyn Fn(&Report) -> f64| median(rs.iter().map(f).collect());
    println!("| run | n | load avg | conns held | RSS/conn (B) | delivered/s | p50 ms | p99 ms | p99.9 ms | server CPU µs/msg | µs/frame | frames/msg | redis CPU µs/msg | generator busy | match p99 ms | burst told ≤1s | burst p99 ms | errors |");
    println!("| --- | --: | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |");
    for label in &order {
        let rs = &runs[label];
        let loads: Vec<String> = rs
            .iter()
            .map(|r| {
                r.load_average_start
                    .split_whitespace()
                    .next()
                    .unwrap_or("?")
                    .to_owned()
            })
            .collect();
        let pairs = rs[0].pairs > 0;
        let dash = |b: bool, s: String| if b { s } else { "–".into() };
        // A median over the runs that have the figure, or a dash.
        let opt = |f: &dyn Fn(&Report) -> Option<f64>, digits: usize| {
            let v: Vec<f64> = rs.iter().filter_map(f).collect();
            if v.is_empty() || !pairs {
                "–".to_string()
            } else {
                format!("{:.*}", digits, median(v))
            }
        };
        let delivered_total = |r: &Report| r.delivered_per_sec * r.duration_secs;
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} |",
            label,
            rs.len(),
            loads.join(" "),
            m(rs, &|r| r.connections_held as f64),
            rs[0]
                .rss_bytes_per_connection
                .filter(|_| !pairs)
                .map_or("–".into(), |_| format!(
                    "{:.0}",
                    m(rs, &|r| r.rss_bytes_per_connection.unwrap_or(f64::NAN))
                )),
            dash(pairs, format!("{:.0}", m(rs, &|r| r.delivered_per_sec))),
            dash(pairs, format!("{:.2}", m(rs, &|r| r.latency_ms.p50))),
            dash(pairs, format!("{:.2}", m(rs, &|r| r.latency_ms.p99))),
            dash(pairs, format!("{:.2}", m(rs, &|r| r.latency_ms.p999))),
            opt(&|r| r.server_cpu_us_per_message, 1),
            opt(&|r| r.server_cpu_us_per_frame, 1),
            opt(
                &|r| (r.frames > 0 && delivered_total(r) > 0.0)
                    .then(|| r.frames as f64 / delivered_total(r)),
                1
            ),
            opt(&|r| r.redis_cpu_us_per_message, 1),
            match opt(&|r| r.generator_busy.map(|b| b * 100.0), 0) {
                dash if dash == "–" => dash,
                busy => busy + " %",
            },
            dash(
                rs[0].match_ms.count > 0,
                format!("{:.2}", m(rs, &|r| r.match_ms.p99))
            ),
            dash(
                rs[0].burst > 0,
                format!(
                    "{:.0}/{}",
                    m(rs, &|r| r.burst_within_1s as f64),
                    rs[0].burst
                )
            ),
            dash(
                rs[0].burst > 0,
                format!("{:.0}", m(rs, &|r| r.burst_ms.p99))
            ),
            m(rs, &|r| r.error_total as f64),
        );
    }
}
