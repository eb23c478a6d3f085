//! Prometheus metrics (`GET /metrics`), names and units by Prometheus
//! conventions. Counters are process-local atomics; gauges that describe
//! shared state (queue, conversations, counsellors) are read from the store
//! at scrape time, so every node reports the same shared figures.
//!
//! Nothing here carries a label that could identify a person: labels are
//! error codes, statuses and kinds only.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::protocol::ErrorCode;

/// Upper bounds (seconds) of the queue wait-time histogram buckets.
const WAIT_BUCKETS_SECS: [f64; 12] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
];

#[derive(Default)]
pub struct Metrics {
    messages_total: AtomicU64,
    conversations_started_total: AtomicU64,
    assigned_total: AtomicU64,
    ended_total: AtomicU64,
    refusals: Mutex<BTreeMap<&'static str, u64>>,
    /// Handoff steps by outcome (offered, consented, declined, ...).
    handoffs: Mutex<BTreeMap<&'static str, u64>>,
    wait: Mutex<Histogram>,
    /// Empty-floor episodes raised by this node.
    floor_episodes_total: AtomicU64,
    /// Empty-floor webhook attempts by outcome (delivered, retried, given_up).
    floor_webhooks: Mutex<BTreeMap<&'static str, u64>>,
}

#[derive(Default)]
struct Histogram {
    buckets: [u64; WAIT_BUCKETS_SECS.len()],
    count: u64,
    sum: f64,
}

/// The figures read from elsewhere at scrape time.
pub struct Snapshot {
    pub queue_length: usize,
    pub longest_wait_secs: f64,
    pub conversations_active: usize,
    pub counsellors_available: usize,
    pub counsellors_away: usize,
    pub counsellors_offline: usize,
    pub sockets_visitor: usize,
    pub sockets_counsellor: usize,
    /// An empty-floor episode is raised now (shared state).
    pub empty_floor: bool,
}

impl Metrics {
    pub fn message_stored(&self) {
        self.messages_total.fetch_add(1, Ordering::Relaxed);
    }

