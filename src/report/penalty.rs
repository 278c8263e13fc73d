//! Late-payment penalties: a configurable scale applied to each late TP
//! claim, off when `tpsettle.toml` has no `[penalties]` table.
//!
//! The scale is a list of tiers keyed by the **working day after receipt on
//! which the claim was paid** (`Calendar::working_days_between(received,
//! execution date)`; for a claim still unpaid, up to the report's status
//! date). The tier with the highest `from_working_day` not above that day
//! applies; before the first tier nothing is due. A tier charges a flat
//! amount, a percentage of the claim's `amc_due`, or both; the result is
//! rounded to the cent, half away from zero.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer};

use crate::calendar::PAYMENT_PROMISE_WORKING_DAYS;
use crate::domain::Amount;

/// The documented example: decree 2016-1069's AMO scale (7-day limit; €1 a
/// bill paid on working day 8 or 9; 10 % of the insurer's part from day 10)
/// shifted to the mutuelle's 4-day promise.
pub const EXAMPLE_TOML: &str = r#"[penalties]
tiers = [
    { from_working_day = 5, flat = "1.00" },              # paid on working day 5 or 6: EUR 1 a claim
    { from_working_day = 7, percent_of_amc_due = "10" },  # from working day 7: 10 % of amc_due
]
"#;

/// A validated scale: tiers start after the promise and strictly increase.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawScale")]
pub struct PenaltyScale {
    tiers: Vec<PenaltyTier>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PenaltyTier {
    /// First working day after receipt (as a payment day) the tier applies to.
    pub from_working_day: u32,
    /// Fixed amount per claim, a string such as `"1.00"`.
    #[serde(default, deserialize_with = "amount_opt")]
    pub flat: Option<Amount>,
    /// Percentage of the claim's `amc_due`, a string such as `"10"`.
    #[serde(default, deserialize_with = "percent_opt")]
    pub percent_of_amc_due: Option<Decimal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScale {
    tiers: Vec<PenaltyTier>,
}

impl TryFrom<RawScale> for PenaltyScale {
    type Error = String;
    fn try_from(raw: RawScale) -> Result<Self, String> {
        PenaltyScale::new(raw.tiers)
    }
}

impl PenaltyScale {
    pub fn new(tiers: Vec<PenaltyTier>) -> Result<Self, String> {
        if tiers.is_empty() {
            return Err(
                "penalties.tiers is empty (remove [penalties] to turn penalties off)".into(),
            );
        }
        let mut previous = PAYMENT_PROMISE_WORKING_DAYS;
        for t in &tiers {
            if t.from_working_day <= previous {
                return Err(format!(
                    "penalties.tiers: from_working_day {} must be above {previous} (tiers start \
                     after the {PAYMENT_PROMISE_WORKING_DAYS}-working-day promise and increase)",
                    t.from_working_day
                ));
            }
            if t.flat.is_none() && t.percent_of_amc_due.is_none() {
                return Err(format!(
                    "penalties.tiers: the tier from working day {} has neither flat nor percent_of_amc_due",
                    t.from_working_day
                ));
            }
            previous = t.from_working_day;
        }
        Ok(Self { tiers })
    }

    /// The scale of [`EXAMPLE_TOML`].
    pub fn example() -> Self {
        #[derive(Deserialize)]
        struct Doc {
            penalties: PenaltyScale,
        }
        toml::from_str::<Doc>(EXAMPLE_TOML)
            .expect("the documented example parses")
            .penalties
    }

    pub fn tiers(&self) -> &[PenaltyTier] {
        &self.tiers
    }

    /// Penalty in cents for a claim of `amc_due_cents` paid on working day
    /// `payment_working_day` after receipt.
    pub fn penalty_cents(&self, payment_working_day: i64, amc_due_cents: i64) -> i64 {
        let Some(tier) = self
            .tiers
            .iter()
            .rev()
            .find(|t| i64::from(t.from_working_day) <= payment_working_day)
        else {
            return 0;
        };
        let flat = tier.flat.map_or(0, Amount::cents);
        let share = tier.percent_of_amc_due.map_or(0, |pct| {
            let cents = Decimal::from(amc_due_cents) * pct / Decimal::ONE_HUNDRED;
            let rounded = cents.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
            // |amc_due| ≤ 10^11 cents and pct ≤ 100: always fits.
            i64::try_from(rounded.mantissa()).expect("penalty fits in i64 cents")
        });
        flat + share
    }

    /// One line per tier, for the report's page.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (i, t) in self.tiers.iter().enumerate() {
            let from = t.from_working_day;
            let days = match self.tiers.get(i + 1).map(|n| n.from_working_day - from) {
                Some(1) => format!("paid on working day {from}"),
                Some(2) => format!("paid on working day {from} or {}", from + 1),
                Some(_) => format!(
                    "paid on working day {from} to {}",
                    self.tiers[i + 1].from_working_day - 1
                ),
                None => format!("paid on working day {from} or later"),
            };
            let what = match (t.flat, t.percent_of_amc_due) {
                (Some(f), Some(p)) => format!("EUR {f} + {p} % of the AMC part"),
                (Some(f), None) => format!("EUR {f} per claim"),
                (None, Some(p)) => format!("{p} % of the AMC part"),
                (None, None) => unreachable!("validated in PenaltyScale::new"),
            };
            lines.push(format!("{days} after receipt: {what}"));
        }
        lines
    }
}

