//! `sla.html`: one self-contained page (inline CSS and SVG, no script, no
//! network) for people, filled from the same frames as the CSV files.
//!
//! The template is `reports/sla.html` with `{{NAME}}` placeholders; every
//! value inserted comes through [`escape`] or is markup built here from
//! escaped parts. Numbers are printed as in the CSV files, with a narrow
//! no-break space (U+202F) grouping thousands; every table cell that
//! mirrors a CSV column carries `data-col` (and `data-v` when the text is a
//! label for a code), so a test can hold the page against the files.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use polars::prelude::*;
use rust_decimal::Decimal;

use super::WrittenFile;
use super::batch::days_to_date;
use super::outcome::Cause;
use super::penalty::PenaltyScale;
use super::sla::Tables;
use super::svg::{Bar, BarChart, bar_chart};
use super::{LATE_ROWS_SHOWN, LedgerEntry};
use crate::calendar::{Calendar, CalendarConfig, PAYMENT_PROMISE_WORKING_DAYS};

const TEMPLATE: &str = include_str!("../../reports/sla.html");

/// Thousands separator: narrow no-break space.
pub const GROUP: char = '\u{202F}';
/// Printed for an empty (null) value.
pub const EMPTY: &str = "–";

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Replaces each `{{NAME}}` of `template`; a placeholder without a value,
/// or a value without a placeholder, is a bug caught here.
pub fn fill(template: &str, values: &[(&str, String)]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() * 2);
    let mut used = vec![false; values.len()];
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "unclosed {{ in the template".to_owned())?;
        let name = &after[..end];
        let i = values
            .iter()
            .position(|(k, _)| *k == name)
            .ok_or_else(|| format!("no value for {{{{{name}}}}}"))?;
        used[i] = true;
        out.push_str(&values[i].1);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    if let Some(i) = used.iter().position(|u| !u) {
        return Err(format!("the template has no {{{{{}}}}}", values[i].0));
    }
    Ok(out)
}

/// `1234567` → `1 234 567` (narrow no-break spaces).
pub fn group_int(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::new();
    if v < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(GROUP);
        }
        out.push(ch);
    }
    out
}

/// An amount with two decimals and grouped thousands.
pub fn group_amount(d: Decimal) -> String {
    let mut d = d;
    d.rescale(2);
    let s = d.abs().to_string();
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let int: i64 = int.parse().unwrap_or(0);
    let sign = if d.is_sign_negative() && !d.is_zero() {
        "-"
    } else {
        ""
    };
    format!("{sign}{}.{frac}", group_int(int))
}

/// A cell as the page prints it: the CSV's value, grouped.
pub fn cell_text(v: &AnyValue<'_>) -> String {
    match v {
        AnyValue::Null => EMPTY.to_owned(),
        AnyValue::Boolean(b) => if *b { "yes" } else { "no" }.to_owned(),
        AnyValue::Int32(i) => group_int(i64::from(*i)),
        AnyValue::Int64(i) => group_int(*i),
        AnyValue::UInt32(i) => group_int(i64::from(*i)),
        AnyValue::UInt64(i) => group_int(*i as i64),
        AnyValue::Float64(f) => format!("{f:.2}"),
        AnyValue::Decimal(m, _, scale) => {
            group_amount(Decimal::from_i128_with_scale(*m, *scale as u32))
        }
        AnyValue::Date(days) => {
            days_to_date(*days).map_or_else(|| days.to_string(), |d| d.to_string())
        }
        AnyValue::String(s) => escape(s),
        AnyValue::StringOwned(s) => escape(s),
        other => escape(&other.to_string()),
    }
}

fn is_numeric(v: &AnyValue<'_>) -> bool {
    matches!(
        v,
        AnyValue::Int32(_)
            | AnyValue::Int64(_)
            | AnyValue::UInt32(_)
            | AnyValue::UInt64(_)
            | AnyValue::Float64(_)
            | AnyValue::Decimal(..)
    )
}

