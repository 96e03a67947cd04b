#!/usr/bin/env bash
# bench/run.sh - how fast Ferry moves files on the fake LAN, next to the link's ceiling (iperf3)
# and plain raw-socket copies (nc + tar, and bench/refcopy.rs), on demand (not in CI).
#
#   sudo bench/run.sh                  full run (long: the 100 Mbit rows move GBs at 12 MB/s)
#   QUICK=1 sudo bench/run.sh          small sizes, to check the script (a few minutes)
#
# Environment:
#   FERRY_BIN=path        the ferry binary (default: cargo build --release)
#   LINKS="unshaped 1gbit 100mbit"     link conditions (tbf rate on every host link)
#   DATASETS="big mid small"           1 x 1 GiB, 200 x 5 MiB, 2000 x 100 KiB
#   TOOLS="nc refcopy ferry"           what copies the data; add ferry-base to compare two builds
#   FERRY_BASE_BIN=path                the binary that ferry-base runs (e.g. main before a change)
#   RUNS=3                             runs per cell (median, min-max)
#   SHAPED_SCALE=1                     divide dataset sizes by this on shaped links (time budget);
#   SCALE_100mbit=4 ...                per link (SCALE_<link>), overrides SHAPED_SCALE
#   DISCOVERY_SAMPLES=20               discovery latency samples
#   RECV_FS=fresh                      where receivers write: "fresh" (default) = a new ext4 file
#                                      system made before every run (a loop device with direct I/O
#                                      on a file in /tmp, so the same disk); "ram-ext4" = the same
#                                      but the image is in memory (/dev/shm): a real ext4 with its
#                                      journal and flushes, on a "disk" whose speed does not swing;
#                                      "tmp" = a folder in /tmp itself; "tmpfs" = memory (no file
#                                      system work at all)
#   WARM=1                             before each run, read the sources and fill and free memory
#                                      (see warm_up: this VM hands freed memory to its host)
#   OUT=file.md                        also write the markdown report there
#   KEEP=1                             keep the scratch dir (logs, raw results)
#
# Per cell: MB/s (10^6 bytes/s) = bytes / wall time from the sender's start until both sides
# have exited (receivers write where RECV_FS says; ferry and refcopy make every file durable, nc
# does not); CPU % = (user+sys) / wall of each side; peak RSS from /usr/bin/time -v. Sources are
# read into the page cache before each run (warm_up). Data sets and tools take turns: round n
# runs every data set with every tool (big: refcopy, ferry; mid: refcopy, ferry; ...; then round
# n+1), so a slow spell of the disk hits them alike and the ratios the targets ask for (tool to
# tool, data set to data set) can be taken run by run; even rounds run the tools in reverse
# order. Before every run the disk is left to settle: `sync`, then a wait until the kernel has no
# dirty or writeback pages left (so one run's writeback does not slow the next).
# Host a sends, host b receives, host c watches discovery. Namespaces: ${LAN_PREFIX}-* (flanb).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export LAN_PREFIX=${LAN_PREFIX:-flanb}
export SUBNET=${SUBNET:-10.231.9}
# shellcheck source=../lan/lib.sh
. "$ROOT/lan/lib.sh"

QUICK=${QUICK:-0}
LINKS=${LINKS:-unshaped 1gbit 100mbit}
DATASETS=${DATASETS:-big mid small}
TOOLS=${TOOLS:-nc refcopy ferry}
RUNS=${RUNS:-3}
SHAPED_SCALE=${SHAPED_SCALE:-1}
MIB=$((1024 * 1024))
if [ "$QUICK" = 1 ]; then
  BIG_BYTES=$((64 * MIB)); MID_N=20; SMALL_N=200; DISCOVERY_SAMPLES=${DISCOVERY_SAMPLES:-5}
else
  DISCOVERY_SAMPLES=${DISCOVERY_SAMPLES:-20}
  BIG_BYTES=$((1024 * MIB)); MID_N=200; SMALL_N=2000
