#!/bin/sh
# Builds rkt-launch and rkt-supervisor (C11, libc only) into the directory $1 (default dist/).
# They are C, not TypeScript, because they stay resident for the life of every pod and rkt's
# budget for that is under 10 MB; see the header comment of each program.
#
#   src/stage1/supervisor/build.sh [OUT_DIR]        (CC overrides the compiler, default cc)
set -eu

src=$(cd "$(dirname "$0")" && pwd)
out=${1:-dist}
cc=${CC:-cc}
# -Werror: these run as root and hold every pod's lifetime; a warning is a bug until shown not.
# Fortify and the stack protector cost nothing measurable here.
flags="-std=c11 -pedantic -O2 -Wall -Wextra -Werror -Wshadow -Wformat=2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong"

mkdir -p "$out"
# shellcheck disable=SC2086 # $flags is a word list on purpose
$cc $flags -o "$out/rkt-launch" "$src/rkt-launch.c"
# shellcheck disable=SC2086
$cc $flags -o "$out/rkt-supervisor" \
  "$src/rkt-supervisor.c" "$src/control.c" "$src/attach.c" "$src/cri-log.c" "$src/pod-files.c" \
  "$src/console.c" "$src/buffer.c" "$src/unix-socket.c"
