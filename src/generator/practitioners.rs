//! `practitioners.csv`: the payees of TP claims.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{Days, NaiveDate};
use rand::Rng;

use super::GenError;
use super::csv_out::CsvOut;
use super::ids;
use super::names::{
    BANKS, FIRST_NAMES, LAST_NAMES, MAIL_DOMAINS, TOWNS, ascii_slug, pick, pick_weighted,
    town_index,
};
use super::profession::{PROFESSION_SHARES, Profession};

pub(super) const FILE: &str = "practitioners.csv";

/// Contract §2 column order.
pub(super) const HEADER: &[&str] = &[
    "ps_id",
    "rpps",
    "name",
    "profession",
    "address_line",
    "postcode",
    "city",
    "country",
    "email",
    "flux_agreement_from",
    "tp_agreement_from",
    "iban",
    "bic",
    "account_holder",
    "bank_valid_from",
];

const NO_TP_AGREEMENT_SHARE: f64 = 0.05;
const NO_BANK_SHARE: f64 = 0.02;
/// Agreements start at least this long before the run date, so no claim in
/// the receipt window predates them (R02 then only comes from the planned
/// anomalies, which the summary can count exactly).
const MIN_AGREEMENT_AGE_DAYS: u64 = 60;
const MAX_EMAIL_LOCAL: usize = 32;

/// What the claims generator needs to know of a practitioner.
pub(super) struct PsLite {
    pub ps_id: String,
    pub profession: Profession,
    pub has_tp: bool,
    /// Relative claim volume.
    pub weight: u32,
    /// Next invoice number of this practitioner's software.
    pub next_invoice: u32,
}

/// Counts reported in the summary.
#[derive(Default)]
pub(super) struct PractitionerCounts {
    pub rows: usize,
    pub without_tp: usize,
    pub without_bank: usize,
}

/// Forced first rows, so that every file shows the awkward cases whatever
/// the seed: accents, apostrophes, `&`, `<>"`, a name over SEPA's 70
/// characters, a Corsican FINESS, a practitioner without TP agreement (R02
/// target) and one without bank details (held payments).
struct Showcase {
    name: &'static str,
    profession: Profession,
    postcode: &'static str,
    individual: bool,
    no_tp: bool,
    no_bank: bool,
}

const fn show(name: &'static str, profession: Profession, postcode: &'static str) -> Showcase {
    Showcase {
        name,
        profession,
        postcode,
        individual: !profession.is_establishment(),
        no_tp: false,
        no_bank: false,
    }
}

const SHOWCASE: &[Showcase] = &[
    show("Pharmacie de l'Église", Profession::Pharmacien, "42000"),
    show(
        "Dr Hélène Lefèvre-D'Aubigné",
        Profession::MedecinGeneraliste,
        "94240",
    ),
    Showcase {
        individual: false,
        ..show("Cabinet Noël & Associés", Profession::Kine, "97400")
    },
    show(
        "Ørsted & Fils <SARL> \"Œuvre\"",
        Profession::Opticien,
        "67000",
    ),
    Showcase {
        individual: false,
        ..show(
            "Cabinet de masso-kinésithérapie et de rééducation fonctionnelle du Val-d'Oise & de l'Oise",
            Profession::Kine,
            "95000",
        )
    },
    Showcase {
        no_tp: true,
        ..show("Dr Loïc Le Goff", Profession::MedecinGeneraliste, "29200")
    },
    Showcase {
        no_bank: true,
        ..show("Zoé N'Diaye", Profession::Infirmier, "13005")
    },
    show("Pharmacie du Port", Profession::Pharmacien, "20000"),
    show(
        "Centre de santé municipal Louise-Michel",
        Profession::CentreDeSante,
        "93200",
    ),
];

/// One row, before formatting.
struct Row {
    ps_id: String,
    rpps: String,
    name: String,
    profession: Profession,
    address_line: String,
    town: usize,
    email: String,
    flux_from: NaiveDate,
    tp_from: Option<NaiveDate>,
    bank: Option<BankDetails>,
}

/// Bank details as written (IBAN in electronic or paper form).
pub(super) struct BankDetails {
    pub iban: String,
    pub bic: String,
    pub holder: String,
    pub valid_from: NaiveDate,
}

/// Writes the file and returns what the claims need, in file order.
pub(super) fn write<R: Rng>(
    rng: &mut R,
    count: usize,
    date: NaiveDate,
    dir: &Path,
) -> Result<(Vec<PsLite>, PractitionerCounts), GenError> {
    let mut out = CsvOut::create(dir, FILE, HEADER)?;
    let mut taken_ps = BTreeSet::new();
    let mut taken_rpps = BTreeSet::new();
    let mut lites = Vec::with_capacity(count);
    let mut counts = PractitionerCounts::default();
    for i in 0..count {
        let row = make_row(rng, SHOWCASE.get(i), date, &mut taken_ps, &mut taken_rpps);
        counts.rows += 1;
        counts.without_tp += usize::from(row.tp_from.is_none());
        counts.without_bank += usize::from(row.bank.is_none());
        write_row(&mut out, &row)?;
        lites.push(PsLite {
            weight: row.profession.billing_weight() * rng.random_range(1..=10),
            next_invoice: rng.random_range(1..=500_000_000),
            ps_id: row.ps_id,
            profession: row.profession,
            has_tp: row.tp_from.is_some(),
        });
    }
    out.finish()?;
    Ok((lites, counts))
}

