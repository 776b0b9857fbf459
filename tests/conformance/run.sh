#!/bin/sh
# run.sh BUILD_DIR [NAME...]: run the conformance programs built in
# BUILD_DIR/conformance/bin, write BUILD_DIR/conformance/NAME.out, and
# compare them with the recorded Erlang output: oak's own scenarios in
# oracle/ (recorded with oracle/record.sh, committed with the sources), and
# the shared oracle's (../shared/otp-oracle/scenarios/run_all.sh --compare).
# Scenarios that have no C program yet are reported as SKIP by run_all.sh.
set -u
build=$(cd "${1:-build}" && pwd); shift 2>/dev/null || true
here=$(cd "$(dirname "$0")" && pwd)
oracle="${OAK_ORACLE:-$here/../../../shared/otp-oracle}"
out="$build/conformance"
mkdir -p "$out"
selected() {
  [ $# -gt 1 ] || return 0
  n="$1"; shift
  for p in "$@"; do case "$n" in "$p"*) return 0 ;; esac; done
  return 1
}
for prog in "$out"/bin/*; do
  [ -x "$prog" ] || continue
  name=$(basename "$prog")
  selected "$name" "$@" || continue
  timeout 120 "$prog" > "$out/$name.out" 2> "$out/$name.err"
done
# oak's own scenarios: each must have its C program.
own_fail=0; own_pass=0
for exp in "$here"/oracle/*.expected; do
  [ -f "$exp" ] || continue
  name=$(basename "$exp" .expected)
  selected "$name" "$@" || continue
  if [ ! -f "$out/$name.out" ]; then
    echo "FAIL $name (no program)"; own_fail=$((own_fail + 1)); continue
  fi
  if diff -u "$exp" "$out/$name.out"; then
    echo "PASS $name"; own_pass=$((own_pass + 1))
  else
    echo "FAIL $name"; own_fail=$((own_fail + 1))
  fi
done
echo "oak scenarios: passed: $own_pass  failed: $own_fail"
if [ ! -x "$oracle/scenarios/run_all.sh" ]; then
  # The shared recordings live beside the repository (../shared), not in
  # it: without them there is nothing more to compare with. CTest shows
  # this test as skipped (exit 77); set OAK_ORACLE to the otp-oracle
  # directory.
  [ "$own_fail" = 0 ] || exit 1
  if [ -n "${OAK_REQUIRE_ORACLE:-}" ]; then
    echo "conformance: fatal: oracle not found at $oracle" >&2
    exit 1
  fi
  echo "conformance: skipped: oracle not found at $oracle (set OAK_ORACLE)" >&2
  exit 77
fi
"$oracle/scenarios/run_all.sh" --compare "$out" "$@"
shared=$?
[ "$own_fail" = 0 ] && [ "$shared" = 0 ]
