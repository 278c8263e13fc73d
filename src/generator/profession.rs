//! What each kind of practitioner looks like and bills.
//!
//! Amounts are built from integer cents with the real shape of a French care
//! bill: a *base de remboursement*, the AMO's rate of it (70 % consultations,
//! 60 % auxiliaries, dental and labs, 65/30/15 % drugs), and the AMC's part:
//! the *ticket modérateur* (base − AMO part) plus, by contract, some of the
//! fees above the base, capped for dental crowns and glasses. So
//! `0 < amc_due ≤ billed − amo_paid` always holds for a normal claim.

use rand::Rng;

use super::names::{LAST_NAMES, Town, pick, pick_weighted};

/// A practitioner's kind. Labels are the `profession` column's free text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Profession {
    Pharmacien,
    MedecinGeneraliste,
    Ophtalmologiste,
    ChirurgienDentiste,
    Opticien,
    Infirmier,
    Kine,
    SageFemme,
    Laboratoire,
    CentreDeSante,
    Etablissement,
}

/// Share of each profession among practitioners (percent-ish weights).
pub(super) const PROFESSION_SHARES: &[(Profession, u32)] = &[
    (Profession::MedecinGeneraliste, 27),
    (Profession::Pharmacien, 15),
    (Profession::Infirmier, 14),
    (Profession::Kine, 12),
    (Profession::ChirurgienDentiste, 10),
    (Profession::Opticien, 6),
    (Profession::Ophtalmologiste, 4),
    (Profession::SageFemme, 3),
    (Profession::Laboratoire, 3),
    (Profession::CentreDeSante, 3),
    (Profession::Etablissement, 1),
];

/// Cents for the three amounts of one claim.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Bill {
    pub billed: i64,
    pub amo_paid: i64,
    pub amc_due: i64,
}

impl Bill {
    /// Bill with the whole remainder (`billed − amo_paid`) due by the AMC.
    fn remainder(billed: i64, amo_paid: i64) -> Self {
        Self {
            billed,
            amo_paid,
            amc_due: billed - amo_paid,
        }
    }
}

/// `rate` percent of `cents`, rounded half up, as the AMO rounds.
fn pct(cents: i64, rate: i64) -> i64 {
    (cents * rate + 50) / 100
}

/// Part of the fees above the base that the contract covers: 0, 50 or 100 %.
fn covered_overrun<R: Rng>(rng: &mut R, overrun: i64) -> i64 {
    pct(overrun, *pick(rng, &[0, 50, 100]))
}

