//! `tpsettle`: the command line. It parses arguments and calls the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use tpsettle::calendar::Calendar;
use tpsettle::config::Config;
use tpsettle::import::{self, ImportError, Kind};
use tpsettle::settlement::Settlement;
use tpsettle::store::Store;

/// mimalloc rather than glibc's malloc, for Rust and (feature `override`)
/// for SQLite's C code too: on a national day glibc's per-thread arenas
/// kept ~800 MB of freed memory, the statements' rendering threads' most
/// of it (docs/performance.md, "ten million claims again").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tpsettle",
    version,
    about = "Daily tiers-payant settlement for a French mutuelle"
)]
struct Cli {
    /// sqlite://PATH or postgres://… (default: $DATABASE_URL, else sqlite://tpsettle.db)
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        default_value = "sqlite://tpsettle.db"
    )]
    db: String,
    /// TOML configuration (default: ./tpsettle.toml when present, else built-in demo values)
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a synthetic day, import it, settle it, and show where the files are.
    Demo {
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Business date to settle (default: today in Paris).
        #[arg(long)]
        date: Option<NaiveDate>,
    },
    /// Write practitioners.csv, adherents.csv and claims.csv for a synthetic day.
    Gen {
        #[arg(long)]
        practitioners: usize,
        #[arg(long)]
        claims: usize,
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        date: NaiveDate,
        #[arg(long)]
        out: PathBuf,
    },
    /// Load a CSV file (all or nothing).
    Import {
        #[arg(value_enum)]
        kind: ImportKind,
        file: PathBuf,
    },
    /// Settle every accepted, unpaid claim received before DATE.
    Settle {
        #[arg(long)]
        date: NaiveDate,
        #[arg(long)]
        out: PathBuf,
        /// Print the run manifest on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Accepted unpaid claims that are late or at risk; e-mails a digest when SMTP is configured.
    Watch {
        /// Evaluate at this instant (RFC 3339) instead of now.
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// Print the contract's JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Job definitions (for the next settlement run's date).
        #[arg(long, default_value = "jobs")]
        jobs: PathBuf,
    },
    /// Run the jobs/ schedule until SIGTERM; serve /health and /metrics.
    Daemon {
        #[arg(long, default_value = "127.0.0.1:9187")]
        listen: std::net::SocketAddr,
        /// Job definitions: one TOML file per job (built-in schedule when the folder is missing).
        #[arg(long, default_value = "jobs")]
        jobs: PathBuf,
    },
    /// RSP return files.
    Rsp {
        #[command(subcommand)]
        command: RspCommand,
    },
    /// Reports for auditors.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// SLA report of the TP claims received FROM to TO: CSV, Parquet and sla.html in OUT.
    Sla {
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        to: NaiveDate,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum RspCommand {
    /// Print an RSP file one entity a line as JSON.
    Decode { file: PathBuf },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ImportKind {
    Practitioners,
    Adherents,
    Claims,
}

impl From<ImportKind> for Kind {
    fn from(k: ImportKind) -> Kind {
        match k {
            ImportKind::Practitioners => Kind::Practitioners,
            ImportKind::Adherents => Kind::Adherents,
            ImportKind::Claims => Kind::Claims,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tpsettle::telemetry::init();
    // Crash tests only: a fail point's panic must look like `kill -9`
    // (no unwinding, no destructor, no rollback), hence the abort.
    #[cfg(feature = "failpoints")]
    let _failpoints = {
        std::panic::set_hook(Box::new(|info| {
            eprintln!("fail point: {info}");
            std::process::abort();
        }));
        fail::FailScenario::setup()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each cause once: sqlx's errors and ours that
/// wrap them put their source in their own message too, so the plain chain
/// (`{:#}`) said "unable to open database file" three times.
fn describe(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    text
}

async fn run(cli: Cli) -> Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    let calendar = Calendar::new(&config.calendar);
    match cli.command {
        Command::Gen {
            practitioners,
            claims,
            seed,
            date,
            out,
        } => {
            let spec = tpsettle::generator::GenSpec {
                practitioners,
                claims,
                seed,
                date,
            };
            let summary = tpsettle::generator::generate(&spec, &calendar, &out)?;
            println!("{summary}");
            Ok(())
        }
        Command::Rsp {
            command: RspCommand::Decode { file },
        } => {
            let f = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            match tpsettle::rsp::decode_to_json_lines(f, std::io::stdout().lock()) {
                // `| head` closing the pipe is the reader's choice, not an error.
                Err(tpsettle::rsp::RspError::Io(e))
                    if e.kind() == std::io::ErrorKind::BrokenPipe =>
                {
                    Ok(())
                }
                other => other
                    .map(|_| ())
                    .with_context(|| file.display().to_string()),
            }
        }
        command => {
            let store = Store::connect(&cli.db).await.with_context(|| {
                format!(
                    "cannot open database {}",
                    tpsettle::redact::database_url(&cli.db)
                )
            })?;
            let result = with_store(&store, &config, &calendar, command).await;
            store.close().await;
            result
        }
    }
}

async fn with_store(
    store: &Store,
    config: &Config,
    calendar: &Calendar,
    command: Command,
) -> Result<()> {
    let settlement = Settlement {
        store,
        config,
        calendar,
    };
    match command {
        Command::Import { kind, file } => import_one(store, calendar, kind.into(), &file).await,
        Command::Settle { date, out, json } => {
            let report = settlement.settle(date, &out).await?;
            if json {
                let manifest = std::fs::read_to_string(report.manifest_path())?;
                print!("{manifest}");
            } else {
                print!("{report}");
            }
            Ok(())
        }
        Command::Demo { out, date } => tpsettle::demo::run(&settlement, &out, date)
            .await
            .map(|s| print!("{s}"))
            .map_err(Into::into),
        Command::Watch { at, json, jobs } => watch(store, config, calendar, at, json, &jobs).await,
        Command::Daemon { listen, jobs } => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let ctx = std::sync::Arc::new(tpsettle::daemon::Context {
                store: store.clone(),
                config: config.clone(),
                calendar: calendar.clone(),
                jobs: load_jobs(&jobs)?,
                clock: std::sync::Arc::new(tpsettle::schedule::SystemClock),
            });
            tpsettle::daemon::run(ctx, listener, tpsettle::daemon::shutdown_signal()).await?;
            Ok(())
        }
        Command::Report {
            command: ReportCommand::Sla { from, to, out },
        } => {
            let summary =
                tpsettle::report::sla_report(store, config, calendar, from, to, &out).await?;
            print!("{summary}");
            Ok(())
        }
        Command::Gen { .. } | Command::Rsp { .. } => unreachable!("handled without a database"),
    }
}

async fn import_one(store: &Store, calendar: &Calendar, kind: Kind, file: &Path) -> Result<()> {
    match import::import_file(store, calendar, kind, file).await {
        Ok(outcome) => {
            println!("{outcome}");
            Ok(())
        }
        Err(ImportError::Refused(problems)) => {
            eprintln!("{problems}");
            anyhow::bail!("{}: refused", file.display())
        }
        Err(e) => Err(e.into()),
    }
}

/// `DIR/*.toml`, or the built-in schedule when DIR does not exist.
fn load_jobs(dir: &Path) -> Result<Vec<tpsettle::schedule::JobSpec>> {
    if dir.is_dir() {
        return Ok(tpsettle::schedule::load_dir(dir)?);
    }
    tracing::info!(dir = %dir.display(), "no jobs folder: using the built-in schedule");
    Ok(tpsettle::schedule::jobs::built_in())
}

async fn watch(
    store: &Store,
    config: &Config,
    calendar: &Calendar,
    at: Option<chrono::DateTime<chrono::FixedOffset>>,
    json: bool,
    jobs: &Path,
) -> Result<()> {
    let jobs = load_jobs(jobs)?;
    let settlement = tpsettle::daemon::settlement_job(&jobs);
    let now = at.map_or_else(chrono::Utc::now, |t| t.with_timezone(&chrono::Utc));
    let report = tpsettle::watch::Watch {
        store,
        calendar,
        settlement: &settlement,
        jobs: &jobs,
    }
    .run(now)
    .await?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    let outcome = tpsettle::alert::notify(store, config, &report).await?;
    tracing::info!(?outcome, "alert");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn each_cause_is_said_once() {
        let e = anyhow::Error::from(std::io::Error::other("disk full"))
            .context("writing x.rsp: disk full")
            .context("cannot settle");
        assert_eq!(describe(&e), "cannot settle: writing x.rsp: disk full");
        let e = anyhow::Error::from(std::io::Error::other("disk full")).context("writing x.rsp");
        assert_eq!(describe(&e), "writing x.rsp: disk full");
    }
}
