//! The `jobs/` directory: one TOML file per job, the file name (without
//! `.toml`) being the job's name. Format in `jobs/README.md` and
//! `docs/formats.md`.

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use serde::Deserialize;

use super::{Days, JobKind};

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{0}: no job file (*.toml) in it")]
    Empty(String),
}

/// One validated job.
#[derive(Clone, Debug)]
pub struct JobSpec {
    /// The file's name without `.toml`: appears in logs, metrics, `job_runs`.
    pub name: String,
    pub kind: JobKind,
    pub tz: Tz,
    pub days: Days,
    /// Local times, sorted. Settlement and SLA report use the first only.
    pub times: Vec<NaiveTime>,
    /// Output folder (settlement runs, reports); relative to the working directory.
    pub out: PathBuf,
    /// With no history in the database, catch-up starts here (else: today).
    pub start_date: Option<NaiveDate>,
    /// At most this many missed slots are caught up; older ones are reported.
    pub catch_up_limit: u32,
    /// A failed slot is tried again after this delay.
    pub retry_after_minutes: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    kind: JobKind,
    #[serde(default = "default_tz")]
    timezone: String,
    days: Days,
    at: Option<Vec<String>>,
    every_minutes: Option<u32>,
    from: Option<String>,
    to: Option<String>,
    out: Option<PathBuf>,
    start_date: Option<toml::value::Datetime>,
    catch_up_limit: Option<u32>,
    #[serde(default = "default_retry")]
    retry_after_minutes: u32,
    #[serde(default = "default_true")]
    enabled: bool,
}

fn default_tz() -> String {
    "Europe/Paris".into()
}

fn default_retry() -> u32 {
    15
}

fn default_true() -> bool {
    true
}

/// The schedule shipped in `jobs/`, used when the daemon finds no `jobs/`
/// directory (so `tpsettle daemon` works out of the box).
pub const BUILT_IN: [(&str, &str); 3] = [
    ("settlement", include_str!("../../jobs/settlement.toml")),
    ("watch", include_str!("../../jobs/watch.toml")),
    ("sla-report", include_str!("../../jobs/sla-report.toml")),
];

/// Reads every `*.toml` of `dir`, sorted by name; disabled jobs are left out.
pub fn load_dir(dir: &Path) -> Result<Vec<JobSpec>, JobError> {
    let read_err = |source| JobError::Read {
        path: dir.display().to_string(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    paths.sort();
    if paths.is_empty() {
        return Err(JobError::Empty(dir.display().to_string()));
    }
    let mut jobs = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| JobError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(job) = parse(&name, &text, &path.display().to_string())? {
            jobs.push(job);
        }
    }
    Ok(jobs)
}

/// The built-in schedule (same files as the repository's `jobs/`).
pub fn built_in() -> Vec<JobSpec> {
    BUILT_IN
        .iter()
        .filter_map(|(name, text)| parse(name, text, name).expect("built-in job is valid"))
        .collect()
}

/// Parses one job file; `None` when it says `enabled = false`.
pub fn parse(name: &str, text: &str, path: &str) -> Result<Option<JobSpec>, JobError> {
    let raw: RawJob = toml::from_str(text).map_err(|source| JobError::Parse {
        path: path.into(),
        source,
    })?;
    if !raw.enabled {
        return Ok(None);
    }
    let invalid = |message: String| JobError::Invalid {
        path: path.into(),
        message,
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    {
        return Err(invalid(format!(
            "job name {name:?} (the file name) must be letters, digits, - or _"
        )));
    }
    let tz: Tz = raw
        .timezone
        .parse()
        .map_err(|_| invalid(format!("unknown time zone {:?}", raw.timezone)))?;
    let times = times(&raw).map_err(invalid)?;
    let start_date = raw
        .start_date
        .map(|d| {
            d.to_string()
                .parse::<NaiveDate>()
                .map_err(|_| invalid(format!("start_date {d} is not a date")))
        })
        .transpose()?;
    let needs_out = matches!(raw.kind, JobKind::Settlement | JobKind::SlaReport);
    let out = match (raw.out, needs_out) {
        (Some(o), _) => o,
        (None, false) => PathBuf::new(),
        (None, true) => return Err(invalid("`out` (output folder) is required".into())),
    };
    let catch_up_limit = raw.catch_up_limit.unwrap_or(match raw.kind {
        JobKind::Settlement => 20,
        JobKind::SlaReport => 3,
        JobKind::Watch => 1,
    });
    if catch_up_limit == 0 {
        return Err(invalid("catch_up_limit must be at least 1".into()));
    }
    Ok(Some(JobSpec {
        name: name.to_owned(),
        kind: raw.kind,
        tz,
        days: raw.days,
        times,
        out,
        start_date,
        catch_up_limit,
        retry_after_minutes: raw.retry_after_minutes,
    }))
}

/// `at = ["14:00"]`, or `every_minutes` from `from` to `to` inclusive.
fn times(raw: &RawJob) -> Result<Vec<NaiveTime>, String> {
    let parse = |s: &str| {
        NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| format!("{s:?} is not a time HH:MM"))
    };
    let mut times = match (&raw.at, raw.every_minutes) {
        (Some(at), None) => at.iter().map(|s| parse(s)).collect::<Result<Vec<_>, _>>()?,
        (None, Some(every)) => {
            let (Some(from), Some(to)) = (&raw.from, &raw.to) else {
                return Err("`every_minutes` needs `from` and `to`".into());
            };
            if every == 0 {
                return Err("every_minutes must be at least 1".into());
            }
            let (from, to) = (parse(from)?, parse(to)?);
            let mut out = Vec::new();
            let mut t = from;
            while t <= to {
                out.push(t);
                let (next, wrapped) =
                    t.overflowing_add_signed(chrono::Duration::minutes(every.into()));
                if wrapped != 0 {
                    break;
                }
                t = next;
            }
            out
        }
        _ => return Err("give either `at` or `every_minutes` (with `from` and `to`)".into()),
    };
    if times.is_empty() {
        return Err("the job has no time of day".into());
    }
    times.sort();
    times.dedup();
    Ok(times)
}