fi
FERRY_PORT=53531 REF_PORT=53541 NC_PORT=53542

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"
need_tools ip:iproute2 tc:iproute2 nft:nftables ethtool:ethtool iperf3:iperf3 /usr/bin/time:time \
  nc:netcat-openbsd python3:python3 rustc:rustc || die "missing tools"
why=$(lan check 2>&1) || die "$why"
WORK=$(mktemp -d /tmp/ferry-bench.XXXXXX)
cleanup() {
  kill_bg
  lan down >/dev/null 2>&1
  mountpoint -q "$WORK/recv" 2>/dev/null && umount "$WORK/recv"
  [ -n "${LOOP_DEV:-}" ] && losetup -d "$LOOP_DEV"
  [ -n "${RAM_IMG:-}" ] && rm -f "$RAM_IMG"
  rm -f "${WARM_FILE:-}"
  if [ "${KEEP:-0}" = 1 ]; then log "scratch dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ferry_bin || die "no ferry binary"
if [[ " $TOOLS " = *" ferry-base "* ]]; then
  [ -x "${FERRY_BASE_BIN:-}" ] || die "TOOLS has ferry-base: set FERRY_BASE_BIN to a ferry binary"
fi
RECV_FS=${RECV_FS:-fresh}
WARM=${WARM:-1} WARM_FILE=/dev/shm/ferry-bench-warm.$$
DST_ROOT=$WORK/recv LOOP_DEV="" RAM_IMG=""
mkdir -p "$DST_ROOT"
case "$RECV_FS" in
  tmp) ;;
  tmpfs) mount -t tmpfs -o size=3g ferry-bench "$DST_ROOT" || die "could not mount a tmpfs";;
  fresh) need_tools mkfs.ext4:e2fsprogs losetup:mount || die "missing tools"
         LOOP_DEV=$(loop_image "$WORK/recv.img") || die "no loop device for the receive file system";;
  ram-ext4) need_tools mkfs.ext4:e2fsprogs losetup:mount || die "missing tools"
         RAM_IMG=$(mktemp /dev/shm/ferry-bench.XXXXXX) || die "no room in /dev/shm"
         LOOP_DEV=$(loop_image "$RAM_IMG") || die "no loop device for the receive file system";;
  *) die "RECV_FS: fresh, ram-ext4, tmp or tmpfs";;
esac
rustc -O --edition 2021 -o "$WORK/refcopy" "$ROOT/bench/refcopy.rs" || die "refcopy did not build"
lan up 3 2>/dev/null || die "could not build the fake LAN"
A=$(host_ip a); B=$(host_ip b)
RESULTS=$WORK/results.tsv   # link dataset tool run bytes wall_ms s_user s_sys s_rss_kb r_user r_sys r_rss_kb
CEIL=$WORK/ceiling.tsv      # link run mbytes_per_s
DISC=$WORK/discovery.tsv    # sample latency_ms
: >"$RESULTS"; : >"$CEIL"; : >"$DISC"; : >"$WORK/scales.tsv"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- data -----------------------------------------------------------------------------------
# dataset_dir NAME SCALE : builds (once) and prints the folder holding that dataset
dataset_dir() {
  local name=$1 scale=$2 d n
  d="$WORK/data/$name-$scale"
  if [ ! -d "$d" ]; then
    mkdir -p "$d/$name"
    case "$name" in
      big) head -c $((BIG_BYTES / scale)) /dev/urandom >"$d/$name/one.bin";;
      mid) n=$((MID_N / scale)); [ $n -ge 1 ] || n=1
           head -c $((n * 5 * MIB)) /dev/urandom | (cd "$d/$name" && split -b $((5 * MIB)) -a 4 -d - f);;
      small) n=$((SMALL_N / scale)); [ $n -ge 1 ] || n=1
           mkdir -p "$d/$name/x"
           # a few sub-folders, like a photo library
           head -c $((n * 100 * 1024)) /dev/urandom | (cd "$d/$name/x" && split -b $((100 * 1024)) -a 4 -d - p)
           (cd "$d/$name/x" && i=0 && for f in p*; do s="s$((i % 10))"; mkdir -p "../$s"; mv "$f" "../$s/$f.jpg"; i=$((i + 1)); done)
           rmdir "$d/$name/x";;
    esac
    sync
  fi
  echo "$d/$name"
}

