//! Practitioners, members, their bank-detail history, and the import log.

use chrono::NaiveDate;
use sqlx::{QueryBuilder, Row};

use super::{Result, Tx, on_tx, rows_per_statement};
use crate::domain::{AdherentId, Bic, CountryCode, Iban, PayeeKind, PsId};

/// Values bound per row by each upsert below.
const PRACTITIONER_BINDS: usize = 12;
const ADHERENT_BINDS: usize = 8;
const BANK_BINDS: usize = 7;

/// Rows of one upsert statement: a caller that streams a file hands rows
/// over in batches of this size, one statement each (the bank details of a
/// batch fit in one statement too: they bind fewer values a row).
pub const PRACTITIONERS_PER_STATEMENT: usize = rows_per_statement(PRACTITIONER_BINDS);
pub const ADHERENTS_PER_STATEMENT: usize = rows_per_statement(ADHERENT_BINDS);

pub struct PractitionerRow {
    pub ps_id: PsId,
    pub rpps: Option<String>,
    pub name: String,
    pub profession: String,
    pub address_line: String,
    pub postcode: String,
    pub city: String,
    pub country: CountryCode,
    pub email: Option<String>,
    pub flux_agreement_from: NaiveDate,
    pub tp_agreement_from: Option<NaiveDate>,
}

pub struct AdherentRow {
    pub adherent_id: AdherentId,
    pub name: String,
    pub centre: String,
    pub address_line: Option<String>,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub country: Option<CountryCode>,
}

pub struct BankRow {
    pub holder_kind: PayeeKind,
    pub holder_id: String,
    pub valid_from: NaiveDate,
    pub iban: Iban,
    pub bic: Option<Bic>,
    pub account_holder: String,
}

/// One line of the append-only import log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportRecord {
    pub sha256: String,
    pub kind: String,
    pub file_name: String,
    pub rows_read: i64,
    pub accepted: i64,
    pub rejected: i64,
    pub ignored: i64,
    pub imported_at: String,
}

impl Tx {
    /// One import at a time: on PostgreSQL an import waits here for the one
    /// in progress (a lock held until its transaction ends), so that it
    /// finds that import's file, claims and parties when it looks for
    /// re-sends and duplicates, instead of failing on their keys when it
    /// inserts. SQLite: the write lock of `BEGIN IMMEDIATE` already does.
    pub async fn wait_for_other_imports(&mut self) -> Result<()> {
        if let Tx::Postgres(c) = self {
            sqlx::query(
                "SELECT pg_advisory_xact_lock(hashtext(current_database() || ':' || \
                 current_schema() || ':import'))",
            )
            .execute(&mut **c)
            .await?;
        }
        Ok(())
    }

    /// The earlier import of a file with this content, if any.
    pub async fn find_import(&mut self, sha256: &str) -> Result<Option<ImportRecord>> {
        let sql = "SELECT sha256, kind, file_name, rows_read, accepted, rejected, ignored, \
                   imported_at FROM imports WHERE sha256 = $1";
        let row = on_tx!(self, c => sqlx::query(sql).bind(sha256).fetch_optional(&mut **c).await?
            .map(|r| -> std::result::Result<ImportRecord, sqlx::Error> { Ok(ImportRecord {
                sha256: r.try_get(0)?, kind: r.try_get(1)?, file_name: r.try_get(2)?,
                rows_read: r.try_get(3)?, accepted: r.try_get(4)?, rejected: r.try_get(5)?,
                ignored: r.try_get(6)?, imported_at: r.try_get(7)?,
            })}).transpose()?);
        Ok(row)
    }

