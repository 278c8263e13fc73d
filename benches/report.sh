#!/usr/bin/env bash
# The SLA report over a month of claims on PostgreSQL.
#
#   bash benches/report.sh                          # 10,000,000 claims, release build
#   BENCH_CLAIMS=200000 BENCH_PROFILE=dev bash benches/report.sh
#   BENCH_KEEP_DB=1 bash benches/report.sh      # keep the database; then
#   BENCH_REUSE_DB=1 bash benches/report.sh     # measure again without repopulating
#   BENCH_BIN=/path/to/tpsettle bash benches/report.sh   # another build (old vs new)
#
# Importing 10 M claims through `tpsettle import` takes hours at today's
# speed, so the database is populated with SQL (generate_series) that
# follows the schema: 20 receipt days (Nov 2026's working days), one run per
# working day that pays each claim the next working day; 2 % of the claims
# are paid five working days after their deadline, the claims of 1 % of the practitioners
# (no bank details) are held and never paid; 10 % HTP and 3 % rejected
# claims are present but not reported. Deadlines are computed in SQL from a
# holiday list; the report recomputes them with the calendar and would
# report any difference.
#
# Prints the report's wall time and peak RSS (from /usr/bin/time -v).
# Figures are printed, never asserted: performance lives here, not in tests.
set -euo pipefail
cd "$(dirname "$0")/.."

CLAIMS="${BENCH_CLAIMS:-10000000}"
PRACTITIONERS="${BENCH_PRACTITIONERS:-60000}"
PROFILE="${BENCH_PROFILE:-release}"
PG_ADMIN="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
WORK="${BENCH_DIR:-$(mktemp -d)}"
TARGET="${CARGO_TARGET_DIR:-target}"
KEEP_DB="${BENCH_KEEP_DB:-}"

if [ -n "${BENCH_BIN:-}" ]; then BIN=$BENCH_BIN; elif [ "$PROFILE" = release ]; then cargo build -q --release; BIN="$TARGET/release/tpsettle"; else cargo build -q; BIN="$TARGET/debug/tpsettle"; fi
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time; }

PG_DB="${BENCH_DB:-tpsettle_report_bench}"
PG_URL="${PG_ADMIN%/*}/$PG_DB"
if ! psql "$PG_ADMIN" -qAtc "SELECT 1" >/dev/null 2>&1; then
    echo "NOTICE: PostgreSQL at $PG_ADMIN not reachable: benchmark skipped" >&2
    [ "${CI:-}" = true ] && { echo "PostgreSQL is required under CI=true" >&2; exit 1; }
    exit 0
fi

