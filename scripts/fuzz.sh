#!/usr/bin/env bash
# Fuzzes every parser with libFuzzer and AddressSanitizer (`make fuzz`, `make fuzz-smoke`).
#
#   scripts/fuzz.sh [--smoke] [--runs N] [SECONDS]
#
# Builds each fuzz target once (release, -sanitize=fuzzer,address, scratch path .build-fuzz, with
# ENVSEAL_FUZZ=1 so that Package.swift declares the targets), then runs each for SECONDS (default
# 60; --smoke: 10; --runs N: N inputs instead of a time) on a scratch copy of its seed corpus in
# Fuzz/corpus/<target>, so the committed corpus never grows. Prints one line a target: executions,
# executions per second, coverage (libFuzzer's `cov`), new corpus units and crashes. Exits 1 when a
# target crashes (a trap, a sanitizer report, a leak or a timeout); the input is kept as
# .build-fuzz/crashes/<target>-crash-<sha1> and the log beside it. Rerun one input with
# `.build-fuzz/release/<target> <file>`.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SWIFT="${SWIFT:-swift}"
SCRATCH="$ROOT/.build-fuzz"
CRASHES="$SCRATCH/crashes"

# target:max_len[:libFuzzer flags]. Each max_len is above the largest input the parser accepts, or
# a few times the largest realistic input where the format has no bound of its own. FuzzSigV4 runs
# without leak detection: its verifier is async, so each input starts a task, and the concurrency
# runtime and the signing-key caches allocate in one input and free in a later one; libFuzzer then
# re-runs almost every input under a full LeakSanitizer scan, which took 97% of the time (84 exec/s
# instead of several thousand).
TARGETS=(
  FuzzDotenv:4096
  FuzzEncryptionContext:8200
  FuzzCiphertextBlob:4200
  FuzzSealedFile:8192
  FuzzKMSRequest:4096
  FuzzSigV4:4096:-detect_leaks=0
  FuzzKeyPolicy:8192
)

die() {
  echo "fuzz: error: $*" >&2
  exit 2
}

seconds=60
runs=""
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) seconds=10 ;;
    --runs) [ $# -ge 2 ] || die "--runs needs a number"; runs="$2"; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *[!0-9]*|"") die "unknown argument '$1' (usage: scripts/fuzz.sh [--smoke] [--runs N] [SECONDS])" ;;
    *) seconds="$1" ;;
  esac
  shift
done

cd "$ROOT"
for entry in "${TARGETS[@]}"; do
  target="${entry%%:*}"
  echo "fuzz: building $target"
  ENVSEAL_FUZZ=1 "$SWIFT" build -c release --scratch-path "$SCRATCH" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing \
    --product "$target" 2>&1 | grep -E "error|warning: .*\.swift|Compiling|complete" || true
  [ -x "$SCRATCH/release/$target" ] || die "$target did not build"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/envseal-fuzz-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$CRASHES"

if [ -n "$runs" ]; then
  limit="-runs=$runs"; budget="$runs inputs"
else
  limit="-max_total_time=$seconds"; budget="$seconds s"
fi
rows=()
failed=0
for entry in "${TARGETS[@]}"; do
  IFS=: read -r target max_len flags <<<"$entry"
  corpus="$WORK/$target"
  mkdir -p "$corpus"
  cp "$ROOT/Fuzz/corpus/$target/"* "$corpus/" 2>/dev/null || true
  log="$WORK/$target.log"
  echo "fuzz: running $target ($budget, max_len $max_len)"
  status=0
  # shellcheck disable=SC2086 # $flags is a list of libFuzzer flags, or empty
  "$SCRATCH/release/$target" "$limit" -max_len="$max_len" -timeout=10 -print_final_stats=1 $flags \
    -artifact_prefix="$CRASHES/$target-" "$corpus" >"$log" 2>&1 || status=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  added="$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)"
  cov="$(grep -oE ' cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)"
  crashes=0
  if [ "$status" -ne 0 ]; then
    crashes="$(grep -cE '^artifact_prefix=|Test unit written to' "$log" || true)"
    [ "$crashes" -gt 0 ] || crashes=1
    cp "$log" "$CRASHES/$target.log"
    failed=1
    echo "fuzz: $target crashed (exit $status); input and log in ${CRASHES#"$ROOT"/}/"
    grep -E '^(==[0-9]+==ERROR|Fatal error|.*property violated|SUMMARY)' "$log" | head -5 | sed 's/^/    /' || true
  fi
  rows+=("$(printf '%-22s %12s %10s %8s %8s %8s' "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${added:-?}" "$crashes")")
done

echo
printf '%-22s %12s %10s %8s %8s %8s\n' target executions exec/s cov new crashes
for row in "${rows[@]}"; do echo "$row"; done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: error: a target crashed; see ${CRASHES#"$ROOT"/}/" >&2
  exit 1
fi
