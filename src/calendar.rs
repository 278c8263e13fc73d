//! Working days, public holidays and bank days: the clock of the
//! four-working-day guarantee (contract §4).
//!
//! Three calendars meet here and must not be confused:
//! - the **French working day** (Monday–Friday minus the 11 public holidays
//!   of Code du travail L.3133-1, plus configured extras): it counts the
//!   guarantee's delay;
//! - the **Europe/Paris local date**: the day a claim is "received", whatever
//!   offset its timestamp carries;
//! - the **TARGET2 business day**: the only days a SEPA transfer can be
//!   executed. Good Friday is a TARGET2 holiday but a French working day
//!   (outside Alsace-Moselle); 14 July is the opposite.
//!
//! [`Calendar::deadline`] is called once per claim (a million a day), so the
//! working-day status of every day from [`TABLE_FIRST_YEAR`] to
//! [`TABLE_LAST_YEAR`] is precomputed once into a bitset shared by all clones;
//! dates outside it are still answered, by direct computation.

use std::sync::Arc;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Weekday};
use chrono_tz::Europe::Paris;

/// The mutuelle's promise: a TP claim is paid within this many working days
/// of its local receipt date (contract §4; stricter than the AMO's 7).
pub const PAYMENT_PROMISE_WORKING_DAYS: u32 = 4;

/// First year of the precomputed table (dates before it are computed on the fly).
pub const TABLE_FIRST_YEAR: i32 = 1970;
/// Last year of the precomputed table (dates after it are computed on the fly).
pub const TABLE_LAST_YEAR: i32 = 2199;

/// Name given to a day added by [`CalendarConfig::extra_days`].
const EXTRA_DAY_NAME: &str = "Jour chômé (configuration)";

/// Extra non-working days, as read from the `[calendar]` table of the TOML
/// configuration. Every field is optional:
///
/// ```toml
/// [calendar]
/// extra_rules = ["alsace_moselle"]           # or ["good_friday", "st_stephen"]
/// extra_days  = ["2026-05-15", 2026-12-24]   # quoted or native TOML dates
/// ```
///
/// Unknown keys are refused, so that a typo (`extra_day = …`) cannot silently
/// leave the calendar without the holidays an operator believed configured.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarConfig {
    /// One-off closing days (a *pont*, a local holiday), any year.
    #[serde(deserialize_with = "dates::deserialize")]
    pub extra_days: Vec<NaiveDate>,
    /// Recurring extra holidays.
    pub extra_rules: Vec<ExtraRule>,
}

/// A recurring extra holiday. In configuration files they are written in
/// snake case (`good_friday`, `st_stephen`, `alsace_moselle`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ExtraRule {
    /// Vendredi saint, two days before Easter Sunday.
    GoodFriday,
    /// Saint-Étienne, 26 December.
    StStephen,
    /// Preset for Alsace-Moselle (Code du travail L.3134-13): Good Friday and
    /// 26 December. `alsace-moselle` is accepted as well.
    #[serde(alias = "alsace-moselle")]
    AlsaceMoselle,
}

impl ExtraRule {
    fn adds_good_friday(self) -> bool {
        matches!(self, Self::GoodFriday | Self::AlsaceMoselle)
    }

    fn adds_st_stephen(self) -> bool {
        matches!(self, Self::StStephen | Self::AlsaceMoselle)
    }
}

/// The French working-day calendar of one configuration, plus the TARGET2
/// and Europe/Paris helpers. Cheap to clone (one `Arc`) and `Send + Sync`.
#[derive(Clone)]
pub struct Calendar {
    inner: Arc<Inner>,
}

struct Inner {
    rules: Rules,
    table: DayTable,
}

/// What decides whether a date is a holiday; the slow but complete answer.
struct Rules {
    good_friday: bool,
    st_stephen: bool,
    /// Sorted and deduplicated, for binary search without allocation.
    extra_days: Vec<NaiveDate>,
}

/// One bit a day, set when the day is a working day, for the table years.
struct DayTable {
    /// `num_days_from_ce` of 1 January [`TABLE_FIRST_YEAR`].
    first: i32,
    /// Number of days covered.
    len: i32,
    working: Vec<u64>,
}

impl Default for Calendar {
    /// Plain France, without extra days.
    fn default() -> Self {
        Self::new(&CalendarConfig::default())
    }
}

impl std::fmt::Debug for Calendar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = &self.inner.rules;
        f.debug_struct("Calendar")
            .field("good_friday", &r.good_friday)
            .field("st_stephen", &r.st_stephen)
            .field("extra_days", &r.extra_days)
            .finish_non_exhaustive()
    }
}

