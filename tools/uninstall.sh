#!/bin/sh
# uninstall.sh BUILD PREFIX [DESTDIR]: remove what `make install PREFIX=...
# DESTDIR=...` installed from BUILD.
#
# The list of files is what installing BUILD with that PREFIX writes now:
# the script installs it once more into an empty staging directory and
# removes the same paths under DESTDIR/PREFIX. So it needs BUILD as it was
# installed, and never touches a file that oak does not install. Emptied
# directories are removed when they are oak's own (a path component named
# oak: include/oak, lib/cmake/oak, share/doc/oak); shared ones such as
# lib/pkgconfig stay.
set -eu
prog=uninstall
[ $# -ge 2 ] || { echo "$prog: fatal: unable to run: usage: uninstall.sh BUILD PREFIX [DESTDIR]" >&2; exit 100; }
build=$1
prefix=$2
destdir=${3:-}
[ -f "$build/cmake_install.cmake" ] ||
  { echo "$prog: fatal: unable to read $build/cmake_install.cmake: no configured build there" >&2; exit 111; }
case $prefix in
  /*) ;;
  *) prefix=$(pwd)/$prefix ;;
esac
stage=$(mktemp -d "${TMPDIR:-/tmp}/oak-uninstall.XXXXXX")
trap 'rm -rf "$stage"' EXIT
trap 'exit 1' INT TERM
DESTDIR=$stage cmake --install "$build" --prefix "$prefix" > "$stage.log" 2>&1 ||
  { cat "$stage.log" >&2; rm -f "$stage.log"; echo "$prog: fatal: unable to list the installed files: cmake --install failed" >&2; exit 111; }
rm -f "$stage.log"
cd "$stage$prefix"
find . ! -type d | sed 's|^\./||' | sort | while IFS= read -r f; do
  if [ -e "$destdir$prefix/$f" ] || [ -L "$destdir$prefix/$f" ]; then
    echo "-- Removing: $destdir$prefix/$f"
    rm -f "$destdir$prefix/$f"
  fi
done
find . -depth -type d | sed 's|^\./||' | while IFS= read -r d; do
  case "/$d/" in
    */oak/*) rmdir "$destdir$prefix/$d" 2>/dev/null || true ;;
  esac
done
