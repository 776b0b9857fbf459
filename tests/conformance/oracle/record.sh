#!/bin/sh
# record.sh [NAME...]: run oak's own scenarios with real Erlang/OTP and
# Elixir and store their stdout as NAME.expected (check the change before
# committing it). Needs escript and elixir, and the shared oracle library
# (OAK_ORACLE, default ../shared/otp-oracle beside the repository). The test
# suite itself only compares with the recorded files.
set -eu
cd "$(dirname "$0")"
for f in *.escript *.exs; do
  name="${f%.*}"
  if [ $# -gt 0 ]; then
    keep=0; for p in "$@"; do case "$name" in "$p"*) keep=1 ;; esac; done
    [ $keep = 1 ] || continue
  fi
  case "$f" in
    *.escript) timeout 120 escript "$f" > "$name.expected" ;;
    *.exs) timeout 120 elixir "$f" > "$name.expected" ;;
  esac
  echo "RECORDED $name ($(wc -l < "$name.expected") lines)"
done
