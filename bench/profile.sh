#!/usr/bin/env bash
# bench/profile.sh - where a ferry transfer spends its time, on the unshaped fake LAN.
#
#   sudo bench/profile.sh [big|mid|small]      (default big)
#
# Runs the transfer twice: once under `perf record -g` (cpu-clock sampling, both sides) and once
# under `strace -c -f` (syscall counts and time, both sides), then prints the top symbols and
# the syscall tables. Sizes as in bench/run.sh (QUICK=1 for small ones). Needs perf and strace.
# Like bench/run.sh, the receiver writes to a new ext4 made before each transfer (a loop device
# on an image in the scratch dir).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export LAN_PREFIX=${LAN_PREFIX:-flanp}
export SUBNET=${SUBNET:-10.231.9}
# shellcheck source=../lan/lib.sh
. "$ROOT/lan/lib.sh"
DS=${1:-big}
MIB=$((1024 * 1024))
if [ "${QUICK:-0}" = 1 ]; then BIG=$((64 * MIB)); MID_N=20; SMALL_N=200; else BIG=$((1024 * MIB)); MID_N=200; SMALL_N=2000; fi

die() { echo "profile: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
need_tools ip:iproute2 perf:linux-perf strace:strace mkfs.ext4:e2fsprogs losetup:mount || die "missing tools"
WORK=$(mktemp -d /tmp/ferry-profile.XXXXXX)
LOOP_DEV=""
cleanup() {
  kill_bg; lan down >/dev/null 2>&1
  mountpoint -q "$WORK/dst" 2>/dev/null && umount "$WORK/dst"
  [ -n "$LOOP_DEV" ] && losetup -d "$LOOP_DEV"
  [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
ferry_bin || die "no ferry binary"
lan up 2 2>/dev/null || die "no fake LAN"
B=$(host_ip b)
LOOP_DEV=$(loop_image "$WORK/recv.img") || die "no loop device for the receive file system"

src=$WORK/src/$DS; mkdir -p "$src"
case "$DS" in
  big) head -c "$BIG" /dev/urandom >"$src/one.bin";;
  mid) head -c $((MID_N * 5 * MIB)) /dev/urandom | (cd "$src" && split -b $((5 * MIB)) -a 4 -d - f);;
  small) head -c $((SMALL_N * 100 * 1024)) /dev/urandom | (cd "$src" && split -b $((100 * 1024)) -a 4 -d - p);;
  *) die "dataset: big|mid|small";;
esac
sync

listening() { ip netns exec "$LAN_PREFIX-b" ss -Htln "sport = :53531" | grep -q LISTEN; }

# transfer WRAP_R WRAP_S : one ferry transfer a -> b, each side's command prefixed by its wrapper
transfer() {
  local wr=$1 ws=$2 pr ps
  fresh_ext4 "$LOOP_DEV" "$WORK/dst" || die "could not make the receive file system"
  sync
  # shellcheck disable=SC2086
  ip netns exec "$LAN_PREFIX-b" env FERRY_CONFIG_DIR="$(mktemp -d "$WORK/cfg-XXXX")" $wr "$FERRY" receive --dir "$WORK/dst" --yes --once \
    >"$WORK/r.log" 2>&1 &
  pr=$!; BG_PIDS+=("$pr")
  wait_until 10 listening || die "receiver did not start"
  # shellcheck disable=SC2086
  ip netns exec "$LAN_PREFIX-a" env FERRY_CONFIG_DIR="$(mktemp -d "$WORK/cfg-XXXX")" $ws "$FERRY" send "$src" --to "$B:53531" \
    >"$WORK/s.log" 2>&1 &
  ps=$!; BG_PIDS+=("$ps")
  wait_exit "$ps" 600 || { tail "$WORK/s.log" >&2; die "send failed"; }
  wait_exit "$pr" 60 || { tail "$WORK/r.log" >&2; die "receive failed"; }
  BG_PIDS=()
}

echo "## perf (cpu-clock samples, self time, top 25) — dataset $DS"
transfer "perf record -q -e cpu-clock -F 2000 -g -o $WORK/perf-r.data --" \
  "perf record -q -e cpu-clock -F 2000 -g -o $WORK/perf-s.data --"
for side in s r; do
  [ $side = s ] && echo "### sender" || echo "### receiver"
  echo '```'
  perf report -i "$WORK/perf-$side.data" --stdio --no-children --sort dso,symbol -g none 2>/dev/null \
    | grep -v '^#' | grep -v '^$' | sed 's/ *-  *- *$//' | head -25
  echo '```'
done

echo "## strace -c -f — dataset $DS"
transfer "strace -c -f -o $WORK/strace-r.txt" "strace -c -f -o $WORK/strace-s.txt"
for side in s r; do
  [ $side = s ] && echo "### sender" || echo "### receiver"
  echo '```'; head -20 "$WORK/strace-$side.txt"; echo '```'
done
