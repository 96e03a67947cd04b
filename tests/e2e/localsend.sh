#!/usr/bin/env bash
# tests/e2e/localsend.sh - the real `ferry` binary against a LocalSend peer nobody here wrote:
# localsendd 0.1.1 from PyPI (a stdlib-only Python LocalSend v2.2 daemon), on a fake LAN of
# network namespaces (lan/netns-lan.sh). localsendd plays the phone.
#
#   sudo tests/e2e/localsend.sh             build target/release/ferry (if needed) and run all
#   FERRY_BIN=path/to/ferry tests/e2e/localsend.sh
#   ONLY="discovery receive" ...            some tests (discovery receive checksum send text http cancel)
#   KEEP=1 ...                              keep the scratch dir (logs, files) for a look
#   LOCALSENDD_VENV=DIR ...                 use localsendd from this venv instead of installing it
#
# Needs root, `ip netns`, python3 with venv, openssl (localsendd makes its certificate with it)
# and pip access to PyPI for localsendd==0.1.1; without them it says so loudly and FAILS.
# localsendd and every ferry run only inside the namespaces (localsendd scans its /24 when
# multicast fails: never run it in the machine's own namespace). Namespaces are named
# ${LAN_PREFIX}-br, ${LAN_PREFIX}-a ... (default prefix "flsde") and are removed at exit. Every
# wait is bounded; the whole run takes about a minute and a half.
# Last line of output: "N passed, N failed"; exit code 0 only when nothing failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export LAN_PREFIX=${LAN_PREFIX:-flsde}
export SUBNET=${SUBNET:-10.231.19}
# shellcheck source=../../lan/lib.sh
. "$ROOT/lan/lib.sh"

LOCALSENDD_VERSION=0.1.1
LS_PORT=53317
TESTS=(discovery receive checksum send text http cancel)
ONLY=${ONLY:-${TESTS[*]}}

banner() { printf '\n######## %s\n' "$*" >&2; }
refuse() {
  banner "LOCALSEND E2E TESTS NOT RUN: $*"
  echo "These tests need root, 'ip netns', python3 (venv), openssl and localsendd; they did NOT pass." >&2
  echo "0 passed, 1 failed"
  exit 1
}

# ---- preflight -------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || refuse "not root (run as root, e.g. sudo $0)"
need_tools ip:iproute2 sha256sum:coreutils timeout:coreutils openssl:openssl python3:python3 ss:iproute2 \
  || refuse "could not install the tools it needs"
# `python3 -m venv` needs ensurepip, which Debian ships apart (python3-venv).
if ! python3 -c 'import ensurepip, venv' 2>/dev/null && [ -z "${LOCALSENDD_VENV:-}" ]; then
  echo "installing missing packages: python3-venv" >&2
  { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv; } >&2 \
    || refuse "could not install python3-venv"
