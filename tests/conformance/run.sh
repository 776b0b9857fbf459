#!/bin/sh
# run.sh BUILD_DIR [NAME...]: run the conformance programs built in
# BUILD_DIR/conformance/bin, write BUILD_DIR/conformance/NAME.out, and
# compare them with the oracle's recorded output
# (../shared/otp-oracle/scenarios/run_all.sh --compare). Scenarios that have
# no C program yet are reported as SKIP by run_all.sh.
set -u
build=$(cd "${1:-build}" && pwd); shift 2>/dev/null || true
here=$(cd "$(dirname "$0")" && pwd)
oracle="${OAK_ORACLE:-$here/../../../shared/otp-oracle}"
out="$build/conformance"
mkdir -p "$out"
for prog in "$out"/bin/*; do
  [ -x "$prog" ] || continue
  name=$(basename "$prog")
  if [ $# -gt 0 ]; then
    keep=0; for p in "$@"; do case "$name" in "$p"*) keep=1 ;; esac; done
    [ $keep = 1 ] || continue
  fi
  timeout 120 "$prog" > "$out/$name.out" 2> "$out/$name.err"
done
if [ ! -x "$oracle/scenarios/run_all.sh" ]; then
  # The recorded Erlang output lives beside the repository (../shared), not
  # in it: without it there is nothing to compare with. CTest shows this
  # test as skipped (exit 77); set OAK_ORACLE to the otp-oracle directory.
  if [ -n "${OAK_REQUIRE_ORACLE:-}" ]; then
    echo "conformance: fatal: oracle not found at $oracle" >&2
    exit 1
  fi
  echo "conformance: skipped: oracle not found at $oracle (set OAK_ORACLE)" >&2
  exit 77
fi
"$oracle/scenarios/run_all.sh" --compare "$out" "$@"
