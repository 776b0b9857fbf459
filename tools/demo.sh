#!/bin/sh
# The README's main job: run the example programs.
set -eu
build=${1:-build}
"$build/examples/processes"
