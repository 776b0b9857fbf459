#!/bin/sh
# Cross-build the runtime for AArch64 and run tests/arch/arch_smoke.c under
# qemu-user: the context switch, the first frame of a process and the fault
# landing are per-CPU code, and this machine is x86-64. Installs the cross
# compiler and qemu-user with apt-get when they are missing.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/build-arch}
want=""
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || want="$want gcc-aarch64-linux-gnu"
command -v qemu-aarch64 >/dev/null 2>&1 || want="$want qemu-user"
if [ -n "$want" ]; then
  echo "check-arch: installing:$want" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q >&2 || true
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $want >&2
fi
mkdir -p "$out"
aarch64-linux-gnu-gcc -std=c11 -O2 -g -D_GNU_SOURCE -DOAK_BUILDING \
  -I"$here/include" -I"$here/src" -static \
  "$here"/src/core/*.c "$here"/src/log/*.c "$here/src/arch/aarch64.S" \
  "$here/tests/arch/arch_smoke.c" -lpthread -o "$out/arch_smoke_aarch64"
timeout 300 qemu-aarch64 "$out/arch_smoke_aarch64"
