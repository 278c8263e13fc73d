//! Scheduling decisions with an injected clock: no test sleeps.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Paris;

use super::*;
use crate::calendar::{Calendar, CalendarConfig};

fn cal() -> Calendar {
    Calendar::new(&CalendarConfig::default())
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A Paris wall-clock time (unambiguous ones only).
fn paris(s: &str) -> DateTime<Utc> {
    let local = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    Paris
        .from_local_datetime(&local)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn job(name: &str) -> JobSpec {
    jobs::built_in()
        .into_iter()
        .find(|j| j.name == name)
        .unwrap()
}

fn dates(slots: &[Slot]) -> Vec<String> {
    slots.iter().map(|s| s.key.clone()).collect()
}

/// What the daemon does, minute by minute: decide, run what is due, record it.
fn simulate(
    job: &JobSpec,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: Duration,
    h: &mut JobHistory,
) -> Vec<(String, DateTime<Utc>)> {
    let (cal, mut ran, mut now) = (cal(), Vec::new(), from);
    while now <= to {
        for slot in decide(job, &cal, now, h).due {
            h.done.insert(slot.key.clone());
            h.resume_from = Some(slot.date);
            ran.push((slot.key, now));
        }
        now += step;
    }
    ran
}

#[test]
fn the_shipped_jobs_parse() {
    let jobs = jobs::built_in();
    let names: Vec<_> = jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["settlement", "watch", "sla-report"]);
    let watch = job("watch");
    assert_eq!(watch.times.len(), 12, "08:00 to 19:00 hourly");
    assert_eq!(job("settlement").times[0].to_string(), "14:00:00");
    // And the repository's jobs/ directory holds the same files.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs");
    assert_eq!(load_dir(&dir).unwrap().len(), 3);
}

#[test]
fn bad_job_files_are_refused_with_the_reason() {
    let bad = [
        (
            "kind='watch'\ndays='working'\nat=['08:00']\nevery_minutes=60\n",
            "either",
        ),
        ("kind='watch'\ndays='working'\nat=['25:00']\n", "not a time"),
        ("kind='settlement'\ndays='working'\nat=['14:00']\n", "`out`"),
        (
            "kind='watch'\ndays='working'\nat=['08:00']\ntimezone='Mars/Olympus'\n",
            "time zone",
        ),
        ("kind='watch'\ndays='sometimes'\nat=['08:00']\n", "days"),
        (
            "kind='watch'\ndays='working'\nat=['08:00']\nevry=1\n",
            "evry",
        ),
    ];
    for (text, want) in bad {
        let e = jobs::parse("j", text, "j.toml").unwrap_err().to_string();
        assert!(e.contains(want), "{text}: {e}");
    }
    let off = "kind='watch'\ndays='working'\nat=['08:00']\nenabled=false\n";
    assert!(jobs::parse("j", off, "j.toml").unwrap().is_none());
}

#[test]
fn missed_working_days_are_caught_up_oldest_first_skipping_holidays() {
    let job = job("settlement");
    let h = JobHistory {
        done: [day("2026-04-30").to_string()].into(),
        resume_from: Some(day("2026-04-30")),
        ..Default::default()
    };
    // 1 May (Friday) and 8 May (Friday) are holidays; weekends are skipped.
    let d = decide(&job, &cal(), paris("2026-05-11 15:00"), &h);
    assert_eq!(
        dates(&d.due),
        [
            "2026-05-04",
            "2026-05-05",
            "2026-05-06",
            "2026-05-07",
            "2026-05-11"
        ]
    );
    assert!(d.too_old.is_empty() && d.retry_later.is_none());
    // Before 14:00, today is not due yet.
    let d = decide(&job, &cal(), paris("2026-05-11 13:59"), &h);
    assert_eq!(dates(&d.due).last().unwrap(), "2026-05-07");
}

#[test]
fn an_unfinished_run_of_the_latest_date_is_resumed() {
    let job = job("settlement");
    // The run of 2026-05-04 exists (resume_from) but is not completed.
    let h = JobHistory {
        resume_from: Some(day("2026-05-04")),
        ..Default::default()
    };
    let d = decide(&job, &cal(), paris("2026-05-05 09:00"), &h);
    assert_eq!(dates(&d.due), ["2026-05-04"]);
}

#[test]
fn with_no_history_catch_up_starts_today_or_at_start_date() {
    let mut job = job("settlement");
    let now = paris("2026-05-06 14:30");
    let d = decide(&job, &cal(), now, &JobHistory::default());
    assert_eq!(dates(&d.due), ["2026-05-06"]);
    job.start_date = Some(day("2026-05-04"));
    let d = decide(&job, &cal(), now, &JobHistory::default());
    assert_eq!(dates(&d.due), ["2026-05-04", "2026-05-05", "2026-05-06"]);
}

#[test]
fn catch_up_is_bounded_and_older_days_are_reported() {
    let mut job = job("settlement");
    job.catch_up_limit = 3;
    let h = JobHistory {
        done: [day("2026-06-01").to_string()].into(),
        resume_from: Some(day("2026-06-01")),
        ..Default::default()
    };
    let d = decide(&job, &cal(), paris("2026-06-12 15:00"), &h);
    assert_eq!(dates(&d.due), ["2026-06-10", "2026-06-11", "2026-06-12"]);
    assert_eq!(
        dates(&d.too_old),
        [
            "2026-06-02",
            "2026-06-03",
            "2026-06-04",
            "2026-06-05",
            "2026-06-08",
            "2026-06-09"
        ]
    );
}

#[test]
fn a_failed_run_is_retried_after_the_delay_and_never_overtaken() {
    let job = job("settlement");
    let mut h = JobHistory {
        done: [day("2026-05-04").to_string()].into(),
        resume_from: Some(day("2026-05-04")),
        ..Default::default()
    };
    h.failed_at
        .insert("2026-05-05".into(), paris("2026-05-06 14:01"));
    let d = decide(&job, &cal(), paris("2026-05-06 14:10"), &h);
    assert!(d.due.is_empty(), "{d:?}");
    let (slot, at) = d.retry_later.unwrap();
    assert_eq!(
        (slot.key.as_str(), at),
        ("2026-05-05", paris("2026-05-06 14:16"))
    );
    let d = decide(&job, &cal(), paris("2026-05-06 14:16"), &h);
    assert_eq!(dates(&d.due), ["2026-05-05", "2026-05-06"]);
}

#[test]
fn overlapping_triggers_start_a_slot_once() {
    let job = job("settlement");
    let now = paris("2026-05-06 14:00");
    let mut h = JobHistory::default();
    // Two triggers at the same instant see the same decision...
    let first = decide(&job, &cal(), now, &h);
    assert_eq!(first, decide(&job, &cal(), now, &h));
    assert_eq!(dates(&first.due), ["2026-05-06"]);
    // ...and once the first has started the slot, the second has nothing to do.
    h.in_progress.insert("2026-05-06".into());
    assert!(decide(&job, &cal(), now, &h).due.is_empty());
    // Once done, later triggers the same day have nothing to do either.
    h.in_progress.clear();
    h.done.insert("2026-05-06".into());
    h.resume_from = Some(day("2026-05-06"));
    assert!(
        decide(&job, &cal(), paris("2026-05-06 18:00"), &h)
            .due
            .is_empty()
    );
}

#[test]
fn a_watch_runs_its_latest_missed_slot_once() {
    let job = job("watch");
    let mut h = JobHistory::default();
    // The daemon was down from 08:00 to 12:30: one watch, for the 12:00 slot.
    let d = decide(&job, &cal(), paris("2026-05-06 12:30"), &h);
    assert_eq!(dates(&d.due), ["2026-05-06T10:00:00Z"]);
    h.done.insert("2026-05-06T10:00:00Z".into());
    assert!(
        decide(&job, &cal(), paris("2026-05-06 12:59"), &h)
            .due
            .is_empty()
    );
    assert_eq!(
        dates(&decide(&job, &cal(), paris("2026-05-06 13:00"), &h).due),
        ["2026-05-06T11:00:00Z"]
    );
    // Over a weekend, Monday 07:00 still sees Friday 19:00 as the latest slot.
    let d = decide(
        &job,
        &cal(),
        paris("2026-05-11 07:00"),
        &JobHistory::default(),
    );
    assert_eq!(
        dates(&d.due),
        ["2026-05-07T17:00:00Z"],
        "8 May is a holiday"
    );
}

/// Settlement across the last Sunday of March and of October 2026: every
/// working day settled exactly once, at 14:00 Paris time on both sides of
/// the change.
#[test]
fn dst_neither_skips_nor_doubles_a_settlement() {
    let job = job("settlement");
    for (from, to, expected) in [
        (
            "2026-03-26T00:00:00Z",
            "2026-04-01T00:00:00Z",
            // Thu, Fri in CET (13:00Z); Mon, Tue in CEST (12:00Z).
            vec![
                ("2026-03-26", "2026-03-26T13:00:00Z"),
                ("2026-03-27", "2026-03-27T13:00:00Z"),
                ("2026-03-30", "2026-03-30T12:00:00Z"),
                ("2026-03-31", "2026-03-31T12:00:00Z"),
            ],
        ),
        (
            "2026-10-22T00:00:00Z",
            "2026-10-28T00:00:00Z",
            vec![
                ("2026-10-22", "2026-10-22T12:00:00Z"),
                ("2026-10-23", "2026-10-23T12:00:00Z"),
                ("2026-10-26", "2026-10-26T13:00:00Z"),
                ("2026-10-27", "2026-10-27T13:00:00Z"),
            ],
        ),
    ] {
        let mut h = JobHistory {
            resume_from: Some(day(&from[..10])),
            ..Default::default()
        };
        let ran = simulate(&job, utc(from), utc(to), Duration::minutes(1), &mut h);
        let want: Vec<(String, DateTime<Utc>)> = expected
            .into_iter()
            .map(|(d, t)| (d.to_owned(), utc(t)))
            .collect();
        assert_eq!(ran, want);
    }
}

/// A job every day with slots inside the DST change itself (02:00, 02:30)
/// and the hourly watch slots: on the spring Sunday the two gap slots run
/// once at 03:00 CEST; on the autumn Sunday each runs once, at its first
/// occurrence, not again an hour later.
#[test]
fn dst_sundays_run_each_slot_once() {
    let text = "kind='watch'\ndays='every'\nat=['01:30','02:00','02:30','03:00','08:00','14:00']\n";
    let job = jobs::parse("j", text, "j.toml").unwrap().unwrap();
    let spring = simulate(
        &job,
        utc("2026-03-28T22:00:00Z"),
        utc("2026-03-29T21:59:00Z"),
        Duration::minutes(1),
        &mut JobHistory::default(),
    );
    let keys: Vec<&str> = spring.iter().map(|(k, _)| k.as_str()).collect();
    // Saturday's 14:00 (caught up at the first tick), then Sunday: 01:30
    // CET, the gap (02:00, 02:30 → 03:00 CEST, the same instant as 03:00),
    // 08:00, 14:00 CEST.
    assert_eq!(
        keys,
        [
            "2026-03-28T13:00:00Z",
            "2026-03-29T00:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T06:00:00Z",
            "2026-03-29T12:00:00Z"
        ]
    );
    assert!(
        spring[1..].iter().all(|(k, at)| utc(k) == *at),
        "each ran on time"
    );
    let autumn = simulate(
        &job,
        utc("2026-10-24T22:00:00Z"),
        utc("2026-10-25T22:59:00Z"),
        Duration::minutes(1),
        &mut JobHistory::default(),
    );
    let keys: Vec<&str> = autumn.iter().map(|(k, _)| k.as_str()).collect();
    // Saturday's 14:00 CEST, then 01:30, 02:00, 02:30 CEST (first
    // occurrence), 03:00 CET, 08:00, 14:00 CET.
    assert_eq!(
        keys,
        [
            "2026-10-24T12:00:00Z",
            "2026-10-24T23:30:00Z",
            "2026-10-25T00:00:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-25T02:00:00Z",
            "2026-10-25T07:00:00Z",
            "2026-10-25T13:00:00Z"
        ]
    );
}

#[test]
fn the_sla_report_runs_on_the_first_working_day_for_the_previous_month() {
    let job = job("sla-report");
    let c = cal();
    // 1 January 2027 is a holiday (Friday): the first working day is Monday 4.
    assert!(!Days::FirstWorkingDayOfMonth.includes(&c, day("2027-01-01")));
    assert!(Days::FirstWorkingDayOfMonth.includes(&c, day("2027-01-04")));
    assert!(!Days::FirstWorkingDayOfMonth.includes(&c, day("2027-01-05")));
    // 1 May 2026 is a Friday holiday: Monday 4 May.
    assert!(Days::FirstWorkingDayOfMonth.includes(&c, day("2026-05-04")));
    assert_eq!(
        sla_period(day("2027-01-04")),
        (day("2026-12-01"), day("2026-12-31"))
    );
    assert_eq!(
        sla_period(day("2026-03-02")),
        (day("2026-02-01"), day("2026-02-28"))
    );
    // Down since October's report: November's and December's are caught up.
    let h = JobHistory {
        done: ["2026-10".to_owned()].into(),
        resume_from: Some(day("2026-11-01")),
        ..Default::default()
    };
    let d = decide(&job, &c, paris("2027-01-05 10:00"), &h);
    assert_eq!(dates(&d.due), ["2026-11", "2026-12"]);
    assert_eq!(d.due[0].date, day("2026-12-01"));
    assert_eq!(d.due[1].date, day("2027-01-04"));
    // Not before 07:00 on the day.
    let d = decide(&job, &c, paris("2027-01-04 06:59"), &JobHistory::default());
    assert!(d.due.is_empty());
}

#[test]
fn the_next_settlement_date_for_the_watch() {
    let job = job("settlement");
    let c = cal();
    // Thursday 7 May, run not done yet: today. Done: Monday 11 (8 May holiday).
    assert_eq!(
        next_settlement_date(&job, &c, paris("2026-05-07 15:00"), false),
        day("2026-05-07")
    );
    assert_eq!(
        next_settlement_date(&job, &c, paris("2026-05-07 15:00"), true),
        day("2026-05-11")
    );
    let next = next_slot_after(&job, &c, paris("2026-05-07 15:00")).unwrap();
    assert_eq!(next.at, paris("2026-05-11 14:00"));
}