impl Calendar {
    /// Builds the calendar and precomputes its day table (about 84,000 days,
    /// a few milliseconds): build it once and clone it.
    pub fn new(config: &CalendarConfig) -> Self {
        let mut extra_days = config.extra_days.clone();
        extra_days.sort_unstable();
        extra_days.dedup();
        let rules = Rules {
            good_friday: config.extra_rules.iter().any(|r| r.adds_good_friday()),
            st_stephen: config.extra_rules.iter().any(|r| r.adds_st_stephen()),
            extra_days,
        };
        let table = DayTable::build(&rules);
        Self {
            inner: Arc::new(Inner { rules, table }),
        }
    }

    /// Monday to Friday and not a holiday of this calendar.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        match self.inner.table.get(d) {
            Some(w) => w,
            None => self.inner.rules.is_working_day(d),
        }
    }

    /// Whether `d` is a holiday of this calendar (legal, rule or extra day),
    /// whatever its weekday.
    pub fn is_holiday(&self, d: NaiveDate) -> bool {
        self.inner.rules.holiday_name(d).is_some()
    }

    /// Every holiday of `year`, sorted by date, named in French; weekend
    /// holidays included. A configured extra day that falls on a legal
    /// holiday is listed once, under the legal name.
    pub fn holidays(&self, year: i32) -> Vec<(NaiveDate, &'static str)> {
        let (Some(start), Some(end)) = (
            NaiveDate::from_ymd_opt(year, 1, 1),
            NaiveDate::from_ymd_opt(year, 12, 31),
        ) else {
            return Vec::new();
        };
        start
            .iter_days()
            .take_while(|d| *d <= end)
            .filter_map(|d| self.inner.rules.holiday_name(d).map(|n| (d, n)))
            .collect()
    }

    /// The `n`-th working day strictly after `d` (`d` itself when `n == 0`).
    /// `d` need not be a working day: the count always starts after it.
    pub fn add_working_days(&self, d: NaiveDate, n: u32) -> NaiveDate {
        self.step_working_days(d, n, NaiveDate::succ_opt)
    }

    /// The `n`-th working day strictly before `d` (`d` itself when `n == 0`).
    /// The generator uses it to spread receipts over the days before a run.
    pub fn sub_working_days(&self, d: NaiveDate, n: u32) -> NaiveDate {
        self.step_working_days(d, n, NaiveDate::pred_opt)
    }

    fn step_working_days(
        &self,
        mut d: NaiveDate,
        mut n: u32,
        step: fn(&NaiveDate) -> Option<NaiveDate>,
    ) -> NaiveDate {
        while n > 0 {
            // Saturates at chrono's limits rather than panicking.
            let Some(next) = step(&d) else { return d };
            d = next;
            if self.is_working_day(d) {
                n -= 1;
            }
        }
        d
    }

    /// Payment deadline of a claim received on local date `received`: the
    /// [`PAYMENT_PROMISE_WORKING_DAYS`]-th working day after it (Monday →
    /// Friday, Friday → Thursday, Saturday → Thursday). No allocation.
    pub fn deadline(&self, received: NaiveDate) -> NaiveDate {
        self.add_working_days(received, PAYMENT_PROMISE_WORKING_DAYS)
    }

    /// [`Calendar::deadline`] of a receipt timestamp, taken in Europe/Paris.
    pub fn deadline_of(&self, received_at: DateTime<FixedOffset>) -> NaiveDate {
        self.deadline(received_local_date(received_at))
    }

    /// Europe/Paris date of a timestamp; see [`received_local_date`].
    pub fn received_local_date(&self, at: DateTime<FixedOffset>) -> NaiveDate {
        received_local_date(at)
    }

    /// Signed count of working days from `a` to `b`, the measure of
    /// "working days late" and of SLA delays:
    ///
    /// - `a <= b`: the number of working days `d` with `a < d <= b`;
    /// - `b < a`: minus the number of working days `d` with `b < d <= a`.
    ///
    /// So it is antisymmetric (`between(a, b) == -between(b, a)`), 0 when
    /// `a == b`, and `between(r, deadline(r)) == 4` for every `r`. Paid on the
    /// deadline gives 0, the next working day 1; a Saturday after a Friday
    /// deadline still gives 0.
    pub fn working_days_between(&self, a: NaiveDate, b: NaiveDate) -> i64 {
        if a <= b {
            self.count_working_after_up_to(a, b)
        } else {
            -self.count_working_after_up_to(b, a)
        }
    }

    /// Working days `d` with `lo < d <= hi`, for `lo <= hi`.
    fn count_working_after_up_to(&self, lo: NaiveDate, hi: NaiveDate) -> i64 {
        if let Some(n) = self.inner.table.count_after_up_to(lo, hi) {
            return n;
        }
        lo.iter_days()
            .skip(1)
            .take_while(|d| *d <= hi)
            .filter(|d| self.is_working_day(*d))
            .count() as i64
    }

    /// See [`is_target2_business_day`].
    pub fn is_target2_business_day(&self, d: NaiveDate) -> bool {
        is_target2_business_day(d)
    }

    /// See [`next_target2_business_day_on_or_after`].
    pub fn next_target2_business_day_on_or_after(&self, d: NaiveDate) -> NaiveDate {
        next_target2_business_day_on_or_after(d)
    }
}

