-- Performance (issue 8): a paid claim carries its date of care, the last
-- fact of its claim that a run's RSP read from `claims`.
--
-- The RSP lists every paid claim with its date of care; it looked each one
-- up in `claims` by key: ~900,000 index probes into the whole history on a
-- national day, 1.3-1.5 s of the 4.3-5.0 s RSP query on PostgreSQL
-- (docs/performance.md), growing with the history. The other facts the
-- RSP shows of a paid claim are already on its row (origin since 0005; the
-- amount asked is the amount paid: a run pays a claim's `amc_due_cents`,
-- whole). A claim never changes after import, so the copy cannot go stale.
--
-- The date travels like the others: the import writes it into
-- `unpaid_claims`, the planning copies it into `payment_claims`.

-- Claims paid before this migration keep NULL: rewriting every paid claim
-- ever recorded for them would be the table's third rebuild (0005, 0007).
-- The RSP looks those few up in `claims` (a run planned before the upgrade
-- whose files are written after it).
ALTER TABLE payment_claims ADD COLUMN care_date DATE;

-- Rebuilt rather than altered so that the date is NOT NULL on both
-- databases (SQLite adds a NOT NULL column only with a default); the table
-- holds only what is left to pay, a day or two of claims. Set aside and
-- created again under its own name, so that its constraints keep their
-- usual names on PostgreSQL (`unpaid_claims_pkey`…). A LEFT JOIN: an
-- unpaid claim without its claim (none should exist) stops the migration
-- on the NOT NULL instead of vanishing from what is left to pay.
CREATE TABLE unpaid_claims_0008 AS SELECT * FROM unpaid_claims;
DROP TABLE unpaid_claims;
CREATE TABLE unpaid_claims (
    ps_id         TEXT NOT NULL,
    invoice_no    BIGINT NOT NULL,
    received_date DATE NOT NULL,
    deadline      DATE NOT NULL,
    amc_due_cents BIGINT NOT NULL CHECK (amc_due_cents >= 0),
    payee_kind    TEXT NOT NULL CHECK (payee_kind IN ('practitioner', 'adherent')),
    payee_id      TEXT NOT NULL,
    origin        TEXT NOT NULL CHECK (origin IN ('DRE', 'NOEMIE')),
    adherent_id   TEXT NOT NULL,
    care_date     DATE NOT NULL,
    PRIMARY KEY (ps_id, invoice_no)
);
INSERT INTO unpaid_claims (ps_id, invoice_no, received_date, deadline, amc_due_cents,
    payee_kind, payee_id, origin, adherent_id, care_date)
SELECT u.ps_id, u.invoice_no, u.received_date, u.deadline, u.amc_due_cents,
    u.payee_kind, u.payee_id, u.origin, u.adherent_id, c.care_date
FROM unpaid_claims_0008 u LEFT JOIN claims c ON c.ps_id = u.ps_id AND c.invoice_no = u.invoice_no
ORDER BY u.ps_id, u.invoice_no;
DROP TABLE unpaid_claims_0008;
