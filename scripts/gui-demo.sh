#!/usr/bin/env bash
# gui-demo.sh — three Ferry windows on a fake LAN, driven like a person would (through the
# screen-reader interface, AT-SPI), with screenshots of what they see:
#
#   sudo scripts/gui-demo.sh                              # English, writes docs/screenshots/*.png
#   sudo LANGUAGE_SETTING=simplified_chinese SUFFIX=-zh scripts/gui-demo.sh    # 简体中文, *-zh.png
#
# What it does (everything is torn down on exit, also on failure or Ctrl-C):
#   1. a fake LAN of three network namespaces (lan/netns-lan.sh), shaped to 16 Mbit/s so that
#      the transfer lasts long enough to be seen;
#   2. one Xvfb display per window, each with its own session and accessibility bus
#      (/work/shared/tools/atspi_driver.py session-up); no window manager;
#   3. "Wang's laptop" (host a) with four demo photos preselected (FERRY_PRESELECT), "Kitchen PC"
#      (host b), "Anna's laptop" (host c) whose receive folder is a 20 MB tmpfs: a full disk, and
#      "Living room PC" (host d, a headless `ferry receive`), so A lists three devices;
#   4. A sees three devices (screenshot: main-screen); sends to Anna's laptop, whose prompt says
#      there is not enough space (prompt-full-disk); Anna accepts anyway, her disk fills up
#      mid-file, and A's card must say "Anna's laptop's disk is full" at once (sent-disk-full);
#   5. sends to Kitchen PC, which accepts (incoming-prompt); mid-transfer host b's link is cut,
#      and A's bar must say "Waiting for Kitchen PC…" (transfer-stalled); the link comes back,
#      the transfer ends, the files must be byte-identical (sent, received);
#   6. A sends a text to Kitchen PC ("Send text…"): B's prompt shows it (text-prompt), B accepts,
#      and its card has Copy (text-received);
#   7. every window's accessibility tree is checked: every button has a name, no two buttons in
#      a window share one, and the progress bar says what it is.
#
# Needs: root (network namespaces, tmpfs), Xvfb, xdotool, ImageMagick (import), at-spi2-core,
# gir1.2-atspi-2.0, python3-gi, and a built ferry (FERRY_BIN, default target/debug/ferry).
# Environment: FERRY_BIN, DISPLAY_A/B/C (default :93 :94 :95), SCREENSHOTS (output folder),
#   SUFFIX (added to every screenshot name), LANGUAGE_SETTING (english | simplified_chinese),
#   LAN_SCRIPT, LAN_PREFIX (glan), SUBNET (10.231.7), SHAPE ("rate 16mbit"), KEEP=1 keeps $WORK,
#   ATSPI_DRIVER (default /work/shared/tools/atspi_driver.py).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAN_SCRIPT=${LAN_SCRIPT:-$ROOT/lan/netns-lan.sh}
[ -x "$LAN_SCRIPT" ] || LAN_SCRIPT=/work/shared/lan/netns-lan.sh
export LAN_PREFIX=${LAN_PREFIX:-glan} SUBNET=${SUBNET:-10.231.7} SHAPE=${SHAPE:-rate 16mbit}
BIN=${FERRY_BIN:-$ROOT/target/debug/ferry}
OUT=${SCREENSHOTS:-$ROOT/docs/screenshots}
SUFFIX=${SUFFIX:-}
LANGUAGE_SETTING=${LANGUAGE_SETTING:-english}
DA=${DISPLAY_A:-:93} DB=${DISPLAY_B:-:94} DC=${DISPLAY_C:-:95}
ATSPI_DRIVER=${ATSPI_DRIVER:-/work/shared/tools/atspi_driver.py}
PORT=53531

die() { echo "gui-demo: $*" >&2; exit 1; }
log() { echo "gui-demo: $*" >&2; }
for tool in Xvfb xdotool convert import cmp dbus-daemon; do command -v "$tool" >/dev/null || die "$tool is missing"; done
[ -x "$BIN" ] || die "no ferry binary at $BIN (run cargo build, or set FERRY_BIN)"
[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, tmpfs)"
[ -f "$ATSPI_DRIVER" ] && /usr/bin/python3 -c 'import gi; gi.require_version("Atspi", "2.0")' 2>/dev/null || die "needs $ATSPI_DRIVER, python3-gi and gir1.2-atspi-2.0"
for d in "$DA" "$DB" "$DC"; do [ ! -e "/tmp/.X11-unix/X${d#:}" ] || die "display $d is in use; set DISPLAY_A/B/C"; done