impl Profession {
    pub(super) fn label(self) -> &'static str {
        match self {
            Self::Pharmacien => "pharmacien",
            Self::MedecinGeneraliste => "médecin généraliste",
            Self::Ophtalmologiste => "ophtalmologiste",
            Self::ChirurgienDentiste => "chirurgien-dentiste",
            Self::Opticien => "opticien",
            Self::Infirmier => "infirmier",
            Self::Kine => "masseur-kinésithérapeute",
            Self::SageFemme => "sage-femme",
            Self::Laboratoire => "laboratoire",
            Self::CentreDeSante => "centre de santé",
            Self::Etablissement => "établissement de santé",
        }
    }

    /// Establishments have a FINESS number and no RPPS.
    pub(super) const fn is_establishment(self) -> bool {
        matches!(
            self,
            Self::Pharmacien
                | Self::Opticien
                | Self::Laboratoire
                | Self::CentreDeSante
                | Self::Etablissement
        )
    }

    /// Third character of an Assurance-Maladie number (0 = FINESS).
    pub(super) fn id_category(self) -> u8 {
        match self {
            _ if self.is_establishment() => 0,
            Self::MedecinGeneraliste | Self::Ophtalmologiste => 1,
            Self::ChirurgienDentiste => 2,
            Self::SageFemme => 4,
            _ => 6,
        }
    }

    /// Relative claim volume: a pharmacy or a lab sends many more claims a
    /// day than a midwife, which is the skew the settlement must handle.
    pub(super) fn billing_weight(self) -> u32 {
        match self {
            Self::Pharmacien => 40,
            Self::Laboratoire => 25,
            Self::CentreDeSante => 20,
            Self::Etablissement => 15,
            Self::MedecinGeneraliste => 6,
            Self::Infirmier => 5,
            Self::Kine | Self::Ophtalmologiste => 4,
            Self::ChirurgienDentiste => 3,
            Self::Opticien => 2,
            Self::SageFemme => 1,
        }
    }

    /// Most days between care and a DRE's receipt (pharmacies transmit the
    /// same evening, physiotherapists at the end of a series).
    pub(super) fn max_care_delay_days(self) -> u32 {
        match self {
            Self::Pharmacien => 1,
            Self::MedecinGeneraliste | Self::Laboratoire => 3,
            Self::Ophtalmologiste | Self::SageFemme | Self::CentreDeSante => 5,
            Self::Infirmier => 7,
            Self::ChirurgienDentiste => 10,
            Self::Kine => 14,
            Self::Opticien => 15,
            Self::Etablissement => 20,
        }
    }

    /// A name as printed on statements. Individuals are `Dr …` for doctors
    /// and dentists; establishments are named after their place or owner.
    pub(super) fn practitioner_name<R: Rng>(
        self,
        rng: &mut R,
        person: &str,
        town: &Town,
    ) -> String {
        let last = pick(rng, LAST_NAMES);
        let city = town.city;
        match self {
            Self::Pharmacien => match rng.random_range(0..6) {
                0 => "Pharmacie de l'Église".to_owned(),
                1 => format!("Pharmacie du Marché de {city}"),
                2 => format!("Grande Pharmacie de {city}"),
                3 => format!("Pharmacie {last}"),
                4 => "Pharmacie des Écoles".to_owned(),
                _ => "Pharmacie de l'Hôtel de Ville".to_owned(),
            },
            Self::Opticien => match rng.random_range(0..3) {
                0 => format!("Optique {last}"),
                1 => format!("Les Opticiens de {city}"),
                _ => format!("Lunetterie {last} & Fils"),
            },
            Self::Laboratoire => match rng.random_range(0..2) {
                0 => format!("Laboratoire de biologie médicale {last}"),
                _ => format!("SELAS Bio-Santé {city}"),
            },
            Self::CentreDeSante => match rng.random_range(0..3) {
                0 => format!("Centre de santé municipal de {city}"),
                1 => format!("Centre de santé dentaire {last}"),
                _ => format!("Centre mutualiste de santé {city}"),
            },
            Self::Etablissement => match rng.random_range(0..2) {
                0 => format!("Centre hospitalier de {city}"),
                _ => "Clinique Sainte-Anne".to_owned(),
            },
            Self::MedecinGeneraliste | Self::Ophtalmologiste | Self::ChirurgienDentiste => {
                format!("Dr {person}")
            }
            Self::Kine if rng.random_bool(0.1) => format!("Cabinet {last} & {person}"),
            _ => person.to_owned(),
        }
    }

    /// The three amounts of one claim by this practitioner.
    pub(super) fn bill<R: Rng>(self, rng: &mut R) -> Bill {
        match self {
            Self::MedecinGeneraliste => consultation(rng, 3000, 0.15),
            Self::SageFemme => consultation(rng, 2500, 0.0),
            Self::Ophtalmologiste => {
                let base = *pick(rng, &[3150, 5000, 5500]);
                consultation(rng, base, 0.4)
            }
            Self::Pharmacien => pharmacy(rng),
            Self::ChirurgienDentiste => dental(rng),
            Self::Opticien => optical(rng),
            Self::Infirmier => nursing(rng),
            Self::Kine => physiotherapy(rng),
            Self::Laboratoire => {
                // Biology: B coefficient × 0.27 €.
                let billed = 27 * rng.random_range(40..=500);
                Bill::remainder(billed, pct(billed, 60))
            }
            Self::CentreDeSante => match rng.random_range(0..10) {
                0..5 => consultation(rng, 3000, 0.0),
                5..8 => dental(rng),
                _ => nursing(rng),
            },
            Self::Etablissement => {
                if rng.random_bool(0.6) {
                    // Forfait journalier hospitalier (20 €/day): no AMO part.
                    Bill::remainder(2000 * rng.random_range(1..=10), 0)
                } else {
                    consultation(rng, 3000, 0.0)
                }
            }
        }
    }
}

