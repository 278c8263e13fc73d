//! Static word lists of the synthetic world: names, places, banks, reasons.
//!
//! They are chosen to exercise what real files contain and naive code gets
//! wrong: accents, apostrophes, hyphens, `&`, `Œ`/`Ø`, commas and quotes (CSV
//! quoting), names longer than SEPA's 70 characters, postcodes with a leading
//! zero, Corsican and overseas departments.

use rand::Rng;

/// First names, accents included.
pub(super) const FIRST_NAMES: &[&str] = &[
    "Hélène",
    "Léa",
    "Chloé",
    "Zoé",
    "Noël",
    "Anaïs",
    "Maël",
    "Jérôme",
    "François",
    "Gaëlle",
    "Ophélie",
    "Loïc",
    "Agnès",
    "Benoît",
    "Cécile",
    "Clémence",
    "Jean-Baptiste",
    "Marie-Thérèse",
    "Aurélien",
    "Céline",
    "Élodie",
    "Émile",
    "Théo",
    "Inès",
    "Joël",
    "Raphaël",
    "Mathéo",
    "Camille",
    "Nathalie",
    "Pierre",
    "Sophie",
    "Julien",
    "Isabelle",
    "Nicolas",
    "Sandrine",
    "Thomas",
    "Valérie",
    "Lucas",
    "Manon",
    "Hugo",
    "Louise",
    "Gabriel",
    "Jade",
    "Mohamed",
    "Yasmine",
    "Karim",
    "Fatoumata",
    "Hương",
    "Siobhán",
    "Björn",
    "Marie",
    "Jean",
    "Michel",
    "Françoise",
    "Anne-Sophie",
    "Ève",
    "Bérénice",
    "Noémie",
];

/// Family names: common ones and the awkward kinds (particles, apostrophes,
/// hyphens, ligatures, non-French letters).
pub(super) const LAST_NAMES: &[&str] = &[
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Legrand",
    "Garnier",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guérin",
    "Müller",
    "Henry",
    "Roussel",
    "Nicolas",
    "Perrin",
    "Morin",
    "Mathieu",
    "Clément",
    "Gauthier",
    "Dumont",
    "Lopez",
    "Fontaine",
    "Chevalier",
    "Robin",
    "Lemaître",
    "Bénard",
    "Périer",
    "Lévêque",
    "Le Goff",
    "Le Guénnec",
    "N'Diaye",
    "D'Aubigné",
    "O'Neill",
    "de La Tour d'Auvergne",
    "Da Silva",
    "Dos Santos",
    "Ferreira",
    "Nguyen",
    "Tran",
    "Haddad",
    "Ben Saïd",
    "Kowalski",
    "Schmitt",
    "Œhmichen",
    "Weiß",
    "Saint-Aubin",
    "Delacroix",
    "Çelik",
];

/// Streets, some with a comma (so the CSV field must be quoted).
pub(super) const STREETS: &[&str] = &[
    "rue de la République",
    "avenue Jean-Jaurès",
    "place de l'Église",
    "boulevard Victor-Hugo",
    "rue du Général-de-Gaulle",
    "chemin des Écoliers",
    "allée des Tilleuls",
    "rue Pasteur",
    "rue Émile-Zola",
    "quai de la Fosse",
    "impasse du Moulin",
    "rue de l'Hôpital",
    "route de Lyon",
    "rue Saint-Éloi",
    "cours Lafayette",
    "place du Marché",
    "rue des Œillets",
    "avenue du 8-Mai-1945",
    "rue du 11-Novembre",
    "résidence Les Érables, bâtiment B",
    "centre commercial Grand'Place",
    "rue d'Alsace-Lorraine",
    "faubourg Saint-Honoré",
    "lieu-dit La Côte, route de Montbrison",
];

/// A postal town: postcode, city (official spelling), FINESS department.
pub(super) struct Town {
    pub postcode: &'static str,
    pub city: &'static str,
    pub dept: &'static str,
}

const fn town(postcode: &'static str, city: &'static str, dept: &'static str) -> Town {
    Town {
        postcode,
        city,
        dept,
    }
}

