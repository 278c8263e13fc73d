//! Building the report: stream the period's claims, classify them,
//! aggregate with polars, check that the figures agree, write the files.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;

use super::{HTML_FILE, LedgerEntry, ReportError, SlaSummary, WrittenFile};
use super::{batch, files, html, outcome, sla};
use crate::calendar::Calendar;
use crate::config::Config;
use crate::store::report::LedgerRun;
use crate::store::{Store, StoreError};

/// Writes the SLA report of the claims received from `from` to `to`
/// (inclusive) into `out_dir`, and returns its headline figures.
pub async fn sla_report(
    store: &Store,
    config: &Config,
    calendar: &Calendar,
    from: NaiveDate,
    to: NaiveDate,
    out_dir: &Path,
) -> Result<SlaSummary, ReportError> {
    if from > to {
        return Err(ReportError::Period { from, to });
    }
    let started = std::time::Instant::now();
    let runs = outcome::RunIndex::new(store.ledger_runs().await?);
    let scale = config.penalties.as_ref();
    let mut batcher = batch::Batcher::new(scale);
    let mut paying_runs = BTreeSet::new();
    store
        .stream_sla_claims(from, to, |c| -> Result<(), ReportError> {
            let o = outcome::classify(&c, &runs, calendar).map_err(|e| {
                StoreError::Corrupt(format!("a claim received {}: {e}", c.received_date))
            })?;
            if let Some(d) = c.paid_run_date {
                paying_runs.insert(d);
            }
            batcher.push(&c, &o, calendar.deadline(c.received_date))?;
            Ok(())
        })
        .await?;
    let collected = batcher.finish()?;
    tracing::info!(
        claims = collected.claims.height(),
        late = collected.late.height(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "SLA report: claims loaded"
    );
    let mut tables = sla::tables(&collected, scale.is_some())?;
    if let Some(p) = &mut tables.penalties {
        add_names(store, p).await?;
    }
    check_invariants(&collected, &tables)?;
    let ledger = ledger(store, &runs, from, to, &paying_runs).await?;
    let mut ledger_df = ledger_frame(&ledger)?;

    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::Io {
        path: out_dir.display().to_string(),
        source,
    })?;
    let mut written = Vec::new();
    for (stem, df) in [
        ("sla_daily", &mut tables.daily),
        ("sla_breakdown", &mut tables.breakdown),
        ("sla_delays", &mut tables.delays),
        ("late_claims", &mut tables.late),
        ("run_ledger", &mut ledger_df),
    ] {
        written.extend(files::write_table(df, out_dir, stem)?);
    }
    if let Some(p) = &mut tables.penalties {
        written.extend(files::write_table(p, out_dir, "penalties")?);
    } else {
        // A folder reused after penalties were turned off must not keep
        // the previous report's penalties next to figures without them.
        for stale in ["penalties.csv", "penalties.parquet"] {
            match std::fs::remove_file(out_dir.join(stale)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(ReportError::Io {
                        path: out_dir.join(stale).display().to_string(),
                        source: e,
                    });
                }
                _ => {}
            }
        }
    }
    let page = html::render(&html::PageInput {
        mutuelle: &config.mutuelle.name,
        from,
        to,
        status_date: runs.status_date(),
        generated_at: chrono::Utc::now(),
        calendar,
        calendar_config: &config.calendar,
        penalties: scale,
        tables: &tables,
        ledger: &ledger,
        files: &written,
        deadline_mismatches: collected.deadline_mismatches,
    })?;
    let html_file = files::write_atomically(&out_dir.join(HTML_FILE), |w| {
        use std::io::Write;
        w.write_all(page.as_bytes())
            .map_err(|source| ReportError::Io {
                path: HTML_FILE.to_owned(),
                source,
            })
    })?;
    written.push(html_file);
    let summary = summary(
        from,
        to,
        &runs,
        &tables,
        &ledger,
        &collected,
        written,
        scale.is_some(),
    )?;
    tracing::info!(
        claims = summary.claims,
        on_time = summary.on_time,
        late = summary.late,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "SLA report written"
    );
    Ok(summary)
}

/// Runs whose business date is in the period, and later runs that paid a
/// claim of the period, with their files.
async fn ledger(
    store: &Store,
    runs: &outcome::RunIndex,
    from: NaiveDate,
    to: NaiveDate,
    paying: &BTreeSet<NaiveDate>,
) -> Result<Vec<LedgerEntry>, ReportError> {
    let mut out = Vec::new();
    for run in runs.runs() {
        let d = run.business_date;
        if (from..=to).contains(&d) || paying.contains(&d) {
            out.push(LedgerEntry {
                files: store.ledger_files(&run.run_id).await?,
                folders: store.ledger_folders(&run.run_id).await?,
                run: run.clone(),
            });
        }
    }
    Ok(out)
}

