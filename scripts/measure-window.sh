#!/usr/bin/env bash
# measure-window.sh — the window's idle CPU over 10 s, and its frame times with 10,000 files
# chosen, under Xvfb. Loopback only: broadcast to 127.255.255.255, bound to 127.0.0.1, ports of its
# own, so nothing leaves the machine.
#
#   scripts/measure-window.sh           # needs Xvfb and xdotool, and a built ferry
#
# Environment: FERRY_BIN (default target/debug/ferry), DISPLAY_M (default :95), PORT_BASE (47810).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${FERRY_BIN:-$ROOT/target/debug/ferry}
DM=${DISPLAY_M:-:95}
PORT_BASE=${PORT_BASE:-47810}
die() { echo "measure-window: $*" >&2; exit 1; }
for tool in Xvfb xdotool; do command -v "$tool" >/dev/null || die "$tool is missing"; done
[ -x "$BIN" ] || die "no ferry binary at $BIN (run cargo build, or set FERRY_BIN)"
[ ! -e "/tmp/.X11-unix/X${DM#:}" ] || die "display $DM is in use; set DISPLAY_M"

WORK=$(mktemp -d /tmp/ferry-measure.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

Xvfb "$DM" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 & PIDS+=($!)
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${DM#:}" ] && break; sleep 0.1; done

mkdir -p "$WORK/config" "$WORK/inbox" "$WORK/many"
printf 'device_name = "Measure"\nreceive_dir = "%s"\n' "$WORK/inbox" >"$WORK/config/settings.toml"
for i in $(seq -w 1 10000); do echo "$i" >"$WORK/many/IMG_$i.jpg"; done
find "$WORK/many" -type f | sort >"$WORK/list.txt"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime, in clock ticks
frames() { grep -ac '^frame' "$1"; }

run() { # LOG [VAR=VALUE...]
  local log=$1; shift
  env -u WAYLAND_DISPLAY DISPLAY="$DM" FERRY_CONFIG_DIR="$WORK/config" FERRY_BROADCAST=127.255.255.255 \
    FERRY_BIND=127.0.0.1 FERRY_PORT=$((PORT_BASE + 1)) FERRY_DISCOVERY_PORT=$((PORT_BASE + 2)) \
    FERRY_FRAME_LOG=1 "$@" "$BIN" >"$log" 2>&1 &
  PIDS+=($!)
  APP=$!
  sleep 8   # start-up, fonts, first frames
}

idle() { # LABEL LOG
  local t0 f0
  t0=$(cpu_ticks "$APP"); f0=$(frames "$2")
  sleep 10
  echo "$1: $(( $(cpu_ticks "$APP") - t0 )) CPU ticks of 1/$(getconf CLK_TCK) s and $(( $(frames "$2") - f0 )) frames in 10 s"
}

run "$WORK/idle.log"
idle "idle, nothing chosen" "$WORK/idle.log"
kill "$APP"; wait "$APP" 2>/dev/null || true

run "$WORK/many.log" FERRY_PRESELECT="@$WORK/list.txt"
: >"$WORK/many.log"
for i in $(seq 40); do   # scroll through the list: each wheel step draws frames
  DISPLAY=$DM xdotool mousemove 600 $((110 + (i % 8) * 20)) click 5
  sleep 0.1
done
sleep 1
grep -a '^frame' "$WORK/many.log" | awk '{print $2}' | sort -n | awk '{ v[NR] = $1 } END {
  printf "10,000 files chosen, scrolling: %d frames, median %.2f ms, p90 %.2f ms, max %.2f ms\n",
    NR, v[int(NR / 2) + 1], v[int(NR * 0.9)], v[NR] }'
idle "idle, 10,000 files chosen" "$WORK/many.log"