impl Rules {
    fn is_working_day(&self, d: NaiveDate) -> bool {
        !is_weekend(d) && self.holiday_name(d).is_none()
    }

    /// The holiday's French name, without allocating: legal holidays first,
    /// then rules, then configured days.
    fn holiday_name(&self, d: NaiveDate) -> Option<&'static str> {
        if let Some(name) = fixed_holiday_name(d.month(), d.day()) {
            return Some(name);
        }
        if let Some(name) = easter_holiday_name(d, self.good_friday) {
            return Some(name);
        }
        if self.st_stephen && (d.month(), d.day()) == (12, 26) {
            return Some("Saint-Étienne");
        }
        self.extra_days
            .binary_search(&d)
            .is_ok()
            .then_some(EXTRA_DAY_NAME)
    }
}

/// The 8 fixed-date holidays of L.3133-1.
fn fixed_holiday_name(month: u32, day: u32) -> Option<&'static str> {
    Some(match (month, day) {
        (1, 1) => "Jour de l'an",
        (5, 1) => "Fête du Travail",
        (5, 8) => "Victoire 1945",
        (7, 14) => "Fête nationale",
        (8, 15) => "Assomption",
        (11, 1) => "Toussaint",
        (11, 11) => "Armistice 1918",
        (12, 25) => "Noël",
        _ => return None,
    })
}

/// The 3 movable holidays of L.3133-1, and Good Friday when configured.
fn easter_holiday_name(d: NaiveDate, good_friday: bool) -> Option<&'static str> {
    let easter = easter_sunday(d.year())?;
    match (d - easter).num_days() {
        -2 if good_friday => Some("Vendredi saint"),
        1 => Some("Lundi de Pâques"),
        39 => Some("Ascension"),
        50 => Some("Lundi de Pentecôte"),
        _ => None,
    }
}

/// Gregorian Easter Sunday. `computus` covers 1583–9999; outside that range
/// (no claim will ever be dated there) the movable feasts are simply absent.
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let e = computus::gregorian(year).ok()?;
    NaiveDate::from_ymd_opt(e.year, e.month, e.day)
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

impl DayTable {
    fn build(rules: &Rules) -> Self {
        let (Some(start), Some(end)) = (
            NaiveDate::from_ymd_opt(TABLE_FIRST_YEAR, 1, 1),
            NaiveDate::from_ymd_opt(TABLE_LAST_YEAR, 12, 31),
        ) else {
            // Unreachable with the constants above; an empty table only
            // means every lookup takes the slow path.
            return Self {
                first: 0,
                len: 0,
                working: Vec::new(),
            };
        };
        let first = start.num_days_from_ce();
        let len = end.num_days_from_ce() - first + 1;
        let mut working = vec![0u64; (len as usize).div_ceil(64)];
        for (i, d) in start.iter_days().take(len as usize).enumerate() {
            if rules.is_working_day(d) {
                working[i / 64] |= 1 << (i % 64);
            }
        }
        Self {
            first,
            len,
            working,
        }
    }

    fn index(&self, d: NaiveDate) -> Option<usize> {
        let i = d.num_days_from_ce() - self.first;
        (0..self.len).contains(&i).then_some(i as usize)
    }

    fn get(&self, d: NaiveDate) -> Option<bool> {
        let i = self.index(d)?;
        Some(self.working[i / 64] >> (i % 64) & 1 == 1)
    }

    /// Set bits in `(lo, hi]`, when both ends are in the table.
    fn count_after_up_to(&self, lo: NaiveDate, hi: NaiveDate) -> Option<i64> {
        let (lo, hi) = (self.index(lo)?, self.index(hi)?);
        Some(self.count_bits(lo + 1, hi + 1))
    }

    /// Set bits in `[from, to)`, a word at a time.
    fn count_bits(&self, from: usize, to: usize) -> i64 {
        let mut n = 0u64;
        let mut i = from;
        while i < to {
            let (w, b) = (i / 64, i % 64);
            let take = (64 - b).min(to - i);
            let mask = if take == 64 {
                u64::MAX
            } else {
                ((1u64 << take) - 1) << b
            };
            n += u64::from((self.working[w] & mask).count_ones());
            i += take;
        }
        n as i64
    }
}