populate() {
    psql "$PG_ADMIN" -qAtc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null
    psql "$PG_ADMIN" -qAtc "CREATE DATABASE $PG_DB" >/dev/null
    # Applies the migrations (an empty report of an empty database).
    "$BIN" --db "$PG_URL" report sla --from 2026-01-01 --to 2026-01-01 --out "$WORK/empty" >/dev/null
    psql "$PG_URL" -v ON_ERROR_STOP=1 -q <<SQL
SET synchronous_commit = off;
-- Working days of Nov–Dec 2026 (11 Nov and 25 Dec are holidays), numbered.
CREATE TEMP TABLE wd AS
  SELECT d::date AS d, row_number() OVER (ORDER BY d) AS n
  FROM generate_series(DATE '2026-10-26', DATE '2026-12-31', INTERVAL '1 day') d
  WHERE extract(isodow FROM d) < 6 AND d::date NOT IN (DATE '2026-11-11', DATE '2026-12-25');
-- Receipt days: Nov's 20 working days, numbered 0..19.
CREATE TEMP TABLE rd AS SELECT d, n, row_number() OVER (ORDER BY d) - 1 AS k FROM wd
  WHERE d BETWEEN DATE '2026-11-02' AND DATE '2026-11-30';

INSERT INTO imports VALUES ('bench', 'claims', 'bench.csv', $CLAIMS, $CLAIMS, 0, 0, '2026-10-31T00:00:00.000Z');
INSERT INTO practitioners
  SELECT lpad(i::text, 9, '0'), NULL, 'Praticien ' || i, 'pharmacien', '1 rue X', '75001', 'Paris', 'FR',
         NULL, DATE '2020-01-01', DATE '2020-01-01', 'bench'
  FROM generate_series(1, $PRACTITIONERS) i;
-- 1 % of the practitioners have no bank details.
INSERT INTO bank_details
  SELECT 'practitioner', lpad(i::text, 9, '0'), DATE '2020-01-01', 'FR7630006000011234567890189', NULL, 'Praticien ' || i, 'bench'
  FROM generate_series(1, $PRACTITIONERS) i WHERE i % 100 <> 0;
INSERT INTO adherents
  SELECT 'A' || i, 'Adherent ' || i, 'CG' || lpad((i % 40)::text, 2, '0'), NULL, NULL, NULL, NULL, 'bench'
  FROM generate_series(1, greatest($CLAIMS / 4, 100)) i;

-- Claims, spread evenly over the receipt days; the other draws come from
-- independent hashes of the row number (deterministic, uncorrelated).
INSERT INTO claims
  SELECT lpad((1 + h1 % $PRACTITIONERS)::text, 9, '0'), g,
         CASE WHEN h2 % 5 = 0 THEN 'NOEMIE' ELSE 'DRE' END,
         CASE WHEN h3 % 10 = 3 THEN 'HTP' ELSE 'TP' END,
         to_char(r.d, 'YYYY-MM-DD') || 'T10:00:00+01:00', r.d, dl.d, r.d,
         'A' || (1 + h2 % greatest($CLAIMS / 4, 100)), 'Patient', 3000, 2000, 1000 + h1 % 5000,
         CASE WHEN h4 % 33 = 7 THEN 'rejected' ELSE 'accepted' END,
         CASE WHEN h4 % 33 = 7 THEN 'E12' END, CASE WHEN h4 % 33 = 7 THEN 'Droits fermes' END,
         'x', 'bench', g
  FROM (SELECT g, hashint8(g)::bigint & 2147483647 AS h1, hashint8(g + 1000000007)::bigint & 2147483647 AS h2,
               hashint8(g + 2000000011)::bigint & 2147483647 AS h3, hashint8(g + 3000000019)::bigint & 2147483647 AS h4
        FROM generate_series(1, $CLAIMS) g) s
  JOIN rd r ON r.k = g % 20
  JOIN wd dl ON dl.n = r.n + 4;

-- One run per working day from Nov 3 to Dec 18, planned at 06:00 UTC.
INSERT INTO runs
  SELECT 'RUN-' || to_char(d, 'YYYYMMDD'), d, d, 'completed', to_char(d, 'YYYY-MM-DD') || 'T06:00:00.000Z',
         to_char(d, 'YYYY-MM-DD') || 'T07:00:00.000Z', 0, 0
  FROM wd WHERE d BETWEEN DATE '2026-11-03' AND DATE '2026-12-18';

-- Who pays what: the next working day, 2 % nine working days after receipt
-- (five after the deadline), the
-- practitioners without bank details never (held instead).
CREATE TEMP TABLE plan AS
  SELECT c.ps_id, c.invoice_no, c.amc_due_cents, w.d AS pay_date
  FROM claims c JOIN rd r ON r.d = c.received_date
  JOIN wd w ON w.n = r.n + CASE WHEN (hashint8(c.invoice_no + 4000000007)::bigint & 2147483647) % 50 = 1 THEN 9 ELSE 1 END
  WHERE c.status = 'accepted' AND c.mode = 'TP';
CREATE TEMP TABLE held AS
  SELECT p.ps_id, p.invoice_no FROM plan p
  WHERE NOT EXISTS (SELECT 1 FROM bank_details b WHERE b.holder_id = p.ps_id);
DELETE FROM plan p USING held h WHERE p.ps_id = h.ps_id AND p.invoice_no = h.invoice_no;
INSERT INTO run_holds
  SELECT 'RUN-' || to_char(w.d, 'YYYYMMDD'), h.ps_id, h.invoice_no, 'practitioner has no bank details'
  FROM held h JOIN claims c USING (ps_id, invoice_no) JOIN rd r ON r.d = c.received_date JOIN wd w ON w.n = r.n + 1;

INSERT INTO payments
  SELECT 'RUN-' || to_char(pay_date, 'YYYYMMDD') || '-P' || ps_id, 'RUN-' || to_char(pay_date, 'YYYYMMDD'),
         'practitioner', ps_id, SUM(amc_due_cents), COUNT(*), 'FR7630006000011234567890189', NULL, 'x', DATE '2020-01-01'
  FROM plan GROUP BY pay_date, ps_id;
INSERT INTO payment_claims (ps_id, invoice_no, reference, amount_cents, origin, deadline, care_date)
  SELECT p.ps_id, p.invoice_no, 'RUN-' || to_char(p.pay_date, 'YYYYMMDD') || '-P' || p.ps_id, p.amc_due_cents,
         c.origin, c.deadline, c.care_date
  FROM plan p JOIN claims c USING (ps_id, invoice_no);
-- What is left unpaid waits in unpaid_claims, as the import and the runs
-- keep it (migration 0006 fills it the same way).
INSERT INTO unpaid_claims (ps_id, invoice_no, received_date, deadline, amc_due_cents,
    payee_kind, payee_id, origin, adherent_id, care_date)
  SELECT c.ps_id, c.invoice_no, c.received_date, c.deadline, c.amc_due_cents,
         CASE WHEN c.mode = 'TP' THEN 'practitioner' ELSE 'adherent' END,
         CASE WHEN c.mode = 'TP' THEN c.ps_id ELSE c.adherent_id END, c.origin, c.adherent_id,
         c.care_date
  FROM claims c
  WHERE c.status = 'accepted'
    AND NOT EXISTS (SELECT 1 FROM payment_claims pc WHERE pc.ps_id = c.ps_id AND pc.invoice_no = c.invoice_no);
-- No run of this database returned its rejections: they all wait.
INSERT INTO unreturned_rejections
  SELECT ps_id, invoice_no, '', 0, reject_code, received_date FROM claims WHERE status = 'rejected';
UPDATE runs r SET payments = t.n, amount_cents = t.total
  FROM (SELECT run_id, COUNT(*) AS n, CAST(SUM(amount_cents) AS BIGINT) AS total FROM payments GROUP BY run_id) t
  WHERE t.run_id = r.run_id;
INSERT INTO run_files SELECT run_id, 'manifest.json', repeat('0', 64), 1000 FROM runs;
INSERT INTO run_files SELECT run_id, 'sepa/' || run_id || '.xml', repeat('1', 64), 100000 FROM runs;
INSERT INTO run_files SELECT run_id, 'rsp/' || payee_id || '.rsp', repeat('2', 64), 2000 FROM payments;
SQL
    # What each run records for the report when it is planned, filled the
    # way migration 0008 fills it for runs made before it.
    sed -n '/^-- The runs made before this migration/,$p' migrations/0008_sla_paid_counts.sql |
        psql "$PG_URL" -v ON_ERROR_STOP=1 -q
    psql "$PG_URL" -qc "VACUUM ANALYZE"
}

