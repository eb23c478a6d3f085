//! The statistics report (issue 8): the figures of a period over every
//! conversation, purged or still stored (`Store::report_facts`, each once),
//! published with small-cell suppression (`core::stats`).

use super::{refuse, Refusal, Service};
use crate::core::hours::jst_date_minute;
use crate::core::stats::{aggregate, people, Period, Report};
use crate::protocol::ErrorCode;

impl Service {
    /// The report for `period` (`2026-11`, `2026-Q3`, `FY2026`).
    pub async fn report(&self, period: &str) -> Result<Report, Refusal> {
        let period = Period::parse(period).ok_or_else(|| {
            refuse(
                ErrorCode::BadRequest,
                "period must be a month (2026-11), a quarter (2026-Q3) or a fiscal year (FY2026)",
            )
        })?;
        let facts = self.store.report_facts().await?;
        let settings = &self.settings.report;
        let mut raw = aggregate(&period, &facts);
        let (today, _) = jst_date_minute(self.now_ms());
        raw.people = people(&period, &facts, settings.case_ends_after_days, today);
        Ok(raw.publish(&period, settings.min_cell))
    }
}

/// The report as CSV: `table,category,count`, one row per cell, headed
/// by the totals; then the tables, the handoff stages, the people and the
/// letters; waits, the letters' time to answer and busiest hours as rows
/// of their own tables. Every field is a fixed wire name or a number, so
/// nothing needs quoting.
pub fn report_csv(r: &Report) -> String {
    let mut out = String::from("table,category,count\r\n");
    let mut row = |t: &str, c: &str, n: &str| {
        out.push_str(&format!("{t},{c},{n}\r\n"));
    };
    row("conversations", "started", &r.started.text());
    row("conversations", "served", &r.served.text());
    row("conversations", "abandoned", &r.abandoned.text());
    for (table, cells) in &r.tables {
        for (cat, cell) in cells {
            row(table, cat, &cell.text());
        }
    }
    for stage in ["offered", "consented", "booked", "attended"] {
        if let Some(c) = r.handoffs.get(stage) {
            row("handoffs", stage, &c.text());
        }
    }
    for kind in ["supported", "new", "continuing", "ended"] {
        if let Some(c) = r.people.get(kind) {
            row("people", kind, &c.text());
        }
    }
    for kind in ["received", "answered"] {
        if let Some(c) = r.letters.get(kind) {
            row("letters", kind, &c.text());
        }
    }
    for (kind, c) in &r.referrals_by_offer {
        row("referrals_by_offer", kind, &c.text());
    }
    for (kind, c) in &r.relays_by_offer {
        row("relays_by_offer", kind, &c.text());
    }
    let secs = |v: Option<u32>| v.map_or_else(String::new, |s| s.to_string());
    row("wait_secs", "median", &secs(r.wait_median_secs));
    row("wait_secs", "p90", &secs(r.wait_p90_secs));
    row(
        "letter_answer_secs",
        "median",
        &secs(r.letter_answer_median_secs),
    );
    for (rank, h) in r.busiest_hours.iter().enumerate() {
        row("busiest_hours", &format!("{h:02}"), &(rank + 1).to_string());
    }
    out
}