    pub fn conversation_started(&self) {
        self.conversations_started_total
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn conversation_ended(&self) {
        self.ended_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A visitor was matched after waiting `waited_secs`.
    pub fn assigned(&self, waited_secs: f64) {
        self.assigned_total.fetch_add(1, Ordering::Relaxed);
        let mut h = self.wait.lock().unwrap_or_else(|p| p.into_inner());
        h.count += 1;
        h.sum += waited_secs;
        for (i, bound) in WAIT_BUCKETS_SECS.iter().enumerate() {
            if waited_secs <= *bound {
                h.buckets[i] += 1;
            }
        }
    }

    /// This node raised an empty-floor episode.
    pub fn floor_episode(&self) {
        self.floor_episodes_total.fetch_add(1, Ordering::Relaxed);
    }

    /// An empty-floor webhook attempt ended (`delivered`, `retried`, `given_up`).
    pub fn floor_webhook(&self, outcome: &'static str) {
        bump(&self.floor_webhooks, outcome);
    }

    /// A request or frame was refused with `code`.
    pub fn refused(&self, code: ErrorCode) {
        bump(&self.refusals, code.as_str());
    }

    /// A handoff step happened (`offered`, `consented`, `booked`, ...).
    pub fn handoff(&self, step: &'static str) {
        bump(&self.handoffs, step);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, s: &Snapshot) -> String {
        let mut out = String::with_capacity(4096);
        let mut gauge = |name: &str, help: &str, value: f64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            "tsunagu_queue_length",
            "Visitors waiting in the queue.",
            s.queue_length as f64,
        );
        gauge(
            "tsunagu_queue_longest_wait_seconds",
            "How long the first visitor in the queue has waited.",
            s.longest_wait_secs,
        );
        gauge(
            "tsunagu_conversations_active",
            "Conversations assigned to a counsellor now.",
            s.conversations_active as f64,
        );
        gauge(
            "tsunagu_empty_floor",
            "1 while an empty-floor alert is raised (open hours, nobody can take a visitor), else 0.",
            if s.empty_floor { 1.0 } else { 0.0 },
        );
        let _ = writeln!(
            out,
            "# HELP tsunagu_counsellors Counsellors by status (offline: no live socket).\n# TYPE tsunagu_counsellors gauge\n\
tsunagu_counsellors{{status=\"available\"}} {}\ntsunagu_counsellors{{status=\"away\"}} {}\ntsunagu_counsellors{{status=\"offline\"}} {}",
            s.counsellors_available, s.counsellors_away, s.counsellors_offline
        );
        let _ = writeln!(
            out,
            "# HELP tsunagu_sockets Open WebSocket connections on this node.\n# TYPE tsunagu_sockets gauge\n\
tsunagu_sockets{{kind=\"visitor\"}} {}\ntsunagu_sockets{{kind=\"counsellor\"}} {}",
            s.sockets_visitor, s.sockets_counsellor
        );
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            "tsunagu_messages_total",
            "Chat messages stored through this node.",
            load(&self.messages_total),
        );
        counter(
            "tsunagu_conversations_started_total",
            "Conversations started through this node.",
            load(&self.conversations_started_total),
        );
        counter(
            "tsunagu_conversations_assigned_total",
            "Visitors matched to a counsellor by this node.",
            load(&self.assigned_total),
        );
        counter(
            "tsunagu_conversations_ended_total",
            "Conversations ended through this node.",
            load(&self.ended_total),
        );
        counter(
            "tsunagu_empty_floor_episodes_total",
            "Empty-floor alert episodes raised by this node (one node raises each).",
            load(&self.floor_episodes_total),
        );
        labelled(
            &mut out,
            "tsunagu_refusals_total",
            "Requests and frames refused, by error code.",
            "code",
            &self.refusals,
        );
        labelled(
            &mut out,
            "tsunagu_empty_floor_webhooks_total",
            "Empty-floor webhook attempts through this node, by outcome (delivered, retried, given_up).",
            "outcome",
            &self.floor_webhooks,
        );
        labelled(
            &mut out,
            "tsunagu_handoffs_total",
            "Handoff steps through this node, by step (offered, consented, declined, booked, ...).",
            "step",
            &self.handoffs,
        );
        let h = self.wait.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(
            out,
            "# HELP tsunagu_queue_wait_seconds Time from joining the queue to being matched.\n# TYPE tsunagu_queue_wait_seconds histogram"
        );
        for (i, bound) in WAIT_BUCKETS_SECS.iter().enumerate() {
            let _ = writeln!(
                out,
                "tsunagu_queue_wait_seconds_bucket{{le=\"{bound}\"}} {}",
                h.buckets[i]
            );
        }
        let _ = writeln!(
            out,
            "tsunagu_queue_wait_seconds_bucket{{le=\"+Inf\"}} {}\ntsunagu_queue_wait_seconds_sum {}\ntsunagu_queue_wait_seconds_count {}",
            h.count, h.sum, h.count
        );
        out
    }
}

fn bump(map: &Mutex<BTreeMap<&'static str, u64>>, key: &'static str) {
    *map.lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(key)
        .or_default() += 1;
}

/// A counter with one label, one line per value seen.
fn labelled(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    map: &Mutex<BTreeMap<&'static str, u64>>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (value, n) in map.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            queue_length: 3,
            longest_wait_secs: 42.5,
            conversations_active: 2,
            counsellors_available: 1,
            counsellors_away: 1,
            counsellors_offline: 0,
            sockets_visitor: 5,
            sockets_counsellor: 2,
            empty_floor: true,
        }
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.assigned(3.0);
        m.assigned(100.0);
        let text = m.render(&snapshot());
        assert!(text.contains("tsunagu_queue_wait_seconds_bucket{le=\"1\"} 0"));
        assert!(text.contains("tsunagu_queue_wait_seconds_bucket{le=\"5\"} 1"));
        assert!(text.contains("tsunagu_queue_wait_seconds_bucket{le=\"120\"} 2"));
        assert!(text.contains("tsunagu_queue_wait_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("tsunagu_queue_wait_seconds_count 2"));
    }

    #[test]
    fn refusals_are_counted_by_code() {
        let m = Metrics::default();
        m.refused(ErrorCode::RateLimited);
        m.refused(ErrorCode::RateLimited);
        m.refused(ErrorCode::QueueFull);
        let text = m.render(&snapshot());
        assert!(text.contains("tsunagu_refusals_total{code=\"rate_limited\"} 2"));
        assert!(text.contains("tsunagu_refusals_total{code=\"queue_full\"} 1"));
    }

    #[test]
    fn every_sample_line_is_name_space_number() {
        let m = Metrics::default();
        m.message_stored();
        for line in m
            .render(&snapshot())
            .lines()
            .filter(|l| !l.starts_with('#'))
        {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(name.starts_with("tsunagu_"), "{line}");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
