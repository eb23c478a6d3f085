//! Structured logs. Never log message text, notes or client addresses:
//! ids and codes only.

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{LogFormat, Settings};

pub fn init(settings: &Settings) {
    let filter = EnvFilter::try_new(&settings.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(false);
    let _ = match settings.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// At most one log line per `every_ms` for something that may happen in a
/// flood (unsigned webhook requests): the first occurrence is logged, the
/// rest of the period only counted, and the next line says how many were
/// not logged. Lock-free; a race may log one extra line, never lose count.
pub struct LogThrottle {
    every_ms: u64,
    last_ms: std::sync::atomic::AtomicU64,
    suppressed: std::sync::atomic::AtomicU64,
}

impl LogThrottle {
    pub const fn new(every_ms: u64) -> Self {
        Self {
            every_ms,
            last_ms: std::sync::atomic::AtomicU64::new(0),
            suppressed: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// `Some(n)`: log now, mentioning the `n` occurrences not logged since
    /// the last line; `None`: counted, not logged.
    pub fn check(&self, now_ms: u64) -> Option<u64> {
        use std::sync::atomic::Ordering::Relaxed;
        let last = self.last_ms.load(Relaxed);
        if last != 0 && now_ms.saturating_sub(last) < self.every_ms {
            self.suppressed.fetch_add(1, Relaxed);
            return None;
        }
        if self
            .last_ms
            .compare_exchange(last, now_ms.max(1), Relaxed, Relaxed)
            .is_err()
        {
            self.suppressed.fetch_add(1, Relaxed);
            return None;
        }
        Some(self.suppressed.swap(0, Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::LogThrottle;

    #[test]
    fn a_flood_logs_one_line_a_period_with_the_count_not_logged() {
        let t = LogThrottle::new(60_000);
        let start = 1_000_000;
        let logged: Vec<(u64, u64)> = (0..200u64)
            .filter_map(|i| t.check(start + i * 100).map(|n| (i, n)))
            .collect();
        // 200 requests over 20 s: one line.
        assert_eq!(logged, vec![(0, 0)]);
        // A minute after the first: one line that says 199 were not logged.
        assert_eq!(t.check(start + 60_000), Some(199));
        assert_eq!(t.check(start + 60_001), None);
    }
}
