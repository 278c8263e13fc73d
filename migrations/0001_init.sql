-- tpsettle schema. One file for SQLite and PostgreSQL: only portable SQL.
-- Amounts are integer cents (BIGINT): exact sums on both databases.
-- Dates are DATE (text 'YYYY-MM-DD' on SQLite, which orders correctly).

-- Append-only record of every imported file. Its SHA-256 is what makes a
-- re-import a no-op.
CREATE TABLE imports (
    sha256        TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('practitioners', 'adherents', 'claims')),
    file_name     TEXT NOT NULL,
    rows_read     BIGINT NOT NULL CHECK (rows_read >= 0),
    accepted      BIGINT NOT NULL CHECK (accepted >= 0),
    rejected      BIGINT NOT NULL CHECK (rejected >= 0),
    ignored       BIGINT NOT NULL CHECK (ignored >= 0),
    imported_at   TEXT NOT NULL
);

CREATE TABLE practitioners (
    ps_id               TEXT PRIMARY KEY CHECK (length(ps_id) = 9),
    rpps                TEXT,
    name                TEXT NOT NULL,
    profession          TEXT NOT NULL,
    address_line        TEXT NOT NULL,
    postcode            TEXT NOT NULL,
    city                TEXT NOT NULL,
    country             TEXT NOT NULL,
    email               TEXT,
    flux_agreement_from DATE NOT NULL,
    tp_agreement_from   DATE,
    import_sha256       TEXT NOT NULL
);

CREATE TABLE adherents (
    adherent_id   TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    centre        TEXT NOT NULL,
    address_line  TEXT,
    postcode      TEXT,
    city          TEXT,
    country       TEXT,
    import_sha256 TEXT NOT NULL
);

-- Bank-detail history: a change of RIB adds a row with a later valid_from;
-- a payment uses the row valid on its execution date.
CREATE TABLE bank_details (
    holder_kind    TEXT NOT NULL CHECK (holder_kind IN ('practitioner', 'adherent')),
    holder_id      TEXT NOT NULL,
    valid_from     DATE NOT NULL,
    iban           TEXT NOT NULL,
    bic            TEXT,
    account_holder TEXT NOT NULL,
    import_sha256  TEXT NOT NULL,
    PRIMARY KEY (holder_kind, holder_id, valid_from)
);

-- Claims as received, after the import rules. Never updated.
CREATE TABLE claims (
    ps_id          TEXT NOT NULL CHECK (length(ps_id) = 9),
    invoice_no     BIGINT NOT NULL CHECK (invoice_no BETWEEN 0 AND 999999999),
    origin         TEXT NOT NULL CHECK (origin IN ('DRE', 'NOEMIE')),
    mode           TEXT NOT NULL CHECK (mode IN ('TP', 'HTP')),
    received_at    TEXT NOT NULL,
    received_date  DATE NOT NULL,
    deadline       DATE NOT NULL,
    care_date      DATE NOT NULL,
    adherent_id    TEXT NOT NULL,
    beneficiary    TEXT NOT NULL,
    billed_cents   BIGINT NOT NULL CHECK (billed_cents >= 0),
    amo_paid_cents BIGINT NOT NULL CHECK (amo_paid_cents >= 0),
    amc_due_cents  BIGINT NOT NULL CHECK (amc_due_cents >= 0),
    status         TEXT NOT NULL CHECK (status IN ('accepted', 'rejected')),
    reject_code    TEXT,
    reject_label   TEXT,
    content_sha256 TEXT NOT NULL,
    import_sha256  TEXT NOT NULL,
    line           BIGINT NOT NULL,
    PRIMARY KEY (ps_id, invoice_no),
    CHECK ((status = 'rejected' AND reject_code IS NOT NULL AND reject_label IS NOT NULL)
        OR (status = 'accepted' AND reject_code IS NULL AND reject_label IS NULL))
);
CREATE INDEX claims_by_received ON claims (received_date, status);