/// The Europe/Paris calendar date of a timestamp: the claim's receipt date R.
/// 23:30Z on a winter day is already the next day in Paris (00:30+01:00).
pub fn received_local_date(at: DateTime<FixedOffset>) -> NaiveDate {
    at.with_timezone(&Paris).date_naive()
}

/// TARGET2 is open every weekday except 1 January, Good Friday, Easter
/// Monday, 1 May, 25 and 26 December. French holidays do not close it, so a
/// transfer can execute on 14 July but not on Good Friday.
pub fn is_target2_business_day(d: NaiveDate) -> bool {
    if is_weekend(d) || matches!((d.month(), d.day()), (1, 1) | (5, 1) | (12, 25) | (12, 26)) {
        return false;
    }
    match easter_sunday(d.year()) {
        Some(easter) => !matches!((d - easter).num_days(), -2 | 1),
        None => true,
    }
}

/// `d` when TARGET2 is open that day, else the next day it is: the earliest
/// possible requested execution date of a transfer prepared on `d`.
pub fn next_target2_business_day_on_or_after(d: NaiveDate) -> NaiveDate {
    let mut d = d;
    // TARGET2 is never closed more than 4 days in a row (Good Friday to
    // Easter Monday), so this loop is short.
    while !is_target2_business_day(d) {
        let Some(next) = d.succ_opt() else { return d };
        d = next;
    }
    d
}

/// `extra_days` accepts quoted `YYYY-MM-DD` strings and native TOML dates.
/// The `toml` crate hands a native date to serde as a one-entry map (its
/// private datetime marker → the date text); both end up parsed as text, and
/// anything else than a bare date is refused.
mod dates {
    use std::fmt;

    use chrono::NaiveDate;
    use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<NaiveDate>, D::Error> {
        d.deserialize_seq(DatesVisitor)
    }

    struct DatesVisitor;

