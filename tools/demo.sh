#!/bin/sh
# The README's main job: the seed's Sequence application, driven by a
# script. The Sequence server counts, crashes on a bad request, and comes
# back with the value it had, kept by the Stash; the supervisor reports go
# to stderr, shown here in order with the results.
set -eu
build=${1:-build}
here=$(dirname "$0")/..
echo "# examples/sequence: the seed's supervision tree, scripted ($here/examples/sequence/demo.txt)"
"$build/examples/sequence" < "$here/examples/sequence/demo.txt" 2>&1
