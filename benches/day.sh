#!/usr/bin/env bash
# End-to-end benchmark of a settlement day on SQLite and PostgreSQL.
#
#   bash benches/day.sh                      # 1,000,000 claims, 60,000 practitioners, release build
#   BENCH_CLAIMS=100000 bash benches/day.sh  # smaller
#
# Prints, per database: import and settle wall time, claims/s, peak RSS
# (from /usr/bin/time -v), output bytes; and, as a floor, PostgreSQL's bare
# COPY of the same claims.csv into an unindexed table and a bare GROUP BY.
# Figures are printed, never asserted: performance lives here, not in tests.
set -euo pipefail
cd "$(dirname "$0")/.."

CLAIMS="${BENCH_CLAIMS:-1000000}"
PRACTITIONERS="${BENCH_PRACTITIONERS:-60000}"
DATE="${BENCH_DATE:-2026-12-01}"
PROFILE="${BENCH_PROFILE:-release}"
PG_ADMIN="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
WORK="${BENCH_DIR:-$(mktemp -d)}"
TARGET="${CARGO_TARGET_DIR:-target}"

# The day needs no SLA report: the release build leaves polars out (minutes
# of compilation); the dev build shares `cargo test`'s, features and all.
if [ "$PROFILE" = release ]; then cargo build -q --release --no-default-features; BIN="$TARGET/release/tpsettle"; else cargo build -q; BIN="$TARGET/debug/tpsettle"; fi
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time; }
command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3; }

echo "workload: $CLAIMS claims, $PRACTITIONERS practitioners, date $DATE, $PROFILE build, work dir $WORK"
"$BIN" gen --practitioners "$PRACTITIONERS" --claims "$CLAIMS" --seed 1 --date "$DATE" --out "$WORK/data" >/dev/null

# timed LABEL CMD…: runs CMD under /usr/bin/time, records "LABEL seconds maxrss_kb"
# and keeps CMD's log in $WORK/logs/LABEL.log.
timed() {
    local label=$1; shift
    # Each step's log is kept (settle logs each of its steps' elapsed_ms).
    local log="$WORK/logs/${label//:/-}.log"
    mkdir -p "$WORK/logs"
    /usr/bin/time -v -o "$WORK/time.txt" "$@" >/dev/null 2>"$log" || { cat "$log"; exit 1; }
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
    printf '%s %s %s\n' "$label" "$wall" "$rss" >> "$WORK/results.txt"
}

: > "$WORK/results.txt"
run_db() {
    local name=$1 url=$2
    for kind in practitioners adherents; do timed "$name:import-$kind" "$BIN" --db "$url" import "$kind" "$WORK/data/$kind.csv"; done
    timed "$name:import-claims" "$BIN" --db "$url" import claims "$WORK/data/claims.csv"
    timed "$name:settle" "$BIN" --db "$url" settle --date "$DATE" --out "$WORK/out-$name"
    goal_scope "$name"
    du -sb "$WORK/out-$name" | awk -v n="$name" '{print n":output-bytes", $1, 0}' >> "$WORK/results.txt"
    # Floor: writing the same bytes, as the same files, made durable the way
    # a run makes them (one syncfs), without computing any of them.
    # The copy stays until the end: deleting ~90,000 files just before the
    # next database's run slows that run's own file creations (on ext4
    # without a journal, each new inode is checked against the recently
    # deleted ones: 30,000 files 6-34 s instead of 4, docs/performance.md).
    timed "$name:floor-write-bytes" bash -c "cp -r '$WORK/out-$name' '$WORK/copy-$name' && sync -f '$WORK/copy-$name'"
}