fn ledger_frame(ledger: &[LedgerEntry]) -> PolarsResult<DataFrame> {
    let n = ledger.len();
    let days = |f: fn(&LedgerRun) -> NaiveDate| -> PolarsResult<Column> {
        let v: Vec<i32> = ledger
            .iter()
            .map(|e| batch::date_to_days(f(&e.run)))
            .collect();
        Ok(Series::new("d".into(), v).cast(&DataType::Date)?.into())
    };
    let amounts: Vec<Option<i128>> = ledger
        .iter()
        .map(|e| Some(i128::from(e.run.amount_cents)))
        .collect();
    DataFrame::new(
        n,
        vec![
            Column::new(
                "run_id".into(),
                ledger
                    .iter()
                    .map(|e| e.run.run_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            days(|r| r.business_date)?.with_name("business_date".into()),
            days(|r| r.execution_date)?.with_name("execution_date".into()),
            Column::new(
                "state".into(),
                ledger
                    .iter()
                    .map(|e| e.run.state.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "payments".into(),
                ledger.iter().map(|e| e.run.payments).collect::<Vec<_>>(),
            ),
            Int128Chunked::from_iter_options("amount".into(), amounts.into_iter())
                .into_decimal(38, 2)?
                .into_series()
                .into_column(),
            Column::new(
                "files".into(),
                ledger
                    .iter()
                    .map(|e| e.files.len() as i64 + e.folders.iter().map(|f| f.files).sum::<i64>())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "manifest_sha256".into(),
                ledger
                    .iter()
                    .map(|e| {
                        e.files
                            .iter()
                            .find(|f| f.path == "manifest.json")
                            .map(|f| f.sha256.as_str())
                    })
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

/// Puts the practitioner's name next to its id in the penalties table.
async fn add_names(store: &Store, df: &mut DataFrame) -> Result<(), ReportError> {
    let names: HashMap<String, String> = store.practitioner_names().await?.into_iter().collect();
    let ids = df.column("ps_id")?.str()?;
    let col: Vec<Option<&str>> = ids
        .iter()
        .map(|id| id.and_then(|id| names.get(id)).map(String::as_str))
        .collect();
    let col = Column::new("name".into(), col);
    df.insert_column(1, col)?;
    Ok(())
}

/// The same figure reached two ways must agree, or the report is refused.
fn check_invariants(c: &batch::Collected, t: &sla::Tables) -> Result<(), ReportError> {
    let sum = |df: &DataFrame, name: &str| -> PolarsResult<i64> {
        Ok(df
            .column(name)?
            .as_materialized_series()
            .cast(&DataType::Int64)?
            .i64()?
            .sum()
            .unwrap_or(0))
    };
    let total = |name: &str| -> PolarsResult<i64> {
        Ok(t.breakdown.column(name)?.i64()?.get(0).unwrap_or(0))
    };
    let mut problems = Vec::new();
    let claims = c.claims.height() as i64;
    if total("claims")? != claims || sum(&t.daily, "claims")? != claims {
        problems.push(format!(
            "claims: {claims} loaded, {} in the total, {} over the days",
            total("claims")?,
            sum(&t.daily, "claims")?
        ));
    }
    for name in ["late", "on_time", "pending", "paid"] {
        if sum(&t.daily, name)? != total(name)? {
            problems.push(format!("{name}: days and total differ"));
        }
    }
    if total("late")? != t.late.height() as i64 {
        problems.push(format!(
            "late: {} in the total, {} in the list",
            total("late")?,
            t.late.height()
        ));
    }
    if total("on_time")? + total("late")? + total("pending")? != claims {
        problems.push("on time + late + pending is not every claim".to_owned());
    }
    if sum(&t.delays, "paid")? != total("paid")? {
        problems.push("delay histogram does not count every paid claim".to_owned());
    }
    let per_dimension = |dim: &str, name: &str| -> PolarsResult<i64> {
        let mask = t.breakdown.column("dimension")?.str()?.equal(dim);
        let df = t.breakdown.filter(&mask)?;
        sum(&df, name)
    };
    for dim in ["origin", "centre"] {
        for name in ["claims", "late"] {
            if per_dimension(dim, name)? != total(name)? {
                problems.push(format!("{name} by {dim} does not add up to the total"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ReportError::Invariant(problems.join("; ")))
    }
}

#[allow(clippy::too_many_arguments)]
fn summary(
    from: NaiveDate,
    to: NaiveDate,
    runs: &outcome::RunIndex,
    t: &sla::Tables,
    ledger: &[LedgerEntry],
    c: &batch::Collected,
    files: Vec<WrittenFile>,
    penalties_on: bool,
) -> Result<SlaSummary, ReportError> {
    let b = &t.breakdown;
    let n = |name: &str| -> PolarsResult<i64> { Ok(b.column(name)?.i64()?.get(0).unwrap_or(0)) };
    let penalty_total_cents = if penalties_on {
        sla::decimal_at(b.column("penalty_total")?, 0)?.map(|d| {
            let mut d = d;
            d.rescale(2);
            d.mantissa() as i64
        })
    } else {
        None
    };
    Ok(SlaSummary {
        from,
        to,
        status_date: runs.status_date(),
        claims: n("claims")?,
        paid: n("paid")?,
        on_time: n("on_time")?,
        late: n("late")?,
        late_paid: n("late_paid")?,
        late_unpaid: n("late_unpaid")?,
        pending: n("pending")?,
        on_time_pct: b.column("on_time_pct")?.f64()?.get(0),
        penalty_total_cents,
        runs: ledger.len(),
        deadline_mismatches: c.deadline_mismatches,
        files,
    })
}