recv_fs_words() {
  case "$RECV_FS" in
    fresh) echo "new ext4 per run on a loop device, direct I/O, image in /tmp";;
    ram-ext4) echo "new ext4 per run on a loop device whose image is in memory (/dev/shm)";;
    tmp) echo "a folder in /tmp";;
    tmpfs) echo "memory";;
  esac
}

# ---- one measured run -----------------------------------------------------------------------
# fresh_fs : a new, empty ext4 under $DST_ROOT. On the root file system of the VM this was written
# on, every run was slower than the last: creating a file right after thousands had been deleted
# there cost up to 0.6 ms instead of 10 us (strace of openat), so each run measured how much the
# runs before it had deleted. A new file system per run does not show it.
fresh_fs() { fresh_ext4 "$LOOP_DEV" "$DST_ROOT"; }

dirty_kb() { awk '/^(Dirty|Writeback):/ {s += $2} END {print s}' /proc/meminfo; }
settle() {  # flush, then wait (at most 30 s) until under 4 MiB is dirty or in writeback
  sync
  wait_until 30 eval '[ "$(dirty_kb)" -lt 4096 ]' || log "disk still busy ($(dirty_kb) KiB dirty)"
}

# warm_up SRC : the sender's files in the page cache, and memory for the receiver's page cache that
# the VM's host really backs. This VM hands freed memory back to its host (virtio-balloon free
# page reporting, and DAMON pages out cold page cache); writing into such memory again faults on
# the host, and a run that met it was 2-3x slower: 1 GiB of 5 MiB files right after the small
# files took 3.4-3.6 s instead of 1.2-1.7 s, perf showing 39 % of all samples in
# copy_folio_from_iter_atomic (the receiver's write() copying into fresh page cache). So before
# each run: read the sources, then fill and free memory a little larger than what the run
# writes, so the run's page cache comes from memory the host has just backed. (WARM=0: off.)
warm_up() {
  local mib
  find "$1" -type f -exec cat {} + >/dev/null
  mib=$(( BYTES_NOW / MIB * 5 / 4 + 64 ))
  dd if=/dev/zero of="$WARM_FILE" bs=1M count="$mib" status=none 2>/dev/null
  rm -f "$WARM_FILE"
}

listening() { in_host "$1" ss -Htln "sport = :$2" | grep -q LISTEN; }
timev() {  # timev FILE KEY -> value from /usr/bin/time -v output
  awk -F': ' -v k="$2" '$1 ~ k {print $2}' "$1" | tr -d ' '
}