# The settle steps the issue's goal covers (plan, SEPA, RSP, publish,
# manifest; not the paper statements, which have a goal of their own),
# summed from the step timings the settle log gives.
goal_scope() {
    local log="$WORK/logs/$1-settle.log"
    sed 's/\x1b\[[0-9;]*m//g' "$log" \
        | grep -E 'run planned|SEPA file written|RSP returns written|files published and recorded|manifest written' \
        | grep -o 'elapsed_ms=[0-9]*' | cut -d= -f2 \
        | awk -v n="$1" '{ms += $1} END {printf "%s:settle-goal-scope %.2f 0\n", n, ms / 1000}' >> "$WORK/results.txt"
}

# Floor of the settlement's bookkeeping: each due claim recorded once under
# its key by constraint (the least "exactly once" must write), in key order,
# in one transaction. SQL text shared by both databases.
PAID_FLOOR="CREATE TABLE paid_floor (ps_id text, invoice_no bigint, reference text, amount_cents bigint, PRIMARY KEY (ps_id, invoice_no)); \
INSERT INTO paid_floor SELECT ps_id, invoice_no, 'RUN-' || ps_id, amc_due_cents FROM claims WHERE status = 'accepted' ORDER BY ps_id, invoice_no;"
GROUP_BY_FLOOR="SELECT ps_id, sum(amc_due_cents) FROM claims WHERE status = 'accepted' GROUP BY ps_id"

run_db sqlite "sqlite://$WORK/bench.db"
timed "sqlite:floor-groupby" sqlite3 "$WORK/bench.db" "$GROUP_BY_FLOOR"
timed "sqlite:floor-paid-keyed" sqlite3 "$WORK/bench.db" -cmd "PRAGMA synchronous=NORMAL" -cmd "PRAGMA cache_size=-65536" \
    "BEGIN; $PAID_FLOOR COMMIT;"
sqlite3 "$WORK/bench.db" "DROP TABLE paid_floor"

# Floors on SQLite: its own shell loading the same claims.csv in one
# transaction, as our connections run (WAL, synchronous=NORMAL, 64 MB
# cache), into a table without a key and into one keyed like `claims`.
# The keyed load is the least any import that refuses a second claim under
# the same key by constraint must do.
FLOOR_COLUMNS="ps_id text, invoice_no bigint, origin text, mode text, received_at text, care_date text, adherent_id text, beneficiary text, billed numeric, amo_paid numeric, amc_due numeric, status text, reject_code text, reject_label text"
tail -n +2 "$WORK/data/claims.csv" > "$WORK/claims-rows.csv"
for floor in bare keyed; do
    key=""; [ $floor = keyed ] && key=", PRIMARY KEY (ps_id, invoice_no)"
    rm -f "$WORK/floor.db"*
    sqlite3 "$WORK/floor.db" "PRAGMA journal_mode=WAL" "CREATE TABLE f ($FLOOR_COLUMNS$key)" >/dev/null
    timed "sqlite:floor-import-$floor" sqlite3 "$WORK/floor.db" -cmd "PRAGMA synchronous=NORMAL" \
        -cmd "PRAGMA cache_size=-65536" -cmd ".mode csv" -cmd "BEGIN" -cmd ".import $WORK/claims-rows.csv f" "COMMIT"
done
rm -f "$WORK/floor.db"* "$WORK/claims-rows.csv"

PG_DB="tpsettle_bench_$$"
if psql "$PG_ADMIN" -qAtc "CREATE DATABASE $PG_DB" >/dev/null 2>&1; then
    PG_URL="${PG_ADMIN%/*}/$PG_DB"
    run_db postgres "$PG_URL"
    # Floors: what PostgreSQL itself needs to load and to group the same data.
    psql "$PG_URL" -qAtc "CREATE UNLOGGED TABLE copy_floor ($FLOOR_COLUMNS)"
    timed "postgres:floor-copy" psql "$PG_URL" -qAtc "\\copy copy_floor FROM '$WORK/data/claims.csv' WITH (FORMAT csv, HEADER true)"
    # The same into a logged table keyed like `claims`: the least a durable
    # import that refuses a second claim under one key must write.
    psql "$PG_URL" -qAtc "CREATE TABLE copy_keyed ($FLOOR_COLUMNS, PRIMARY KEY (ps_id, invoice_no))"
    timed "postgres:floor-copy-keyed" psql "$PG_URL" -qAtc "\\copy copy_keyed FROM '$WORK/data/claims.csv' WITH (FORMAT csv, HEADER true)"
    timed "postgres:floor-groupby" psql "$PG_URL" -qAtc "$GROUP_BY_FLOOR"
    timed "postgres:floor-paid-keyed" psql "$PG_URL" -qAt -1 -c "$PAID_FLOOR"
    psql "$PG_ADMIN" -qAtc "DROP DATABASE $PG_DB" >/dev/null
