-- Performance (issue 8): `payment_claims` loses its foreign key to
-- `claims`; it keeps the one to `payments` and its primary key.
--
-- On PostgreSQL a foreign key is checked row by row, each check a
-- `SELECT … FOR KEY SHARE` that locks the claim's row, which writes its
-- page and a WAL record: 17 s of a national day's ~60 s of planning on the
-- slowest machine measured (docs/performance.md, "2026-12-01 (later), the paid
-- claims' foreign keys"). What it guarded is kept otherwise:
-- - paying a claim twice stays impossible: the primary key (ps_id,
--   invoice_no) is untouched;
-- - a paid claim is a claim: a run pays only rows of `unpaid_claims`,
--   which the import writes in the transaction that inserts their claims
--   (the trade-off migration 0006 already made for `unpaid_claims`), and
--   claims are never updated or deleted; the tests' audit joins every paid
--   claim to its accepted claim and amount after every run, crash and race;
-- - a paid claim is in a transfer: the foreign key to `payments` stays
--   (the link between a claim's money and the bank file).
--
-- Rebuilt, as SQLite cannot drop a constraint; constraints named so that a
-- later migration can address them on PostgreSQL.
CREATE TABLE payment_claims_0007 (
    ps_id        TEXT NOT NULL,
    invoice_no   BIGINT NOT NULL,
    reference    TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    origin       TEXT NOT NULL,
    deadline     DATE NOT NULL,
    CONSTRAINT payment_claims_pkey PRIMARY KEY (ps_id, invoice_no),
    CONSTRAINT payment_claims_reference_fkey FOREIGN KEY (reference) REFERENCES payments (reference),
    CONSTRAINT payment_claims_amount_check CHECK (amount_cents > 0),
    CONSTRAINT payment_claims_origin_check CHECK (origin IN ('DRE', 'NOEMIE'))
);
INSERT INTO payment_claims_0007 (ps_id, invoice_no, reference, amount_cents, origin, deadline)
SELECT ps_id, invoice_no, reference, amount_cents, origin, deadline FROM payment_claims
ORDER BY ps_id, invoice_no;
DROP TABLE payment_claims;
ALTER TABLE payment_claims_0007 RENAME TO payment_claims;
CREATE INDEX payment_claims_by_reference ON payment_claims (reference);
