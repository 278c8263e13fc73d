//! The run's SEPA credit-transfer file: one transfer per payee, a
//! payment-information block per payee kind (practitioners in tiers-payant,
//! members in hors tiers-payant).

use std::path::Path;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::{SettleError, Settlement};
use crate::domain::{Amount, Bic, CountryCode, Iban};
use crate::output::{self, StagedFile};
use crate::sepa::{CreditTransfer, GroupHeader, PaymentInfo, PostalAddress, SepaWriter};
use crate::store::StoreError;
use crate::store::runs::{PaymentLine, Run, RunSums};

/// Writes `sepa/<run_id>.xml`; returns it with its control sum in cents.
pub(super) async fn write(
    s: &Settlement<'_>,
    run: &Run,
    run_dir: &Path,
    sums: &RunSums,
) -> Result<(StagedFile, i64), SettleError> {
    let (target, out) = output::create(run_dir, &format!("sepa/{}.xml", run.run_id))?;
    let header = GroupHeader {
        msg_id: run.run_id.clone(),
        created_at: paris_time(&run.created_at)?,
        nb_of_txs: sums.payments() as u64,
        ctrl_sum: cents(sums.cents())?,
    };
    let debtor = (&s.config.debtor).into();
    let mut w = SepaWriter::new(out, s.config.sepa.version, &header, &debtor)?;
    let mut block: Option<String> = None;
    let mut ctrl_cents = 0i64;
    s.store
        .stream_payment_lines(&run.run_id, |p: PaymentLine| -> Result<(), SettleError> {
            if block.as_deref() != Some(p.payee_kind.as_str()) {
                if block.is_some() {
                    w.end_payment_info()?;
                }
                w.begin_payment_info(&payment_info(s, run, sums, &p.payee_kind)?)?;
                block = Some(p.payee_kind.clone());
            }
            ctrl_cents += p.amount_cents;
            transfer(s, &mut w, &p)
        })
        .await?;
    if block.is_some() {
        w.end_payment_info()?;
    }
    let out = w.finish()?;
    Ok((target.seal(out)?, ctrl_cents))
}

fn payment_info(
    s: &Settlement<'_>,
    run: &Run,
    sums: &RunSums,
    kind: &str,
) -> Result<PaymentInfo, SettleError> {
    let (suffix, n, total) = match kind {
        "practitioner" => ("TP", sums.practitioner_payments, sums.practitioner_cents),
        _ => ("HTP", sums.adherent_payments, sums.adherent_cents),
    };
    Ok(PaymentInfo {
        pmt_inf_id: format!("{}-{suffix}", run.run_id),
        execution_date: run.execution_date,
        nb_of_txs: n as u64,
        ctrl_sum: cents(total)?,
        category_purpose: s.config.sepa.category_purpose.clone(),
    })
}

fn transfer<W: std::io::Write>(
    s: &Settlement<'_>,
    w: &mut SepaWriter<W>,
    p: &PaymentLine,
) -> Result<(), SettleError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("payment {}: {what}", p.reference));
    let iban: Iban = p
        .iban
        .parse()
        .map_err(|_| corrupt("stored IBAN does not parse"))?;
    let bic: Option<Bic> = p
        .bic
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|_| corrupt("stored BIC does not parse"))?;
    let address = address(p);
    // The payment reference and a count: nothing about patients or care.
    let remittance = match p.payee_kind.as_str() {
        "practitioner" => format!(
            "TIERS PAYANT {} REF {} {} FACTURE(S)",
            s.config.mutuelle.id, p.reference, p.claims_count
        ),
        _ => format!(
            "REMBOURSEMENT {} REF {} {} DEMANDE(S)",
            s.config.mutuelle.id, p.reference, p.claims_count
        ),
    };
    w.transfer(&CreditTransfer {
        end_to_end_id: &p.reference,
        amount: cents(p.amount_cents)?,
        creditor_name: &p.account_holder,
        creditor_iban: &iban,
        creditor_bic: bic.as_ref(),
        creditor_address: address.as_ref(),
        remittance: &remittance,
    })?;
    Ok(())
}

/// Structured address (town and country at least, EPC rules from November
/// 2026) when the payee has one on file.
fn address(p: &PaymentLine) -> Option<PostalAddress> {
    let town = p.city.clone()?;
    let country = p
        .country
        .as_deref()
        .unwrap_or("FR")
        .parse::<CountryCode>()
        .ok()?;
    Some(PostalAddress {
        lines: p.address_line.iter().cloned().collect(),
        postcode: p.postcode.clone(),
        town,
        country,
    })
}

fn cents(c: i64) -> Result<Amount, SettleError> {
    Amount::from_cents(c).map_err(|e| StoreError::Corrupt(e.0).into())
}

/// `CreDtTm` in Paris local time, from the run's frozen creation instant.
fn paris_time(created_at: &str) -> Result<NaiveDateTime, SettleError> {
    let t: DateTime<Utc> = created_at
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("run created_at {created_at:?}")))?;
    Ok(t.with_timezone(&chrono_tz::Europe::Paris).naive_local())
}
