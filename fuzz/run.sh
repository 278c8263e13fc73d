#!/usr/bin/env bash
# Bounded fuzzing of the CSV import parser and the RSP decoder:
#   bash fuzz/run.sh [SECONDS]     (per target, default 60)
# Installs cargo-fuzz if missing (cached under ~/.cache, about a minute),
# builds the targets on the stable toolchain (RUSTC_BOOTSTRAP=1: cargo-fuzz
# passes -Z flags), fuzzes each target from its seeds and the corpus kept
# from earlier runs, and copies any crash to tests/fixtures/fuzz-regressions/
# (then exits 1: commit the input, fix the bug).
set -euo pipefail
secs="${1:-60}"
cd "$(dirname "$0")"

tools="$HOME/.cache/tpsettle-tools"
export PATH="$tools/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz into $tools"
    start=$SECONDS
    cargo install --locked --quiet cargo-fuzz --version 0.13.2 \
        --root "$tools" --target-dir "$tools/target"
    echo "fuzz: cargo-fuzz installed in $((SECONDS - start)) s"
fi

export RUSTC_BOOTSTRAP=1
# No sanitizer: tpsettle has no unsafe code; what we look for are panics,
# overflows (debug assertions on) and broken checks. Instrumenting every
# dependency for AddressSanitizer would double the build for nothing here.
opts=(--sanitizer none --debug-assertions --target-dir "${FUZZ_TARGET_DIR:-$HOME/.cache/tpsettle-fuzz-target}")
start=$SECONDS
cargo fuzz build "${opts[@]}"
echo "fuzz: targets built in $((SECONDS - start)) s"

# Seeds: the hostile CSV corpus as each kind of file; sample RSP files;
# earlier findings. New inputs go to a corpus kept between runs.
seeds="$(mktemp -d)"
trap 'rm -rf "$seeds"' EXIT
mkdir -p "$seeds/import_csv" "$seeds/rsp_decode"
for f in ../tests/fixtures/bad/*.csv; do
    for k in 0 1 2; do
        { printf "\\x0$k"; cat "$f"; } > "$seeds/import_csv/$k-$(basename "$f")"
    done
done
cp seeds/rsp_decode/* "$seeds/rsp_decode/"
for t in import_csv rsp_decode; do
    find "../tests/fixtures/fuzz-regressions/$t" -type f ! -name '.*' -exec cp {} "$seeds/$t/" \;
done

corpus="${FUZZ_CORPUS:-$HOME/.cache/tpsettle-fuzz-corpus}"
status=0
for t in import_csv rsp_decode; do
    rm -rf "artifacts/$t"
    mkdir -p "$corpus/$t" "artifacts/$t"
    echo "fuzz: $t for $secs s"
    log="$seeds/$t.log"
    set +e
    cargo fuzz run "${opts[@]}" "$t" "$corpus/$t" "$seeds/$t" -- \
        -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb)' "$log" || true
    found=0
    for a in "artifacts/$t"/*; do
        [ -e "$a" ] || continue
        cp "$a" "../tests/fixtures/fuzz-regressions/$t/"
        echo "fuzz: $t: $(basename "$a") kept in tests/fixtures/fuzz-regressions/$t/: commit it and fix the bug"
        found=1
    done
    if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
        tail -40 "$log"
        echo "fuzz: $t FAILED (exit $rc)"
        status=1
    fi
done
exit $status
