#!/bin/sh
# test-doc-examples.sh CC INCLUDE_DIR FILE...: the C examples of the docs
# compile. Every ```c block of FILE that follows a line
#   <!-- example: compiles -->
# (invisible in the rendered Markdown) is compiled on its own, after a
# prelude of oak.h and the usual C headers, with warnings as errors.
set -eu
cc=$1
inc=$2
shift 2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oak-doc-examples.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
n=0
failed=0
for doc in "$@"; do
  # Split the marked blocks into tmp/N.c, each with its first line number.
  awk -v dir="$tmp" -v base="$(basename "$doc")" '
    /^<!-- example: compiles -->$/ { want = 1; next }
    want && /^```c$/ { n++; out = sprintf("%s/%s.%d.c", dir, base, n);
                       printf "#line %d \"%s\"\n", NR + 1, base > out; inblock = 1; want = 0; next }
    inblock && /^```$/ { inblock = 0; close(out); next }
    inblock { print > out }
  ' "$doc"
done
for f in "$tmp"/*.c; do
  [ -e "$f" ] || break
  n=$((n + 1))
  { printf '#define _GNU_SOURCE\n'
    for h in oak.h errno.h stdint.h stdio.h stdlib.h string.h unistd.h sys/mman.h; do
      printf '#include <%s>\n' "$h"
    done
    cat "$f"; } > "$f.full.c"
  if ! "$cc" -std=c11 -Wall -Wextra -Wno-unused-parameter -Wno-unused-function -Werror \
       -I"$inc" -c "$f.full.c" -o "$f.o" > "$f.log" 2>&1; then
    echo "test-doc-examples: FAIL: $(basename "$f" .c):" >&2
    cat "$f.log" >&2
    failed=$((failed + 1))
  fi
done
[ "$n" -gt 0 ] || { echo "test-doc-examples: FAIL: no marked example in $*" >&2; exit 1; }
[ "$failed" = 0 ] || exit 1
echo "test-doc-examples: $n examples compile"