/// Real postcode and city pairs, mainland, Corsica and overseas.
pub(super) const TOWNS: &[Town] = &[
    town("42000", "Saint-Étienne", "42"),
    town("94240", "L'Haÿ-les-Roses", "94"),
    town("97400", "Saint-Denis", "97"),
    town("93200", "Saint-Denis", "93"),
    town("75011", "Paris", "75"),
    town("75018", "Paris", "75"),
    town("69003", "Lyon", "69"),
    town("13005", "Marseille", "13"),
    town("31000", "Toulouse", "31"),
    town("33000", "Bordeaux", "33"),
    town("59000", "Lille", "59"),
    town("67000", "Strasbourg", "67"),
    town("57000", "Metz", "57"),
    town("68100", "Mulhouse", "68"),
    town("44000", "Nantes", "44"),
    town("35000", "Rennes", "35"),
    town("06000", "Nice", "06"),
    town("01000", "Bourg-en-Bresse", "01"),
    town("20000", "Ajaccio", "2A"),
    town("20200", "Bastia", "2B"),
    town("29200", "Brest", "29"),
    town("76600", "Le Havre", "76"),
    town("80000", "Amiens", "80"),
    town("63000", "Clermont-Ferrand", "63"),
    town("87000", "Limoges", "87"),
    town("25000", "Besançon", "25"),
    town("21000", "Dijon", "21"),
    town("51100", "Reims", "51"),
    town("37000", "Tours", "37"),
    town("14000", "Caen", "14"),
    town("64200", "Biarritz", "64"),
    town("73000", "Chambéry", "73"),
    town("74000", "Annecy", "74"),
    town("38000", "Grenoble", "38"),
    town("84000", "Avignon", "84"),
    town("30000", "Nîmes", "30"),
    town("34000", "Montpellier", "34"),
    town("66000", "Perpignan", "66"),
    town("17000", "La Rochelle", "17"),
    town("86000", "Poitiers", "86"),
    town("45000", "Orléans", "45"),
    town("03000", "Moulins", "03"),
    town("97200", "Fort-de-France", "97"),
    town("97110", "Pointe-à-Pitre", "97"),
    town("97300", "Cayenne", "97"),
    town("88000", "Épinal", "88"),
    town("60200", "Compiègne", "60"),
    town("92100", "Boulogne-Billancourt", "92"),
    town("78000", "Versailles", "78"),
    town("91000", "Évry-Courcouronnes", "91"),
    town("08000", "Charleville-Mézières", "08"),
    town("71000", "Mâcon", "71"),
    town("16000", "Angoulême", "16"),
    town("85000", "La Roche-sur-Yon", "85"),
    town("49000", "Angers", "49"),
    town("72000", "Le Mans", "72"),
    town("43000", "Le Puy-en-Velay", "43"),
    town("23000", "Guéret", "23"),
    town("36000", "Châteauroux", "36"),
    town("39000", "Lons-le-Saunier", "39"),
    town("90000", "Belfort", "90"),
    town("54000", "Nancy", "54"),
    town("57100", "Thionville", "57"),
    town("68000", "Colmar", "68"),
    town("09000", "Foix", "09"),
    town("81000", "Albi", "81"),
    town("48000", "Mende", "48"),
    town("04000", "Digne-les-Bains", "04"),
    town("83000", "Toulon", "83"),
    town("95000", "Cergy", "95"),
];

/// Index in [`TOWNS`] of a named town, for the showcase practitioners.
pub(super) fn town_index(postcode: &str) -> usize {
    TOWNS
        .iter()
        .position(|t| t.postcode == postcode)
        .unwrap_or(0)
}

/// Belgian border towns, for the few members living abroad (HTP to a BE IBAN).
pub(super) const BELGIAN_TOWNS: &[(&str, &str)] = &[
    ("7500", "Tournai"),
    ("7700", "Mouscron"),
    ("6700", "Arlon"),
    ("1000", "Bruxelles"),
];

