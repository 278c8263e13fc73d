"""Peer of benches/pain001.rs: the same pain.001 built with PyPI `sepaxml`.

    python sepaxml_pain001.py OUT.xml          # BENCH_TRANSFERS transfers (default 1,000,000)

Builds the transfers of benches/pain001.rs (its header comment states the
rules; keep the two in step) with `sepaxml.SepaTransfer`, schema
pain.001.001.09, batch mode (one PmtInf per execution date, so one block),
`clean=True` (its default: names and remittance through text-unidecode).

`export(validate=False)`: sepaxml's own validation (the `xmlschema`
package, in memory) is off by default here, because the benchmark validates
every writer's file the same way afterwards, with xmllint, outside the
timing; and tpsettle's writer does no XSD validation either. Set
SEPAXML_VALIDATE=1 to time it with sepaxml's validation as well.

What sepaxml does not let the caller set: MsgId (random), CreDtTm (now),
PmtInfId (random), InitgPty/Nm (the debtor's name). The transfers themselves
are the same.

Prints wall time, transfers and bytes, like the Rust bench.
"""

import datetime
import os
import sys
import time
from importlib.metadata import version

from sepaxml import SepaTransfer


def cents(i):
    return 1000 + (i * 7919) % 100000


def iban_check(country, bban):
    """ISO 7064 mod 97-10 check digits of country + bban (letters A=10..Z=35)."""
    digits = "".join(str(int(c, 36)) for c in bban + country) + "00"
    return 98 - int(digits) % 97


def french_iban(i):
    bank, branch, account = 30004, 1 + i % 99999, i
    key = 97 - (89 * bank + 15 * branch + 3 * account) % 97
    bban = f"{bank:05}{branch:05}{account:011}{key:02}"
    return f"FR{iban_check('FR', bban):02}{bban}"


def main():
    out_path = sys.argv[1]
    n = int(os.environ.get("BENCH_TRANSFERS", "1000000"))
    validate = os.environ.get("SEPAXML_VALIDATE", "0") == "1"
    execution = datetime.date(2026, 12, 2)
    start, cpu = time.perf_counter(), time.process_time()
    sepa = SepaTransfer(
        {
            "name": "Mutuelle Démo des Tiers-Payants",
            "IBAN": "FR7630006000011234567890189",
            "BIC": "AGRIFRPPXXX",
            "batch": True,
            "currency": "EUR",
        },
        schema="pain.001.001.09",
        clean=True,
    )
    for i in range(n):
        payment = {
            "name": f"Cabinet médical n° {i}",
            "IBAN": french_iban(i),
            "amount": cents(i),
            "execution_date": execution,
            "description": f"Tiers payant réf. TP-{i:09}",
            "endtoend_id": f"TP-{i:09}",
        }
        if i % 2 == 0:
            payment["BIC"] = "BNPAFRPPXXX"
        sepa.add_payment(payment)
    data = sepa.export(validate=validate)
    with open(out_path, "wb") as f:
        f.write(data)
    secs, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"sepaxml {version('sepaxml')}: {n} transfers, {len(data)} bytes: "
        f"{secs:.3f} s wall, {cpu:.2f} s CPU (validate={validate}) -> {out_path}"
    )


if __name__ == "__main__":
    main()
