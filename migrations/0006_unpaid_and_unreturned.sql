-- Performance (issue 8): the claims a run still has to pay, kept as a
-- table of their own instead of being found again every day.
--
-- Every run used to find its due claims as "accepted claims with no
-- payment": an anti-join of the whole of `claims` with the whole of
-- `payment_claims`, as did the late-payment watch and `/metrics` on every
-- look. After a year of a national operator that is hundreds of millions
-- of rows read each day to find one day's million. Now an accepted claim
-- enters `unpaid_claims` in the transaction that imports it and leaves it
-- in the transaction that plans the run paying it; a held claim stays.
-- At every commit each accepted claim is in exactly one of
-- `unpaid_claims` and `payment_claims` (checked by the tests after every
-- run, crash and race); paying twice stays impossible by the primary key
-- of `payment_claims`.
--
-- The row carries the facts of its claim that a run and the watch read
-- (a claim never changes after import, so the copy cannot go stale). No
-- foreign key to `claims`: on PostgreSQL each would cost a locking look-up
-- per imported claim (the ones of `payment_claims` cost 10 s a million).
CREATE TABLE unpaid_claims (
    ps_id         TEXT NOT NULL,
    invoice_no    BIGINT NOT NULL,
    received_date DATE NOT NULL,
    deadline      DATE NOT NULL,
    amc_due_cents BIGINT NOT NULL CHECK (amc_due_cents >= 0),
    payee_kind    TEXT NOT NULL CHECK (payee_kind IN ('practitioner', 'adherent')),
    payee_id      TEXT NOT NULL,
    origin        TEXT NOT NULL CHECK (origin IN ('DRE', 'NOEMIE')),
    PRIMARY KEY (ps_id, invoice_no)
);

INSERT INTO unpaid_claims (ps_id, invoice_no, received_date, deadline, amc_due_cents,
    payee_kind, payee_id, origin)
SELECT c.ps_id, c.invoice_no, c.received_date, c.deadline, c.amc_due_cents,
    CASE WHEN c.mode = 'TP' THEN 'practitioner' ELSE 'adherent' END,
    CASE WHEN c.mode = 'TP' THEN c.ps_id ELSE c.adherent_id END,
    c.origin
FROM claims c
WHERE c.status = 'accepted'
  AND NOT EXISTS (SELECT 1 FROM payment_claims pc
                  WHERE pc.ps_id = c.ps_id AND pc.invoice_no = c.invoice_no)
ORDER BY c.ps_id, c.invoice_no;

-- The same for the rejections a run returns in the RSP (each once, ever:
-- the primary key of `run_rejections`): a rejected claim (engine's code or
-- R01, R02, R04, R05) or an R03 duplicate enters `unreturned_rejections` in
-- the transaction that imports it, and the run that returns it moves it
-- into `run_rejections`, instead of every run anti-joining all rejected
-- claims and duplicates ever imported with all rejections ever returned.
-- Same key as `run_rejections` (empty import and line 0 for a claim).
CREATE TABLE unreturned_rejections (
    ps_id             TEXT NOT NULL,
    invoice_no        BIGINT NOT NULL,
    dup_import_sha256 TEXT NOT NULL,
    dup_line          BIGINT NOT NULL,
    code              TEXT NOT NULL,
    received_date     DATE NOT NULL,
    PRIMARY KEY (ps_id, invoice_no, dup_import_sha256, dup_line)
);

INSERT INTO unreturned_rejections (ps_id, invoice_no, dup_import_sha256, dup_line, code,
    received_date)
SELECT c.ps_id, c.invoice_no, '', 0, c.reject_code, c.received_date
FROM claims c
WHERE c.status = 'rejected'
  AND NOT EXISTS (SELECT 1 FROM run_rejections r
                  WHERE r.ps_id = c.ps_id AND r.invoice_no = c.invoice_no
                    AND r.dup_import_sha256 = '' AND r.dup_line = 0)
UNION ALL
SELECT d.ps_id, d.invoice_no, d.import_sha256, d.line, 'R03', d.received_date
FROM claim_duplicates d
WHERE NOT EXISTS (SELECT 1 FROM run_rejections r
                  WHERE r.ps_id = d.ps_id AND r.invoice_no = d.invoice_no
                    AND r.dup_import_sha256 = d.import_sha256 AND r.dup_line = d.line);