    impl<'de> Visitor<'de> for DatesVisitor {
        type Value = Vec<NaiveDate>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of dates (YYYY-MM-DD)")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(OneDate(d)) = seq.next_element()? {
                out.push(d);
            }
            Ok(out)
        }
    }

    struct OneDate(NaiveDate);

    impl<'de> de::Deserialize<'de> for OneDate {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(OneDateVisitor).map(OneDate)
        }
    }

    struct OneDateVisitor;

    impl<'de> Visitor<'de> for OneDateVisitor {
        type Value = NaiveDate;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a date (YYYY-MM-DD)")
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<NaiveDate, E> {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|e| E::custom(format!("not a date {s:?}: {e} (expected YYYY-MM-DD)")))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NaiveDate, A::Error> {
            let Some((_, text)) = map.next_entry::<String, String>()? else {
                return Err(de::Error::custom("expected a date (YYYY-MM-DD)"));
            };
            self.visit_str(&text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn france() -> Calendar {
        Calendar::default()
    }

    fn alsace() -> Calendar {
        Calendar::new(&CalendarConfig {
            extra_rules: vec![ExtraRule::AlsaceMoselle],
            ..CalendarConfig::default()
        })
    }

    /// Hand-written from the official calendars (Easter Sundays 2026-04-05,
    /// 2027-03-28, 2028-04-16, 2029-04-01, 2030-04-21).
    const HOLIDAYS_2026_2030: &[(&str, &str)] = &[
        ("2026-01-01", "Jour de l'an"),
        ("2026-04-06", "Lundi de Pâques"),
        ("2026-05-01", "Fête du Travail"),
        ("2026-05-08", "Victoire 1945"),
        ("2026-05-14", "Ascension"),
        ("2026-05-25", "Lundi de Pentecôte"),
        ("2026-07-14", "Fête nationale"),
        ("2026-08-15", "Assomption"),
        ("2026-11-01", "Toussaint"),
        ("2026-11-11", "Armistice 1918"),
        ("2026-12-25", "Noël"),
        ("2027-01-01", "Jour de l'an"),
        ("2027-03-29", "Lundi de Pâques"),
        ("2027-05-01", "Fête du Travail"),
        ("2027-05-06", "Ascension"),
        ("2027-05-08", "Victoire 1945"),
        ("2027-05-17", "Lundi de Pentecôte"),
        ("2027-07-14", "Fête nationale"),
        ("2027-08-15", "Assomption"),
        ("2027-11-01", "Toussaint"),
        ("2027-11-11", "Armistice 1918"),
        ("2027-12-25", "Noël"),
        ("2028-01-01", "Jour de l'an"),
        ("2028-04-17", "Lundi de Pâques"),
        ("2028-05-01", "Fête du Travail"),
        ("2028-05-08", "Victoire 1945"),
        ("2028-05-25", "Ascension"),
        ("2028-06-05", "Lundi de Pentecôte"),
        ("2028-07-14", "Fête nationale"),
        ("2028-08-15", "Assomption"),
        ("2028-11-01", "Toussaint"),
        ("2028-11-11", "Armistice 1918"),
        ("2028-12-25", "Noël"),
        ("2029-01-01", "Jour de l'an"),
        ("2029-04-02", "Lundi de Pâques"),
        ("2029-05-01", "Fête du Travail"),
        ("2029-05-08", "Victoire 1945"),
        ("2029-05-10", "Ascension"),
        ("2029-05-21", "Lundi de Pentecôte"),
        ("2029-07-14", "Fête nationale"),
        ("2029-08-15", "Assomption"),
        ("2029-11-01", "Toussaint"),
        ("2029-11-11", "Armistice 1918"),
        ("2029-12-25", "Noël"),
        ("2030-01-01", "Jour de l'an"),
        ("2030-04-22", "Lundi de Pâques"),
        ("2030-05-01", "Fête du Travail"),
        ("2030-05-08", "Victoire 1945"),
        ("2030-05-30", "Ascension"),
        ("2030-06-10", "Lundi de Pentecôte"),
        ("2030-07-14", "Fête nationale"),
        ("2030-08-15", "Assomption"),
        ("2030-11-01", "Toussaint"),
        ("2030-11-11", "Armistice 1918"),
        ("2030-12-25", "Noël"),
    ];

    #[test]
    fn easter_sundays_2026_2030() {
        for (y, e) in [
            (2026, "2026-04-05"),
            (2027, "2027-03-28"),
            (2028, "2028-04-16"),
            (2029, "2029-04-01"),
            (2030, "2030-04-21"),
        ] {
            assert_eq!(easter_sunday(y), Some(d(e)), "{y}");
            assert_eq!(d(e).weekday(), Weekday::Sun);
        }
    }

    #[test]
    fn every_holiday_2026_2030_by_date() {
        let cal = france();
        let got: Vec<(NaiveDate, &str)> = (2026..=2030).flat_map(|y| cal.holidays(y)).collect();
        let want: Vec<(NaiveDate, &str)> =
            HOLIDAYS_2026_2030.iter().map(|(s, n)| (d(s), *n)).collect();
        assert_eq!(got, want);
        for y in 2026..=2030 {
            assert_eq!(cal.holidays(y).len(), 11, "{y}");
        }
        for (s, _) in HOLIDAYS_2026_2030 {
            assert!(cal.is_holiday(d(s)));
            assert!(!cal.is_working_day(d(s)), "{s}");
        }
    }

    #[test]
    fn working_days_of_2026_total() {
        // 261 weekdays in 2026; holidays on weekdays: all but 15 Aug (Sat)
        // and 1 Nov (Sun), so 9 → 252 working days.
        let cal = france();
        let n = cal.working_days_between(d("2025-12-31"), d("2026-12-31"));
        assert_eq!(n, 252);
    }

    #[test]
    fn contract_examples() {
        let cal = france();
        // Week of 2026-06-01 has no holiday.
        assert_eq!(d("2026-06-01").weekday(), Weekday::Mon);
        assert_eq!(cal.deadline(d("2026-06-01")), d("2026-06-05")); // Mon → Fri
        assert_eq!(cal.deadline(d("2026-06-05")), d("2026-06-11")); // Fri → Thu
        assert_eq!(cal.deadline(d("2026-06-06")), d("2026-06-11")); // Sat → Thu
        assert_eq!(cal.deadline(d("2026-06-07")), d("2026-06-11")); // Sun → Thu
        assert_eq!(PAYMENT_PROMISE_WORKING_DAYS, 4);
    }

    #[test]
    fn easter_weeks() {
        let cal = france();
        // 2026: Easter Monday 6 April. Thursday 2 April: Fri 3, Tue 7, Wed 8, Thu 9.
        assert_eq!(cal.deadline(d("2026-04-02")), d("2026-04-09"));
        // Good Friday 3 April is a working day in France: Tue 7 … Fri 10.
        assert!(cal.is_working_day(d("2026-04-03")));
        assert_eq!(cal.deadline(d("2026-04-03")), d("2026-04-10"));
        // Received on Easter Monday itself: the count starts after it.
        assert_eq!(cal.deadline(d("2026-04-06")), d("2026-04-10"));
        // 2027: Easter Monday 29 March.
        assert_eq!(cal.deadline(d("2027-03-26")), d("2027-04-02"));
    }

    #[test]
    fn ascension_and_may_weeks() {
        let cal = france();
        // 2026: Fri 1 May, Fri 8 May, Thu 14 May (Ascension), Mon 25 May.
        assert_eq!(cal.deadline(d("2026-04-30")), d("2026-05-07"));
        assert_eq!(cal.deadline(d("2026-05-07")), d("2026-05-15"));
        // Ascension Thursday off, the following Friday (the "pont") worked.
        assert!(!cal.is_working_day(d("2026-05-14")));
        assert!(cal.is_working_day(d("2026-05-15")));
        assert_eq!(cal.deadline(d("2026-05-12")), d("2026-05-19"));
        assert_eq!(cal.deadline(d("2026-05-13")), d("2026-05-20"));
        // Whit Monday week: Fri 22 → Tue 26, Wed 27, Thu 28, Fri 29.
        assert_eq!(cal.deadline(d("2026-05-22")), d("2026-05-29"));
        // 2027: Ascension Thu 6 May, 8 May a Saturday.
        assert_eq!(cal.deadline(d("2027-05-04")), d("2027-05-11"));
    }

    #[test]
    fn armistice_2026_is_a_wednesday() {
        let cal = france();
        assert_eq!(d("2026-11-11").weekday(), Weekday::Wed);
        // Mon 9 Nov: Tue 10, Thu 12, Fri 13, Mon 16.
        assert_eq!(cal.deadline(d("2026-11-09")), d("2026-11-16"));
        assert_eq!(cal.deadline(d("2026-11-11")), d("2026-11-17"));
        assert_eq!(
            cal.working_days_between(d("2026-11-10"), d("2026-11-12")),
            1
        );
    }

    #[test]
    fn christmas_and_new_year() {
        let cal = france();
        // 2026: Fri 25 Dec and Fri 1 Jan.
        assert_eq!(cal.deadline(d("2026-12-23")), d("2026-12-30"));
        assert_eq!(cal.deadline(d("2026-12-24")), d("2026-12-31"));
        assert_eq!(cal.deadline(d("2026-12-28")), d("2027-01-04"));
        assert_eq!(cal.deadline(d("2026-12-31")), d("2027-01-07"));
        assert!(!cal.is_working_day(d("2026-12-26"))); // a Saturday anyway
        assert!(cal.is_working_day(d("2025-12-26"))); // a Friday
    }

    #[test]
    fn alsace_moselle() {
        let (fr, am) = (france(), alsace());
        for s in ["2026-04-03", "2025-12-26", "2030-04-19", "2030-12-26"] {
            assert!(fr.is_working_day(d(s)), "{s}");
            assert!(!am.is_working_day(d(s)), "{s}");
        }
        // Thu 2 April 2026: Good Friday and Easter Monday both off.
        assert_eq!(am.deadline(d("2026-04-02")), d("2026-04-10"));
        // Wed 24 Dec 2025: Thu 25, Fri 26 off → Mon 29, Tue 30, Wed 31, Fri 2.
        assert_eq!(am.deadline(d("2025-12-24")), d("2026-01-02"));
        let h = am.holidays(2026);
        assert_eq!(h.len(), 13);
        assert!(h.contains(&(d("2026-04-03"), "Vendredi saint")));
        assert!(h.contains(&(d("2026-12-26"), "Saint-Étienne")));
        // The two separate rules are the same as the preset.
        let both = Calendar::new(&CalendarConfig {
            extra_rules: vec![ExtraRule::GoodFriday, ExtraRule::StStephen],
            ..CalendarConfig::default()
        });
        assert_eq!(both.holidays(2027), am.holidays(2027));
    }

    #[test]
    fn extra_days() {
        let cal = Calendar::new(&CalendarConfig {
            // The pont of Ascension 2026, listed twice, and one on a holiday.
            extra_days: vec![d("2026-05-15"), d("2026-05-15"), d("2026-07-14")],
            extra_rules: vec![],
        });
        assert!(!cal.is_working_day(d("2026-05-15")));
        assert_eq!(cal.deadline(d("2026-05-12")), d("2026-05-20"));
        let h = cal.holidays(2026);
        assert_eq!(h.len(), 12);
        assert!(h.contains(&(d("2026-05-15"), "Jour chômé (configuration)")));
        assert!(h.contains(&(d("2026-07-14"), "Fête nationale")));
        // Outside the precomputed table too.
        let far = Calendar::new(&CalendarConfig {
            extra_days: vec![d("2301-06-05")],
            extra_rules: vec![],
        });
        assert!(!far.is_working_day(d("2301-06-05")));
        assert!(far.is_working_day(d("2301-06-06")));
    }

    #[test]
    fn config_from_toml() {
        let cfg: CalendarConfig = toml::from_str(
            r#"
            extra_rules = ["alsace_moselle", "good_friday"]
            extra_days = ["2026-05-15", 2026-12-24]
            "#,
        )
        .unwrap();
        assert_eq!(
            cfg.extra_rules,
            vec![ExtraRule::AlsaceMoselle, ExtraRule::GoodFriday]
        );
        assert_eq!(cfg.extra_days, vec![d("2026-05-15"), d("2026-12-24")]);
        let dash: CalendarConfig = toml::from_str(r#"extra_rules = ["alsace-moselle"]"#).unwrap();
        assert_eq!(dash.extra_rules, vec![ExtraRule::AlsaceMoselle]);
        assert_eq!(
            toml::from_str::<CalendarConfig>("").unwrap(),
            CalendarConfig::default()
        );
        for bad in [
            r#"extra_rules = ["easter_sunday"]"#,
            r#"extra_days = ["15/05/2026"]"#,
            "extra_days = [2026-05-15T10:00:00]",
            r#"extra_day = ["2026-05-15"]"#,
        ] {
            assert!(toml::from_str::<CalendarConfig>(bad).is_err(), "{bad}");
        }
        let json: CalendarConfig =
            serde_json::from_str(r#"{"extra_days":["2026-05-15"]}"#).unwrap();
        assert_eq!(json.extra_days, vec![d("2026-05-15")]);
    }

    #[test]
    fn target2_calendar() {
        let cal = france();
        // Good Friday: TARGET2 closed, French working day.
        assert!(!cal.is_target2_business_day(d("2026-04-03")));
        assert!(cal.is_working_day(d("2026-04-03")));
        // 14 July, Ascension, 8 May, 11 Nov: French holidays, TARGET2 open.
        for s in ["2026-07-14", "2026-05-14", "2026-05-08", "2026-11-11"] {
            assert!(cal.is_target2_business_day(d(s)), "{s}");
            assert!(!cal.is_working_day(d(s)), "{s}");
        }
        for s in [
            "2026-01-01",
            "2026-04-06",
            "2026-05-01",
            "2026-12-25",
            "2025-12-26",
            "2026-06-06",
            "2026-06-07",
        ] {
            assert!(!cal.is_target2_business_day(d(s)), "{s}");
        }
        assert_eq!(
            cal.next_target2_business_day_on_or_after(d("2026-04-03")),
            d("2026-04-07")
        );
        assert_eq!(
            next_target2_business_day_on_or_after(d("2025-12-25")),
            d("2025-12-29")
        );
        assert_eq!(
            next_target2_business_day_on_or_after(d("2026-07-14")),
            d("2026-07-14")
        );
        assert_eq!(
            next_target2_business_day_on_or_after(d("2026-12-31")),
            d("2026-12-31")
        );
        assert_eq!(
            next_target2_business_day_on_or_after(d("2027-01-01")),
            d("2027-01-04")
        );
    }

    #[test]
    fn paris_dates_across_dst() {
        let cal = france();
        // Winter: 23:30Z is 00:30 the next day in Paris.
        assert_eq!(
            cal.received_local_date(t("2026-01-15T23:30:00Z")),
            d("2026-01-16")
        );
        assert_eq!(
            received_local_date(t("2026-01-15T22:59:59Z")),
            d("2026-01-15")
        );
        // Summer: +02:00, so 22:00Z is already the next day.
        assert_eq!(
            received_local_date(t("2026-07-15T22:00:00Z")),
            d("2026-07-16")
        );
        assert_eq!(
            received_local_date(t("2026-07-15T21:59:59Z")),
            d("2026-07-15")
        );
        // Last Sunday of March 2026 (29th): clocks go 02:00 → 03:00 at 01:00Z.
        assert_eq!(
            received_local_date(t("2026-03-28T23:30:00Z")),
            d("2026-03-29")
        );
        assert_eq!(
            received_local_date(t("2026-03-29T21:59:00Z")),
            d("2026-03-29")
        );
        assert_eq!(
            received_local_date(t("2026-03-29T22:00:00Z")),
            d("2026-03-30")
        );
        // Last Sunday of October 2026 (25th): back to +01:00 at 01:00Z.
        assert_eq!(
            received_local_date(t("2026-10-24T22:00:00Z")),
            d("2026-10-25")
        );
        assert_eq!(
            received_local_date(t("2026-10-25T22:59:00Z")),
            d("2026-10-25")
        );
        assert_eq!(
            received_local_date(t("2026-10-25T23:00:00Z")),
            d("2026-10-26")
        );
        // An offset other than Paris's is converted, not trusted.
        assert_eq!(
            received_local_date(t("2026-01-15T20:00:00-05:00")),
            d("2026-01-16")
        );
        // Friday 23:30 in New York is Saturday in Paris: deadline Thursday.
        assert_eq!(
            cal.deadline_of(t("2026-06-05T19:30:00-04:00")),
            d("2026-06-11")
        );
    }

    #[test]
    fn working_days_between_examples() {
        let cal = france();
        let wdb = |a: &str, b: &str| cal.working_days_between(d(a), d(b));
        assert_eq!(wdb("2026-06-01", "2026-06-05"), 4); // Mon → Fri
        assert_eq!(wdb("2026-06-05", "2026-06-08"), 1); // Fri → Mon
        assert_eq!(wdb("2026-06-05", "2026-06-07"), 0); // Fri → Sun
        assert_eq!(wdb("2026-06-05", "2026-06-05"), 0);
        assert_eq!(wdb("2026-06-05", "2026-06-04"), -1);
        assert_eq!(wdb("2026-06-08", "2026-06-05"), -1);
        assert_eq!(wdb("2026-05-13", "2026-05-15"), 1); // over Ascension
        // Across the table's edge and entirely outside it.
        assert_eq!(wdb("2199-12-30", "2200-01-02"), 2); // Tue 31, Thu 2 (Wed 1 Jan off)
        assert_eq!(wdb("2250-06-01", "2250-06-08"), 5); // Sat → Sat
        // Properties over a two-year stretch.
        let start = d("2026-01-01");
        for r in start.iter_days().take(730) {
            let dl = cal.deadline(r);
            assert_eq!(cal.working_days_between(r, dl), 4, "{r}");
            assert!(cal.is_working_day(dl));
            for k in [0i64, 1, 3, 17, 200] {
                let b = r + chrono::Days::new(k as u64);
                assert_eq!(
                    cal.working_days_between(r, b),
                    -cal.working_days_between(b, r)
                );
                let slow = r
                    .iter_days()
                    .skip(1)
                    .take_while(|x| *x <= b)
                    .filter(|x| cal.is_working_day(*x))
                    .count() as i64;
                assert_eq!(cal.working_days_between(r, b), slow);
            }
        }
    }

    #[test]
    fn add_and_sub_working_days() {
        let cal = france();
        assert_eq!(cal.add_working_days(d("2026-06-06"), 0), d("2026-06-06"));
        assert_eq!(cal.add_working_days(d("2026-06-05"), 1), d("2026-06-08"));
        assert_eq!(cal.sub_working_days(d("2026-06-08"), 1), d("2026-06-05"));
        assert_eq!(cal.sub_working_days(d("2026-12-01"), 14), d("2026-11-10"));
        assert_eq!(cal.sub_working_days(d("2026-12-01"), 15), d("2026-11-09"));
        for r in d("2026-01-01").iter_days().take(400) {
            for n in 1..8 {
                let fwd = cal.add_working_days(r, n);
                if cal.is_working_day(r) {
                    assert_eq!(cal.sub_working_days(fwd, n), r);
                }
            }
        }
    }

    #[test]
    fn table_matches_rules_and_far_years() {
        // The bitset and the direct computation agree, at the edges too.
        let cal = alsace();
        for s in ["1970-01-01", "1970-03-27", "2199-12-26", "2199-12-31"] {
            assert_eq!(
                cal.inner.table.get(d(s)),
                Some(cal.inner.rules.is_working_day(d(s))),
                "{s}"
            );
        }
        assert_eq!(cal.inner.table.get(d("1969-12-31")), None);
        assert!(!cal.is_working_day(d("1969-12-25")));
        assert_eq!(france().holidays(2500).len(), 11);
        // Before computus's range: only the fixed-date holidays.
        assert_eq!(france().holidays(1500).len(), 8);
    }

    #[test]
    fn shareable_across_threads() {
        fn is_send_sync<T: Send + Sync + Clone>() {}
        is_send_sync::<Calendar>();
    }

    #[test]
    fn deadline_is_fast() {
        let cal = france();
        let start = std::time::Instant::now();
        let mut acc = 0i64;
        let base = d("2026-01-01");
        for i in 0..1_000_000u64 {
            let r = base + chrono::Days::new(i % 365);
            acc += i64::from(cal.deadline(r).day());
        }
        assert!(acc > 0);
        // Generous, for an unoptimised build on a shared machine.
        assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
    }
}