# What the buttons are called, in the window's language.
case "$LANGUAGE_SETTING" in
  english) SEND_TO="Send to" ACCEPT="Accept" DECLINE="Decline" WAITING_FOR="Waiting for" HISTORY="Recent transfers"
           NOT_ENOUGH="Not enough free space" PROGRESS="Progress of receiving 4 files from Wang's laptop"
           DISK_FULL="Anna's laptop's disk is full" SEND_TEXT="Send text…" TEXT_BOX="Text to send"
           SEND_TEXT_TO="Send text to" TEXT_OFFER="wants to send you a text" COPY="Copy the text from Wang's laptop"
           NEW_MARK="new" SAME_NUMBER="Check that the other screen shows the same number";;
  simplified_chinese) SEND_TO="发送到" ACCEPT="接收" DECLINE="拒绝" WAITING_FOR="正在等待" HISTORY="最近的传输"
           NOT_ENOUGH="剩余空间不够" PROGRESS="从 Wang's laptop 接收 4 个文件的进度"
           DISK_FULL="Anna's laptop 的磁盘已满" SEND_TEXT="发送文字…" TEXT_BOX="要发送的文字"
           SEND_TEXT_TO="发送文字给" TEXT_OFFER="想发送一段文字给你" COPY="复制来自 Wang's laptop 的文字"
           NEW_MARK="新设备" SAME_NUMBER="请确认对方屏幕上显示的是同一个数字";;
  *) die "LANGUAGE_SETTING is english or simplified_chinese";;
esac

WORK=$(mktemp -d /tmp/ferry-gui-demo.XXXXXX)
PIDS=()
cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for s in a b c; do
    [ -f "$WORK/a11y-$s/pids" ] && /usr/bin/python3 "$ATSPI_DRIVER" session-down "$WORK/a11y-$s" >/dev/null 2>&1
  done
  mountpoint -q "$WORK/c/inbox" 2>/dev/null && umount "$WORK/c/inbox"
  "$LAN_SCRIPT" down >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT INT TERM

# --- demo files: photos (one with a Chinese name, one with EXIF rotation) and a larger video -----
mkdir -p "$WORK/photos" "$OUT"
convert -size 1600x1200 plasma:orange-purple -blur 0x2 "$WORK/photos/sunset.jpg"
convert -size 1200x1600 gradient:'#3a7bd5-#00d2ff' -fill white -draw "circle 600,500 600,300" "$WORK/photos/春节_照片.jpg"
# A landscape picture tagged "rotate 90° clockwise" (EXIF Orientation 6), as phones write portrait
# photos: its previews must come out upright (portrait). ImageMagick does not write the tag by
# itself, so it is spliced in after the JPEG's first marker.
convert -size 1600x1200 plasma:green-yellow "$WORK/garden.jpg"
python3 - "$WORK/garden.jpg" "$WORK/photos/garden (rotated).jpg" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
tiff = b"MM\x00\x2a" + struct.pack(">IHHHIH2sI", 8, 1, 0x0112, 3, 1, 6, b"\0\0", 0)
app1 = b"Exif\x00\x00" + tiff
open(sys.argv[2], "wb").write(data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:])
PY
head -c 60000000 /dev/urandom > "$WORK/photos/holiday-video.mp4"
PRESELECT="$WORK/photos/sunset.jpg:$WORK/photos/春节_照片.jpg:$WORK/photos/garden (rotated).jpg:$WORK/photos/holiday-video.mp4"

# --- each instance: own config folder and receive folder -----------------------------------------
setup() { # NAME DIR
  mkdir -p "$2/config" "$2/inbox"
  printf 'device_name = "%s"\nreceive_dir = "%s"\nlanguage = "%s"\ntheme = "dark"\n' \
    "$1" "$2/inbox" "$LANGUAGE_SETTING" > "$2/config/settings.toml"
}
setup "Wang's laptop" "$WORK/a"
setup "Kitchen PC" "$WORK/b"
setup "Anna's laptop" "$WORK/c"
setup "Living room PC" "$WORK/d"
mount -t tmpfs -o size=20m ferry-demo-full "$WORK/c/inbox"   # a disk with 20 MB free
head -c 1000000 /dev/zero > "$WORK/c/inbox/already-here.bin"

