//! `tpsettle.toml`: who the mutuelle is, which account pays, the calendar,
//! the SEPA version. Values are parsed into validated types on load, so a
//! bad IBAN in the configuration stops the program before any run starts.

use std::path::Path;

use serde::Deserialize;

use crate::calendar::CalendarConfig;
use crate::domain::{Bic, CountryCode, Iban};
use crate::sepa::PainVersion;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid configuration {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub mutuelle: Mutuelle,
    pub debtor: Debtor,
    pub sepa: Sepa,
    pub calendar: CalendarConfig,
    /// Outgoing mail for alerts; absent = alerts are only logged.
    pub smtp: Option<Smtp>,
    pub alerts: Alerts,
    /// Late-payment penalties of the SLA report; none when absent.
    pub penalties: Option<crate::report::penalty::PenaltyScale>,
}

/// The sender: printed on statements, named in RSP headers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mutuelle {
    /// Identifier in RSP headers (at most 14 characters).
    pub id: String,
    pub name: String,
    pub address_line: String,
    pub postcode: String,
    pub city: String,
    pub country: CountryCode,
}

/// The account the transfers are paid from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Debtor {
    pub name: String,
    pub iban: Iban,
    pub bic: Option<Bic>,
    pub initiating_party: String,
    /// Creditor/initiator identifier given by the bank, if any.
    pub initiating_party_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sepa {
    /// `pain.001.001.09` (default) or `pain.001.001.03`.
    pub version: PainVersion,
    /// Optional ISO category purpose of the transfers (e.g. `SUPP`).
    pub category_purpose: Option<String>,
}

impl Default for Sepa {
    fn default() -> Self {
        Self {
            version: PainVersion::V09,
            category_purpose: None,
        }
    }
}

/// The SMTP relay alerts go through (see `docs/operations.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    /// Default: 587 for `starttls`, 465 for `tls`, 25 for `plain`.
    pub port: Option<u16>,
    #[serde(default)]
    pub security: SmtpSecurity,
    pub username: Option<String>,
    /// Never logged: `SecretString` prints as `[REDACTED]`.
    pub password: Option<secrecy::SecretString>,
    /// Sender, e.g. `tpsettle <tpsettle@mutuelle.example>`.
    #[serde(deserialize_with = "mailbox::one")]
    pub from: lettre::message::Mailbox,
    /// Per SMTP conversation (connect, TLS, send).
    #[serde(default = "default_smtp_timeout")]
    pub timeout_secs: u64,
    /// Tries per alert before giving up until the next watch.
    #[serde(default = "default_smtp_attempts")]
    pub attempts: u32,
}

fn default_smtp_timeout() -> u64 {
    30
}

fn default_smtp_attempts() -> u32 {
    3
}

/// How the SMTP connection is protected. Never downgraded: `starttls`
/// refuses a server that does not offer STARTTLS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (submission, port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
    /// No encryption: only for a relay on the same host or a test server.
    Plain,
}

impl Smtp {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::Plain => 25,
        })
    }
}

/// Who gets the late-payment alerts, and how long a digest may be.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Alerts {
    #[serde(deserialize_with = "mailbox::many")]
    pub recipients: Vec<lettre::message::Mailbox>,
    /// Prefix of every subject, to filter mail.
    pub subject_prefix: String,
    /// Claims listed in one digest; the rest are counted.
    pub max_lines: usize,
}

impl Default for Alerts {
    fn default() -> Self {
        Self {
            recipients: Vec::new(),
            subject_prefix: "[tpsettle]".into(),
            max_lines: 200,
        }
    }
}

/// Addresses are checked when the configuration is read.
mod mailbox {
    use lettre::message::Mailbox;
    use serde::{Deserialize, Deserializer, de::Error};

    pub fn one<'de, D: Deserializer<'de>>(d: D) -> Result<Mailbox, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e| D::Error::custom(format!("invalid e-mail address {s:?}: {e}")))
    }

    pub fn many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Mailbox>, D::Error> {
        Vec::<String>::deserialize(d)?
            .into_iter()
            .map(|s| {
                s.parse()
                    .map_err(|e| D::Error::custom(format!("invalid e-mail address {s:?}: {e}")))
            })
            .collect()
    }
}

impl Default for Mutuelle {
    fn default() -> Self {
        Self {
            id: "MUTDEMO".into(),
            name: "Mutuelle Démo des Tiers-Payants".into(),
            address_line: "12 rue de la Solidarité".into(),
            postcode: "75011".into(),
            city: "Paris".into(),
            country: CountryCode::FR,
        }
    }
}

impl Default for Debtor {
    /// A demo account: a checksum-valid IBAN that belongs to no one.
    fn default() -> Self {
        Self {
            name: "Mutuelle Demo des Tiers-Payants".into(),
            iban: "FR7630006000011234567890189"
                .parse()
                .expect("valid demo IBAN"),
            bic: Some("AGRIFRPPXXX".parse().expect("valid demo BIC")),
            initiating_party: "Mutuelle Demo".into(),
            initiating_party_id: None,
        }
    }
}

impl From<&Debtor> for crate::sepa::Debtor {
    fn from(d: &Debtor) -> Self {
        Self {
            name: d.name.clone(),
            iban: d.iban.clone(),
            bic: d.bic.clone(),
            initiating_party: d.initiating_party.clone(),
            initiating_party_id: d.initiating_party_id.clone(),
        }
    }
}

impl Config {
    /// Reads `path`, or `tpsettle.toml` in the working directory when it
    /// exists, or falls back to the built-in demo defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let default_path = Path::new("tpsettle.toml");
        let path = match path {
            Some(p) => p,
            None if default_path.exists() => default_path,
            None => return Ok(Config::default()),
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|source| ConfigError::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    pub fn parse(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_demo_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.sepa.version, PainVersion::V09);
        assert_eq!(c.mutuelle.id, "MUTDEMO");
    }

    #[test]
    fn bad_iban_is_refused_on_load() {
        let t = "[debtor]\nname='x'\niban='FR7630006000011234567890188'\ninitiating_party='x'\n";
        let e = Config::parse(t).unwrap_err().to_string();
        assert!(e.contains("IBAN"), "{e}");
    }

    #[test]
    fn smtp_password_is_never_printed() {
        let t = "[smtp]\nhost='mail.example'\nusername='u'\npassword='hunter2-secret'\nfrom='tpsettle <t@mutuelle.example>'\n[alerts]\nrecipients=['ops@mutuelle.example']\n";
        let c = Config::parse(t).unwrap();
        let smtp = c.smtp.as_ref().unwrap();
        assert_eq!((smtp.security, smtp.port()), (SmtpSecurity::Starttls, 587));
        assert_eq!(c.alerts.recipients.len(), 1);
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn bad_alert_address_is_refused() {
        let e = Config::parse("[alerts]\nrecipients=['not an address']\n").unwrap_err();
        assert!(e.to_string().contains("invalid e-mail address"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(Config::parse("[sepa]\nversoin='x'\n").is_err());
    }
}