# run_once LINK DATASET TOOL RUN SRC
run_once() {
  local link=$1 ds=$2 tool=$3 run=$4 src=$5 dst=$DST_ROOT/dst r s t0 t1 rc_s rc_r bytes
  if [ -n "$LOOP_DEV" ]; then fresh_fs || { log "could not make the receive file system"; return 1; }; fi
  rm -rf "$dst"; mkdir -p "$dst"; settle
  [ "$WARM" = 1 ] && warm_up "$src"
  local rt=$WORK/time-r.txt st=$WORK/time-s.txt cfg_r cfg_s
  cfg_r=$(mktemp -d "$WORK/cfg-XXXX"); cfg_s=$(mktemp -d "$WORK/cfg-XXXX")
  case "$tool" in
    ferry|ferry-base)
      local bin=$FERRY; [ "$tool" = ferry-base ] && bin=$FERRY_BASE_BIN
      ip netns exec "$LAN_PREFIX-b" env FERRY_CONFIG_DIR="$cfg_r" /usr/bin/time -v -o "$rt" \
        "$bin" receive --dir "$dst" --name bench-b --yes --once >"$WORK/r.log" 2>&1 &
      r=$!; BG_PIDS+=("$r"); wait_until 10 listening b $FERRY_PORT || { log "ferry receive did not start"; cat "$WORK/r.log" >&2; return 1; }
      t0=$(now_ms)
      ip netns exec "$LAN_PREFIX-a" env FERRY_CONFIG_DIR="$cfg_s" /usr/bin/time -v -o "$st" \
        "$bin" send "$src" --to "$B:$FERRY_PORT" >"$WORK/s.log" 2>&1 &
      s=$!; BG_PIDS+=("$s");;
    refcopy)
      ip netns exec "$LAN_PREFIX-b" /usr/bin/time -v -o "$rt" "$WORK/refcopy" recv "0.0.0.0:$REF_PORT" "$dst" --fsync >"$WORK/r.log" 2>&1 &
      r=$!; BG_PIDS+=("$r"); wait_until 10 listening b $REF_PORT || { log "refcopy recv did not start"; return 1; }
      t0=$(now_ms)
      ip netns exec "$LAN_PREFIX-a" /usr/bin/time -v -o "$st" "$WORK/refcopy" send "$B:$REF_PORT" "$src" >"$WORK/s.log" 2>&1 &
      s=$!; BG_PIDS+=("$s");;
    nc)
      ip netns exec "$LAN_PREFIX-b" /usr/bin/time -v -o "$rt" sh -c "nc -l -N $NC_PORT | tar -xf - -C '$dst'" >"$WORK/r.log" 2>&1 &
      r=$!; BG_PIDS+=("$r"); wait_until 10 listening b $NC_PORT || { log "nc -l did not start"; return 1; }
      t0=$(now_ms)
      ip netns exec "$LAN_PREFIX-a" /usr/bin/time -v -o "$st" sh -c "tar -C '$(dirname "$src")' -cf - '$(basename "$src")' | nc -N $B $NC_PORT" >"$WORK/s.log" 2>&1 &
      s=$!; BG_PIDS+=("$s");;
  esac
  local limit=$(( 60 + BYTES_NOW / 5000000 ))   # generous: 5 MB/s floor
  wait_exit "$s" "$limit"; rc_s=$?
  wait_exit "$r" 60; rc_r=$?
  t1=$(now_ms)
  BG_PIDS=()
  if [ $rc_s != 0 ] || [ $rc_r != 0 ]; then
    kill "$s" "$r" 2>/dev/null
    log "$tool $ds on $link run $run FAILED (sender $rc_s, receiver $rc_r)"
    tail -n 5 "$WORK/s.log" "$WORK/r.log" >&2
    return 1
  fi
  bytes=$(dir_bytes "$dst")
  [ "$bytes" = "$BYTES_NOW" ] || { log "$tool $ds: $bytes bytes arrived, $BYTES_NOW expected"; return 1; }
  if [ "$run" = 1 ] && [[ "$tool" = ferry* ]]; then
    diff -q <(tree_hash "$src") <(tree_hash "$dst/$(basename "$src")") >/dev/null \
      || { log "ferry $ds: received tree differs"; return 1; }
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$link" "$ds" "$tool" "$run" "$bytes" $((t1 - t0)) \
    "$(timev "$st" 'User time')" "$(timev "$st" 'System time')" "$(timev "$st" 'Maximum resident')" \
    "$(timev "$rt" 'User time')" "$(timev "$rt" 'System time')" "$(timev "$rt" 'Maximum resident')" >>"$RESULTS"
  log "$(printf '%-9s %-5s %-7s run %s: %8.1f MB/s' "$link" "$ds" "$tool" "$run" \
    "$(awk -v b="$bytes" -v ms=$((t1 - t0)) 'BEGIN{print b / ms / 1000}')")"
}

ceiling() {  # ceiling LINK : iperf3 a -> b, RUNS x 4 s
  local link=$1 i mbit
  for ((i = 1; i <= RUNS; i++)); do
    ip netns exec "$LAN_PREFIX-b" iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
    BG_PIDS+=("$!"); wait_until 5 listening b 5201
    mbit=$(ip netns exec "$LAN_PREFIX-a" timeout 20 iperf3 -c "$B" -p 5201 -t 4 -f m 2>/dev/null | awk '/receiver/ {print $(NF-2)}')
    wait_exit "${BG_PIDS[-1]}" 5; BG_PIDS=()
    printf '%s\t%s\t%s\n' "$link" "$i" "$(awk -v m="$mbit" 'BEGIN{print m / 8}')" >>"$CEIL"
    log "$link iperf3 run $i: $mbit Mbit/s"
  done
}