/// Consultation or visit: base (G 30 €, home visit 40 €, or a technical
/// act), AMO 70 % of the base, a fee overrun for `overrun_share` of
/// practitioners (secteur 2) that the contract may partly cover.
fn consultation<R: Rng>(rng: &mut R, base: i64, overrun_share: f64) -> Bill {
    let base = match rng.random_range(0..100) {
        0..85 => base,
        85..95 => base + 1000,
        _ => *pick(rng, &[1452, 2352, 4694]),
    };
    let overrun = if rng.random_bool(overrun_share) {
        100 * rng.random_range(5..=40)
    } else {
        0
    };
    let amo_paid = pct(base, 70);
    Bill {
        billed: base + overrun,
        amo_paid,
        amc_due: base - amo_paid + covered_overrun(rng, overrun),
    }
}

/// One to five drugs, each reimbursed at 65, 30 or 15 % by the AMO.
fn pharmacy<R: Rng>(rng: &mut R) -> Bill {
    let (mut billed, mut amo_paid) = (0, 0);
    for _ in 0..rng.random_range(1..=5) {
        let price = if rng.random_bool(0.15) {
            rng.random_range(2500..=15_000)
        } else {
            rng.random_range(150..=2500)
        };
        let rate = *pick_weighted(rng, &[(65, 55), (30, 25), (15, 20)]);
        billed += price;
        amo_paid += pct(price, rate);
    }
    Bill::remainder(billed, amo_paid)
}

/// Routine care at 60 % of the base, or a crown (base 120 €) billed 450 to
/// 1,100 € with the AMC's part capped by the contract.
fn dental<R: Rng>(rng: &mut R) -> Bill {
    if rng.random_bool(0.7) {
        let billed = *pick(rng, &[2300, 2892, 3374, 4338, 5061]);
        return Bill::remainder(billed, pct(billed, 60));
    }
    let billed = 100 * rng.random_range(450..=1100);
    let amo_paid = pct(12_000, 60);
    let cap = *pick(rng, &[20_000, 30_000, 45_000]);
    Bill {
        billed,
        amo_paid,
        amc_due: (billed - amo_paid).min(cap),
    }
}

/// Glasses. Class B (free price): base 0.09 € so the AMO pays 0.05 €, and
/// the AMC pays up to its cap. Class A (*100 % santé*): base = price, AMO
/// 60 %, AMC the rest.
fn optical<R: Rng>(rng: &mut R) -> Bill {
    if rng.random_bool(0.7) {
        let cents = if rng.random_bool(0.3) { -10 } else { 0 };
        let billed = 100 * rng.random_range(150..=700) + cents;
        let amo_paid = pct(9, 60);
        let cap = *pick(rng, &[10_000, 15_000, 20_000, 30_000, 42_000]);
        Bill {
            billed,
            amo_paid,
            amc_due: (billed - amo_paid).min(cap),
        }
    } else {
        let billed = 100 * rng.random_range(80..=240);
        Bill::remainder(billed, pct(billed, 60))
    }
}

/// AMI acts at 3.15 €, travel allowance 2.75 €, mileage: AMO 60 %.
fn nursing<R: Rng>(rng: &mut R) -> Bill {
    let mut billed = 315 * rng.random_range(1..=4);
    if rng.random_bool(0.5) {
        billed += 275;
    }
    if rng.random_bool(0.2) {
        billed += 35 * rng.random_range(2..=20);
    }
    Bill::remainder(billed, pct(billed, 60))
}

/// A physiotherapy session: base at 60 %, sometimes a fee overrun.
fn physiotherapy<R: Rng>(rng: &mut R) -> Bill {
    let base = *pick(rng, &[1613, 1720, 1935, 2150]);
    let overrun = if rng.random_bool(0.1) {
        100 * rng.random_range(5..=20)
    } else {
        0
    };
    let amo_paid = pct(base, 60);
    Bill {
        billed: base + overrun,
        amo_paid,
        amc_due: base - amo_paid + covered_overrun(rng, overrun),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn every_bill_is_consistent() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for (p, _) in PROFESSION_SHARES {
            for _ in 0..5_000 {
                let b = p.bill(&mut rng);
                assert!(b.amo_paid >= 0 && b.amo_paid <= b.billed, "{p:?} {b:?}");
                assert!(b.amc_due > 0, "{p:?} {b:?}");
                assert!(b.amc_due <= b.billed - b.amo_paid, "{p:?} {b:?}");
                assert!(b.billed < 200_000, "{p:?} {b:?}");
            }
        }
        assert_eq!(
            consultation(&mut ChaCha8Rng::seed_from_u64(3), 3000, 0.0).billed % 100,
            0
        );
    }
}
