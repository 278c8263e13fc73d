//! Identifiers with their real check digits: practitioner numbers (Luhn key),
//! RPPS (Luhn), French RIB keys and IBANs (ISO 13616 mod 97).
//!
//! Valid check digits matter: an importer that verifies them must accept
//! every generated value, so a failure points at the importer, not the data.

use std::collections::BTreeSet;

use rand::Rng;

/// Luhn check digit of an ASCII-digit payload.
fn luhn_digit(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let v = u32::from(b - b'0');
            match (i % 2 == 0, v * 2) {
                (true, d) if d > 9 => d - 9,
                (true, d) => d,
                (false, _) => v,
            }
        })
        .sum();
    b'0' + ((10 - sum % 10) % 10) as u8
}

fn push_digits<R: Rng>(rng: &mut R, out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
}

/// A 9-character practitioner id, unique within `taken`: department (2),
/// category (1: `0` for FINESS establishments, as in FINESS numbers; `1`–`8`
/// for Assurance-Maladie numbers), 5 digits, Luhn key. Corsican departments
/// (`2A`, `2B`) count as `20` for the key, like FINESS does.
pub(super) fn ps_id<R: Rng>(
    rng: &mut R,
    dept: &str,
    category: u8,
    taken: &mut BTreeSet<String>,
) -> String {
    loop {
        let mut id = String::with_capacity(9);
        id.push_str(dept);
        id.push(char::from(b'0' + category % 10));
        push_digits(rng, &mut id, 5);
        let keyed: Vec<u8> = id
            .bytes()
            .map(|b| if b.is_ascii_digit() { b } else { b'0' })
            .collect();
        id.push(char::from(luhn_digit(&keyed)));
        if taken.insert(id.clone()) {
            return id;
        }
    }
}

/// An 11-digit RPPS number (`10` + 8 digits + Luhn key), unique within `taken`.
pub(super) fn rpps<R: Rng>(rng: &mut R, taken: &mut BTreeSet<String>) -> String {
    loop {
        let mut id = String::with_capacity(11);
        id.push_str("10");
        push_digits(rng, &mut id, 8);
        let key = luhn_digit(id.as_bytes());
        id.push(char::from(key));
        if taken.insert(id.clone()) {
            return id;
        }
    }
}

/// ISO 13616 check digits of `country` + `bban` (digits and capital letters).
fn iban_check(country: &str, bban: &str) -> u32 {
    let mut rem = 0u32;
    let rearranged = bban.bytes().chain(country.bytes()).chain(*b"00");
    for b in rearranged {
        rem = if b.is_ascii_digit() {
            (rem * 10 + u32::from(b - b'0')) % 97
        } else {
            (rem * 100 + u32::from(b - b'A') + 10) % 97
        };
    }
    98 - rem
}

/// French RIB key: `97 − (89·bank + 15·branch + 3·account) mod 97`, for an
/// all-digit account number.
fn rib_key(bank: u64, branch: u64, account: u64) -> u64 {
    97 - (89 * bank + 15 * branch + 3 * account) % 97
}

/// A French IBAN in electronic form, with a correct RIB key and IBAN check.
pub(super) fn french_iban<R: Rng>(rng: &mut R, bank_code: &str) -> String {
    let bank: u64 = bank_code.parse().unwrap_or(30004);
    let branch: u64 = rng.random_range(1..100_000);
    let account: u64 = rng.random_range(1..100_000_000_000);
    let key = rib_key(bank, branch, account);
    let bban = format!("{bank:05}{branch:05}{account:011}{key:02}");
    format!("FR{:02}{bban}", iban_check("FR", &bban))
}

/// A Belgian IBAN (bank 001, BNP Paribas Fortis), national check included.
pub(super) fn belgian_iban<R: Rng>(rng: &mut R) -> String {
    let ten: u64 = 10_000_000 + rng.random_range(0..10_000_000);
    let check = match ten % 97 {
        0 => 97,
        c => c,
    };
    let bban = format!("{ten:010}{check:02}");
    format!("BE{:02}{bban}", iban_check("BE", &bban))
}

/// The paper form, `FR76 3000 6000 …`: what people type into a form, so a
/// few rows carry it and importers must accept it.
pub(super) fn print_form(iban: &str) -> String {
    let mut out = String::with_capacity(iban.len() + iban.len() / 4);
    for (i, c) in iban.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Iban, PsId};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn known_check_digits() {
        // The domain's reference IBAN and its RIB key 89.
        assert_eq!(iban_check("FR", "30006000011234567890189"), 76);
        assert_eq!(rib_key(30006, 1, 12_345_678_901), 89);
        assert_eq!(luhn_digit(b"7992739871"), b'3');
    }

    #[test]
    fn generated_ibans_and_ids_are_valid() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut taken = BTreeSet::new();
        for _ in 0..2_000 {
            let fr = french_iban(&mut rng, "30004");
            assert!(fr.parse::<Iban>().is_ok(), "{fr}");
            assert!(print_form(&fr).parse::<Iban>().is_ok(), "{fr}");
            let be = belgian_iban(&mut rng);
            assert!(be.parse::<Iban>().is_ok(), "{be}");
            let id = ps_id(&mut rng, "2A", 0, &mut taken);
            assert!(id.parse::<PsId>().is_ok(), "{id}");
        }
        let r = rpps(&mut rng, &mut taken);
        assert_eq!(r.len(), 11);
        assert_eq!(luhn_digit(&r.as_bytes()[..10]), r.as_bytes()[10]);
    }
}
