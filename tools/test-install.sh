#!/bin/sh
# test-install.sh SOURCE_DIR BUILD_DIR [CC [SANITIZE]]: the install, as a
# user does it.
#
#  - make install PREFIX=TMP/prefix installs the library, the CMake package,
#    oak.pc, the oak command, its man page and the HTML reference;
#  - then two programs against it, both
#    run without LD_LIBRARY_PATH: the README's first example, built with
#    pkg-config (shared, with the -Wl,-rpath the README gives; then with
#    pkg-config --static into a fully static program), and a CMake project
#    with find_package(oak) linking oak::oak (shared) and oak::oak_static;
#  - -fstack-clash-protection reaches the users' compile lines (pkg-config
#    Cflags, the targets' compile commands), and a target with the property
#    OAK_NO_STACK_CLASH_PROTECTION goes without;
#  - make install DESTDIR=STAGE PREFIX=/opt/... writes below STAGE only, and
#    make uninstall with the same two removes all of it.
# SANITIZE (address or thread) skips the fully static program: the
# sanitizers' runtimes cannot be linked statically. Everything happens
# under one temporary directory that is removed at the end.
set -eu
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
cc=${3:-cc}
sanitize=${4:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oak-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
# Run by CTest under `make test`: the outer make's jobserver is not ours.
unset MAKEFLAGS MFLAGS MAKELEVEL

fail() {
  echo "test-install: FAIL: $*" >&2
  for f in "$tmp"/*.log "$tmp"/out "$tmp"/err; do
    [ -s "$f" ] && { echo "--- $f" >&2; tail -n 40 "$f" >&2; }
  done
  exit 1
}
needs() { # needs FILE LIBRARY: the dynamic section of FILE lists LIBRARY
  readelf -d "$1" | grep -q "NEEDED.*\[$2\]" || fail "$1 does not link $2"
}

# make install builds the reference with doxygen, which make test installs.
command -v doxygen > /dev/null ||
  fail "no doxygen for make install (make test installs it; or: sh tools/ensure-deps.sh docs)"

# ---- make install PREFIX --------------------------------------------------------
prefix=$tmp/prefix
make -C "$src" install BUILD="$build" PREFIX="$prefix" > "$tmp/install.log" 2>&1 ||
  fail "make install PREFIX=$prefix"
pc=$prefix/lib/pkgconfig/oak.pc
[ -f "$pc" ] || pc=$(find "$prefix" -name oak.pc | head -n 1)
[ -f "$pc" ] || fail "no oak.pc in $prefix"
[ -n "$(find "$prefix" -name oakConfig.cmake)" ] || fail "no oakConfig.cmake in $prefix"
[ -x "$prefix/bin/oak" ] || fail "no bin/oak in $prefix"
[ -f "$prefix/share/doc/oak/html/index.html" ] || fail "no HTML reference in $prefix/share/doc/oak/html"
grep -q 'oak_spawn' "$prefix/share/doc/oak/html/process_8h.html" ||
  fail "the HTML reference of oak/process.h does not document oak_spawn"
[ -f "$prefix/share/man/man1/oak.1" ] || fail "no man page share/man/man1/oak.1"
[ -z "$(find /usr/local -newer "$tmp/install.log" -name 'oak*' 2>/dev/null)" ] ||
  fail "make install PREFIX wrote to /usr/local"

# ---- pkg-config: the README's first example ----------------------------------
cd "$tmp"
sed -n '/^## A first process/,/^## /p' "$src/README.md" | sed -n '/^```c$/,/^```$/p' |
  sed '1d;$d' > readme.c
grep -q oak_receive readme.c || fail "no first example in README.md"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
cflags=$(pkg-config --cflags oak) || fail "pkg-config --cflags oak"
libs=$(pkg-config --libs oak) || fail "pkg-config --libs oak"
libdir=$(pkg-config --variable=libdir oak)
case " $cflags " in
  *" -fstack-clash-protection "*) ;;
  *) fail "pkg-config --cflags oak has no -fstack-clash-protection: $cflags" ;;
esac
# shellcheck disable=SC2086
"$cc" -Wall -Wextra -Wno-unused-parameter -o readme readme.c $cflags $libs \
  -Wl,-rpath,"$libdir" > cc.log 2>&1 || fail "cc readme.c \$(pkg-config --cflags --libs oak)"
! grep -q 'warning:' cc.log || fail "the README's example has warnings"
needs readme liboak.so.0
env -u LD_LIBRARY_PATH ./readme > out 2> err || fail "the pkg-config program failed"
[ "$(cat out)" = "hello" ] || fail "the pkg-config program printed '$(cat out)'"

if [ -z "$sanitize" ]; then
  static_libs=$(pkg-config --static --libs oak) || fail "pkg-config --static --libs oak"
  # shellcheck disable=SC2086
  "$cc" -static -o readme_static readme.c $cflags $static_libs > cc-static.log 2>&1 ||
    fail "cc -static readme.c \$(pkg-config --static --libs oak)"
  ! readelf -d readme_static 2>/dev/null | grep -q NEEDED || fail "readme_static is not static"
  ./readme_static > out 2> err || fail "the static pkg-config program failed"
  [ "$(cat out)" = "hello" ] || fail "the static pkg-config program printed '$(cat out)'"
else
  echo "test-install: the fully static program is skipped in the $sanitize sanitizer build"
fi

# ---- find_package(oak) --------------------------------------------------------
mkdir user
cp readme.c user/hello.c
cat > user/CMakeLists.txt <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(user LANGUAGES C)
find_package(oak 0.1 REQUIRED)
add_executable(hello hello.c)
target_link_libraries(hello PRIVATE oak::oak)
add_executable(hello_static hello.c)
target_link_libraries(hello_static PRIVATE oak::oak_static)
set_property(TARGET hello_static PROPERTY OAK_NO_STACK_CLASH_PROTECTION ON)
CMAKE
cmake -S user -B user/build -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON > cmake.log 2>&1 || fail "configuring with find_package(oak)"
grep -q "oak_DIR:PATH=$prefix" user/build/CMakeCache.txt || fail "find_package did not find $prefix"
cmake --build user/build >> cmake.log 2>&1 || fail "building with find_package(oak)"
cmds=user/build/compile_commands.json
grep '"command"' "$cmds" | grep 'hello\.dir' | grep -q -- -fstack-clash-protection ||
  fail "oak::oak did not put -fstack-clash-protection on the compile line"
! grep '"command"' "$cmds" | grep 'hello_static\.dir' | grep -q -- -fstack-clash-protection ||
  fail "OAK_NO_STACK_CLASH_PROTECTION did not take the flag away"
needs user/build/hello liboak.so.0
! readelf -d user/build/hello_static | grep -q 'NEEDED.*liboak' ||
  fail "oak::oak_static linked the shared library"
for p in hello hello_static; do
  env -u LD_LIBRARY_PATH "user/build/$p" > out 2> err || fail "the find_package program $p failed"
  [ "$(cat out)" = "hello" ] || fail "the find_package program $p printed '$(cat out)'"
done

# ---- DESTDIR and uninstall ----------------------------------------------------
stage=$tmp/stage
make -C "$src" install BUILD="$build" PREFIX=/opt/oak-test DESTDIR="$stage" > "$tmp/destdir.log" 2>&1 ||
  fail "make install DESTDIR=$stage PREFIX=/opt/oak-test"
[ -f "$stage/opt/oak-test/include/oak.h" ] || fail "DESTDIR: no include/oak.h under $stage/opt/oak-test"
[ ! -e /opt/oak-test ] || fail "DESTDIR: files went to /opt/oak-test"
[ "$(ls "$stage")" = opt ] || fail "DESTDIR: files outside $stage/opt: $(ls "$stage")"
make -C "$src" uninstall BUILD="$build" PREFIX=/opt/oak-test DESTDIR="$stage" > "$tmp/uninstall.log" 2>&1 ||
  fail "make uninstall"
left=$(find "$stage" ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"
[ ! -e "$stage/opt/oak-test/include/oak" ] || fail "make uninstall left include/oak/"

echo "test-install: ok"
