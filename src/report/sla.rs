//! The report's tables, aggregated by polars (lazy API) from the claim
//! frames of [`super::batch`].
//!
//! Every output is sorted on its keys, so the same database gives the same
//! rows in the same order whatever the threads did. Money is summed as
//! integer cents and only then shown as `Decimal(38, 2)`; the on-time rate
//! is computed from the integer counts, rounded half up to 0.01 %.

use polars::prelude::*;
use rust_decimal::Decimal;

use super::batch::Collected;

/// The tables written as CSV and Parquet and shown in the HTML page.
pub struct Tables {
    pub daily: DataFrame,
    pub breakdown: DataFrame,
    pub delays: DataFrame,
    pub late: DataFrame,
    /// Per practitioner; `None` when no penalty scale is configured.
    pub penalties: Option<DataFrame>,
}

/// The columns shared by `sla_daily` and `sla_breakdown`, in file order.
pub const METRICS: [&str; 13] = [
    "claims",
    "paid",
    "on_time",
    "late",
    "late_paid",
    "late_unpaid",
    "pending",
    "on_time_pct",
    "delay_median",
    "delay_p95",
    "delay_max",
    "late_amc_due",
    "penalty_total",
];

fn count(e: Expr, name: &str) -> Expr {
    e.sum().cast(DataType::Int64).alias(name)
}

/// Aggregates over claim rows (see `batch::ClaimColumns`).
fn claim_metrics() -> Vec<Expr> {
    vec![
        len().cast(DataType::Int64).alias("claims"),
        count(col("paid"), "paid"),
        count(col("on_time"), "on_time"),
        count(col("late"), "late"),
        count(col("late").and(col("paid")), "late_paid"),
        count(col("late").and(col("paid").not()), "late_unpaid"),
        count(col("pending"), "pending"),
        col("delay").median().alias("delay_median"),
        col("delay")
            .quantile(lit(0.95), QuantileMethod::Linear)
            .alias("delay_p95"),
        col("delay").max().cast(DataType::Int64).alias("delay_max"),
    ]
}

/// Aggregates over late rows, joined onto the claim aggregates.
fn late_metrics() -> Vec<Expr> {
    vec![
        col("amc_due_cents").sum().alias("late_amc_due_cents"),
        col("penalty_cents").sum().alias("penalty_cents"),
    ]
}

pub fn tables(c: &Collected, penalties_on: bool) -> PolarsResult<Tables> {
    let claims = c.claims.clone().lazy();
    let late = c.late.clone().lazy();
    let by = |keys: &[&str]| -> PolarsResult<DataFrame> {
        let exprs: Vec<Expr> = keys.iter().map(|k| col(*k)).collect();
        let names: Vec<PlSmallStr> = keys.iter().map(|k| (*k).into()).collect();
        let sums = late.clone().group_by(&exprs).agg(late_metrics());
        let df = claims
            .clone()
            .group_by(&exprs)
            .agg(claim_metrics())
            .join(sums, exprs.clone(), exprs, JoinArgs::new(JoinType::Left))
            .sort(names, SortMultipleOptions::default())
            .collect()?;
        finish_metrics(df, penalties_on)
    };

    let daily = by(&["received_date"])?;
    // A select, not a group_by: an empty period still has its total row.
    let total = {
        let mut counts = claims.clone().select(claim_metrics()).collect()?;
        let sums = late.clone().select(late_metrics()).collect()?;
        counts.hstack_mut(sums.columns())?;
        finish_metrics(counts, penalties_on)?
    };
    let breakdown = stack_breakdown(vec![
        ("all", with_value(total, "all")?),
        ("origin", renamed(by(&["origin"])?, "origin", "value")?),
        ("centre", renamed(by(&["centre"])?, "centre", "value")?),
    ])?;
    let delays = claims
        .clone()
        .filter(col("paid"))
        .group_by([col("delay")])
        .agg([
            len().cast(DataType::Int64).alias("paid"),
            count(col("on_time"), "on_time"),
            count(col("late"), "late"),
        ])
        .sort(["delay"], SortMultipleOptions::default())
        .rename(["delay"], ["delay_working_days"], true)
        .with_columns([col("delay_working_days").cast(DataType::Int64)])
        .collect()?;
    let late_list = late
        .clone()
        .sort(
            ["received_date", "ps_id", "invoice_no"],
            SortMultipleOptions::default(),
        )
        .collect()?;
    let late_list = money(late_list, "amc_due_cents", "amc_due", true)?;
    let late_list = money(late_list, "penalty_cents", "penalty", penalties_on)?;
    let penalties = if penalties_on {
        let df = late
            .group_by([col("ps_id")])
            .agg([
                len().cast(DataType::Int64).alias("late_claims"),
                count(col("penalty_cents").gt(lit(0i64)), "penalised_claims"),
                col("penalty_cents").sum().alias("penalty_cents"),
            ])
            .sort(["ps_id"], SortMultipleOptions::default())
            .collect()?;
        Some(money(df, "penalty_cents", "penalty_total", true)?)
    } else {
        None
    };
    Ok(Tables {
        daily,
        breakdown,
        delays,
        late: late_list,
        penalties,
    })
}