# ---- discovery latency ----------------------------------------------------------------------
# A `ferry peers` runs on c; a receiver starts on a at t0; latency = when c prints it - t0.
discovery() {
  local i pp pr t0 seen line ts
  for ((i = 1; i <= DISCOVERY_SAMPLES; i++)); do
    local out=$WORK/peers-$i.txt cfg_p cfg_r
    cfg_p=$(mktemp -d "$WORK/cfg-XXXX"); cfg_r=$(mktemp -d "$WORK/cfg-XXXX")
    : >"$out"
    # stamp every line the moment it is printed (ferry's stdout is line-buffered)
    ip netns exec "$LAN_PREFIX-c" env FERRY_CONFIG_DIR="$cfg_p" "$FERRY" peers --wait 10 --json 2>/dev/null \
      > >(while IFS= read -r line; do t=${EPOCHREALTIME/./}; printf '%s %s\n' $((t / 1000)) "$line"; done >"$out") &
    pp=$!; BG_PIDS+=("$pp")
    sleep 1   # let it start and finish its own first query
    t0=$(now_ms)
    ip netns exec "$LAN_PREFIX-a" env FERRY_CONFIG_DIR="$cfg_r" "$FERRY" receive --dir "$WORK/disc-dst" --name "disc-$i" --yes >/dev/null 2>&1 &
    pr=$!; BG_PIDS+=("$pr")
    if wait_until 5 grep -q "disc-$i\"" "$out"; then
      ts=$(grep -m1 "disc-$i\"" "$out" | cut -d' ' -f1)
      printf '%s\t%s\n' "$i" $((ts - t0)) >>"$DISC"
      log "discovery sample $i: $((ts - t0)) ms"
    else
      log "discovery sample $i: not seen within 5 s"
      printf '%s\t%s\n' "$i" NA >>"$DISC"
    fi
    kill_bg
  done
}

# ---- main -----------------------------------------------------------------------------------
for link in $LINKS; do
  case "$link" in
    unshaped) lan shape "" 2>/dev/null; scale=1;;
    *) lan shape "rate $link" 2>/dev/null || die "shape $link failed"
       scale_var="SCALE_$link"; scale=${!scale_var:-$SHAPED_SCALE};;
  esac
  printf '%s\t%s\n' "$link" "$scale" >>"$WORK/scales.tsv"
  ceiling "$link"
  for ds in $DATASETS; do dataset_dir "$ds" "$scale" >/dev/null; done
  for ((run = 1; run <= RUNS; run++)); do
    for ds in $DATASETS; do
      src=$(dataset_dir "$ds" "$scale")
      BYTES_NOW=$(dir_bytes "$src")
      # Odd rounds run the tools in the given order, even rounds the other way round, so
      # neither is always the one that runs first after another data set.
      order=$TOOLS; [ $((run % 2)) = 0 ] && order=$(echo "$TOOLS" | tr ' ' '\n' | tac | tr '\n' ' ')
      for tool in $order; do
        run_once "$link" "$ds" "$tool" "$run" "$src" || log "(run not counted)"
      done
    done
  done
done
lan shape "" 2>/dev/null
[ "$DISCOVERY_SAMPLES" -gt 0 ] && discovery

MACHINE="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), kernel $(uname -r), \
$(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo), /tmp on $(df -PT /tmp | awk 'NR==2 {print $1 " (" $2 ")"}'), receivers wrote to: $RECV_FS ($(recv_fs_words)); \
load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$ROOT/bench/report.py" "$RESULTS" "$CEIL" "$DISC" "$WORK/scales.tsv" "$MACHINE" "$QUICK $RUNS" | tee "${OUT:-/dev/null}"