"$LAN_SCRIPT" up 4 >/dev/null

session() { # NAME DISPLAY
  /usr/bin/python3 "$ATSPI_DRIVER" session-up "$WORK/a11y-$1" --display "$2" --screen 1280x800x24 \
    >/dev/null 2>"$WORK/a11y-$1.log" || die "AT-SPI session $1 failed (see $WORK/a11y-$1.log)"
}
session a "$DA"; session b "$DB"; session c "$DC"
drv() { # HOST COMMAND ARGS...
  local host=$1; shift
  /usr/bin/python3 "$ATSPI_DRIVER" --session "$WORK/a11y-$host" --timeout "${TIMEOUT:-30}" "$@"
}

start() { # HOST DISPLAY [VAR=VALUE...]
  local host=$1 disp=$2; shift 2
  local bus a11y
  bus=$(. "$WORK/a11y-$host/session.env"; echo "$DBUS_SESSION_BUS_ADDRESS")
  a11y=$(. "$WORK/a11y-$host/session.env"; echo "$AT_SPI_BUS_ADDRESS")
  ip netns exec "$LAN_PREFIX-$host" env -u WAYLAND_DISPLAY DISPLAY="$disp" \
    DBUS_SESSION_BUS_ADDRESS="$bus" AT_SPI_BUS_ADDRESS="$a11y" FERRY_CONFIG_DIR="$WORK/$host/config" "$@" "$BIN" \
    >"$WORK/$host/ferry.log" 2>&1 &
  PIDS+=($!)
}
start b "$DB"
start c "$DC"
# The fourth device has no window: the command line, declining whatever it is offered.
ip netns exec "$LAN_PREFIX-d" env FERRY_CONFIG_DIR="$WORK/d/config" "$BIN" receive </dev/null >"$WORK/d/ferry.log" 2>&1 &
PIDS+=($!)
start a "$DA" FERRY_PRESELECT="$PRESELECT"

window() { # DISPLAY -> window id, waiting up to 30 s
  for _ in $(seq 300); do
    DISPLAY=$1 xdotool search --name '^Ferry$' 2>/dev/null | head -n1 && return 0
    sleep 0.1
  done
  die "no Ferry window on $1 (see $WORK/*/ferry.log)"
}
WA=$(window "$DA"); WB=$(window "$DB"); WC=$(window "$DC")
shot() { # DISPLAY WINDOW NAME
  DISPLAY=$1 xdotool mousemove 1270 790   # the pointer away from every button: no hover
  sleep 0.6
  DISPLAY=$1 import -window "$2" "$OUT/$3$SUFFIX.png"
  log "wrote $OUT/$3$SUFFIX.png"
}
# A device button's accessible name; a device not met before (every one, at the start) is "new".
device() { echo "$1, Linux, $NEW_MARK, $SUBNET.$2:$PORT"; }

# Every button of a window has a name, and no two share one (a screen reader tells them apart).
check_names() { # HOST
  drv "$1" dump ferry >"$WORK/a11y-tree-$1.txt" || die "could not read the accessibility tree of $1"
  ! grep -E "\[(push|toggle) button\] (''|\"\")" "$WORK/a11y-tree-$1.txt" || die "a button without a name in $1"
  local dups
  dups=$(grep -oE "\[(push|toggle) button\] .*" "$WORK/a11y-tree-$1.txt" | sed -E 's/ (text|value|actions)=.*//' | sort | uniq -d)
  [ -z "$dups" ] || die "buttons sharing a name in $1: $dups"
  log "screen reader ($1): $(grep -c 'button\]' "$WORK/a11y-tree-$1.txt") buttons, every one named, no two alike"
}

# --- three devices -------------------------------------------------------------------------------
drv a wait-text ferry "$(device "Kitchen PC" 2)" --exact >/dev/null
drv a wait-text ferry "$(device "Anna's laptop" 3)" --exact >/dev/null
drv a wait-text ferry "$(device "Living room PC" 4)" --exact >/dev/null
drv a click ferry "$(device "Kitchen PC" 2)" >/dev/null
sleep 2   # previews decode off the UI thread
shot "$DA" "$WA" main-screen
check_names a

