//! Alert e-mails of the late-payment watch: one digest per new problem set,
//! never the same alert twice, a recovery mail when everything is paid.
//!
//! What was last sent is kept in the database (`alert_state`,
//! `alert_items`), written only once the SMTP server accepted the mail: an
//! outage is logged, retried a bounded number of times, and the next watch
//! tries again. Settlement never waits for mail: it runs in its own task.

mod digest;
mod smtp;

use sha2::Digest as _;

use crate::config::Config;
use crate::store::jobs::AlertState;
use crate::store::{Store, StoreError};
use crate::watch::WatchReport;

pub use digest::{Email, digest_email, recovery_email};
pub use smtp::send;

/// The one alert channel today: the ops recipients of `[alerts]`.
pub const CHANNEL: &str = "ops";

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid alert e-mail: {0}")]
    Message(String),
    #[error("SMTP delivery to {host}:{port} failed after {attempts} attempt(s): {last}")]
    Smtp {
        host: String,
        port: u16,
        attempts: u32,
        last: String,
    },
}

/// What the alert state calls for, given the watch's problem keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Problems not in the last digest: send a digest of all of them.
    Digest { new: Vec<String> },
    /// Nothing is late or at risk any more, after a digest.
    Recovery,
    /// Nothing new. `forget` is true when problems disappeared and the
    /// stored set must shrink (silently), so a problem that comes back is new.
    Nothing { forget: bool },
}

/// Pure: compares the current problem keys with the last alert.
pub fn decide(keys: &[String], last: Option<&AlertState>) -> Action {
    let open = last.filter(|s| s.state == "problems");
    if keys.is_empty() {
        return match open {
            Some(_) => Action::Recovery,
            None => Action::Nothing { forget: false },
        };
    }
    let new: Vec<String> = keys
        .iter()
        .filter(|k| open.is_none_or(|s| !s.items.contains(*k)))
        .cloned()
        .collect();
    if !new.is_empty() {
        return Action::Digest { new };
    }
    let forget = open.is_some_and(|s| s.items.len() != keys.len());
    Action::Nothing { forget }
}

/// What [`notify`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    DigestSent {
        problems: usize,
        new: usize,
    },
    RecoverySent,
    NothingNew,
    /// No `[smtp]` or no recipients: the watch's log is the only alert.
    NotConfigured,
}

/// Sends what the watch report calls for and records it.
pub async fn notify(
    store: &Store,
    config: &Config,
    report: &WatchReport,
) -> Result<Outcome, AlertError> {
    let keys = report.keys();
    let last = store.alert_state(CHANNEL).await?;
    let action = decide(&keys, last.as_ref());
    let (email, state) = match &action {
        Action::Nothing { forget } => {
            if let (true, Some(last)) = (forget, last) {
                let mut s = last;
                s.items = keys.iter().cloned().collect();
                s.problems = keys.len() as i64;
                store.save_alert_state(CHANNEL, &s).await?;
            }
            return Ok(Outcome::NothingNew);
        }
        Action::Digest { new } => (digest_email(config, report, new.len()), "problems"),
        Action::Recovery => (
            recovery_email(config, report, last.as_ref().map_or(0, |s| s.problems)),
            "recovered",
        ),
    };
    let Some(smtp) = config
        .smtp
        .as_ref()
        .filter(|_| !config.alerts.recipients.is_empty())
    else {
        tracing::warn!(
            subject = %email.subject,
            "alert not e-mailed: no [smtp] section or no [alerts] recipients in the configuration"
        );
        return Ok(Outcome::NotConfigured);
    };
    send(smtp, &config.alerts.recipients, &email).await?;
    store
        .save_alert_state(
            CHANNEL,
            &AlertState {
                state: state.into(),
                fingerprint: fingerprint(&keys),
                problems: keys.len() as i64,
                sent_at: crate::store::timestamp(chrono::Utc::now()),
                items: keys.iter().cloned().collect(),
            },
        )
        .await?;
    tracing::info!(subject = %email.subject, recipients = config.alerts.recipients.len(), "alert e-mail sent");
    Ok(match action {
        Action::Digest { new } => Outcome::DigestSent {
            problems: keys.len(),
            new: new.len(),
        },
        _ => Outcome::RecoverySent,
    })
}

/// SHA-256 of the sorted problem keys: names a problem set in logs.
pub fn fingerprint(keys: &[String]) -> String {
    let mut h = sha2::Sha256::new();
    for k in keys {
        h.update(k.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(state: &str, items: &[&str]) -> AlertState {
        AlertState {
            state: state.into(),
            fingerprint: String::new(),
            problems: items.len() as i64,
            sent_at: String::new(),
            items: items.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_new_problem_set_is_sent_once_then_recovery() {
        assert_eq!(decide(&[], None), Action::Nothing { forget: false });
        let first = keys(&["late:A:1"]);
        assert_eq!(decide(&first, None), Action::Digest { new: first.clone() });
        let sent = state("problems", &["late:A:1"]);
        assert_eq!(
            decide(&first, Some(&sent)),
            Action::Nothing { forget: false }
        );
        let more = keys(&["at_risk:B:2", "late:A:1"]);
        assert_eq!(
            decide(&more, Some(&sent)),
            Action::Digest {
                new: keys(&["at_risk:B:2"])
            }
        );
        let sent = state("problems", &["at_risk:B:2", "late:A:1"]);
        // One paid: nothing to send, the set shrinks.
        assert_eq!(
            decide(&keys(&["late:A:1"]), Some(&sent)),
            Action::Nothing { forget: true }
        );
        assert_eq!(decide(&[], Some(&sent)), Action::Recovery);
        let recovered = state("recovered", &[]);
        assert_eq!(
            decide(&[], Some(&recovered)),
            Action::Nothing { forget: false }
        );
        // After a recovery, any problem is new again.
        assert_eq!(
            decide(&first, Some(&recovered)),
            Action::Digest { new: first }
        );
    }

    #[test]
    fn at_risk_turning_late_is_new() {
        let sent = state("problems", &["at_risk:A:1"]);
        assert_eq!(
            decide(&keys(&["late:A:1"]), Some(&sent)),
            Action::Digest {
                new: keys(&["late:A:1"])
            }
        );
    }
}
