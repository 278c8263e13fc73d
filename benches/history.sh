#!/usr/bin/env bash
# Settlement days one after the other: does a day cost more as the history grows?
#
#   bash benches/history.sh                          # 3 days of 1,000,000 claims, release build
#   BENCH_DAYS=2 BENCH_CLAIMS=100000 BENCH_PRACTITIONERS=6000 bash benches/history.sh
#   BENCH_BIN=/path/to/tpsettle bash benches/history.sh   # another build (old vs new)
#   BENCH_DBS=sqlite bash benches/history.sh              # one database only
#
# Day k is `gen --seed k --date D_k` (D_1 = 2026-12-01, then the next
# working days): its practitioners, members and claims are imported into the
# same database, then D_k is settled, which pays that day's claims while
# the earlier days' claims are already paid (the history). Prints, per
# database and day, the claims already stored, the claims import, the
# settlement and its planning step (from the run's log), wall seconds.
# Figures are printed, never asserted: performance lives here, not in tests.
set -euo pipefail
cd "$(dirname "$0")/.."

CLAIMS="${BENCH_CLAIMS:-1000000}"
PRACTITIONERS="${BENCH_PRACTITIONERS:-60000}"
DAYS="${BENCH_DAYS:-3}"
PROFILE="${BENCH_PROFILE:-release}"
DBS="${BENCH_DBS:-sqlite postgres}"
PG_ADMIN="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
WORK="${BENCH_DIR:-$(mktemp -d)}"
TARGET="${CARGO_TARGET_DIR:-target}"
DATES=(2026-12-01 2026-12-02 2026-12-03 2026-12-04 2026-12-07 2026-12-08 2026-12-09)
[ "$DAYS" -le "${#DATES[@]}" ] || { echo "at most ${#DATES[@]} days" >&2; exit 2; }

if [ -n "${BENCH_BIN:-}" ]; then BIN=$BENCH_BIN
elif [ "$PROFILE" = release ]; then cargo build -q --release --no-default-features; BIN="$TARGET/release/tpsettle"
else cargo build -q; BIN="$TARGET/debug/tpsettle"; fi
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time; }

echo "workload: $DAYS days of $CLAIMS claims, $PRACTITIONERS practitioners, $BIN, work dir $WORK"
for ((k = 1; k <= DAYS; k++)); do
    "$BIN" gen --practitioners "$PRACTITIONERS" --claims "$CLAIMS" --seed "$k" \
        --date "${DATES[k-1]}" --out "$WORK/data-$k" >/dev/null
done

# wall LOG CMD…: runs CMD, keeps its log, prints its wall seconds.
wall() {
    local log=$1; shift
    /usr/bin/time -f %e -o "$WORK/time.txt" "$@" >/dev/null 2>"$log" || { cat "$log" >&2; exit 1; }
    cat "$WORK/time.txt"
}

run_db() {
    local name=$1 url=$2 k stored import settle plan
    for ((k = 1; k <= DAYS; k++)); do
        stored=$(( (k - 1) * CLAIMS ))
        for kind in practitioners adherents; do
            wall "$WORK/$name-$k-$kind.log" "$BIN" --db "$url" import "$kind" "$WORK/data-$k/$kind.csv" >/dev/null
        done
        import=$(wall "$WORK/$name-$k-claims.log" "$BIN" --db "$url" import claims "$WORK/data-$k/claims.csv")
        settle=$(wall "$WORK/$name-$k-settle.log" "$BIN" --db "$url" settle --date "${DATES[k-1]}" --out "$WORK/out-$name")
        plan=$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/$name-$k-settle.log" | grep 'run planned' | grep -o 'elapsed_ms=[0-9]*' | grep -o '[0-9]*$' | head -1)
        printf '%-9s %4d %12d %10.1f %10.1f %10.1f\n' "$name" "$k" "$stored" "$import" "$settle" "$(awk -v m="${plan:-0}" 'BEGIN{print m/1000}')"
    done
}

printf '%-9s %4s %12s %10s %10s %10s\n' database day "stored before" import settle "of which plan"
for db in $DBS; do
    case $db in
        sqlite) run_db sqlite "sqlite://$WORK/history.db" ;;
        postgres)
            PG_DB="tpsettle_history_$$"
            if psql "$PG_ADMIN" -qAtc "CREATE DATABASE $PG_DB" >/dev/null 2>&1; then
                run_db postgres "${PG_ADMIN%/*}/$PG_DB"
                psql "$PG_ADMIN" -qAtc "DROP DATABASE $PG_DB" >/dev/null
            else
                echo "NOTICE: PostgreSQL at $PG_ADMIN not reachable: PostgreSQL part skipped" >&2
                [ "${CI:-}" = true ] && { echo "PostgreSQL is required under CI=true" >&2; exit 1; }
            fi ;;
        *) echo "unknown database $db" >&2; exit 2 ;;
    esac
done
[ -z "${BENCH_DIR:-}" ] && rm -rf "$WORK"
exit 0
