#!/usr/bin/env bash
# gui-demo.sh — two Ferry windows on a fake LAN, a real send between them driven with xdotool,
# and screenshots of the main screen, the incoming prompt and a transfer in progress.
#
#   sudo scripts/gui-demo.sh            # writes docs/screenshots/*.png
#
# What it does (everything is torn down on exit, also on failure or Ctrl-C):
#   1. a fake LAN of two network namespaces (glan-a, glan-b; lan/netns-lan.sh), shaped to
#      40 Mbit/s so that the transfer lasts long enough to be seen;
#   2. one Xvfb display per window (no window manager: each window sits at 0,0 of its display);
#   3. "Kitchen PC" in glan-b, and "Wang's laptop" in glan-a with the demo photos preselected
#      (FERRY_PRESELECT, the testing aid that stands in for the file dialog);
#   4. xdotool clicks the device and "Send to …" in A, then "Accept" in B;
#   5. screenshots, then it waits for the files and checks they arrived byte-identical;
#   6. when the AT-SPI driver (ATSPI_DRIVER) and python3-gi are there, window B runs on an
#      accessibility bus and its tree is checked during the transfer: the progress bar and every
#      button must have a name, as a screen reader needs.
#
# Needs: root (network namespaces), Xvfb, xdotool, ImageMagick (convert, import), and a built
# ferry (FERRY_BIN, default target/debug/ferry; `cargo build` first).
# Environment: FERRY_BIN, DISPLAY_A (default :93), DISPLAY_B (:94), SCREENSHOTS (output folder),
#   LAN_SCRIPT, LAN_PREFIX (glan), SUBNET (10.231.7), SHAPE ("rate 40mbit"), KEEP=1 keeps $WORK,
#   ATSPI_DRIVER (default /work/shared/tools/atspi_driver.py; A11Y=0 skips that check).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAN_SCRIPT=${LAN_SCRIPT:-$(dirname "$0")/../lan/netns-lan.sh}
[ -x "$LAN_SCRIPT" ] || LAN_SCRIPT=/work/shared/lan/netns-lan.sh
export LAN_PREFIX=${LAN_PREFIX:-glan} SUBNET=${SUBNET:-10.231.7} SHAPE=${SHAPE:-rate 40mbit}
BIN=${FERRY_BIN:-$ROOT/target/debug/ferry}
OUT=${SCREENSHOTS:-$ROOT/docs/screenshots}
DA=${DISPLAY_A:-:93}
DB=${DISPLAY_B:-:94}
# Window geometry (ferry's default inner size) and where its buttons are, for xdotool.
W=980 H=680

die() { echo "gui-demo: $*" >&2; exit 1; }
log() { echo "gui-demo: $*" >&2; }
for tool in Xvfb xdotool convert import cmp; do command -v "$tool" >/dev/null || die "$tool is missing"; done
[ -x "$BIN" ] || die "no ferry binary at $BIN (run cargo build, or set FERRY_BIN)"
[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"
for d in "$DA" "$DB"; do [ ! -e "/tmp/.X11-unix/X${d#:}" ] || die "display $d is in use; set DISPLAY_A/DISPLAY_B"; done

ATSPI_DRIVER=${ATSPI_DRIVER:-/work/shared/tools/atspi_driver.py}
A11Y=${A11Y:-1}
if [ "$A11Y" = 1 ] && ! { [ -f "$ATSPI_DRIVER" ] && /usr/bin/python3 -c 'import gi' 2>/dev/null; }; then
  log "no AT-SPI driver or python3-gi: skipping the screen-reader check"
  A11Y=0
fi

WORK=$(mktemp -d /tmp/ferry-gui-demo.XXXXXX)
PIDS=()
cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ "$A11Y" = 1 ] && /usr/bin/python3 "$ATSPI_DRIVER" session-down "$WORK/a11y" >/dev/null 2>&1 || true
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
  printf 'device_name = "%s"\nreceive_dir = "%s"\nlanguage = "english"\ntheme = "dark"\n' "$1" "$2/inbox" \
    > "$2/config/settings.toml"
}
setup "Wang's laptop" "$WORK/a"
setup "Kitchen PC" "$WORK/b"

"$LAN_SCRIPT" up 2 >/dev/null

Xvfb "$DA" -screen 0 1280x800x24 -nolisten tcp >"$WORK/xvfb-a.log" 2>&1 & PIDS+=($!)
B_ENV=()
if [ "$A11Y" = 1 ]; then
  # Display B with a session bus and the accessibility bus (the driver starts its own Xvfb).
  /usr/bin/python3 "$ATSPI_DRIVER" session-up "$WORK/a11y" --display "$DB" >/dev/null 2>"$WORK/a11y.log" \
    || die "AT-SPI session failed (see $WORK/a11y.log; A11Y=0 skips it)"
  B_ENV=(DBUS_SESSION_BUS_ADDRESS="$(. "$WORK/a11y/session.env"; echo "$DBUS_SESSION_BUS_ADDRESS")"
         AT_SPI_BUS_ADDRESS="$(. "$WORK/a11y/session.env"; echo "$AT_SPI_BUS_ADDRESS")")
else
  Xvfb "$DB" -screen 0 1280x800x24 -nolisten tcp >"$WORK/xvfb-b.log" 2>&1 & PIDS+=($!)