fn amount_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Amount>, D::Error> {
    let s = String::deserialize(d)?;
    s.parse::<Amount>()
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("flat {s:?}: {e}")))
}

fn percent_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let s = String::deserialize(d)?;
    let p: Decimal = s.parse().map_err(|_| {
        serde::de::Error::custom(format!("percent_of_amc_due {s:?}: not a decimal"))
    })?;
    if p <= Decimal::ZERO || p > Decimal::ONE_HUNDRED || p.scale() > 4 {
        return Err(serde::de::Error::custom(format!(
            "percent_of_amc_due {s:?}: expected more than 0 and at most 100, 4 decimals at most"
        )));
    }
    Ok(Some(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct Doc {
        penalties: PenaltyScale,
    }

    fn parse(t: &str) -> Result<PenaltyScale, String> {
        toml::from_str::<Doc>(t)
            .map(|d| d.penalties)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn example_scale_mirrors_the_decree_shifted_to_four_days() {
        let s = PenaltyScale::example();
        // Working days 0..=4: on time, nothing due.
        for wd in 0..=4 {
            assert_eq!(s.penalty_cents(wd, 12_345), 0, "{wd}");
        }
        // Days 5 and 6: EUR 1 a claim, whatever the amount.
        assert_eq!(s.penalty_cents(5, 12_345), 100);
        assert_eq!(s.penalty_cents(6, 1), 100);
        // From day 7: 10 % of amc_due, rounded half away from zero.
        assert_eq!(s.penalty_cents(7, 12_345), 1_235); // 1234.5 -> 1235
        assert_eq!(s.penalty_cents(30, 12_344), 1_234); // 1234.4 -> 1234
        assert_eq!(s.penalty_cents(7, 4), 0); // 0.4 -> 0
        assert_eq!(s.penalty_cents(7, 5), 1); // 0.5 -> 1
        assert_eq!(
            s.describe(),
            vec![
                "paid on working day 5 or 6 after receipt: EUR 1.00 per claim",
                "paid on working day 7 or later after receipt: 10 % of the AMC part",
            ]
        );
    }

    #[test]
    fn flat_and_percent_add_up() {
        let s = parse(
            "[penalties]\ntiers = [{ from_working_day = 6, flat = \"2.50\", percent_of_amc_due = \"1.5\" }]",
        )
        .unwrap();
        assert_eq!(s.penalty_cents(5, 10_000), 0);
        assert_eq!(s.penalty_cents(6, 10_000), 250 + 150);
    }

    #[test]
    fn bad_scales_are_refused() {
        for bad in [
            "[penalties]\ntiers = []",
            "[penalties]\ntiers = [{ from_working_day = 4, flat = \"1.00\" }]",
            "[penalties]\ntiers = [{ from_working_day = 6, flat = \"1\" }, { from_working_day = 6, flat = \"2\" }]",
            "[penalties]\ntiers = [{ from_working_day = 8, flat = \"1\" }, { from_working_day = 6, flat = \"2\" }]",
            "[penalties]\ntiers = [{ from_working_day = 5 }]",
            "[penalties]\ntiers = [{ from_working_day = 5, flat = \"1.005\" }]",
            "[penalties]\ntiers = [{ from_working_day = 5, flat = \"-1\" }]",
            "[penalties]\ntiers = [{ from_working_day = 5, flat = 1.0 }]",
            "[penalties]\ntiers = [{ from_working_day = 5, percent_of_amc_due = \"101\" }]",
            "[penalties]\ntiers = [{ from_working_day = 5, percent_of_amc_due = \"0\" }]",
            "[penalties]\ntiers = [{ from_working_day = 5, flat = \"1\", pct = \"1\" }]",
            "[penalties]\ntier = [{ from_working_day = 5, flat = \"1\" }]",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
