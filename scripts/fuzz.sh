#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that takes outside input
# (cargo-fuzz / libFuzzer; the targets live in fuzz/fuzz_targets).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Installs cargo-fuzz if missing, builds every target once (release, debug
# assertions and overflow checks on, AddressSanitizer), then runs each target
# for SECONDS_PER_TARGET (default 10) from its committed seed corpus
# (fuzz/corpus/<target>). Inputs found along the way go to a scratch corpus
# (fuzz/target/corpus-run/<target>, not committed); a crash, a panic, a failed
# round-trip assertion, an input slower than 10 s, RSS over 1 GiB or a single
# allocation over 1 GiB stops the run, leaves the input in
# fuzz/artifacts/<target>/ and fails the script. Last, one line per target:
# executions, executions per second and coverage.
#
# Toolchain: cargo-fuzz passes nightly-only flags to rustc (`-Zsanitizer=address`
# and other `-Z` options next to the SanitizerCoverage llvm args). On a
# stable toolchain RUSTC_BOOTSTRAP=1 lets rustc accept them; the AddressSanitizer
# runtime ships with stable's rust-std for x86_64-unknown-linux-gnu, and
# libfuzzer-sys compiles libFuzzer itself with the system C++ compiler (c++).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

CARGO_FUZZ_VERSION=0.13.2
seconds=${1:-10}
shift || true
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
    cargo install --locked --version "$CARGO_FUZZ_VERSION" cargo-fuzz
fi

# fuzz/Cargo.lock pins the fuzz workspace's dependencies; cargo fuzz has no
# --locked, so a library that gains a dependency updates it here (commit it).
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || mapfile -t targets < <(cargo fuzz list)

triple=x86_64-unknown-linux-gnu
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
cargo fuzz build --target "$triple" --target-dir "$target_dir"
bin_dir="$target_dir/$triple/release"

# Longest input per target: a webhook or a WebSocket message is small; a
# leads file gets more room.
max_len() {
    case $1 in
    csv_import) echo 65536 ;;
    *) echo 16384 ;;
    esac
}

summary=()
for t in "${targets[@]}"; do
    scratch="$target_dir/corpus-run/$t"
    mkdir -p "$scratch" "artifacts/$t"
    log="$target_dir/fuzz-$t.log"
    echo "==> $t (${seconds}s)"
    if ! "$bin_dir/$t" "$scratch" "corpus/$t" \
        -max_total_time="$seconds" -max_len="$(max_len "$t")" \
        -rss_limit_mb=1024 -malloc_limit_mb=1024 -timeout=10 \
        -artifact_prefix="artifacts/$t/" -print_final_stats=1 \
        >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz target $t failed: reproduce with $bin_dir/$t <artifact>" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    summary+=("$(printf '%-18s %10s runs %8s execs/s  %s' "$t" "$runs" "$rate" "$cov")")
done
printf '%s\n' "${summary[@]}"
