//! `adherents.csv`: the members, payees of HTP claims.

use std::path::Path;

use chrono::NaiveDate;
use rand::Rng;

use super::GenError;
use super::csv_out::CsvOut;
use super::ids;
use super::names::{BELGIAN_TOWNS, CENTRES, FIRST_NAMES, LAST_NAMES, TOWNS, pick, pick_weighted};
use super::practitioners::{BankDetails, address_line, days_before, french_bank};

pub(super) const FILE: &str = "adherents.csv";

/// Contract §2 column order.
pub(super) const HEADER: &[&str] = &[
    "adherent_id",
    "name",
    "centre",
    "iban",
    "bic",
    "account_holder",
    "bank_valid_from",
    "address_line",
    "postcode",
    "city",
    "country",
];

const BANK_SHARE: f64 = 0.97;
const ADDRESS_SHARE: f64 = 0.92;
/// Cross-border members (living in Belgium, paid on a Belgian IBAN).
const ABROAD_SHARE: f64 = 0.005;

/// Known member numbers are `A` + 9 digits in `[100000000, 899999999]`;
/// numbers starting `A9` are never issued, so the generator can invent
/// unknown members (R05) that cannot collide.
const ID_FIRST: u64 = 100_000_000;
const ID_SPAN: u64 = 800_000_000;
/// Odd and not a multiple of 5, hence coprime with [`ID_SPAN`] (2^10·5^8):
/// `i ↦ offset + i·STRIDE mod SPAN` is a bijection, so ids are unique
/// without keeping a set, and look scattered.
const ID_STRIDE: u64 = 7_777_777;

/// The members, as the claims generator needs them: names for beneficiaries.
pub(super) struct Members {
    offset: u64,
    /// Indices into [`FIRST_NAMES`] and [`LAST_NAMES`]; compact, because
    /// there are a quarter as many members as claims.
    people: Vec<(u16, u16)>,
}

impl Members {
    pub(super) fn len(&self) -> usize {
        self.people.len()
    }

    /// The 9 digits after the `A` of member `i`.
    pub(super) fn number(&self, i: usize) -> u64 {
        ID_FIRST + (self.offset + i as u64 * ID_STRIDE) % ID_SPAN
    }

    pub(super) fn first_name(&self, i: usize) -> &'static str {
        FIRST_NAMES[usize::from(self.people[i].0)]
    }

    pub(super) fn last_name(&self, i: usize) -> &'static str {
        LAST_NAMES[usize::from(self.people[i].1)]
    }
}

/// A member number that no generated member has (`A9…`).
pub(super) fn unknown_id<R: Rng>(rng: &mut R) -> String {
    format!("A9{:08}", rng.random_range(0..100_000_000))
}

#[derive(Default)]
pub(super) struct MemberCounts {
    pub rows: usize,
    pub without_bank: usize,
}

/// Writes the file and returns the members for the claims.
pub(super) fn write<R: Rng>(
    rng: &mut R,
    count: usize,
    date: NaiveDate,
    dir: &Path,
) -> Result<(Members, MemberCounts), GenError> {
    let mut out = CsvOut::create(dir, FILE, HEADER)?;
    let mut members = Members {
        offset: rng.random_range(0..ID_SPAN),
        people: Vec::with_capacity(count),
    };
    let mut counts = MemberCounts::default();
    for i in 0..count {
        let first = rng.random_range(0..FIRST_NAMES.len());
        let last = rng.random_range(0..LAST_NAMES.len());
        members.people.push((index_u16(first), index_u16(last)));
        let name = format!("{} {}", FIRST_NAMES[first], LAST_NAMES[last]);
        let abroad = rng.random_bool(ABROAD_SHARE);
        let bank = rng
            .random_bool(BANK_SHARE)
            .then(|| member_bank(rng, abroad, name.clone(), date));
        counts.rows += 1;
        counts.without_bank += usize::from(bank.is_none());
        write_row(
            &mut out,
            rng,
            &format!("A{}", members.number(i)),
            &name,
            abroad,
            bank.as_ref(),
        )?;
    }
    out.finish()?;
    Ok((members, counts))
}

fn index_u16(i: usize) -> u16 {
    u16::try_from(i).unwrap_or(u16::MAX)
}

fn member_bank<R: Rng>(rng: &mut R, abroad: bool, holder: String, date: NaiveDate) -> BankDetails {
    if !abroad {
        return french_bank(rng, holder, date);
    }
    BankDetails {
        iban: ids::belgian_iban(rng),
        bic: "GEBABEBB".to_owned(),
        holder,
        valid_from: days_before(date, rng.random_range(30..=2500)),
    }
}

fn write_row<R: Rng>(
    out: &mut CsvOut,
    rng: &mut R,
    id: &str,
    name: &str,
    abroad: bool,
    bank: Option<&BankDetails>,
) -> Result<(), GenError> {
    let centre = pick_weighted(rng, CENTRES);
    let (line, postcode, city, country) = if !rng.random_bool(ADDRESS_SHARE) {
        (String::new(), "", "", "")
    } else if abroad {
        let (pc, city) = pick(rng, BELGIAN_TOWNS);
        (address_line(rng), *pc, *city, "BE")
    } else {
        let t = pick(rng, TOWNS);
        (address_line(rng), t.postcode, t.city, "FR")
    };
    let valid_from = bank
        .map(|b| b.valid_from.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    out.row([
        id,
        name,
        centre,
        bank.map_or("", |b| b.iban.as_str()),
        bank.map_or("", |b| b.bic.as_str()),
        bank.map_or("", |b| b.holder.as_str()),
        &valid_from,
        &line,
        postcode,
        city,
        country,
    ])
}