if [ -z "${BENCH_REUSE_DB:-}" ] || ! psql "$PG_URL" -qAtc "SELECT 1 FROM claims LIMIT 1" >/dev/null 2>&1; then
    echo "populating $PG_DB with $CLAIMS claims (SQL)…"
    start=$(date +%s)
    populate
    echo "populated in $(( $(date +%s) - start )) s"
fi

[ -n "${BENCH_POPULATE_ONLY:-}" ] && exit 0

echo "workload: $(psql "$PG_URL" -qAtc "SELECT COUNT(*) FROM claims") claims, $PROFILE build, work dir $WORK"
/usr/bin/time -v -o "$WORK/time.txt" "$BIN" --db "$PG_URL" report sla --from 2026-11-01 --to 2026-11-30 --out "$WORK/report" > "$WORK/summary.txt"
cat "$WORK/summary.txt"
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt")
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
cpu_user=$(awk -F': ' '/User time/ {print $2}' "$WORK/time.txt")
cpu_sys=$(awk -F': ' '/System time/ {print $2}' "$WORK/time.txt")
echo
echo "report sla: wall $wall, user ${cpu_user}s, sys ${cpu_sys}s, peak RSS $(awk -v r="$rss" 'BEGIN{printf "%.0f MB", r/1024}')"
ls -l "$WORK/report"

[ -z "$KEEP_DB" ] && [ -z "${BENCH_REUSE_DB:-}" ] && psql "$PG_ADMIN" -qAtc "DROP DATABASE $PG_DB" >/dev/null
[ -z "${BENCH_DIR:-}" ] && rm -rf "$WORK"
exit 0