-- Rule R03: same key as a claim already received, different content. Kept
-- apart (the key is taken) and returned to the practitioner as a rejection.
CREATE TABLE claim_duplicates (
    import_sha256 TEXT NOT NULL,
    line          BIGINT NOT NULL,
    ps_id         TEXT NOT NULL,
    invoice_no    BIGINT NOT NULL,
    origin        TEXT NOT NULL,
    received_date DATE NOT NULL,
    care_date     DATE NOT NULL,
    amc_due_cents BIGINT NOT NULL CHECK (amc_due_cents >= 0),
    PRIMARY KEY (import_sha256, line)
);

-- One settlement run per business date; a small state machine
-- planned -> files_written -> completed, so a crash resumes, never restarts.
CREATE TABLE runs (
    run_id         TEXT PRIMARY KEY,
    business_date  DATE NOT NULL UNIQUE,
    execution_date DATE NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('planned', 'files_written', 'completed')),
    created_at     TEXT NOT NULL,
    completed_at   TEXT,
    payments       BIGINT NOT NULL CHECK (payments >= 0),
    amount_cents   BIGINT NOT NULL CHECK (amount_cents >= 0)
);

CREATE TABLE payments (
    reference       TEXT PRIMARY KEY CHECK (length(reference) <= 35),
    run_id          TEXT NOT NULL REFERENCES runs (run_id),
    payee_kind      TEXT NOT NULL CHECK (payee_kind IN ('practitioner', 'adherent')),
    payee_id        TEXT NOT NULL,
    amount_cents    BIGINT NOT NULL CHECK (amount_cents > 0),
    claims_count    BIGINT NOT NULL CHECK (claims_count > 0),
    iban            TEXT NOT NULL,
    bic             TEXT,
    account_holder  TEXT NOT NULL,
    bank_valid_from DATE NOT NULL,
    UNIQUE (run_id, payee_kind, payee_id)
);

-- Exactly once: the primary key makes it impossible for a claim to be in
-- two payments, whatever the code does.
CREATE TABLE payment_claims (
    ps_id        TEXT NOT NULL,
    invoice_no   BIGINT NOT NULL,
    reference    TEXT NOT NULL REFERENCES payments (reference),
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    PRIMARY KEY (ps_id, invoice_no),
    FOREIGN KEY (ps_id, invoice_no) REFERENCES claims (ps_id, invoice_no)
);
CREATE INDEX payment_claims_by_reference ON payment_claims (reference);

-- Each rejection is returned once, in the first run after it was imported.
-- dup_import_sha256/dup_line are '' and 0 for a rejected claim, and name the
-- duplicate's file and line for an R03.
CREATE TABLE run_rejections (
    run_id            TEXT NOT NULL REFERENCES runs (run_id),
    ps_id             TEXT NOT NULL,
    invoice_no        BIGINT NOT NULL,
    dup_import_sha256 TEXT NOT NULL,
    dup_line          BIGINT NOT NULL,
    code              TEXT NOT NULL,
    PRIMARY KEY (ps_id, invoice_no, dup_import_sha256, dup_line)
);
CREATE INDEX run_rejections_by_run ON run_rejections (run_id);

-- Claims a run could not pay (payee without valid bank details): reported,
-- left unpaid, picked up by the next run.
CREATE TABLE run_holds (
    run_id     TEXT NOT NULL REFERENCES runs (run_id),
    ps_id      TEXT NOT NULL,
    invoice_no BIGINT NOT NULL,
    reason     TEXT NOT NULL,
    PRIMARY KEY (run_id, ps_id, invoice_no)
);

CREATE TABLE run_files (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    path   TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes  BIGINT NOT NULL,
    PRIMARY KEY (run_id, path)
);

-- Lease for jobs on SQLite (PostgreSQL uses advisory locks instead; see
-- store::lock). A dead holder is detected by its pid and heartbeat.
CREATE TABLE job_locks (
    name         TEXT PRIMARY KEY,
    holder       TEXT NOT NULL,
    acquired_at  TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);