    pub async fn record_import(&mut self, rec: &ImportRecord) -> Result<()> {
        let sql = "INSERT INTO imports (sha256, kind, file_name, rows_read, accepted, rejected, \
                   ignored, imported_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        on_tx!(self, c => sqlx::query(sql)
            .bind(&rec.sha256).bind(&rec.kind).bind(&rec.file_name).bind(rec.rows_read)
            .bind(rec.accepted).bind(rec.rejected).bind(rec.ignored).bind(&rec.imported_at)
            .execute(&mut **c).await?.rows_affected());
        Ok(())
    }

    /// Inserts or updates practitioners (a later file with the same `ps_id`
    /// updates it, contract §2).
    pub async fn upsert_practitioners(
        &mut self,
        rows: &[PractitionerRow],
        sha: &str,
    ) -> Result<()> {
        for chunk in rows.chunks(rows_per_statement(PRACTITIONER_BINDS)) {
            on_tx!(self, c => {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO practitioners (ps_id, rpps, name, profession, address_line, \
                     postcode, city, country, email, flux_agreement_from, tp_agreement_from, \
                     import_sha256) ");
                qb.push_values(chunk, |mut b, r| {
                    b.push_bind(r.ps_id.as_str()).push_bind(r.rpps.as_deref())
                        .push_bind(r.name.as_str()).push_bind(r.profession.as_str())
                        .push_bind(r.address_line.as_str()).push_bind(r.postcode.as_str())
                        .push_bind(r.city.as_str()).push_bind(r.country.as_str())
                        .push_bind(r.email.as_deref()).push_bind(r.flux_agreement_from)
                        .push_bind(r.tp_agreement_from).push_bind(sha);
                });
                qb.push(
                    " ON CONFLICT (ps_id) DO UPDATE SET rpps = excluded.rpps, name = excluded.name, \
                     profession = excluded.profession, address_line = excluded.address_line, \
                     postcode = excluded.postcode, city = excluded.city, country = excluded.country, \
                     email = excluded.email, flux_agreement_from = excluded.flux_agreement_from, \
                     tp_agreement_from = excluded.tp_agreement_from, \
                     import_sha256 = excluded.import_sha256");
                qb.build().execute(&mut **c).await?;
            });
        }
        Ok(())
    }

    pub async fn upsert_adherents(&mut self, rows: &[AdherentRow], sha: &str) -> Result<()> {
        for chunk in rows.chunks(rows_per_statement(ADHERENT_BINDS)) {
            on_tx!(self, c => {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO adherents (adherent_id, name, centre, address_line, postcode, \
                     city, country, import_sha256) ");
                qb.push_values(chunk, |mut b, r| {
                    b.push_bind(r.adherent_id.as_str()).push_bind(r.name.as_str())
                        .push_bind(r.centre.as_str()).push_bind(r.address_line.as_deref())
                        .push_bind(r.postcode.as_deref()).push_bind(r.city.as_deref())
                        .push_bind(r.country.as_ref().map(|c| c.as_str())).push_bind(sha);
                });
                qb.push(
                    " ON CONFLICT (adherent_id) DO UPDATE SET name = excluded.name, \
                     centre = excluded.centre, address_line = excluded.address_line, \
                     postcode = excluded.postcode, city = excluded.city, \
                     country = excluded.country, import_sha256 = excluded.import_sha256");
                qb.build().execute(&mut **c).await?;
            });
        }
        Ok(())
    }

    /// Adds bank details to each holder's history. The same holder and
    /// `valid_from` again is a correction of that entry, not a new one.
    /// Returns how many entries were new or changed.
    pub async fn upsert_bank_details(&mut self, rows: &[BankRow], sha: &str) -> Result<u64> {
        let mut changed = 0;
        for chunk in rows.chunks(rows_per_statement(BANK_BINDS)) {
            changed += on_tx!(self, c => {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO bank_details (holder_kind, holder_id, valid_from, iban, bic, \
                     account_holder, import_sha256) ");
                qb.push_values(chunk, |mut b, r| {
                    b.push_bind(r.holder_kind.as_str()).push_bind(r.holder_id.as_str())
                        .push_bind(r.valid_from).push_bind(r.iban.electronic())
                        .push_bind(r.bic.as_ref().map(|b| b.as_str()))
                        .push_bind(r.account_holder.as_str()).push_bind(sha);
                });
                // The WHERE keeps an identical re-import from counting as a change.
                qb.push(
                    " ON CONFLICT (holder_kind, holder_id, valid_from) DO UPDATE SET \
                     iban = excluded.iban, bic = excluded.bic, \
                     account_holder = excluded.account_holder, import_sha256 = excluded.import_sha256 \
                     WHERE bank_details.iban <> excluded.iban \
                        OR COALESCE(bank_details.bic, '') <> COALESCE(excluded.bic, '') \
                        OR bank_details.account_holder <> excluded.account_holder");
                qb.build().execute(&mut **c).await?.rows_affected()
            });
        }
        Ok(changed)
    }
}

/// Row counts of the main tables: what an import changed, at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub imports: i64,
    pub practitioners: i64,
    pub adherents: i64,
    pub bank_details: i64,
    pub claims_accepted: i64,
    pub claims_rejected: i64,
    pub duplicates: i64,
}

impl super::Store {
    pub async fn counts(&self) -> Result<Counts> {
        let sql = "SELECT (SELECT COUNT(*) FROM imports), (SELECT COUNT(*) FROM practitioners), \
            (SELECT COUNT(*) FROM adherents), (SELECT COUNT(*) FROM bank_details), \
            (SELECT COUNT(*) FROM claims WHERE status = 'accepted'), \
            (SELECT COUNT(*) FROM claims WHERE status = 'rejected'), \
            (SELECT COUNT(*) FROM claim_duplicates)";
        type Row7 = (i64, i64, i64, i64, i64, i64, i64);
        let r: Row7 = super::on_pool!(self, p => sqlx::query_as(sql).fetch_one(p).await?);
        Ok(Counts {
            imports: r.0,
            practitioners: r.1,
            adherents: r.2,
            bank_details: r.3,
            claims_accepted: r.4,
            claims_rejected: r.5,
            duplicates: r.6,
        })
    }

    /// A claim's status and reject code, for support and tests.
    pub async fn claim_status(
        &self,
        ps_id: &str,
        invoice_no: u32,
    ) -> Result<Option<(String, Option<String>)>> {
        let sql = "SELECT status, reject_code FROM claims WHERE ps_id = $1 AND invoice_no = $2";
        Ok(
            super::on_pool!(self, p => sqlx::query_as(sql).bind(ps_id).bind(i64::from(invoice_no)).fetch_optional(p).await?),
        )
    }

    /// The bank details of a holder valid on `on`, as (IBAN, valid_from).
    pub async fn bank_details_on(
        &self,
        kind: PayeeKind,
        holder_id: &str,
        on: NaiveDate,
    ) -> Result<Option<(String, NaiveDate)>> {
        let sql = "SELECT iban, valid_from FROM bank_details WHERE holder_kind = $1 AND holder_id = $2 \
                   AND valid_from <= $3 ORDER BY valid_from DESC LIMIT 1";
        Ok(
            super::on_pool!(self, p => sqlx::query_as(sql).bind(kind.as_str()).bind(holder_id).bind(on).fetch_optional(p).await?),
        )
    }
}