# --- a full disk: Anna's laptop cannot take 61 MB ------------------------------------------------
drv a click ferry "$(device "Anna's laptop" 3)" >/dev/null
drv a click ferry "$SEND_TO Anna's laptop" >/dev/null
TIMEOUT=120 drv c wait-text ferry "$NOT_ENOUGH" >/dev/null || die "Anna's laptop did not say its disk is full"
shot "$DC" "$WC" prompt-full-disk
check_names c
# Accepted anyway: the disk fills up in the middle of the video; the sender hears it at once.
drv c click ferry "$ACCEPT" >/dev/null
TIMEOUT=60 drv a wait-text ferry "$DISK_FULL" >/dev/null || die "the sender was not told Anna's disk is full"
shot "$DA" "$WA" sent-disk-full
[ -z "$(find "$WORK/c/inbox" -maxdepth 1 -name 'holiday-video*')" ] || die "a half-saved video was kept" 

# --- Kitchen PC accepts; the link drops mid-transfer and comes back ------------------------------
drv a click ferry "$(device "Kitchen PC" 2)" >/dev/null
drv a click ferry "$SEND_TO Kitchen PC" >/dev/null
TIMEOUT=120 drv b wait-text ferry "$ACCEPT" --exact >/dev/null
# A first meeting: both screens show the verification code (protocol version 2).
drv b wait-text ferry "$SAME_NUMBER" >/dev/null || die "Kitchen PC's prompt shows no verification code"
shot "$DB" "$WB" incoming-prompt
drv b click ferry "$ACCEPT" >/dev/null
# Wait until the big file is on its way: 8 MB or more through, as B's progress bar says (files
# on their way have no name in the receive folder, so the folder cannot tell).
TIMEOUT=60 drv b wait-text ferry "$PROGRESS: ([89]|[1-9][0-9])(\.[0-9]+)? MB" --regex >/dev/null \
  || die "the transfer did not get going"
shot "$DA" "$WA" transfer-in-progress
check_names b
grep -q "\[progress bar\] .$PROGRESS: " "$WORK/a11y-tree-b.txt" \
  || die "the progress bar has no useful name: $(grep -i 'progress' "$WORK/a11y-tree-b.txt" | head -3)"

"$LAN_SCRIPT" link b down >/dev/null
TIMEOUT=15 drv a wait-text ferry "$WAITING_FOR Kitchen PC" >/dev/null || die "a cut link still looked alive"
shot "$DA" "$WA" transfer-stalled
"$LAN_SCRIPT" link b up >/dev/null

log "waiting for the files to arrive"
for _ in $(seq 240); do
  # Finished files have their final names; unfinished ones have none yet.
  [ "$(find "$WORK/b/inbox" -maxdepth 1 -type f ! -name '.*' | wc -l)" -ge 4 ] && break
  sleep 0.5
done
for f in "$WORK"/photos/*; do
  cmp "$f" "$WORK/b/inbox/$(basename "$f")" || die "$(basename "$f") did not arrive intact"
done
drv a click ferry "$HISTORY" >/dev/null   # open the history: dates and what happened
sleep 1
shot "$DA" "$WA" sent
shot "$DB" "$WB" received

# --- a text: a Wi-Fi password to Kitchen PC -----------------------------------------------------
drv a click ferry "$SEND_TEXT" >/dev/null
drv a set-text ferry "$TEXT_BOX" "Wi-Fi: Kitchen-5G
password: correct horse battery staple" >/dev/null
drv a click ferry "$SEND_TEXT_TO Kitchen PC" >/dev/null
TIMEOUT=30 drv b wait-text ferry "$TEXT_OFFER" >/dev/null || die "Kitchen PC was not offered the text"
shot "$DB" "$WB" text-prompt
drv b click ferry "$ACCEPT" >/dev/null
TIMEOUT=30 drv b wait-text ferry "$COPY" --exact >/dev/null || die "the text card has no Copy button"
shot "$DB" "$WB" text-received
check_names b
log "ok: 4 files arrived byte-identical after the link came back; screenshots in $OUT"