fi
for d in "$DA" "$DB"; do
  for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${d#:}" ] && break; sleep 0.1; done
done

start() { # NS DISPLAY DIR [VAR=VALUE...]
  local ns=$1 disp=$2 dir=$3; shift 3
  ip netns exec "$ns" env -u WAYLAND_DISPLAY DISPLAY="$disp" FERRY_CONFIG_DIR="$dir/config" "$@" "$BIN" \
    >"$dir/ferry.log" 2>&1 &
  PIDS+=($!)
}
start "$LAN_PREFIX-b" "$DB" "$WORK/b" "${B_ENV[@]}"
start "$LAN_PREFIX-a" "$DA" "$WORK/a" FERRY_PRESELECT="$PRESELECT"

window() { # DISPLAY -> window id, waiting up to 30 s
  for _ in $(seq 300); do
    DISPLAY=$1 xdotool search --name '^Ferry$' 2>/dev/null | head -n1 && return 0
    sleep 0.1
  done
  die "no Ferry window on $1 (see $WORK/*/ferry.log)"
}
WA=$(window "$DA")
WB=$(window "$DB")
shot() { # DISPLAY WINDOW FILE
  DISPLAY=$1 import -window "$2" "$3"
  log "wrote $3"
}
click() { # DISPLAY X Y
  DISPLAY=$1 xdotool mousemove --sync "$2" "$3" click 1
  sleep 0.4
}

pixel() { # DISPLAY X Y -> "srgb(r,g,b)" of one screen pixel
  DISPLAY=$1 import -window root -crop "1x1+$2+$3" +repage png:- 2>/dev/null | convert png:- -format '%[pixel:p{0,0}]' info:
}
wait_pixel() { # WHAT DISPLAY X Y COLOR SECONDS
  for _ in $(seq $(($6 * 4))); do
    [ "$(pixel "$2" "$3" "$4")" = "$5" ] && return 0
    sleep 0.25
  done
  die "timed out waiting for $1 (see $WORK/*/ferry.log; KEEP=1 keeps them)"
}
ACCENT="srgb(0,92,128)"   # egui's dark-theme selection colour: a selected device, Send, Accept

# The device appears after discovery (announcements every ~2 s).
for _ in $(seq 60); do
  click "$DA" 140 100                           # the first device in "Devices nearby"
  [ "$(pixel "$DA" 270 100)" = "$ACCENT" ] && break
  sleep 0.5
done
wait_pixel "the device to be selected" "$DA" 270 100 "$ACCENT" 1
DISPLAY=$DA xdotool mousemove 700 560        # away from buttons: no hover highlight
sleep 2                                      # previews decode off the UI thread
shot "$DA" "$WA" "$OUT/main-screen.png"

# "Send to Kitchen PC", under the list of four chosen files. The sender makes a thumbnail of each
# photo before it offers them, so the prompt takes a moment to appear on the other side.
click "$DA" 380 333
wait_pixel "the incoming prompt" "$DB" 14 $((H - 20)) "$ACCENT" 120
DISPLAY=$DB xdotool mousemove 700 300
sleep 1
shot "$DB" "$WB" "$OUT/incoming-prompt.png"

click "$DB" 78 $((H - 29))   # "Accept", bottom left of the prompt
DISPLAY=$DB xdotool mousemove 700 560
# Wait until the big file is on its way (its temporary file grows in the receive folder).
for _ in $(seq 240); do
  [ "$(du -sb "$WORK/b/inbox" | cut -f1)" -gt 8000000 ] && break
  sleep 0.25
done
shot "$DA" "$WA" "$OUT/transfer-in-progress.png"
shot "$DB" "$WB" "$WORK/receiving.png"

if [ "$A11Y" = 1 ]; then
  # What a screen reader gets from window B while it receives.
  /usr/bin/python3 "$ATSPI_DRIVER" --session "$WORK/a11y" dump ferry >"$WORK/a11y-tree.txt" \
    || die "could not read the accessibility tree"
  grep -q "\[progress bar\] .Progress of the transfer with Wang's laptop: .* of 61.1 MB" "$WORK/a11y-tree.txt" \
    || die "the progress bar has no useful name: $(grep -i progress "$WORK/a11y-tree.txt")"
  ! grep -E "\[(push|toggle) button\] (''|\"\")" "$WORK/a11y-tree.txt" || die "a button without a name"
  log "screen reader: $(grep -c 'button\]' "$WORK/a11y-tree.txt") named buttons; $(grep 'progress bar' "$WORK/a11y-tree.txt" | sed 's/^ *//')"
fi

log "waiting for the files to arrive"
for _ in $(seq 240); do
  # Finished files have their final names; unfinished ones are hidden ".ferry-….part" files.
  [ "$(find "$WORK/b/inbox" -maxdepth 1 -type f ! -name '.*' | wc -l)" -ge 4 ] && break
  sleep 0.5
done
for f in "$WORK"/photos/*; do
  cmp "$f" "$WORK/b/inbox/$(basename "$f")" || die "$(basename "$f") did not arrive intact"
done
sleep 1
shot "$DA" "$WA" "$OUT/sent.png"
shot "$DB" "$WB" "$OUT/received.png"
log "ok: 4 files arrived byte-identical; screenshots in $OUT"