fn renamed(mut df: DataFrame, from: &str, to: &str) -> PolarsResult<DataFrame> {
    df.rename(from, to.into())?;
    Ok(df)
}

fn with_value(mut df: DataFrame, value: &str) -> PolarsResult<DataFrame> {
    let n = df.height();
    df.with_column(Column::new("value".into(), vec![value; n]))?;
    Ok(df)
}

/// `dimension, value, METRICS…`: the period total, then by origin, then by
/// centre, each sorted by value.
fn stack_breakdown(parts: Vec<(&str, DataFrame)>) -> PolarsResult<DataFrame> {
    let mut out: Option<DataFrame> = None;
    for (dimension, mut df) in parts {
        let n = df.height();
        df.with_column(Column::new("dimension".into(), vec![dimension; n]))?;
        let mut cols = vec!["dimension", "value"];
        cols.extend(METRICS);
        let df = df.select(cols)?;
        match &mut out {
            None => out = Some(df),
            Some(o) => {
                o.vstack_mut_owned(df)?;
            }
        }
    }
    let mut out = out.expect("three parts");
    out.rechunk_mut();
    Ok(out)
}

/// Derives the rate, rounds the quantiles, turns cents into amounts and puts
/// the metric columns in file order after the keys.
fn finish_metrics(mut df: DataFrame, penalties_on: bool) -> PolarsResult<DataFrame> {
    let on_time = i64s(&df, "on_time")?;
    let late = i64s(&df, "late")?;
    let pct: Vec<Option<f64>> = on_time
        .iter()
        .zip(&late)
        .map(|(o, l)| on_time_pct(o.unwrap_or(0), l.unwrap_or(0)))
        .collect();
    df.with_column(Column::new("on_time_pct".into(), pct))?;
    for name in ["delay_median", "delay_p95"] {
        let rounded: Vec<Option<f64>> = df
            .column(name)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .map(|v| v.map(round2))
            .collect();
        df.with_column(Column::new(name.into(), rounded))?;
    }
    let df = money(df, "late_amc_due_cents", "late_amc_due", true)?;
    let df = money(df, "penalty_cents", "penalty_total", penalties_on)?;
    let keys: Vec<PlSmallStr> = df
        .get_column_names()
        .into_iter()
        .filter(|n| !METRICS.contains(&n.as_str()))
        .cloned()
        .collect();
    let mut order: Vec<PlSmallStr> = keys;
    order.extend(METRICS.iter().map(|m| PlSmallStr::from(*m)));
    df.select(order)
}

/// On-time share of the decided claims (on time + late), in percent,
/// rounded half up to two decimals from integers; `None` when none is decided.
pub fn on_time_pct(on_time: i64, late: i64) -> Option<f64> {
    let decided = on_time + late;
    if decided <= 0 {
        return None;
    }
    // Basis points, rounded half up: (2·on_time·10⁴ + decided) / (2·decided).
    let bp = (2 * i128::from(on_time) * 10_000 + i128::from(decided)) / (2 * i128::from(decided));
    Some(bp as f64 / 100.0)
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn i64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<i64>>> {
    Ok(df
        .column(name)?
        .cast(&DataType::Int64)?
        .i64()?
        .iter()
        .collect())
}

/// Replaces the integer-cents column `from` with a `Decimal(38, 2)` column
/// `to` (nulls read as 0), or with nulls when `enabled` is false.
fn money(mut df: DataFrame, from: &str, to: &str, enabled: bool) -> PolarsResult<DataFrame> {
    let cents = i64s(&df, from)?;
    let values: Vec<Option<i128>> = cents
        .iter()
        .map(|c| enabled.then(|| i128::from(c.unwrap_or(0))))
        .collect();
    let series = Int128Chunked::from_iter_options(to.into(), values.into_iter())
        .into_decimal(38, 2)?
        .into_series();
    let idx = df.get_column_index(from).expect("column present");
    df.replace_column(idx, series.into_column())?;
    Ok(df)
}

/// A `Decimal(38, 2)` cell back as a `rust_decimal::Decimal`.
pub fn decimal_at(c: &Column, i: usize) -> PolarsResult<Option<Decimal>> {
    Ok(match c.get(i)? {
        AnyValue::Decimal(v, _, scale) => Some(Decimal::from_i128_with_scale(v, scale as u32)),
        AnyValue::Null => None,
        other => polars_bail!(ComputeError: "expected a decimal, got {other:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_rounded_half_up_from_integers() {
        assert_eq!(on_time_pct(0, 0), None);
        assert_eq!(on_time_pct(1, 0), Some(100.0));
        assert_eq!(on_time_pct(2, 1), Some(66.67));
        assert_eq!(on_time_pct(1, 2), Some(33.33));
        // 1/8 = 12.5 %; 1/16 = 6.25 %; 1/32 = 3.125 % -> 3.13 (half up).
        assert_eq!(on_time_pct(1, 31), Some(3.13));
        assert_eq!(on_time_pct(19_998, 2), Some(99.99));
        assert_eq!(on_time_pct(19_999, 1), Some(100.0)); // 99.995 -> 100.00
        assert_eq!(on_time_pct(199_999, 1), Some(100.0));
    }
}