fn make_row<R: Rng>(
    rng: &mut R,
    showcase: Option<&Showcase>,
    date: NaiveDate,
    taken_ps: &mut BTreeSet<String>,
    taken_rpps: &mut BTreeSet<String>,
) -> Row {
    let profession =
        showcase.map_or_else(|| *pick_weighted(rng, PROFESSION_SHARES), |s| s.profession);
    let town = showcase.map_or_else(
        || rng.random_range(0..TOWNS.len()),
        |s| town_index(s.postcode),
    );
    let individual = showcase.map_or(!profession.is_establishment(), |s| s.individual);
    let person = format!("{} {}", pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES));
    let name = match showcase {
        Some(s) => s.name.to_owned(),
        None => profession.practitioner_name(rng, &person, &TOWNS[town]),
    };
    let category = if individual {
        profession.id_category().max(1)
    } else {
        0
    };
    let ps_id = ids::ps_id(rng, TOWNS[town].dept, category, taken_ps);
    let rpps = if individual {
        ids::rpps(rng, taken_rpps)
    } else {
        String::new()
    };
    let flux_from = days_before(date, rng.random_range(MIN_AGREEMENT_AGE_DAYS..=4000));
    let no_tp = showcase.map_or_else(|| rng.random_bool(NO_TP_AGREEMENT_SHARE), |s| s.no_tp);
    let tp_from = (!no_tp).then(|| tp_start(rng, flux_from, date));
    let no_bank = showcase.map_or_else(|| rng.random_bool(NO_BANK_SHARE), |s| s.no_bank);
    let holder = if individual {
        person_of(&name)
    } else {
        name.clone()
    };
    let bank = (!no_bank).then(|| french_bank(rng, holder, date));
    let email = email(rng, &name);
    Row {
        ps_id,
        rpps,
        name,
        profession,
        address_line: address_line(rng),
        town,
        email,
        flux_from,
        tp_from,
        bank,
    }
}

/// The TP agreement follows the flux agreement by up to a year, and is
/// never younger than [`MIN_AGREEMENT_AGE_DAYS`].
fn tp_start<R: Rng>(rng: &mut R, flux_from: NaiveDate, date: NaiveDate) -> NaiveDate {
    let latest = days_before(date, MIN_AGREEMENT_AGE_DAYS);
    flux_from
        .checked_add_days(Days::new(rng.random_range(0..=365)))
        .unwrap_or(latest)
        .min(latest)
}

/// Individuals hold their account in their own name, without the `Dr`.
fn person_of(name: &str) -> String {
    name.strip_prefix("Dr ").unwrap_or(name).to_owned()
}

pub(super) fn days_before(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_sub_days(Days::new(days)).unwrap_or(date)
}

/// French bank details valid since a past date; BIC absent for 15 % (it is
/// optional for SEPA), IBAN in paper form for 3 %.
pub(super) fn french_bank<R: Rng>(rng: &mut R, holder: String, date: NaiveDate) -> BankDetails {
    let (code, bic) = pick(rng, BANKS);
    let iban = ids::french_iban(rng, code);
    let iban = if rng.random_bool(0.03) {
        ids::print_form(&iban)
    } else {
        iban
    };
    let bic = match rng.random_range(0..100) {
        0..15 => String::new(),
        15..40 if bic.len() == 8 => format!("{bic}XXX"),
        _ => (*bic).to_owned(),
    };
    BankDetails {
        iban,
        bic,
        holder,
        valid_from: days_before(date, rng.random_range(30..=2500)),
    }
}

pub(super) fn address_line<R: Rng>(rng: &mut R) -> String {
    let number = rng.random_range(1..=180);
    let suffix = *pick_weighted(rng, &[("", 90), (" bis", 7), (" ter", 3)]);
    format!("{number}{suffix} {}", pick(rng, super::names::STREETS))
}

/// About 55 % have an address, at a documentation-only domain.
fn email<R: Rng>(rng: &mut R, name: &str) -> String {
    if !rng.random_bool(0.55) {
        return String::new();
    }
    let slug = ascii_slug(person_of(name).as_str()).replacen('-', ".", 1);
    // RFC 5321 allows 64 characters before the `@`; real ones are short.
    let local = slug
        .get(..MAX_EMAIL_LOCAL)
        .unwrap_or(&slug)
        .trim_end_matches(['-', '.']);
    let local = if local.is_empty() { "contact" } else { local };
    format!("{local}@{}", pick(rng, MAIL_DOMAINS))
}

fn write_row(out: &mut CsvOut, r: &Row) -> Result<(), GenError> {
    let town = &TOWNS[r.town];
    let date = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    let (iban, bic, holder, valid_from) = match &r.bank {
        Some(b) => (
            b.iban.as_str(),
            b.bic.as_str(),
            b.holder.as_str(),
            date(b.valid_from),
        ),
        None => ("", "", "", String::new()),
    };
    out.row([
        r.ps_id.as_str(),
        &r.rpps,
        &r.name,
        r.profession.label(),
        &r.address_line,
        town.postcode,
        town.city,
        "FR",
        &r.email,
        &date(r.flux_from),
        &r.tp_from.map(date).unwrap_or_default(),
        iban,
        bic,
        holder,
        &valid_from,
    ])
}
