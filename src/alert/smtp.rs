//! Delivery through the configured SMTP relay (lettre, rustls), with a
//! bounded number of attempts.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use super::{AlertError, Email};
use crate::config::{Smtp, SmtpSecurity};

/// Longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Sends `email` to `to`, trying `smtp.attempts` times with a doubling pause
/// (1 s, 2 s, … at most 30 s). Every failure is logged; the last one is
/// returned.
pub async fn send(smtp: &Smtp, to: &[Mailbox], email: &Email) -> Result<(), AlertError> {
    let message = build(smtp, to, email)?;
    let transport = transport(smtp)?;
    let attempts = smtp.attempts.max(1);
    let mut pause = Duration::from_secs(1);
    let mut last = String::new();
    for attempt in 1..=attempts {
        match transport.send(message.clone()).await {
            Ok(_) => return Ok(()),
            Err(e) => {
                last = e.to_string();
                tracing::warn!(host = %smtp.host, port = smtp.port(), attempt, attempts, error = %last, "SMTP delivery failed");
            }
        }
        if attempt < attempts {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_BACKOFF);
        }
    }
    tracing::error!(host = %smtp.host, port = smtp.port(), attempts, error = %last, "alert e-mail not delivered; the next watch tries again");
    Err(AlertError::Smtp {
        host: smtp.host.clone(),
        port: smtp.port(),
        attempts,
        last,
    })
}

fn build(smtp: &Smtp, to: &[Mailbox], email: &Email) -> Result<Message, AlertError> {
    let mut b = Message::builder()
        .from(smtp.from.clone())
        .subject(email.subject.clone())
        .header(ContentType::TEXT_PLAIN);
    for r in to {
        b = b.to(r.clone());
    }
    // lettre picks the transfer encoding: 7bit, or quoted-printable when a
    // line is longer than SMTP allows unencoded.
    b.body(email.body.clone())
        .map_err(|e| AlertError::Message(e.to_string()))
}

fn transport(smtp: &Smtp) -> Result<AsyncSmtpTransport<Tokio1Executor>, AlertError> {
    let smtp_err = |e: lettre::transport::smtp::Error| AlertError::Smtp {
        host: smtp.host.clone(),
        port: smtp.port(),
        attempts: 0,
        last: e.to_string(),
    };
    // `starttls_relay` requires STARTTLS (no silent downgrade to clear text);
    // `relay` speaks TLS from the first byte.
    let builder = match smtp.security {
        SmtpSecurity::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(smtp_err)?
        }
        SmtpSecurity::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(smtp_err)?
        }
        SmtpSecurity::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
    };
    let mut builder = builder
        .port(smtp.port())
        .timeout(Some(Duration::from_secs(smtp.timeout_secs)));
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose_secret().to_owned(),
        ));
    }
    Ok(builder.build())
}
