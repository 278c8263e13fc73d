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
    /// RSP return files.
    Rsp {
        #[command(subcommand)]
        command: RspCommand,
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
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
            let store = Store::connect(&cli.db)
                .await
                .with_context(|| format!("cannot open database {}", redact(&cli.db)))?;
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

/// A database URL without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
            Some(c) => format!("{}:***{}", &url[..s + 3 + c], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}