else
    echo "NOTICE: PostgreSQL at $PG_ADMIN not reachable: PostgreSQL part skipped" >&2
    [ "${CI:-}" = true ] && { echo "PostgreSQL is required under CI=true" >&2; exit 1; }
fi

echo
printf '%-32s %10s %12s %12s\n' step seconds claims/s "peak RSS MB"
while read -r label secs rss; do
    case $label in
        *settle-goal-scope) printf '%-32s %10.2f %12s %12s\n' "$label" "$secs" "$(awk -v c="$CLAIMS" -v s="$secs" 'BEGIN{ if (s>0) printf "%.0f", c/s; else print "-" }')" - ;;
        *output-bytes) printf '%-32s %10s %12s %12s\n' "$label" "$(awk -v b="$secs" 'BEGIN{printf "%.1f MB", b/1e6}')" - - ;;
        *) printf '%-32s %10.2f %12s %12.0f\n' "$label" "$secs" "$(awk -v c="$CLAIMS" -v s="$secs" 'BEGIN{ if (s>0) printf "%.0f", c/s; else print "-" }')" "$(awk -v r="$rss" 'BEGIN{print r/1024}')" ;;
    esac
done < "$WORK/results.txt"

# The claims import against its floors (issue 8: PostgreSQL at least half a
# bare COPY's speed, i.e. at most twice its time).
secs() { awk -v l="$1" '$1 == l {print $2}' "$WORK/results.txt"; }
echo
for pair in sqlite:floor-import-bare sqlite:floor-import-keyed postgres:floor-copy postgres:floor-copy-keyed; do
    db=${pair%%:*}; floor=$(secs "$pair"); import=$(secs "$db:import-claims")
    if [ -n "$floor" ] && [ -n "$import" ]; then
        awk -v d="$db" -v f="${pair#*:}" -v i="$import" -v s="$floor" \
            'BEGIN { if (s > 0) printf "%-10s import claims / %-20s %6.1f x\n", d, f, i / s }'
    fi
done
# The settlement against its floors (issue 8: within 3x a bare GROUP BY
# plus writing the same bytes; and the same with the paid claims' keyed
# record, the least exactly-once adds).
for db in sqlite postgres; do
    scope=$(secs "$db:settle-goal-scope"); g=$(secs "$db:floor-groupby"); w=$(secs "$db:floor-write-bytes"); k=$(secs "$db:floor-paid-keyed")
    if [ -n "$scope" ] && [ -n "$g" ] && [ -n "$w" ] && [ -n "$k" ]; then
        awk -v d="$db" -v s="$scope" -v g="$g" -v w="$w" -v k="$k" 'BEGIN {
            if (g + w > 0) printf "%-10s settle (goal scope) / (GROUP BY + write bytes)                %6.1f x\n", d, s / (g + w);
            if (g + w + k > 0) printf "%-10s settle (goal scope) / (GROUP BY + write bytes + paid keyed)   %6.1f x\n", d, s / (g + w + k) }'
    fi
done
if [ -z "${BENCH_DIR:-}" ]; then rm -rf "$WORK"; else rm -rf "$WORK"/copy-*; fi
exit 0
