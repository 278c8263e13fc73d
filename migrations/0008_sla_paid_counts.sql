-- Performance (issue 8): what a run paid, as the SLA report reads it,
-- recorded by the transaction that plans the run.
--
-- The report used to join every TP claim of its period with
-- `payment_claims`, `payments`, `runs` and `adherents` to learn which run
-- paid it and the member's centre: 33 s for a 10 M-claim month on an idle
-- machine, against a goal of 15 s, however PostgreSQL was tuned
-- (docs/performance.md). Every figure of the report about a paid claim
-- follows from its receipt date, deadline, origin, centre and paying run,
-- so a run records its TP claims as counts of those (a few hundred rows a
-- run), and the claims it paid after their deadline one by one (the late
-- list needs each of them). Claims not yet paid are read from
-- `unpaid_claims`, as before. The centre is the member's centre when the
-- run paid the claim.

-- The planning reads the member from the unpaid claim, not from `claims`
-- (a look-up per paid claim into the whole history).
ALTER TABLE unpaid_claims ADD COLUMN adherent_id TEXT NOT NULL DEFAULT '';
UPDATE unpaid_claims SET adherent_id = (
    SELECT c.adherent_id FROM claims c
    WHERE c.ps_id = unpaid_claims.ps_id AND c.invoice_no = unpaid_claims.invoice_no);

-- A run's paid TP claims, counted by what the report groups and measures.
-- `centre` is NULL for a member unknown to the adherents table (a TP claim
-- does not need one).
CREATE TABLE sla_paid_counts (
    run_id        TEXT NOT NULL REFERENCES runs (run_id),
    received_date DATE NOT NULL,
    deadline      DATE NOT NULL,
    origin        TEXT NOT NULL CHECK (origin IN ('DRE', 'NOEMIE')),
    centre        TEXT,
    claims        BIGINT NOT NULL CHECK (claims > 0)
);
CREATE INDEX sla_paid_counts_by_received ON sla_paid_counts (received_date);

-- A run's TP claims paid after their deadline (the run executes after it),
-- with what the late list shows of them, so that the report looks up
-- `claims` only for the import time. A claim is paid once, so once here.
CREATE TABLE sla_late_paid (
    ps_id         TEXT NOT NULL,
    invoice_no    BIGINT NOT NULL,
    run_id        TEXT NOT NULL REFERENCES runs (run_id),
    received_date DATE NOT NULL,
    deadline      DATE NOT NULL,
    origin        TEXT NOT NULL CHECK (origin IN ('DRE', 'NOEMIE')),
    centre        TEXT,
    amc_due_cents BIGINT NOT NULL,
    PRIMARY KEY (ps_id, invoice_no)
);
CREATE INDEX sla_late_paid_by_received ON sla_late_paid (received_date);

-- The runs made before this migration, from their paid claims.
INSERT INTO sla_paid_counts (run_id, received_date, deadline, origin, centre, claims)
SELECT p.run_id, c.received_date, c.deadline, c.origin, a.centre, COUNT(*)
FROM payments p
JOIN payment_claims pc ON pc.reference = p.reference
JOIN claims c ON c.ps_id = pc.ps_id AND c.invoice_no = pc.invoice_no
LEFT JOIN adherents a ON a.adherent_id = c.adherent_id
WHERE p.payee_kind = 'practitioner'
GROUP BY p.run_id, c.received_date, c.deadline, c.origin, a.centre;

INSERT INTO sla_late_paid (ps_id, invoice_no, run_id, received_date, deadline, origin, centre,
    amc_due_cents)
SELECT c.ps_id, c.invoice_no, p.run_id, c.received_date, c.deadline, c.origin, a.centre,
    c.amc_due_cents
FROM payments p
JOIN runs r ON r.run_id = p.run_id
JOIN payment_claims pc ON pc.reference = p.reference
JOIN claims c ON c.ps_id = pc.ps_id AND c.invoice_no = pc.invoice_no
LEFT JOIN adherents a ON a.adherent_id = c.adherent_id
WHERE p.payee_kind = 'practitioner' AND r.execution_date > c.deadline;