fi
why=$(lan check 2>&1) || refuse "$why"
WORK=$(mktemp -d /tmp/ferry-lsd.XXXXXX)
cleanup() {
  kill_bg
  lan down >/dev/null 2>&1
  if [ "${KEEP:-0}" = 1 ]; then echo "scratch dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ -n "${LOCALSENDD_VENV:-}" ]; then
  VENV=$LOCALSENDD_VENV
else
  VENV=$WORK/venv
  banner "installing localsendd==$LOCALSENDD_VERSION into $VENV"
  { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "localsendd==$LOCALSENDD_VERSION"; } >&2 \
    || refuse "could not install localsendd==$LOCALSENDD_VERSION from PyPI (python3-venv missing? no index?)"
fi
"$VENV/bin/localsendd" --version 2>&1 | grep -q "$LOCALSENDD_VERSION" || refuse "localsendd in $VENV is not $LOCALSENDD_VERSION"
ferry_bin || refuse "no ferry binary (build failed?)"
lan up 3 2>/dev/null || refuse "could not build the fake LAN (lan/netns-lan.sh up 3)"
A=$(host_ip a); B=$(host_ip b)

# ---- reporting ------------------------------------------------------------------------------
PASSED=0; FAILED=0; FAILED_NAMES=()
fail() { echo "    FAIL: $*" >&2; return 1; }
note() { echo "    $*" >&2; }
show_log() {
  local f
  for f in "$1" "$1.err"; do
    [ -s "$f" ] && { echo "    --- $(basename "$f") (last 15 lines)"; tail -n 15 "$f" | sed 's/^/    | /' | cut -c1-300; } >&2
  done
  return 0
}
run_test() {
  local name=$1 t0 rc
  [[ " $ONLY " == *" $name "* ]] || return 0
  banner "test: $name"
  t0=$(now_ms)
  mkdir -p "$WORK/$name"
  "test_$name" "$WORK/$name"; rc=$?
  kill_bg
  lan shape "" >/dev/null 2>&1
  if [ $rc = 0 ]; then
    PASSED=$((PASSED + 1)); echo "PASS $name ($(( ($(now_ms) - t0) / 1000 )) s)" >&2
  else
    FAILED=$((FAILED + 1)); FAILED_NAMES+=("$name"); echo "FAIL $name" >&2
  fi
}

# ---- the two programs -----------------------------------------------------------------------
# lsd VAR DIR HOST ALIAS [args] : localsendd in HOST ("a phone"): state in DIR/home, files to
# DIR/dl, control socket DIR/s; accepts without asking (--unattended). Pid in VAR.
lsd() {
  local __var=$1 dir=$2 h=$3 alias=$4; shift 4
  mkdir -p "$dir/home" "$dir/dl"
  ip netns exec "${LAN_PREFIX}-$h" env HOME="$dir/home" XDG_STATE_HOME="$dir/home/state" \
    XDG_CONFIG_HOME="$dir/home/config" XDG_RUNTIME_DIR="$dir" \
    "$VENV/bin/localsendd" --port "$LS_PORT" --socket "$dir/s" --alias "$alias" --device-type mobile \
    --download-dir "$dir/dl" --unattended --no-log-time "$@" >"$dir/lsd.log" 2>&1 &
  printf -v "$__var" '%s' "$!"
  BG_PIDS+=("$!")
}
# ctl DIR HOST SECS ARGS... : localsendctl for the localsendd of DIR, bounded
ctl() {
  local dir=$1 h=$2 secs=$3; shift 3
  timeout -k 2 "$secs" ip netns exec "${LAN_PREFIX}-$h" env HOME="$dir/home" \
    "$VENV/bin/localsendctl" --socket "$dir/s" "$@"
}
# fy VAR LOG HOST CFG ARGS... : ferry in HOST with config dir CFG, in the background
fy() {
  local __var=$1 log=$2 h=$3 cfg=$4; shift 4
  mkdir -p "$cfg"
  ip netns exec "${LAN_PREFIX}-$h" env FERRY_CONFIG_DIR="$cfg" "$FERRY" "$@" >"$log" 2>"$log.err" &
  printf -v "$__var" '%s' "$!"
  BG_PIDS+=("$!")
}
# fy_fg SECS HOST CFG ARGS... : ferry in the foreground, bounded
fy_fg() {
  local secs=$1 h=$2 cfg=$3; shift 3
  mkdir -p "$cfg"
  timeout -k 2 "$secs" ip netns exec "${LAN_PREFIX}-$h" env FERRY_CONFIG_DIR="$cfg" "$FERRY" "$@"
}
listening() { in_host "$1" ss -Htln "sport = :$2" | grep -q LISTEN; }
# lsd_ready DIR HOST : localsendd answers on its control socket
lsd_ready() { [ -S "$1/s" ] && listening "$2" "$LS_PORT"; }
# fingerprint CFG : the LocalSend fingerprint of the ferry whose config dir is CFG
fingerprint() { openssl x509 -in "$1/identity.crt" -outform DER | sha256sum | cut -c1-64 | tr a-f A-F; }
make_file() { head -c "$2" /dev/urandom >"$1"; }
# same_files SRC DST : every file of SRC (flat) is in DST with the same bytes
same_files() {
  local f ok=0
  for f in "$1"/*; do
    cmp -s "$f" "$2/$(basename "$f")" || { fail "$(basename "$f") differs or is missing in $2"; ok=1; }
  done
  return $ok
}
# ferry_saw LOG PATTERN : ferry's --json log has an event matching PATTERN (extended regex)
ferry_saw() { grep -Eq "$2" "$1"; }

# A batch for the phone to send: a Chinese name, an emoji, an empty file, a 200 MB file.
make_batch() {
  mkdir -p "$1"
  make_file "$1/照片 2024.jpg" 345678
  make_file "$1/😀 smile.png" 4321
  : >"$1/empty.txt"
  make_file "$1/video.mp4" $((200 * 1000 * 1000))
}

# ---- (a) discovery --------------------------------------------------------------------------
# localsendd (a phone) and `ferry receive` find each other by multicast: each lists the other
# with the right kind, address, protocol and fingerprint; `ferry peers` on a third host lists
# the phone as a LocalSend phone.
test_discovery() {
  local w=$1 pl pf ok=0 devs fp
  lsd pl "$w/lsd" a "Pixel 8"
  wait_until 10 lsd_ready "$w/lsd" a || { fail "localsendd did not start"; show_log "$w/lsd/lsd.log"; return 1; }
  fy pf "$w/recv.log" b "$w/cfg-b" receive --dir "$w/in" --name "Ferry desk" --yes --json
  wait_until 10 listening b "$LS_PORT" || { fail "ferry's LocalSend port is not open"; show_log "$w/recv.log"; return 1; }
  # Ferry hears the phone's announcements (or its answer to Ferry's).
  wait_until 10 ferry_saw "$w/recv.log" '"name":"Pixel 8".*"source":\{"localsend":"mobile"\}' \
    || { fail "ferry did not list the phone as a LocalSend phone"; show_log "$w/recv.log"; ok=1; }
  ferry_saw "$w/recv.log" "\"addr\":\"$A:$LS_PORT\"" || { fail "ferry listed the phone at the wrong address"; ok=1; }
  # The phone hears Ferry, over HTTPS, under Ferry's certificate fingerprint.
  fp=$(fingerprint "$w/cfg-b")
  wait_until 10 eval 'devs=$(ctl "$w/lsd" a 10 devices --json 2>/dev/null); grep -q "Ferry desk" <<<"$devs"' \
    || { fail "localsendd did not list Ferry"; ok=1; }
  devs=$(ctl "$w/lsd" a 10 devices --json 2>/dev/null)
  grep -q "\"fingerprint\": \"$fp\"" <<<"$devs" || { fail "localsendd has another fingerprint for Ferry than its certificate's ($fp)"; ok=1; }
  grep -q '"protocol": "https"' <<<"$devs" || { fail "localsendd does not reach Ferry over https"; ok=1; }
  grep -q '"deviceType": "desktop"' <<<"$devs" || { fail "Ferry is not a desktop to localsendd"; ok=1; }
  note "localsendd sees: $(tr -d '\n ' <<<"$devs" | cut -c1-200)"
  # A third host that only looks (`ferry peers`) finds the phone too.
  fy_fg 15 c "$w/cfg-c" peers --wait 3 >"$w/peers.txt" 2>"$w/peers.err"
  grep -E "Pixel 8 +$A:$LS_PORT +LocalSend \(phone\)" "$w/peers.txt" >/dev/null \
    || { fail "ferry peers on host c does not list the phone"; show_log "$w/peers.txt"; ok=1; }
  note "ferry peers on c:"; sed 's/^/      /' "$w/peers.txt" >&2
  return $ok
}

# ---- (b) phone -> ferry receive -------------------------------------------------------------
# localsendd sends a batch (a Chinese name, an emoji, an empty file, 200 MB) over HTTPS with its
# client certificate and checksums; `ferry receive --yes --once` saves every byte and exits 0.
test_receive() {
  local w=$1 pl pf rc t0
  make_batch "$w/src"
  lsd pl "$w/lsd" a "Pixel 8"
  fy pf "$w/recv.log" b "$w/cfg-b" receive --dir "$w/in" --name "Ferry desk" --yes --once --json
  wait_until 10 lsd_ready "$w/lsd" a && wait_until 10 listening b "$LS_PORT" \
    || { fail "a side did not start"; show_log "$w/lsd/lsd.log"; show_log "$w/recv.log"; return 1; }
  wait_until 10 eval 'ctl "$w/lsd" a 10 devices --json 2>/dev/null | grep -q "Ferry desk"' \
    || { fail "localsendd never listed Ferry"; return 1; }
  t0=$(now_ms)
  ctl "$w/lsd" a 120 send --to "Ferry desk" --wait --quiet "$w/src"/* >"$w/send.log" 2>&1; rc=$?
  note "localsendd: $(tail -n 1 "$w/send.log") ($(( $(now_ms) - t0 )) ms for $(dir_bytes "$w/src") bytes)"
  [ $rc = 0 ] || { fail "localsendctl send exited $rc"; show_log "$w/send.log"; show_log "$w/recv.log"; return 1; }
  wait_exit "$pf" 15; rc=$?
  [ $rc = 0 ] || { fail "ferry receive --once exited $rc"; show_log "$w/recv.log"; return 1; }
  same_files "$w/src" "$w/in" || return 1
  [ "$(find "$w/in" -type f | wc -l)" = 4 ] || { fail "not exactly 4 files received: $(ls "$w/in")"; return 1; }
  ferry_saw "$w/recv.log" '"event":"incoming_offer"' || { fail "ferry never saw the offer"; return 1; }
  note "4 files identical, $(du -sb "$w/in" | cut -f1) bytes"
}

# ---- (c) a wrong checksum ---------------------------------------------------------------------
# A phone (Python's stdlib TLS client with a client certificate, playing LocalSend 2.2) offers
# a file with a sha256 that does not match its bytes: the upload is answered 422 and nothing is
# saved; the right bytes for a second file are saved.
test_checksum() {
  local w=$1 pf rc
  fy pf "$w/recv.log" b "$w/cfg-b" receive --dir "$w/in" --name "Ferry desk" --yes --json
  wait_until 10 listening b "$LS_PORT" || { fail "ferry did not start"; show_log "$w/recv.log"; return 1; }
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=Phone -keyout "$w/key.pem" -out "$w/cert.pem" 2>/dev/null
  cat >"$w/phone.py" <<'PY'
import hashlib, http.client, json, ssl, sys
host, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl._create_unverified_context()
ctx.load_cert_chain(cert, key)
good, bad = b"the right bytes\n" * 1000, b"bytes the hash does not describe\n" * 1000
def post(path, body):
    c = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
    c.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    out = (r.status, r.read())
    c.close()
    return out
offer = {"info": {"alias": "Test phone", "version": "2.2", "deviceType": "mobile", "fingerprint": "ignored",
                  "port": 53317, "protocol": "https"},
         "files": {"g": {"id": "g", "fileName": "good.bin", "size": len(good), "fileType": "application/octet-stream",
                         "sha256": hashlib.sha256(good).hexdigest()},
                   "b": {"id": "b", "fileName": "damaged.bin", "size": len(bad), "fileType": "application/octet-stream",
                         "sha256": hashlib.sha256(b"something else").hexdigest()}}}
status, body = post("/api/localsend/v2/prepare-upload", json.dumps(offer).encode())
assert status == 200, (status, body)
answer = json.loads(body)
sid, tokens = answer["sessionId"], answer["files"]
upload = lambda fid, data: post(f"/api/localsend/v2/upload?sessionId={sid}&fileId={fid}&token={tokens[fid]}", data)[0]
print("damaged:", upload("b", bad))
print("good:", upload("g", good))
print("cancel:", post(f"/api/localsend/v2/cancel?sessionId={sid}", b"")[0])
PY
  timeout 30 ip netns exec "${LAN_PREFIX}-a" python3 "$w/phone.py" "$B" "$LS_PORT" "$w/cert.pem" "$w/key.pem" \
    >"$w/phone.log" 2>&1; rc=$?
  note "phone: $(tr '\n' ' ' <"$w/phone.log")"
  [ $rc = 0 ] || { fail "the phone script failed"; show_log "$w/phone.log"; return 1; }
  grep -q "damaged: 422" "$w/phone.log" || { fail "a wrong sha256 was not answered 422"; return 1; }
  grep -q "good: 200" "$w/phone.log" || { fail "the right file was not taken"; return 1; }
  [ ! -e "$w/in/damaged.bin" ] || { fail "the damaged file was saved"; return 1; }
  [ -z "$(find "$w/in" -name '.ferry-*')" ] || { fail "temporary files left: $(find "$w/in" -name '.ferry-*')"; return 1; }
  cmp -s "$w/in/good.bin" <(python3 -c 'import sys; sys.stdout.buffer.write(b"the right bytes\n" * 1000)') \
    || { fail "good.bin differs"; return 1; }
}

# ---- (d) ferry send -> phone ----------------------------------------------------------------
# `ferry send --to "Pixel 8"` (found by LocalSend discovery) sends a folder and files to
# localsendd over HTTPS: pinned to its certificate, with Ferry's client certificate; file times
# arrive (metadata.modified).
test_send() {
  local w=$1 pl rc
  mkdir -p "$w/src/Album"
  make_file "$w/src/Album/猫.jpg" 2345678
  make_file "$w/src/notes.txt" 999
  make_file "$w/src/big.bin" $((30 * 1000 * 1000))
  touch -d "2021-06-01 10:20:30" "$w/src/big.bin"
  lsd pl "$w/lsd" a "Pixel 8"
  wait_until 10 lsd_ready "$w/lsd" a || { fail "localsendd did not start"; show_log "$w/lsd/lsd.log"; return 1; }
  fy_fg 90 b "$w/cfg-b" send --to "Pixel 8" --wait 8 "$w/src/Album" "$w/src/notes.txt" "$w/src/big.bin" \
    >"$w/send.log" 2>"$w/send.log.err"; rc=$?
  [ $rc = 0 ] || { fail "ferry send exited $rc"; show_log "$w/send.log"; show_log "$w/lsd/lsd.log"; return 1; }
  note "ferry: $(cat "$w/send.log" "$w/send.log.err" | grep -v '^$' | tail -n 1)"
  # localsendd keeps only the last part of a name (no folders).
  cmp -s "$w/src/Album/猫.jpg" "$w/lsd/dl/猫.jpg" || { fail "猫.jpg differs or is missing"; ls -la "$w/lsd/dl" >&2; return 1; }
  cmp -s "$w/src/notes.txt" "$w/lsd/dl/notes.txt" || { fail "notes.txt differs"; return 1; }
  cmp -s "$w/src/big.bin" "$w/lsd/dl/big.bin" || { fail "big.bin differs"; return 1; }
  [ "$(stat -c %Y "$w/lsd/dl/big.bin")" = "$(stat -c %Y "$w/src/big.bin")" ] \
    || { fail "the file time did not arrive: $(stat -c %y "$w/lsd/dl/big.bin")"; return 1; }
  ctl "$w/lsd" a 10 status --json 2>/dev/null | grep -q '"kind": "received"' \
    || { fail "localsendd does not report the batch as received"; return 1; }
}

# ---- (d2) ferry send --text -> phone ---------------------------------------------------------
# A text goes as LocalSend's own app sends one: one text/plain "file" whose preview is the text.
# localsendd does not show previews: it asks for the bytes (a token), and saves them as the
# offered <random>.txt, so the file must hold exactly the text.
test_text() {
  local w=$1 pl rc got msg
  msg=$(printf 'Wi-Fi: hunter2\n猫 🐈 — مرحبا')
  lsd pl "$w/lsd" a "Pixel 8"
  wait_until 10 lsd_ready "$w/lsd" a || { fail "localsendd did not start"; show_log "$w/lsd/lsd.log"; return 1; }
  fy_fg 60 b "$w/cfg-b" send --to "Pixel 8" --wait 8 --text "$msg" >"$w/send.log" 2>"$w/send.log.err"; rc=$?
  [ $rc = 0 ] || { fail "ferry send --text exited $rc"; show_log "$w/send.log"; show_log "$w/send.log.err"; show_log "$w/lsd/lsd.log"; return 1; }
  note "ferry: $(cat "$w/send.log" "$w/send.log.err" | grep -v '^$' | tail -n 1)"
  got=$(find "$w/lsd/dl" -type f)
  [ "$(wc -l <<<"$got")" = 1 ] && [[ "$got" == *.txt ]] || { fail "not exactly one .txt at the phone: $got"; return 1; }
  [ "$(cat "$got")" = "$msg" ] || { fail "the text arrived as something else: $(od -c "$got" | head -n 3)"; return 1; }
}

# ---- (e) plain HTTP both ways ----------------------------------------------------------------
# A phone with encryption off (localsendd --no-encryption) and Ferry announcing HTTP: files go
# both ways without TLS, found by discovery.
test_http() {
  local w=$1 pl pf rc devs
  mkdir -p "$w/src-phone" "$w/src-ferry"
  make_file "$w/src-phone/from phone.bin" 1234567
  make_file "$w/src-ferry/from ferry.bin" 2345678
  lsd pl "$w/lsd" a "Old phone" --no-encryption
  fy pf "$w/recv.log" b "$w/cfg-b" receive --dir "$w/in" --name "Ferry desk" --yes --json --localsend-http
  wait_until 10 lsd_ready "$w/lsd" a && wait_until 10 listening b "$LS_PORT" \
    || { fail "a side did not start"; show_log "$w/lsd/lsd.log"; show_log "$w/recv.log"; return 1; }
  wait_until 10 eval 'devs=$(ctl "$w/lsd" a 10 devices --json 2>/dev/null); grep -q "Ferry desk" <<<"$devs"' \
    || { fail "localsendd did not list Ferry"; return 1; }
  grep -q '"protocol": "http"' <<<"$devs" || { fail "Ferry did not announce http"; note "$devs"; return 1; }
  ctl "$w/lsd" a 60 send --to "Ferry desk" --wait --quiet "$w/src-phone/from phone.bin" >"$w/send1.log" 2>&1; rc=$?
  [ $rc = 0 ] || { fail "localsendd -> ferry over http: exit $rc"; show_log "$w/send1.log"; show_log "$w/recv.log"; return 1; }
  wait_until 10 test -e "$w/in/from phone.bin" || { fail "nothing arrived at ferry"; return 1; }
  cmp -s "$w/src-phone/from phone.bin" "$w/in/from phone.bin" || { fail "the file from the phone differs"; return 1; }
  fy_fg 60 c "$w/cfg-c" send --to "Old phone" --wait 8 "$w/src-ferry/from ferry.bin" >"$w/send2.log" 2>"$w/send2.log.err"; rc=$?
  [ $rc = 0 ] || { fail "ferry -> localsendd over http: exit $rc"; show_log "$w/send2.log"; show_log "$w/lsd/lsd.log"; return 1; }
  cmp -s "$w/src-ferry/from ferry.bin" "$w/lsd/dl/from ferry.bin" || { fail "the file from ferry differs"; return 1; }
}

# ---- (f) cancel, either side -----------------------------------------------------------------
# At 100 Mbit: Ferry's receiver is stopped (Ctrl+C) while the phone sends 150 MB -> localsendd
# reports the transfer cancelled by the other side and nothing stands under a final name; then
# the phone cancels (localsendctl cancel) a `ferry send` -> ferry send exits 4 "The receiver
# cancelled".
test_cancel() {
  local w=$1 pl pf ps rc got
  lan shape "rate 100mbit" 2>/dev/null || { fail "shaping failed"; return 1; }
  mkdir -p "$w/src"
  make_file "$w/src/movie.bin" $((150 * 1000 * 1000))
  lsd pl "$w/lsd" a "Pixel 8"
  fy pf "$w/recv.log" b "$w/cfg-b" receive --dir "$w/in" --name "Ferry desk" --yes --json
  wait_until 10 lsd_ready "$w/lsd" a && wait_until 10 listening b "$LS_PORT" \
    || { fail "a side did not start"; return 1; }
  wait_until 10 eval 'ctl "$w/lsd" a 10 devices --json 2>/dev/null | grep -q "Ferry desk"' || { fail "no Ferry at the phone"; return 1; }
  ctl "$w/lsd" a 10 send --to "Ferry desk" "$w/src/movie.bin" >"$w/send.log" 2>&1
  wait_until 30 eval '[ "$(grep -o "\"bytes_done\":[0-9]*" "$w/recv.log" | tail -n 1 | cut -d: -f2)" -gt 10000000 ] 2>/dev/null' \
    || { fail "the transfer did not get going"; show_log "$w/recv.log"; return 1; }
  kill -INT "$pf"; wait_exit "$pf" 10; rc=$?
  [ "$rc" = 130 ] || { fail "ferry receive exited $rc after Ctrl+C (expected 130)"; show_log "$w/recv.log"; return 1; }
  wait_until 15 eval 'ctl "$w/lsd" a 10 status --json 2>/dev/null | grep -q "\"kind\": \"remote_cancelled\""' \
    || { fail "localsendd did not hear that Ferry cancelled"; ctl "$w/lsd" a 10 status >&2; return 1; }
  [ -z "$(find "$w/in" -type f 2>/dev/null)" ] || { fail "files left behind: $(find "$w/in" -type f)"; return 1; }
  note "receiver side: localsendd says $(ctl "$w/lsd" a 10 status 2>/dev/null | grep 'Last result')"

  fy ps "$w/send.log2" b "$w/cfg-b2" send --to "Pixel 8" --wait 8 --json "$w/src/movie.bin"
  wait_until 30 eval '[ "$(grep -o "\"bytes_done\":[0-9]*" "$w/send.log2" | tail -n 1 | cut -d: -f2)" -gt 10000000 ] 2>/dev/null' \
    || { fail "the send did not get going"; show_log "$w/send.log2"; return 1; }
  got=$(ctl "$w/lsd" a 10 cancel 2>&1)
  wait_exit "$ps" 20; rc=$?
  note "phone: $got; ferry send exit $rc: $(tail -n 1 "$w/send.log2.err")"
  [ "$rc" = 4 ] || { fail "ferry send exited $rc after the phone cancelled (expected 4)"; show_log "$w/send.log2"; return 1; }
  grep -q "The receiver cancelled" "$w/send.log2.err" || { fail "ferry send did not say the receiver cancelled"; return 1; }
}

for t in "${TESTS[@]}"; do run_test "$t"; done
echo >&2
[ $FAILED = 0 ] || echo "failed: ${FAILED_NAMES[*]}" >&2
echo "$PASSED passed, $FAILED failed"
[ $FAILED = 0 ]
