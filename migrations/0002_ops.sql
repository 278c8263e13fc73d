-- Operations: what the daemon ran, and which alerts were already sent.
-- Portable SQL (SQLite and PostgreSQL), like 0001.

-- Every execution of a scheduled job (settlement, watch, SLA report).
-- `slot` names what the execution was for: the business
-- date of a settlement, the slot instant of a watch, the month of an SLA
-- report. Which settlement dates are due is decided from `runs`, not from
-- here; this table is history, retry pacing and /metrics.
CREATE TABLE job_runs (
    job         TEXT NOT NULL,
    slot        TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'busy')),
    run_id      TEXT,
    detail      TEXT,
    PRIMARY KEY (job, slot, started_at)
);
CREATE INDEX job_runs_by_job ON job_runs (job, started_at);

-- The alert state, so the same alert is never sent twice: what the last
-- e-mail said (`problems` digest or `recovered`), and the problems it
-- covered. A digest goes out only when a problem appears that is not in
-- `alert_items`; a recovery mail when the set becomes empty. Written only
-- after the SMTP server accepted the mail: an outage means the next watch
-- tries again.
CREATE TABLE alert_state (
    channel     TEXT PRIMARY KEY,
    state       TEXT NOT NULL CHECK (state IN ('problems', 'recovered')),
    fingerprint TEXT NOT NULL,
    problems    BIGINT NOT NULL CHECK (problems >= 0),
    sent_at     TEXT NOT NULL
);

CREATE TABLE alert_items (
    channel  TEXT NOT NULL,
    item_key TEXT NOT NULL,
    PRIMARY KEY (channel, item_key)
);

-- Watch looks up unpaid claims by deadline, and a claim's latest hold; the
-- SLA report asks of each claim whether a run ever held it (run_holds is
-- keyed by run first: without this index, a full scan per claim on SQLite).
CREATE INDEX claims_by_deadline ON claims (status, deadline);
CREATE INDEX run_holds_by_claim ON run_holds (ps_id, invoice_no);