/// French banks: code banque and BIC (8 or 11 characters).
pub(super) const BANKS: &[(&str, &str)] = &[
    ("30004", "BNPAFRPP"),
    ("30003", "SOGEFRPP"),
    ("30002", "CRLYFRPP"),
    ("20041", "PSSTFRPP"),
    ("30066", "CMCIFRPP"),
    ("10278", "CMCIFR2A"),
    ("30056", "CCFRFRPP"),
    ("18206", "AGRIFRPP882"),
    ("17515", "CEPAFRPP751"),
    ("40618", "BOUSFRPP"),
    ("10107", "BREDFRPP"),
];

/// Management centres and their relative size.
pub(super) const CENTRES: &[(&str, u32)] = &[
    ("CG01", 20),
    ("CG02", 14),
    ("CG03", 11),
    ("CG04", 9),
    ("CG05", 8),
    ("CG06", 8),
    ("CG07", 7),
    ("CG08", 6),
    ("CG09", 5),
    ("CG10", 5),
    ("CG11", 4),
    ("CG12", 3),
];

/// The claims engine's own rejections (`status=rejected`), with weights. The
/// codes are the engine's, deliberately outside the import rules' `R0x`.
pub(super) const ENGINE_REJECTS: &[((&str, &str), u32)] = &[
    (("D01", "Droits AMC fermés à la date des soins"), 30),
    (("B02", "Bénéficiaire inconnu"), 15),
    (("A03", "Acte non couvert par le contrat"), 20),
    (("F04", "Facture déjà réglée"), 8),
    (("P05", "Plafond annuel de la garantie atteint"), 10),
    (("O06", "Prescription absente ou non conforme"), 7),
    (("T07", "Délai de transmission dépassé"), 3),
    (
        (
            "M08",
            "Montant AMO incohérent avec la base de remboursement",
        ),
        4,
    ),
    (("C09", "Adhérent radié à la date des soins"), 3),
];

/// Domains reserved for documentation (RFC 2606): a demo never e-mails anyone.
pub(super) const MAIL_DOMAINS: &[&str] = &["example.org", "example.com", "example.net"];

/// A uniformly chosen element of a non-empty static table.
pub(super) fn pick<'a, T, R: Rng>(rng: &mut R, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// An element of a non-empty static table, by integer weight.
pub(super) fn pick_weighted<'a, T, R: Rng>(rng: &mut R, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut r = rng.random_range(0..total.max(1));
    for (item, w) in items {
        if r < *w {
            return item;
        }
        r -= w;
    }
    &items[items.len() - 1].0
}

/// ASCII fold for e-mail local parts: accents dropped, ligatures spelt out,
/// anything else becomes a single `-`.
pub(super) fn ascii_slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let folded: &str = match c {
            'a'..='z' | '0'..='9' => {
                out.push(c);
                continue;
            }
            'à' | 'â' | 'ä' | 'á' | 'å' => "a",
            'ç' => "c",
            'é' | 'è' | 'ê' | 'ë' | 'ễ' => "e",
            'î' | 'ï' | 'í' => "i",
            'ô' | 'ö' | 'ó' | 'ø' | 'ơ' => "o",
            'ù' | 'û' | 'ü' | 'ú' | 'ư' => "u",
            'ÿ' => "y",
            'ñ' => "n",
            'œ' => "oe",
            'æ' => "ae",
            'ß' => "ss",
            _ => "-",
        };
        if folded == "-" && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push_str(folded);
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_ascii() {
        assert_eq!(
            ascii_slug("Hélène Lefèvre-D'Aubigné"),
            "helene-lefevre-d-aubigne"
        );
        assert_eq!(ascii_slug("Œhmichen & Weiß"), "oehmichen-weiss");
        assert_eq!(ascii_slug(" Ørsted "), "orsted");
        assert_eq!(ascii_slug("Hương"), "huong");
        for t in TOWNS {
            assert_eq!(t.postcode.len(), 5);
            assert!(t.postcode.starts_with(&t.dept[..1]), "{}", t.city);
        }
    }
}
