-- Performance (issue 8): a paid claim carries the two facts of its claim
-- that the run's files filter on, its origin (paper statements are for
-- NOEMIE claims) and its deadline (the manifest's late list), copied when
-- the run is planned. A claim never changes after import, so the copy
-- cannot go stale; it spares the statements and the late list a look-up
-- of every paid claim in `claims` (a million on a national day).
--
-- Rebuilt rather than altered so that both columns are NOT NULL on both
-- databases; existing rows take the values of their claim (the foreign
-- key guarantees there is one).
CREATE TABLE payment_claims_new (
    ps_id        TEXT NOT NULL,
    invoice_no   BIGINT NOT NULL,
    reference    TEXT NOT NULL REFERENCES payments (reference),
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    origin       TEXT NOT NULL CHECK (origin IN ('DRE', 'NOEMIE')),
    deadline     DATE NOT NULL,
    PRIMARY KEY (ps_id, invoice_no),
    FOREIGN KEY (ps_id, invoice_no) REFERENCES claims (ps_id, invoice_no)
);
INSERT INTO payment_claims_new (ps_id, invoice_no, reference, amount_cents, origin, deadline)
SELECT pc.ps_id, pc.invoice_no, pc.reference, pc.amount_cents, c.origin, c.deadline
FROM payment_claims pc JOIN claims c ON c.ps_id = pc.ps_id AND c.invoice_no = pc.invoice_no;
DROP TABLE payment_claims;
ALTER TABLE payment_claims_new RENAME TO payment_claims;
CREATE INDEX payment_claims_by_reference ON payment_claims (reference);
