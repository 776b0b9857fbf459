#!/bin/sh
# test-new.sh BUILD_DIR [CC [BUILD_TYPE]]: the oak command, end to end.
#
# Installs the oak of BUILD_DIR into a temporary prefix (cmake --install),
# checks the installed command's help and errors, writes a project with
# `oak new --sup demo_app`, builds it against the installed package
# (find_package(oak) with CMAKE_PREFIX_PATH), runs it, stops it with
# SIGTERM and checks what it printed; runs the project's own test with its
# own CTest (the worker crashes and is restarted). Everything happens under
# one temporary directory that is removed at the end.
set -eu
build=$(cd "$1" && pwd)
cc=${2:-cc}
build_type=${3:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oak-new.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
# Run by CTest under `make test`: the outer make's jobserver is not ours.
unset MAKEFLAGS MFLAGS MAKELEVEL

fail() {
  echo "test-new: FAIL: $*" >&2
  for f in "$tmp"/work/*.log "$tmp"/work/out "$tmp"/work/err; do
    [ -s "$f" ] && { echo "--- $f" >&2; tail -n 40 "$f" >&2; }
  done
  exit 1
}

cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install"; }
oak="$tmp/prefix/bin/oak"
[ -x "$oak" ] || fail "no bin/oak in the installed prefix"
config=$(find "$tmp/prefix" -name oakConfig.cmake | head -n 1)
[ -n "$config" ] || fail "no oakConfig.cmake in the installed prefix"

mkdir "$tmp/work"
cd "$tmp/work"

# ---- help and errors --------------------------------------------------------
status() { # status WANT CMD...: run CMD, output in out/err, check its status
  want=$1; shift
  set +e; "$@" > out 2> err; got=$?; set -e
  [ "$got" = "$want" ] || fail "$*: exit status $got, want $want"
}
errline() { # errline TEXT: stderr is that one line
  [ "$(cat err)" = "$1" ] || fail "stderr is '$(cat err)', want '$1'"
}

status 0 "$oak" --help
grep -q '^usage: oak COMMAND' out || fail "oak --help: no usage line"
grep -q 'new --sup NAME' out || fail "oak --help does not name oak new --sup"
status 0 "$oak" new --help
grep -q '^usage: oak new --sup NAME' out || fail "oak new --help: no usage line"
grep -q 'NAME/src/main.c' out || fail "oak new --help does not list the files"
status 0 "$oak" --version
grep -q '^oak [0-9]' out || fail "oak --version"
version=$(sed 's/^oak //' out)

# The man page: installed, for this version, and naming every command and
# option that --help names.
man1=$tmp/prefix/share/man/man1/oak.1
[ -f "$man1" ] || fail "no share/man/man1/oak.1 in the installed prefix"
grep -q "^\.TH OAK 1 .*oak $version" "$man1" || fail "oak.1 is not the page of oak $version"
"$oak" --help > help.txt
"$oak" new --help >> help.txt
sed 's/\\-/-/g; s/\\f[BIRP]//g' "$man1" > man.txt
for opt in $(grep -o -- '--[a-z][a-z-]*' help.txt | sort -u) new; do
  grep -q -- "$opt" man.txt || fail "oak.1 does not mention $opt"
done

status 100 "$oak"
errline "oak: fatal: unable to run: no command given (try oak --help)"
status 100 "$oak" frobnicate
errline "oak: fatal: unable to run: unknown command frobnicate (try oak --help)"
status 100 "$oak" new
errline "oak: fatal: unable to create project: no NAME given (try oak new --help)"
status 100 "$oak" new --sup --frob x
errline "oak: fatal: unable to create project: unknown option --frob (try oak new --help)"
status 100 "$oak" new --sup a b
status 100 "$oak" new --sup 9lives
errline "oak: fatal: unable to create project 9lives: bad name: it must start with a letter"
status 100 "$oak" new --sup bad-name
errline "oak: fatal: unable to create project bad-name: bad name: use only letters, digits and _"
status 100 "$oak" new --sup test
status 100 "$oak" new --sup oak_thing
status 100 "$oak" new --sup aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
mkdir taken
status 111 "$oak" new --sup taken
errline "oak: fatal: unable to create taken: File exists"
[ -z "$(ls taken)" ] || fail "oak new wrote into an existing directory"
for d in 9lives bad-name test oak_thing a b; do
  [ ! -e "$d" ] || fail "a rejected name left $d behind"
done
# A directory it may not write in is a system error (root may write anyway).
if [ "$(id -u)" != 0 ]; then
  mkdir ro && chmod 555 ro
  set +e; (cd ro && "$oak" new --sup demo_ro) > out 2> err; got=$?; set -e
  chmod 755 ro
  [ "$got" = 111 ] || fail "oak new in a read-only directory: exit $got, want 111"
  errline "oak: fatal: unable to create demo_ro: Permission denied"
fi

# ---- the generated project --------------------------------------------------
"$oak" new --sup demo_app > new.log 2>&1 || fail "oak new --sup demo_app"
for f in CMakeLists.txt README.md src/main.c src/demo_app.h src/demo_app_sup.c \
         src/demo_app_worker.c tests/demo_app_test.c; do
  [ -f "demo_app/$f" ] || fail "no demo_app/$f"
done
! grep -rq '@[A-Z_]*@' demo_app || fail "a template placeholder was left in demo_app"
grep -q 'oak_application_run(' demo_app/src/main.c ||
  fail "main.c does not run the application with oak_application_run()"
! grep -Eq 'sigwait|pthread_create|sigaction' demo_app/src/main.c ||
  fail "main.c handles signals itself"
# Every function the header declares is called somewhere besides its
# definition.
for f in $(sed -n 's/^int \(demo_app_[a-z_]*\)(.*/\1/p' demo_app/src/demo_app.h); do
  uses=$(cat demo_app/src/*.c demo_app/tests/*.c | grep -cw "$f")
  [ "$uses" -ge 2 ] || fail "demo_app.h declares $f, which nothing calls"
done

set -- -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_C_COMPILER="$cc"
[ -n "$build_type" ] && set -- "$@" -DCMAKE_BUILD_TYPE="$build_type"
cmake -S demo_app -B demo_app/build "$@" > configure.log 2>&1 ||
  fail "configuring demo_app against the installed oak"
grep -q "oak_DIR:PATH=$tmp/prefix" demo_app/build/CMakeCache.txt ||
  fail "demo_app did not find the installed oak (oak_DIR is $(grep oak_DIR demo_app/build/CMakeCache.txt))"
cmake --build demo_app/build > build.log 2>&1 || fail "building demo_app"
! grep -q 'warning:' build.log || fail "the generated code has warnings"

# Its own test, with its own CTest: the worker crashes and is restarted.
(cd demo_app/build && ctest --output-on-failure) > ctest.log 2>&1 ||
  fail "the generated project's test failed"
grep -q 'demo_app_restarts_a_crashed_worker .*Passed' ctest.log ||
  fail "the generated project's ctest did not run its test"
(cd demo_app/build && ctest -V) > ctest-v.log 2>&1 || fail "ctest -V"
grep -q 'supervisor_report= supervisor=demo_app_sup context=child_terminated id=demo_app_worker .*action=restart reason=bad_call' ctest-v.log ||
  fail "ctest -V does not show the supervisor restarting the worker"
[ "$(grep -c '^[0-9]*: demo_app_worker: started$' ctest-v.log)" = 2 ] ||
  fail "ctest -V does not show the worker starting twice"

# Run it, then stop it with SIGTERM; -k kills it if it does not stop.
set +e
timeout --preserve-status -s TERM -k 20 3 demo_app/build/demo_app > out 2> err
st=$?
set -e
[ "$st" = 0 ] || fail "demo_app exited with status $st, want 0"
[ "$(head -n 1 out)" = "demo_app_worker: started" ] ||
  fail "the supervisor did not start the worker first"
grep -qx 'demo_app_worker: tick 1' out || fail "the worker did not tick"
grep -q '^demo_app_worker: stopped (shutdown) after [0-9]* ticks$' out ||
  fail "the worker's terminate did not run with shutdown"
[ "$(tail -n 1 out)" = "demo_app: stopped" ] || fail "no clean stop at the end"
[ "$(cat err)" = "=notice application_report= application=demo_app event=exit reason=stopped type=permanent" ] ||
  fail "demo_app's stderr is not the one application report"

echo "test-new: ok"
