//! The text of alert e-mails: plain ASCII text, identifiers, amounts,
//! deadlines and causes only. A claim's patient, care and member never
//! appear (the watch does not even read them).

use std::fmt::Write as _;

use crate::config::Config;
use crate::domain::Amount;
use crate::watch::{Problem, WatchReport};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub body: String,
}

fn total(problems: &[Problem]) -> String {
    let cents: i64 = problems.iter().map(|p| p.amount.cents()).sum();
    Amount::from_cents(cents).map_or_else(|_| format!("{cents} cents"), |a| a.to_string())
}

/// The digest of every current problem; `new` of them were not in the last one.
pub fn digest_email(config: &Config, report: &WatchReport, new: usize) -> Email {
    let subject = format!(
        "{} {}: {} late, {} at risk, {} failed job(s) - {}",
        config.alerts.subject_prefix,
        config.mutuelle.id,
        report.late.len(),
        report.at_risk.len(),
        report.failed_jobs.len(),
        report.at.format("%Y-%m-%d %H:%M")
    );
    let mut b = String::new();
    let _ = writeln!(
        b,
        "tpsettle late-payment watch of {} at {}.",
        config.mutuelle.id,
        report.at.to_rfc3339()
    );
    let _ = writeln!(
        b,
        "Next settlement run: {} (requested execution date {}).",
        report.next_run, report.next_execution
    );
    let _ = writeln!(b, "{new} problem(s) new since the last alert.\n");
    let mut lines = config.alerts.max_lines;
    section(
        &mut b,
        "LATE: deadline passed, not paid",
        &report.late,
        &mut lines,
    );
    section(
        &mut b,
        "AT RISK: deadline on or before the next run's execution date",
        &report.at_risk,
        &mut lines,
    );
    if !report.failed_jobs.is_empty() {
        let _ = writeln!(b, "FAILED JOBS\n");
        for j in &report.failed_jobs {
            let _ = writeln!(
                b,
                "  {} for {} at {}: {}",
                j.job,
                j.slot,
                j.at,
                ascii(&j.detail)
            );
        }
        let _ = writeln!(b);
    }
    let _ = writeln!(
        b,
        "What each cause means and what to do: docs/operations.md, section \"Alerts\".\n\
         This alert is sent once per new problem set; a recovery mail follows when all is paid."
    );
    Email { subject, body: b }
}

fn section(b: &mut String, title: &str, problems: &[Problem], lines: &mut usize) {
    if problems.is_empty() {
        return;
    }
    let _ = writeln!(
        b,
        "{title}: {} claim(s), {} EUR\n",
        problems.len(),
        total(problems)
    );
    let _ = writeln!(
        b,
        "  {:<9}  {:>9}  {:<10}  {:>7}  {:>12}  cause",
        "ps_id", "invoice", "deadline", "wd late", "amount EUR"
    );
    let shown = problems.len().min(*lines);
    for p in &problems[..shown] {
        let _ = writeln!(
            b,
            "  {:<9}  {:>9}  {:<10}  {:>7}  {:>12}  {}",
            p.ps_id,
            p.invoice_no,
            p.deadline,
            p.working_days_late,
            p.amount.to_string(),
            ascii(&p.cause.to_string())
        );
    }
    *lines -= shown;
    if shown < problems.len() {
        let _ = writeln!(
            b,
            "  ... and {} more (tpsettle watch --json lists all)",
            problems.len() - shown
        );
    }
    let _ = writeln!(b);
}

/// Mail bodies stay 7-bit: readable in any client and in raw logs.
fn ascii(s: &str) -> String {
    deunicode::deunicode(s)
}

pub fn recovery_email(config: &Config, report: &WatchReport, previously: i64) -> Email {
    Email {
        subject: format!(
            "{} {}: recovered, no claim late or at risk - {}",
            config.alerts.subject_prefix,
            config.mutuelle.id,
            report.at.format("%Y-%m-%d %H:%M")
        ),
        body: format!(
            "tpsettle late-payment watch of {} at {}.\n\
             The {previously} problem(s) of the last alert are resolved: no accepted claim is late\n\
             or at risk, and no job is failing. Next settlement run: {} (execution {}).\n",
            config.mutuelle.id,
            report.at.to_rfc3339(),
            report.next_run,
            report.next_execution
        ),
    }
}
