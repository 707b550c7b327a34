#!/usr/bin/env bash
# Repeats the long runs behind the figures in docs/RELIABILITY.md (crash, power cut, fault,
# stress and fuzz runs) and writes what they printed to docs/soak/<date>/: one log per run and
# SUMMARY.md with each run's command, seed, duration, exit status and final tallies. A fuzz
# run's corpus is a scratch copy of fuzz/seeds/TARGET (the temporary path in its command).
#
#   scripts/soak.sh                 # the published sizes (about half an hour on 2 cores)
#   SOAK_SCALE=0.1 scripts/soak.sh  # a tenth of every run, to try the script
#   SOAK_ONLY="power_cut faults" scripts/soak.sh   # some runs only
#
# Every run is seeded: SOAK_SEED (default: the date as YYYYMMDD) is passed to the tests that
# take a seed, and each test prints the seed it used, so a failure can be repeated exactly.
# Fuzzing needs cargo-fuzz (`cargo install cargo-fuzz`); without it the fuzz runs are
# recorded as skipped.
set -uo pipefail
cd "$(dirname "$0")/.."

scale=${SOAK_SCALE:-1}
seed=${SOAK_SEED:-$(date -u +%Y%m%d)}
only=${SOAK_ONLY:-}
day=$(date -u +%Y-%m-%d)
out=${SOAK_OUT:-docs/soak/$day}
mkdir -p "$out"
summary="$out/SUMMARY.md"

# n BASE: BASE scaled by SOAK_SCALE, at least 1.
n() { awk -v b="$1" -v s="$scale" 'BEGIN { v = int(b * s); print (v < 1 ? 1 : v) }'; }

wanted() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]]; }

{
    echo "# Soak run of $day"
    echo
    echo "- commit: \`$(git rev-parse HEAD)\`$(git diff --quiet HEAD -- src tests fuzz || echo ' (with uncommitted changes)')"
    echo "- machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
    echo "- toolchain: $(rustc --version)"
    echo "- scale: $scale; seed: $seed"
    echo "- started: $(date -u +%FT%TZ)"
    echo
    echo "| run | command | seconds | result |"
    echo "|---|---|---|---|"
} > "$summary"

details=$(mktemp)
failures=0

# run NAME COMMAND...: runs a command with the seed in its environment, logs everything it
# prints, and adds a row to the summary and its tallies (the lines the test prints with
# --nocapture, without cargo's build noise and the test harness's own lines) below it.
run() {
    local name=$1
    shift
    wanted "$name" || return 0
    local log="$out/$name.log"
    local start end status
    start=$(date +%s)
    echo "soak: $name: $*" >&2
    env "$@" > "$log" 2>&1
    status=$?
    end=$(date +%s)
    local result=passed
    [ "$status" -eq 0 ] || { result="FAILED (exit $status)"; failures=$((failures + 1)); }
    local shown=("$@")
    echo "| $name | \`${shown[*]}\` | $((end - start)) | $result |" >> "$summary"
    {
        echo
        echo "## $name"
        echo
        echo '```text'
        grep -v -E '^\s*(Compiling|Finished|Running|Blocking|Downloaded|Downloading|Updating|Locking|Adding|Doc-tests)\b|^running [0-9]+ tests?$|^test .* \.\.\. (ok|ignored)$|^test result:|^$|^#[0-9]+\s+(INITED|NEW|REDUCE|pulse|RELOAD)' "$log" | tail -n 60
        echo '```'
    } >> "$details"
}

cargo build --release --tests --all-features >&2 || exit 1

# Kill timing is the randomness of kill_recovery; the other runs take the seed.
run kill_recovery TWINSTORE_CRASH_ROUNDS="$(n 100)" \
    cargo test --release --all-features --test kill_recovery -- --nocapture --test-threads 1
run cold_crash TWINSTORE_CRASH_ROUNDS="$(n 60)" TWINSTORE_COLD_CRASH_SEED="$seed" \
    cargo test --release --all-features --test cold_crash -- flush_and_compaction --nocapture --test-threads 1
run crash_mix TWINSTORE_CRASH_ROUNDS="$(n 1000)" TWINSTORE_COLD_CRASH_SEED="$seed" \
    cargo test --release --all-features --test cold_crash -- mix --nocapture
run power_cut TWINSTORE_POWER_CUT_ROUNDS="$(n 1000)" TWINSTORE_POWER_CUT_SEED="$seed" \
    cargo test --release --all-features --test power_cut -- --nocapture --test-threads 1
# Round r of the fault run has seed RANDOM_SEED + r (tests/faults.rs); start at the seed.
run faults TWINSTORE_FAULT_ROUNDS="$(n 500)" TWINSTORE_FAULT_FIRST_ROUND="$seed" \
    cargo test --release --all-features --test faults random -- --nocapture
# Thread interleaving is the randomness of the stress run; it has no seed.
run stress TWINSTORE_STRESS_SECS="$(n 120)" \
    cargo test --release --all-features --test stress -- --nocapture

fuzz_secs=$(n 60)
if cargo fuzz --version > /dev/null 2>&1; then
    (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build -O) >&2 || exit 1
    for target in $(ls fuzz/fuzz_targets | sed 's/\.rs$//'); do
        # A scratch copy of the seeds: libFuzzer adds what it finds to its corpus folder,
        # and the committed seeds change only by a deliberate merge.
        corpus=$(mktemp -d)
        cp -r "fuzz/seeds/$target/." "$corpus/"
        run "fuzz_$target" RUSTC_BOOTSTRAP=1 sh -c \
            "cd fuzz && cargo fuzz run -O $target $corpus -- -max_total_time=$fuzz_secs -seed=$seed -print_final_stats=1"
        rm -rf "$corpus"
        # libFuzzer logs every new input: kept compressed (the summary has the totals).
        [ -f "$out/fuzz_$target.log" ] && gzip -f "$out/fuzz_$target.log"
    done
else
    echo "| fuzz | (cargo-fuzz not installed) | | skipped |" >> "$summary"
fi

{
    echo
    echo "Finished: $(date -u +%FT%TZ); $failures failed."
    cat "$details"
} >> "$summary"
rm -f "$details"
echo "soak: summary in $summary ($failures failed)" >&2
[ "$failures" -eq 0 ]