/// How a column is shown.
#[derive(Clone, Copy)]
enum Show {
    /// The value as in the CSV.
    Value,
    /// A cause code shown as its plain-words label.
    Cause,
    /// A breakdown dimension shown as a word.
    Dimension,
}

struct Col {
    name: &'static str,
    header: &'static str,
    show: Show,
    numeric: bool,
}

/// Columns whose text may wrap.
const WRAPPING: [&str; 2] = ["name", "cause"];

const fn col(name: &'static str, header: &'static str, numeric: bool) -> Col {
    Col {
        name,
        header,
        show: Show::Value,
        numeric,
    }
}

const METRIC_COLS: [Col; 13] = [
    col("claims", "Claims", true),
    col("paid", "Paid", true),
    col("on_time", "On time", true),
    col("late", "Late", true),
    col("late_paid", "Late, paid", true),
    col("late_unpaid", "Late, unpaid", true),
    col("pending", "Not yet due", true),
    col("on_time_pct", "On time %", true),
    col("delay_median", "Median wd", true),
    col("delay_p95", "95th pct wd", true),
    col("delay_max", "Longest wd", true),
    col("late_amc_due", "Late amount", true),
    col("penalty_total", "Penalties", true),
];

/// Renders up to `limit` rows of `df` as a table with id `id`.
fn table(
    id: &str,
    df: &DataFrame,
    cols: &[&Col],
    limit: usize,
    row_class: impl Fn(&DataFrame, usize) -> Option<&'static str>,
) -> PolarsResult<String> {
    let mut s = String::new();
    let _ = write!(s, r#"<div class="wide"><table id="{id}"><thead><tr>"#);
    for c in cols {
        let class = if c.numeric { r#" class="num""# } else { "" };
        let _ = write!(s, "<th{class}>{}</th>", escape(c.header));
    }
    s.push_str("</tr></thead><tbody>");
    let columns: Vec<&Column> = cols
        .iter()
        .map(|c| df.column(c.name))
        .collect::<PolarsResult<_>>()?;
    for i in 0..df.height().min(limit) {
        match row_class(df, i) {
            Some(class) => {
                let _ = write!(s, r#"<tr class="{class}">"#);
            }
            None => s.push_str("<tr>"),
        }
        for (c, column) in cols.iter().zip(&columns) {
            let v = column.get(i)?;
            let class = if is_numeric(&v) || c.numeric {
                r#" class="num""#
            } else if WRAPPING.contains(&c.name) {
                r#" class="wrap""#
            } else {
                ""
            };
            let raw = cell_text(&v);
            let (text, data_v) = match (c.show, &v) {
                (Show::Cause, AnyValue::String(code)) => (
                    Cause::ALL
                        .iter()
                        .find(|k| k.code() == *code)
                        .map_or_else(|| raw.clone(), |k| escape(k.short_label())),
                    Some(raw),
                ),
                (Show::Dimension, AnyValue::String(d)) => (
                    match *d {
                        "all" => "Total".to_owned(),
                        "origin" => "Origin".to_owned(),
                        "centre" => "Centre".to_owned(),
                        _ => raw.clone(),
                    },
                    Some(raw),
                ),
                _ => (raw, None),
            };
            match data_v {
                Some(dv) => {
                    let _ = write!(
                        s,
                        r#"<td{class} data-col="{}" data-v="{dv}">{text}</td>"#,
                        c.name
                    );
                }
                None => {
                    let _ = write!(s, r#"<td{class} data-col="{}">{text}</td>"#, c.name);
                }
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div>");
    Ok(s)
}

/// Everything the page shows besides the tables.
pub struct PageInput<'a> {
    pub mutuelle: &'a str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub status_date: Option<NaiveDate>,
    pub generated_at: DateTime<Utc>,
    pub calendar: &'a Calendar,
    pub calendar_config: &'a CalendarConfig,
    pub penalties: Option<&'a PenaltyScale>,
    pub tables: &'a Tables,
    pub ledger: &'a [LedgerEntry],
    pub files: &'a [WrittenFile],
    pub deadline_mismatches: u64,
}

pub fn render(p: &PageInput<'_>) -> Result<String, super::ReportError> {
    let t = p.tables;
    let title = format!("Tiers-payant payment-delay report, {} to {}", p.from, p.to);
    let values = [
        ("TITLE", escape(&title)),
        ("VERSION", escape(env!("CARGO_PKG_VERSION"))),
        ("MUTUELLE", escape(p.mutuelle)),
        ("FROM", p.from.to_string()),
        ("TO", p.to.to_string()),
        (
            "STATUS_DATE",
            p.status_date.map_or_else(
                || "no settlement run recorded yet".to_owned(),
                |d| d.to_string(),
            ),
        ),
        (
            "GENERATED_AT",
            p.generated_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        ),
        ("HEADLINE", headline(p)?),
        ("DAILY_CHART", daily_chart(&t.daily)?),
        (
            "DAILY_TABLE",
            table(
                "daily",
                &t.daily,
                &with_key(&col("received_date", "Received", false)),
                usize::MAX,
                |_, _| None,
            )?,
        ),
        ("DELAY_CHART", delay_chart(&t.delays)?),
        ("BREAKDOWN_TABLE", breakdown_table(&t.breakdown)?),
        ("CAUSES", causes(&t.late)?),
        ("LATE_TABLE", late_table(&t.late)?),
        ("PENALTIES", penalties(p)?),
        ("LEDGER", ledger(p.ledger)),
        ("ABOUT", about(p)),
    ];
    fill(TEMPLATE, &values).map_err(super::ReportError::Template)
}

fn with_key(key: &Col) -> Vec<&Col> {
    let mut v = vec![key];
    v.extend(METRIC_COLS.iter());
    v
}

fn get_i64(df: &DataFrame, name: &str, row: usize) -> PolarsResult<Option<i64>> {
    Ok(match df.column(name)?.get(row)? {
        AnyValue::Int64(v) => Some(v),
        AnyValue::Null => None,
        other => polars_bail!(ComputeError: "{name}: expected Int64, got {other:?}"),
    })
}

fn get_f64(df: &DataFrame, name: &str, row: usize) -> PolarsResult<Option<f64>> {
    Ok(match df.column(name)?.get(row)? {
        AnyValue::Float64(v) => Some(v),
        AnyValue::Null => None,
        other => polars_bail!(ComputeError: "{name}: expected Float64, got {other:?}"),
    })
}

fn text_of(df: &DataFrame, name: &str, row: usize) -> PolarsResult<String> {
    Ok(cell_text(&df.column(name)?.get(row)?))
}

/// The big number and the key figures, from the breakdown's `all` row.
fn headline(p: &PageInput<'_>) -> PolarsResult<String> {
    let b = &p.tables.breakdown;
    let n = |c| get_i64(b, c, 0).map(|v| v.unwrap_or(0));
    let (claims, on_time, late, late_paid, late_unpaid, pending) = (
        n("claims")?,
        n("on_time")?,
        n("late")?,
        n("late_paid")?,
        n("late_unpaid")?,
        n("pending")?,
    );
    let pct = get_f64(b, "on_time_pct", 0)?;
    let (class, big) = match pct {
        Some(v) if late == 0 => ("good", format!("{v:.2} %")),
        Some(v) => ("bad", format!("{v:.2} %")),
        None => ("none", EMPTY.to_owned()),
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<section class="headline"><div class="rate {class}" id="headline-rate" data-col="on_time_pct">{big}<small>paid within {PAYMENT_PROMISE_WORKING_DAYS} working days</small></div><div><p>"#
    );
    if claims == 0 {
        s.push_str("No accepted tiers-payant claim was received in this period.");
    } else {
        let _ = write!(
            s,
            "Of the <b>{}</b> tiers-payant claims received in the period, <b>{}</b> were paid on time and <b>{}</b> were late ({} paid late, {} still unpaid).",
            group_int(claims),
            group_int(on_time),
            group_int(late),
            group_int(late_paid),
            group_int(late_unpaid)
        );
        if pending > 0 {
            let _ = write!(
                s,
                " {} {} not yet due and not counted in the rate.",
                group_int(pending),
                if pending == 1 { "is" } else { "are" }
            );
        }
    }
    s.push_str("</p>");
    let (penalty, penalty_label) = if p.penalties.is_some() {
        (text_of(b, "penalty_total", 0)?, "penalties (EUR)")
    } else {
        (EMPTY.to_owned(), "penalties: no scale configured")
    };
    let cards: [(&str, String, &str, &str); 8] = [
        ("claims", text_of(b, "claims", 0)?, "claims received", ""),
        ("on_time", text_of(b, "on_time", 0)?, "paid on time", "ok"),
        ("late", text_of(b, "late", 0)?, "late", "late"),
        ("pending", text_of(b, "pending", 0)?, "not yet due", ""),
        (
            "delay_median",
            text_of(b, "delay_median", 0)?,
            "median delay, working days",
            "",
        ),
        (
            "delay_p95",
            text_of(b, "delay_p95", 0)?,
            "95th percentile, working days",
            "",
        ),
        (
            "delay_max",
            text_of(b, "delay_max", 0)?,
            "longest delay, working days",
            "",
        ),
        ("penalty_total", penalty, penalty_label, ""),
    ];
    s.push_str(r#"<div class="cards" id="headline">"#);
    for (name, value, label, class) in cards {
        let _ = write!(
            s,
            r#"<div class="card {class}"><b data-col="{name}">{value}</b><span>{label}</span></div>"#
        );
    }
    s.push_str("</div></div></section>");
    if p.deadline_mismatches > 0 {
        let _ = write!(
            s,
            r#"<p class="warn">{} claims carry a deadline, recorded when they were loaded, that differs from the calendar stated at the end of this report: the calendar configuration was changed since. The recorded deadlines are used.</p>"#,
            group_int(p.deadline_mismatches as i64)
        );
    }
    Ok(s)
}

fn daily_chart(daily: &DataFrame) -> PolarsResult<String> {
    let mut bars = Vec::new();
    for i in 0..daily.height() {
        let date = match daily.column("received_date")?.get(i)? {
            AnyValue::Date(d) => days_to_date(d),
            _ => None,
        };
        let pct = get_f64(daily, "on_time_pct", i)?;
        let label = date.map_or_else(String::new, |d| d.format("%d %b").to_string());
        let claims = get_i64(daily, "claims", i)?.unwrap_or(0);
        bars.push(Bar {
            label,
            value: pct,
            text: match pct {
                Some(v) if v < 100.0 => format!("{v:.1}"),
                Some(_) => String::new(),
                None => "not yet due".to_owned(),
            },
            class: "rate",
            title: format!(
                "{}: {} on time, {} claims",
                date.map_or_else(String::new, |d| d.to_string()),
                pct.map_or_else(|| EMPTY.to_owned(), |v| format!("{v:.2} %")),
                claims
            ),
        });
    }
    Ok(bar_chart(&BarChart {
        title: "On-time rate by day of receipt".into(),
        y_max: 100.0,
        y_ticks: [0, 25, 50, 75, 100]
            .iter()
            .map(|v| (f64::from(*v), format!("{v} %")))
            .collect(),
        bars,
        marker_after: None,
    }))
}

/// Delays beyond this many working days share one last bar.
const DELAY_BARS: i64 = 20;

fn delay_chart(delays: &DataFrame) -> PolarsResult<String> {
    let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
    for i in 0..delays.height() {
        let Some(delay) = get_i64(delays, "delay_working_days", i)? else {
            continue;
        };
        let paid = get_i64(delays, "paid", i)?.unwrap_or(0);
        *counts.entry(delay.min(DELAY_BARS + 1)).or_default() += paid;
    }
    let max_key = counts.keys().next_back().copied().unwrap_or(-1);
    let y_max = counts.values().copied().max().unwrap_or(0) as f64;
    let promise = i64::from(PAYMENT_PROMISE_WORKING_DAYS);
    let bars: Vec<Bar> = (0..=max_key.max(promise).min(DELAY_BARS + 1))
        .filter(|k| *k <= max_key || *k <= promise)
        .map(|k| {
            let n = counts.get(&k).copied().unwrap_or(0);
            let label = if k > DELAY_BARS {
                format!("> {DELAY_BARS}")
            } else {
                k.to_string()
            };
            Bar {
                title: format!("{} claims paid after {label} working days", group_int(n)),
                label,
                value: Some(n as f64),
                text: if n > 0 { group_int(n) } else { String::new() },
                class: if k <= promise { "ok" } else { "late" },
            }
        })
        .collect();
    let ticks = nice_ticks(y_max);
    let y_max = ticks.last().map_or(y_max, |t| t.0).max(1.0);
    Ok(bar_chart(&BarChart {
        title: "Paid claims by working days from receipt to payment".into(),
        y_max,
        y_ticks: ticks,
        bars: if max_key < 0 { Vec::new() } else { bars },
        marker_after: Some((promise as usize, format!("promise: {promise} working days"))),
    }))
}

/// Four or five round grid lines from 0 to at least `max`.
fn nice_ticks(max: f64) -> Vec<(f64, String)> {
    if max <= 0.0 {
        return vec![(0.0, "0".into())];
    }
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
        .max(1.0)
        .round();
    let mut ticks = Vec::new();
    let mut v = 0.0;
    while v < max + step {
        ticks.push((v, group_int(v as i64)));
        if v >= max {
            break;
        }
        v += step;
    }
    ticks
}

fn breakdown_table(b: &DataFrame) -> PolarsResult<String> {
    let dim = Col {
        name: "dimension",
        header: "By",
        show: Show::Dimension,
        numeric: false,
    };
    let value = col("value", "", false);
    let mut cols = vec![&dim, &value];
    cols.extend(METRIC_COLS.iter());
    table("breakdown", b, &cols, usize::MAX, |df, i| {
        match df.column("dimension").and_then(|c| c.get(i)) {
            Ok(AnyValue::String("all")) => Some("total"),
            _ => None,
        }
    })
}

/// Late claims counted by cause, in the order causes are decided.
fn causes(late: &DataFrame) -> PolarsResult<String> {
    let mut by: BTreeMap<Cause, (i64, i64)> = BTreeMap::new();
    let cause = late.column("cause")?.str()?;
    let paid_on = late.column("paid_on")?;
    for i in 0..late.height() {
        let Some(code) = cause.get(i) else { continue };
        let Some(c) = Cause::ALL.iter().find(|c| c.code() == code) else {
            continue;
        };
        let e = by.entry(*c).or_default();
        if matches!(paid_on.get(i)?, AnyValue::Null) {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
    }
    if late.height() == 0 {
        return Ok("<p>No claim of the period was late.</p>".to_owned());
    }
    let mut s = String::from(
        r#"<h3>Why claims were late</h3><table id="causes"><thead><tr><th>Cause</th><th class="num">Paid late</th><th class="num">Still unpaid</th><th class="num">Total</th></tr></thead><tbody>"#,
    );
    for (c, (paid, unpaid)) in &by {
        let _ = write!(
            s,
            r#"<tr><td data-col="cause" data-v="{}">{}</td><td class="num" data-col="paid_late">{}</td><td class="num" data-col="unpaid">{}</td><td class="num" data-col="late">{}</td></tr>"#,
            c.code(),
            escape(c.label()),
            group_int(*paid),
            group_int(*unpaid),
            group_int(paid + unpaid)
        );
    }
    s.push_str("</tbody></table>");
    Ok(s)
}

fn late_table(late: &DataFrame) -> PolarsResult<String> {
    if late.height() == 0 {
        return Ok(String::new());
    }
    let cause = Col {
        name: "cause",
        header: "Cause",
        show: Show::Cause,
        numeric: false,
    };
    let cols = [
        &col("ps_id", "Practitioner", false),
        &col("invoice_no", "Invoice", true),
        &col("origin", "Origin", false),
        &col("centre", "Centre", false),
        &col("received_date", "Received", false),
        &col("deadline", "Deadline", false),
        &col("paid_on", "Paid on", false),
        &col("working_days_late", "wd late", true),
        &cause,
        &col("amc_due", "Amount", true),
        &col("penalty", "Penalty", true),
    ];
    let shown = late.height().min(LATE_ROWS_SHOWN);
    let mut s = String::from(
        r#"<h3>The late claims</h3><p>Sorted by day of receipt. "Paid on" is empty for a claim still unpaid; its working days late are counted to the status date.</p>"#,
    );
    s.push_str(&table("late", late, &cols, LATE_ROWS_SHOWN, |_, _| None)?);
    let rest = late.height() - shown;
    if rest > 0 {
        let _ = write!(
            s,
            r#"<p id="late-rest" data-rest="{rest}">… and <b>{}</b> more late claims, listed in <code>late_claims.csv</code> ({} in all).</p>"#,
            group_int(rest as i64),
            group_int(late.height() as i64)
        );
    }
    Ok(s)
}

fn penalties(p: &PageInput<'_>) -> PolarsResult<String> {
    let (Some(scale), Some(df)) = (p.penalties, &p.tables.penalties) else {
        return Ok(r#"<p id="penalties-off">No penalty scale is configured (section <code>[penalties]</code> of <code>tpsettle.toml</code>): no penalty is computed.</p>"#.to_owned());
    };
    let mut s = String::from("<p>The configured scale, applied to each late claim:</p><ul>");
    for line in scale.describe() {
        let _ = write!(s, "<li>{}</li>", escape(&line));
    }
    let total = text_of(&p.tables.breakdown, "penalty_total", 0)?;
    let _ = write!(
        s,
        r#"</ul><p>For a claim still unpaid the penalty is counted to the status date (it can only grow). Total for the period: <b id="penalty-period-total" data-col="penalty_total">EUR {total}</b>.</p>"#
    );
    let cols = [
        &col("ps_id", "Practitioner", false),
        &col("name", "Name", false),
        &col("late_claims", "Late claims", true),
        &col("penalised_claims", "With a penalty", true),
        &col("penalty_total", "Penalties", true),
    ];
    s.push_str(&table("penalties", df, &cols, LATE_ROWS_SHOWN, |_, _| {
        None
    })?);
    if df.height() > LATE_ROWS_SHOWN {
        let _ = write!(
            s,
            "<p>… and {} more practitioners in <code>penalties.csv</code>.</p>",
            group_int((df.height() - LATE_ROWS_SHOWN) as i64)
        );
    }
    Ok(s)
}

fn ledger(entries: &[LedgerEntry]) -> String {
    if entries.is_empty() {
        return "<p>No settlement run is recorded for this period.</p>".to_owned();
    }
    let mut s = String::from(
        r#"<div class="wide"><table id="ledger"><thead><tr><th>Business date</th><th>Execution date</th><th>Run</th><th>State</th><th class="num">Transfers</th><th class="num">Amount</th><th>Files and SHA-256</th></tr></thead><tbody>"#,
    );
    for e in entries {
        let r = &e.run;
        let _ = write!(
            s,
            r#"<tr><td data-col="business_date">{}</td><td data-col="execution_date">{}</td><td data-col="run_id">{}</td><td data-col="state">{}</td><td class="num" data-col="payments">{}</td><td class="num" data-col="amount">{}</td><td class="wrap">"#,
            r.business_date,
            r.execution_date,
            escape(&r.run_id),
            escape(&r.state),
            group_int(r.payments),
            group_amount(Decimal::new(r.amount_cents, 2)),
        );
        for f in &e.files {
            let _ = write!(
                s,
                r#"<div><code>{}</code><br><span class="hash">{}</span></div>"#,
                escape(&f.path),
                escape(&f.sha256)
            );
        }
        for f in &e.folders {
            let what = match (f.folder.as_str(), f.files) {
                ("rsp", 1) => "practitioner's return file (RSP)",
                ("rsp", _) => "practitioners' return files (RSP)",
                (_, 1) => "paper statement",
                _ => "paper statements",
            };
            let _ = write!(
                s,
                r#"<div><code>{}/</code> {} {what}, {} bytes</div>"#,
                escape(&f.folder),
                group_int(f.files),
                group_int(f.bytes)
            );
        }
        s.push_str("</td></tr>");
    }
    s.push_str("</tbody></table></div>");
    s
}

fn about(p: &PageInput<'_>) -> String {
    let mut s = String::from(r#"<dl class="defs" id="about">"#);
    let _ = write!(
        s,
        "<dt>Period</dt><dd>Claims received (Paris time) from {} to {}, both included.</dd>",
        p.from, p.to
    );
    let _ = write!(
        s,
        "<dt>Status date</dt><dd>{}</dd>",
        p.status_date.map_or_else(
            || "No settlement run recorded: every unpaid claim is pending.".to_owned(),
            |d| format!("{d} (execution date of the last settlement run recorded)")
        )
    );
    let _ = write!(s, "<dt>Calendar</dt><dd>{}</dd>", calendar_text(p));
    let _ = write!(
        s,
        "<dt>Generated</dt><dd>{} by tpsettle {}</dd>",
        p.generated_at.format("%Y-%m-%d %H:%M:%S UTC"),
        escape(env!("CARGO_PKG_VERSION"))
    );
    s.push_str("<dt>Files</dt><dd>The same figures for spreadsheets and tools, next to this page (the same database always gives the same bytes):<table id=\"files\"><tbody>");
    for f in p.files {
        let _ = write!(
            s,
            r#"<tr><td><code>{}</code></td><td class="num">{} bytes</td><td class="hash">{}</td></tr>"#,
            escape(&f.name()),
            group_int(f.bytes as i64),
            escape(&f.sha256)
        );
    }
    s.push_str("</tbody></table></dd></dl>");
    s
}

fn calendar_text(p: &PageInput<'_>) -> String {
    let cfg = p.calendar_config;
    let mut s = String::from(
        "Monday to Friday except the 11 French public holidays (Code du travail L.3133-1)",
    );
    if !cfg.extra_rules.is_empty() {
        let rules: Vec<String> = cfg
            .extra_rules
            .iter()
            .map(|r| escape(&format!("{r:?}")))
            .collect();
        let _ = write!(s, "; extra rules: {}", rules.join(", "));
    }
    if cfg.extra_days.is_empty() {
        s.push_str("; no extra day configured");
    } else {
        let days: Vec<String> = cfg.extra_days.iter().map(|d| d.to_string()).collect();
        let _ = write!(s, "; extra days configured: {}", days.join(", "));
    }
    let end = p.status_date.map_or(p.to, |d| d.max(p.to));
    let holidays: Vec<String> = (p.from.year()..=end.year())
        .flat_map(|y| p.calendar.holidays(y))
        .filter(|(d, _)| *d >= p.from && *d <= end)
        .map(|(d, name)| format!("{d} ({})", escape(name)))
        .collect();
    if holidays.is_empty() {
        let _ = write!(s, ". No holiday between {} and {end}.", p.from);
    } else {
        let _ = write!(
            s,
            ". Holidays between {} and {end}: {}.",
            p.from,
            holidays.join(", ")
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(escape("Hélène"), "Hélène");
    }

    #[test]
    fn fill_checks_both_ways() {
        let v = [("A", "1".to_owned()), ("B", "<b>".to_owned())];
        assert_eq!(fill("x{{A}}y{{B}}z{{A}}", &v).unwrap(), "x1y<b>z1");
        assert!(fill("{{A}}", &v).unwrap_err().contains("no {{B}}"));
        assert!(
            fill("{{A}}{{B}}{{C}}", &v)
                .unwrap_err()
                .contains("no value for {{C}}")
        );
        assert!(fill("{{A}}{{B", &v).is_err());
    }

    #[test]
    fn the_template_has_every_placeholder_once_filled() {
        // Every {{NAME}} of the shipped template is one render fills.
        let names: Vec<&str> = TEMPLATE
            .split("{{")
            .skip(1)
            .map(|s| s.split("}}").next().unwrap())
            .collect();
        for n in [
            "TITLE",
            "VERSION",
            "MUTUELLE",
            "FROM",
            "TO",
            "STATUS_DATE",
            "GENERATED_AT",
            "HEADLINE",
            "DAILY_CHART",
            "DAILY_TABLE",
            "DELAY_CHART",
            "BREAKDOWN_TABLE",
            "CAUSES",
            "LATE_TABLE",
            "PENALTIES",
            "LEDGER",
            "ABOUT",
        ] {
            assert!(names.contains(&n), "{n}");
        }
        assert!(!TEMPLATE.contains("http://") && !TEMPLATE.contains("https://"));
        assert!(TEMPLATE.contains("@media print"));
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(group_int(0), "0");
        assert_eq!(group_int(999), "999");
        assert_eq!(group_int(1_000), "1\u{202F}000");
        assert_eq!(group_int(-1_234_567), "-1\u{202F}234\u{202F}567");
        assert_eq!(
            group_amount(Decimal::new(123_456_789, 2)),
            "1\u{202F}234\u{202F}567.89"
        );
        assert_eq!(group_amount(Decimal::new(5, 2)), "0.05");
        assert_eq!(group_amount(Decimal::new(100, 0)), "100.00");
        assert_eq!(cell_text(&AnyValue::Float64(97.0)), "97.00");
        assert_eq!(cell_text(&AnyValue::Null), EMPTY);
    }

    #[test]
    fn the_late_list_stops_at_a_thousand_rows_and_counts_the_rest() {
        let n = LATE_ROWS_SHOWN + 5;
        let days: Vec<i32> = vec![20_000; n];
        let date = |name: &str| {
            Column::from(
                Series::new(name.into(), days.clone())
                    .cast(&DataType::Date)
                    .unwrap(),
            )
        };
        let late = DataFrame::new(
            n,
            vec![
                Column::new("ps_id".into(), vec!["100000001"; n]),
                Column::new("invoice_no".into(), (0..n as i64).collect::<Vec<_>>()),
                Column::new("origin".into(), vec!["DRE"; n]),
                Column::new("centre".into(), vec!["<CG>"; n]),
                date("received_date"),
                date("deadline"),
                Column::new("paid_on".into(), vec![None::<i32>; n])
                    .cast(&DataType::Date)
                    .unwrap(),
                Column::new("working_days_late".into(), vec![3i64; n]),
                Column::new("cause".into(), vec!["held_no_bank_details"; n]),
                Column::new("amc_due".into(), vec![1i64; n]),
                Column::new("penalty".into(), vec![None::<i64>; n]),
            ],
        )
        .unwrap();
        let html = late_table(&late).unwrap();
        assert_eq!(
            html.matches("<tr>").count(),
            1 + LATE_ROWS_SHOWN,
            "header + rows"
        );
        assert!(html.contains(r#"data-rest="5""#) && html.contains("<b>5</b> more"));
        assert!(html.contains("&lt;CG&gt;") && !html.contains("<CG>"));
        assert!(html.contains(r#"data-v="held_no_bank_details">Held: no bank details<"#));
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(nice_ticks(0.0).len(), 1);
        let t = nice_ticks(1234.0);
        assert_eq!(t.first().unwrap().0, 0.0);
        assert!(t.last().unwrap().0 >= 1234.0);
        assert!(t.len() <= 6, "{t:?}");
        let t = nice_ticks(3.0);
        assert!(t.iter().all(|(v, _)| v.fract() == 0.0), "{t:?}");
    }
}
