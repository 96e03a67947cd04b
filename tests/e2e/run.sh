#!/usr/bin/env bash
# tests/e2e/run.sh - end-to-end tests of the real `ferry` binary on a fake LAN of network
# namespaces (lan/netns-lan.sh): broadcast discovery on a real subnet, a batch between hosts,
# a link cut mid-transfer, a lossy shaped link, a receiver killed mid-file, a capture on the
# receiver that must find neither a file's content nor its name (protocol version 2 encrypts),
# and a third host giving a known device's name with another key.
#
#   sudo tests/e2e/run.sh              build target/release/ferry (if needed) and run all tests
#   FERRY_BIN=path/to/ferry tests/e2e/run.sh     use that binary instead of building
#   ONLY="batch cut" tests/e2e/run.sh  run some tests (discovery batch cut loss kill bind capture
#                                      changed)
#   KEEP=1 ...                         keep the scratch dir (logs, received files) for a look
#
# Needs root and `ip netns` (CI runs as root); without them it says so loudly and FAILS, it
# never passes silently. Missing tools (iproute2, nftables, ethtool) are installed with apt-get.
# Every wait is bounded; the whole run takes about 2-3 minutes. Namespaces are named
# ${LAN_PREFIX}-br, ${LAN_PREFIX}-a ... (default prefix "flane") and are removed at exit.
# Last line of output: "N passed, N failed"; exit code 0 only when nothing failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export LAN_PREFIX=${LAN_PREFIX:-flane}
export SUBNET=${SUBNET:-10.231.9}
# shellcheck source=../../lan/lib.sh
. "$ROOT/lan/lib.sh"

IDLE_TIMEOUT=30          # the engine's default idle timeout (EngineConfig Timing::idle_timeout)
MARGIN=15                # slack on top of it for slow CI machines
TESTS=(discovery batch cut loss kill bind capture changed)
ONLY=${ONLY:-${TESTS[*]}}

banner() { printf '\n######## %s\n' "$*" >&2; }
refuse() {
  banner "E2E TESTS NOT RUN: $*"
  echo "The fake-LAN tests need root and 'ip netns'; they did NOT pass." >&2
  echo "0 passed, 1 failed"
  exit 1
}

# ---- preflight -------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || refuse "not root (run as root, e.g. sudo $0)"
need_tools ip:iproute2 tc:iproute2 nft:nftables ethtool:ethtool sha256sum:coreutils timeout:coreutils \
  tcpdump:tcpdump \
  || refuse "could not install the tools it needs"
why=$(lan check 2>&1) || refuse "$why"
WORK=$(mktemp -d /tmp/ferry-e2e.XXXXXX)
cleanup() {
  kill_bg
  lan down >/dev/null 2>&1
  if [ "${KEEP:-0}" = 1 ]; then echo "scratch dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ferry_bin || refuse "no ferry binary (build failed?)"
lan up 3 2>/dev/null || refuse "could not build the fake LAN (lan/netns-lan.sh up 3)"
A=$(host_ip a); B=$(host_ip b); C=$(host_ip c)
PORT=53531

# ---- reporting ------------------------------------------------------------------------------
PASSED=0; FAILED=0; FAILED_NAMES=()
fail() { echo "    FAIL: $*" >&2; return 1; }
note() { echo "    $*" >&2; }
show_log() {  # show_log FILE : last lines of a process log, for a failing test
  local f
  for f in "$1" "$1.err"; do
    [ -s "$f" ] && { echo "    --- $(basename "$f") (last 15 lines)"; tail -n 15 "$f" | sed 's/^/    | /'; } >&2
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
  for h in a b c; do lan link "$h" up >/dev/null 2>&1; done
  if [ $rc = 0 ]; then
    PASSED=$((PASSED + 1)); echo "PASS $name ($(( ($(now_ms) - t0) / 1000 )) s)" >&2
  else
    FAILED=$((FAILED + 1)); FAILED_NAMES+=("$name"); echo "FAIL $name" >&2
  fi
}

# ---- helpers about ferry's output -----------------------------------------------------------
# has_peer FILE NAME : FILE (JSON lines) mentions a peer called NAME
has_peer() { grep -Eq "\"name\" *: *\"$2\"" "$1"; }
# final_files DIR / temp_files DIR : files under DIR with a final name / named Ferry temporaries
# (.ferry-*.part; on Linux a file being received usually has no name at all, see store.rs)
final_files() { find "$1" -type f ! -name '.ferry-*.part' -printf '%P\n'; }
temp_files() { find "$1" -type f -name '.ferry-*.part' -printf '%P\n'; }
has_message() { [ -s "$1.err" ] || [ -s "$1" ]; }

# receiver LOGVAR PIDVAR HOST DIR [extra args] : a `ferry receive --yes --once` on HOST
# received_bytes LOG : bytes the receiver says it has received (last progress event in its --json log)
received_bytes() { grep -o '"bytes_done":[0-9]*' "$1" 2>/dev/null | tail -n 1 | cut -d: -f2 | grep . || echo 0; }
receiver() {
  local __pid=$1 log=$2 h=$3 dir=$4; shift 4
  mkdir -p "$dir"
  bg_ferry "$__pid" "$log" "$h" receive --dir "$dir" --name "host-$h" --yes --once --json "$@"
}
# listening HOST : host's transfer port accepts connections (the receiver is ready)
listening() { in_host "$1" ss -Htln "sport = :$PORT" | grep -q LISTEN; }

# make_file PATH BYTES : random content (incompressible)
make_file() { head -c "$2" /dev/urandom >"$1"; }

# ---- (a) discovery --------------------------------------------------------------------------
# Three hosts, default settings (no --broadcast): each finds the two others within a second.
test_discovery() {
  local w=$1 h o ok=0 pa pb pc t0 dt n
  # count the announcements each host sends to the subnet's directed broadcast address and to
  # 255.255.255.255, to prove that the default targets are the computed ones
  for h in a b c; do
    in_host "$h" nft -f - <<NFT || { fail "nft counters"; return 1; }
table ip fcount {
  chain out {
    type filter hook output priority 0;
    ip daddr ${SUBNET}.255 udp dport 53530 counter
    ip daddr 255.255.255.255 udp dport 53530 counter
  }
}
NFT
  done
  receiver pa "$w/recv-a.log" a "$w/in-a"
  receiver pb "$w/recv-b.log" b "$w/in-b"
  receiver pc "$w/recv-c.log" c "$w/in-c"
  wait_until 5 listening a && wait_until 5 listening b && wait_until 5 listening c \
    || { fail "receivers did not start listening within 5 s"; show_log "$w/recv-a.log"; return 1; }
  # `ferry peers --wait 1` started on each host after the receivers: everyone must be in its
  # list when the second is over.
  for h in a b c; do
    t0=$(now_ms)
    ferry_in 10 "$h" peers --wait 1 --json >"$w/peers-$h.json" 2>"$w/peers-$h.err"
    dt=$(( $(now_ms) - t0 ))
    for o in a b c; do
      [ "$o" = "$h" ] && continue
      if has_peer "$w/peers-$h.json" "host-$o"; then :; else
        fail "host $h did not see host-$o within 1 s (peers took ${dt} ms)"; ok=1
      fi
    done
    note "peers on $h: $(grep -Eo '"name" *: *"[^"]*"' "$w/peers-$h.json" | sort -u | tr '\n' ' ')(${dt} ms)"
  done
  for h in a b c; do
    n=$(in_host "$h" nft list table ip fcount | grep -o 'packets [0-9]*' | awk '{print $2}' | tr '\n' ' ')
    read -r n_dir n_all <<<"$n"
    note "host $h sent $n_dir datagrams to ${SUBNET}.255 and $n_all to 255.255.255.255"
    [ "${n_dir:-0}" -gt 0 ] || { fail "host $h never sent to its subnet's broadcast address ${SUBNET}.255"; ok=1; }
    [ "${n_all:-0}" -gt 0 ] || { fail "host $h never sent to 255.255.255.255"; ok=1; }
    in_host "$h" nft delete table ip fcount
  done
  [ $ok = 0 ] || { show_log "$w/peers-a.json"; show_log "$w/recv-a.log"; return 1; }
}

# ---- (b) batch ------------------------------------------------------------------------------
# A 0-byte file, a few MB, a folder tree and Chinese/emoji names cross A -> B byte-identical
# (sent by name, found by discovery), while C sees both A and B.
test_batch() {
  local w=$1 src=$1/src pb pa pc rc
  mkdir -p "$src/tree/sub/deeper" "$src/相册 2024" "$src/tree/empty-dir"
  : >"$src/empty.bin"
  make_file "$src/big.bin" $((6 * 1024 * 1024 + 7))
  make_file "$src/照片.jpg" 123457
  make_file "$src/🎉 party.txt" 999
  make_file "$src/相册 2024/😀 smile.png" 40000
  make_file "$src/tree/a.txt" 10
  make_file "$src/tree/sub/b.dat" 300000
  make_file "$src/tree/sub/deeper/ملف.txt" 77
  : >"$src/tree/sub/deeper/zero"
  receiver pb "$w/recv-b.log" b "$w/in-b"
  # A runs a receiver too, so that it is a Ferry device C can see the whole time.
  receiver pa "$w/recv-a.log" a "$w/in-a"
  wait_until 5 listening b || { fail "receiver on B not listening"; show_log "$w/recv-b.log"; return 1; }
  bg_ferry pc "$w/peers-c.json" c peers --wait 3 --json
  ferry_in 60 a send --json "$src"/* --to host-b >"$w/send.log" 2>"$w/send.log.err"; rc=$?
  [ $rc = 0 ] || { fail "send exited $rc"; show_log "$w/send.log"; show_log "$w/recv-b.log"; return 1; }
  wait_exit "$pb" 10; rc=$?
  [ $rc = 0 ] || { fail "receive --once exited $rc"; show_log "$w/recv-b.log"; return 1; }
  if ! diff <(tree_hash "$src") <(tree_hash "$w/in-b") >"$w/diff.txt"; then
    fail "received tree differs from the sent one:"; sed 's/^/    | /' "$w/diff.txt" | head -20 >&2; return 1
  fi
  note "$(tree_hash "$src" | wc -l) files identical"
  wait_exit "$pc" 10
  has_peer "$w/peers-c.json" host-a || { fail "C did not see A"; show_log "$w/peers-c.json"; return 1; }
  has_peer "$w/peers-c.json" host-b || { fail "C did not see B"; show_log "$w/peers-c.json"; return 1; }
}

# ---- (c) link cut ---------------------------------------------------------------------------
# At 100 Mbit, B's link goes down mid-transfer: both sides must fail (non-zero exit and a
# message) within the idle timeout, and nothing may stand under a final name.
test_cut() {
  local w=$1 pb ps rc_s rc_r deadline
  lan shape "rate 100mbit" 2>/dev/null || { fail "shaping failed"; return 1; }
  make_file "$w/movie.bin" $((150 * 1024 * 1024))
  receiver pb "$w/recv-b.log" b "$w/in-b"
  wait_until 5 listening b || { fail "receiver on B not listening"; show_log "$w/recv-b.log"; return 1; }
  bg_ferry ps "$w/send.log" a send --json "$w/movie.bin" --to "$B:$PORT"
  wait_until 20 eval '[ "$(received_bytes "$w/recv-b.log")" -gt 20000000 ]' \
    || { fail "transfer did not get going (20 MB within 20 s)"; show_log "$w/send.log"; show_log "$w/recv-b.log"; return 1; }
  lan link b down 2>/dev/null
  note "link cut after $(received_bytes "$w/recv-b.log") bytes had arrived"
  deadline=$((IDLE_TIMEOUT + MARGIN))
  wait_both "$ps" "$pb" "$deadline"
  rc_s=$RC1; rc_r=$RC2
  note "sender: exit $rc_s after ${T1:-(still running)} ms; receiver: exit $rc_r after ${T2:-(still running)} ms"
  if [ "$rc_s" = 124 ] || [ "$rc_r" = 124 ]; then
    # for the report: how late is it? (bounded)
    wait_both "$ps" "$pb" 90
    note "(diagnostic) 90 s later: sender exit $RC1 after ${T1:-more than 90000} ms more, receiver exit $RC2 after ${T2:-more than 90000} ms more"
  fi
  local bad=0
  [ "$rc_s" != 0 ] && [ "$rc_s" != 124 ] || { fail "sender: exit $rc_s (124 = still running after ${deadline} s)"; bad=1; }
  [ "$rc_r" != 0 ] && [ "$rc_r" != 124 ] || { fail "receiver: exit $rc_r (124 = still running after ${deadline} s)"; bad=1; }
  has_message "$w/send.log" || { fail "sender said nothing"; bad=1; }
  has_message "$w/recv-b.log" || { fail "receiver said nothing"; bad=1; }
  [ -z "$(final_files "$w/in-b")" ] || { fail "files under a final name: $(final_files "$w/in-b")"; bad=1; }
  [ -z "$(temp_files "$w/in-b")" ] || { fail "temporary files left behind: $(temp_files "$w/in-b")"; bad=1; }
  [ $bad = 0 ] || { show_log "$w/send.log"; show_log "$w/recv-b.log"; return 1; }
  note "sender said: $(tail -n 1 "$w/send.log.err")"
  note "receiver said: $(tail -n 1 "$w/recv-b.log.err")"
}

# ---- (d) loss -------------------------------------------------------------------------------
# 100 Mbit with 1 % random loss on every hop: 200 MB arrive, hash-verified.
test_loss() {
  local w=$1 pb rc t0
  lan shape "rate 100mbit loss 1%" 2>/dev/null || { fail "shaping failed"; return 1; }
  make_file "$w/data.bin" $((200 * 1000 * 1000))
  receiver pb "$w/recv-b.log" b "$w/in-b"
  wait_until 5 listening b || { fail "receiver on B not listening"; show_log "$w/recv-b.log"; return 1; }
  t0=$(now_ms)
  ferry_in 120 a send --json "$w/data.bin" --to "$B:$PORT" >"$w/send.log" 2>"$w/send.log.err"; rc=$?
  [ $rc = 0 ] || { fail "send exited $rc (124 = timeout)"; show_log "$w/send.log"; show_log "$w/recv-b.log"; return 1; }
  note "200 MB in $(( ($(now_ms) - t0) / 1000 )) s; $(lan drops) frames dropped on the way"
  wait_exit "$pb" 10; rc=$?
  [ $rc = 0 ] || { fail "receiver exited $rc"; show_log "$w/recv-b.log"; return 1; }
  [ "$(sha256sum <"$w/data.bin")" = "$(sha256sum <"$w/in-b/data.bin" 2>/dev/null)" ] \
    || { fail "hash differs (or file missing)"; ls -la "$w/in-b" >&2; return 1; }
}

# ---- (e) receiver killed --------------------------------------------------------------------
# SIGKILL the receiver mid-file: the sender fails with a message; a restarted receiver takes
# a new transfer.
test_kill() {
  local w=$1 pb ps rc
  lan shape "rate 100mbit" 2>/dev/null || { fail "shaping failed"; return 1; }
  make_file "$w/big.bin" $((100 * 1024 * 1024))
  make_file "$w/after.bin" 777777
  receiver pb "$w/recv-b.log" b "$w/in-b"
  wait_until 5 listening b || { fail "receiver on B not listening"; show_log "$w/recv-b.log"; return 1; }
  bg_ferry ps "$w/send.log" a send --json "$w/big.bin" --to "$B:$PORT"
  wait_until 20 eval '[ "$(received_bytes "$w/recv-b.log")" -gt 10000000 ]' \
    || { fail "transfer did not get going"; show_log "$w/send.log"; show_log "$w/recv-b.log"; return 1; }
  kill -9 "$pb"; wait_exit "$pb" 5 2>/dev/null
  wait_exit "$ps" 15; rc=$?
  [ "$rc" != 0 ] && [ "$rc" != 124 ] || { fail "sender: exit $rc (124 = still running 15 s after the kill)"; show_log "$w/send.log"; return 1; }
  has_message "$w/send.log" || { fail "sender said nothing"; return 1; }
  note "sender said: $(tail -n 1 "$w/send.log.err")"
  [ -z "$(final_files "$w/in-b")" ] || { fail "files under a final name: $(final_files "$w/in-b")"; return 1; }
  receiver pb "$w/recv-b2.log" b "$w/in-b"
  wait_until 5 listening b || { fail "restarted receiver not listening"; show_log "$w/recv-b2.log"; return 1; }
  ferry_in 30 a send --json "$w/after.bin" --to "$B:$PORT" >"$w/send2.log" 2>"$w/send2.log.err"; rc=$?
  [ $rc = 0 ] || { fail "second send exited $rc"; show_log "$w/send2.log"; show_log "$w/recv-b2.log"; return 1; }
  wait_exit "$pb" 10
  cmp -s "$w/after.bin" "$w/in-b/after.bin" || { fail "second file differs or is missing"; return 1; }
}

# ---- (f) bind -------------------------------------------------------------------------------
# --bind keeps discovery to one address's network. On A, a receiver bound to loopback
# ("lo-only", announcing to 127.255.255.255) and `ferry peers` bound to loopback and to A's LAN
# address: the loopback one sees lo-only and not B (whose announcements arrive on A's LAN
# interface), the LAN one sees B and not lo-only.
test_bind() {
  local w=$1 pb pl bad=0
  receiver pb "$w/recv-b.log" b "$w/in-b"
  wait_until 5 listening b || { fail "receiver on B not listening"; show_log "$w/recv-b.log"; return 1; }
  mkdir -p "$w/in-lo"
  bg_ferry pl "$w/recv-lo.log" a receive --bind 127.0.0.1 --broadcast 127.255.255.255 --port $((PORT + 1)) \
    --name lo-only --dir "$w/in-lo" --yes --json
  sleep 0.5
  # 3 s: more than one announce period, so B's announcements have arrived on A meanwhile.
  ferry_in 10 a peers --bind 127.0.0.1 --broadcast 127.255.255.255 --wait 3 --json >"$w/peers-lo.json" 2>"$w/peers-lo.json.err"
  ferry_in 10 a peers --bind "$A" --wait 3 --json >"$w/peers-lan.json" 2>"$w/peers-lan.json.err"
  has_peer "$w/peers-lo.json" lo-only || { fail "bound to 127.0.0.1, peers did not see lo-only on loopback"; bad=1; }
  has_peer "$w/peers-lo.json" host-b && { fail "bound to 127.0.0.1, peers heard host-b on the LAN"; bad=1; }
  has_peer "$w/peers-lan.json" host-b || { fail "bound to $A, peers did not see host-b"; bad=1; }
  has_peer "$w/peers-lan.json" lo-only && { fail "bound to $A, peers heard lo-only on loopback"; bad=1; }
  note "bound to 127.0.0.1: $(grep -Eo '"name" *: *"[^"]*"' "$w/peers-lo.json" | sort -u | tr '\n' ' ')"
  note "bound to $A: $(grep -Eo '"name" *: *"[^"]*"' "$w/peers-lan.json" | sort -u | tr '\n' ' ')"
  [ $bad = 0 ] || { show_log "$w/peers-lo.json"; show_log "$w/peers-lan.json"; show_log "$w/recv-lo.log"; return 1; }
}

# ---- (g) capture ----------------------------------------------------------------------------
# tcpdump in B's namespace while A sends B a file full of a known marker, under a name of its
# own: the capture holds the whole conversation (TLS's ClientHello shows the ALPN `ferry/2` in
# clear: the control that it captured the right traffic), but neither the marker nor the name.
test_capture() {
  local w=$1 pb pt rc marker name bytes dropped attempt
  marker="MARKER-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  name="holiday-secret-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n').txt"
  for i in $(seq 1 3000); do echo "$marker line $i"; done >"$w/$name"
  # A capture that lost packets (the kernel drops them when tcpdump falls behind, as on a busy
  # machine) proves nothing either way: then the transfer is captured again, up to 3 times.
  for attempt in 1 2 3; do
    rm -rf "$w/in-b" "$w/b.pcap"
    receiver pb "$w/recv-b.log" b "$w/in-b"
    wait_until 5 listening b || { fail "receiver on B not listening"; show_log "$w/recv-b.log"; return 1; }
    ip netns exec "${LAN_PREFIX}-b" tcpdump -i any --immediate-mode -U -B 32768 -s 0 -w "$w/b.pcap" "tcp port $PORT" \
      >"$w/tcpdump.log" 2>&1 &
    pt=$!; BG_PIDS+=("$pt")
    wait_until 5 grep -q "listening on" "$w/tcpdump.log" || { fail "tcpdump did not start"; show_log "$w/tcpdump.log"; return 1; }
    ferry_in 30 a send --json "$w/$name" --to "$B:$PORT" >"$w/send.log" 2>"$w/send.log.err"; rc=$?
    [ $rc = 0 ] || { fail "send exited $rc"; show_log "$w/send.log"; show_log "$w/recv-b.log"; return 1; }
    wait_exit "$pb" 10
    cmp -s "$w/$name" "$w/in-b/$name" || { fail "the file did not arrive whole"; return 1; }
    sleep 1; kill -INT "$pt"; wait_exit "$pt" 5
    bytes=$(stat -c %s "$w/b.pcap" 2>/dev/null || echo 0)
    dropped=$(awk '/packets dropped by kernel/ {print $1}' "$w/tcpdump.log")
    note "attempt $attempt: captured $bytes bytes on B for a $(stat -c %s "$w/$name")-byte file (${dropped:-?} packets dropped by the kernel)"
    [ "${dropped:-1}" = 0 ] && [ "$bytes" -gt "$(stat -c %s "$w/$name")" ] && break
    [ "$attempt" = 3 ] && { fail "every capture lost packets or missed the transfer"; return 1; }
  done
  if grep -qaF "$marker" "$w/b.pcap"; then fail "the file's content is readable in the capture"; return 1; fi
  if grep -qaF "$name" "$w/b.pcap"; then fail "the file's name is readable in the capture"; return 1; fi
  if grep -qaF "host-b" "$w/b.pcap"; then fail "the receiver's device name is readable in the capture"; return 1; fi
  grep -qaF "ferry/2" "$w/b.pcap" || { fail "no TLS ClientHello with ALPN ferry/2 in the capture"; return 1; }
  note "neither \"$marker\" nor \"$name\" (nor a device name) is in the capture"
}

# ---- (h) changed ----------------------------------------------------------------------------
# B receives with --yes (the script switch) and a config folder that lasts. A sends twice: B
# knows it the second time (no code). Then C, with a key of its own, sends under A's name: B
# shows it as "changed", with a code, and declines it even with --yes.
test_changed() {
  local w=$1 pb rc cfg_a cfg_b cfg_c
  cfg_a=$(mktemp -d "$WORK/cfg-a-XXXX"); cfg_b=$(mktemp -d "$WORK/cfg-b-XXXX"); cfg_c=$(mktemp -d "$WORK/cfg-c-XXXX")
  make_file "$w/one.bin" 5000; make_file "$w/two.bin" 6000; make_file "$w/three.bin" 7000
  mkdir -p "$w/in-b"
  ip netns exec "${LAN_PREFIX}-b" env FERRY_CONFIG_DIR="$cfg_b" "$FERRY" receive --dir "$w/in-b" --name host-b \
    --yes --json >"$w/recv-b.log" 2>"$w/recv-b.log.err" &
  pb=$!; BG_PIDS+=("$pb")
  wait_until 5 listening b || { fail "receiver on B not listening"; show_log "$w/recv-b.log"; return 1; }
  send_as() {  # send_as CFG FILE : A's or C's send to B under the name host-a
    local cfg=$1 file=$2 h=$3
    timeout -k 2 30 ip netns exec "${LAN_PREFIX}-$h" env FERRY_CONFIG_DIR="$cfg" "$FERRY" send --name host-a --json \
      "$file" --to "$B:$PORT" >>"$w/send-$h.log" 2>>"$w/send-$h.log.err"
  }
  send_as "$cfg_a" "$w/one.bin" a; rc=$?
  [ $rc = 0 ] || { fail "A's first send exited $rc"; show_log "$w/send-a.log"; show_log "$w/recv-b.log"; return 1; }
  grep -q '"event":"verification_code"' "$w/send-a.log" || { fail "A showed no code at the first meeting"; return 1; }
  send_as "$cfg_a" "$w/two.bin" a; rc=$?
  [ $rc = 0 ] || { fail "A's second send exited $rc"; show_log "$w/send-a.log"; return 1; }
  [ "$(grep -c '"event":"verification_code"' "$w/send-a.log")" = 1 ] || { fail "A showed a code to a known receiver"; return 1; }
  send_as "$cfg_c" "$w/three.bin" c; rc=$?
  [ $rc = 3 ] || { fail "C's send under A's name exited $rc (3 = declined)"; show_log "$w/send-c.log"; show_log "$w/recv-b.log"; return 1; }
  grep -q '"trust":"changed"' "$w/recv-b.log" || { fail "B did not see C as changed"; show_log "$w/recv-b.log"; return 1; }
  grep -q "This is not the ‘host-a’ you sent to before" "$w/recv-b.log.err" || { fail "B did not warn"; show_log "$w/recv-b.log"; return 1; }
  [ -e "$w/in-b/three.bin" ] && { fail "C's file was saved"; return 1; }
  cmp -s "$w/two.bin" "$w/in-b/two.bin" || { fail "A's second file is missing"; return 1; }
  note "B: $(grep -c '"trust":"known"' "$w/recv-b.log") offer(s) from a known key, $(grep -c '"trust":"changed"' "$w/recv-b.log") from a changed one (declined)"
}

for t in "${TESTS[@]}"; do run_test "$t"; done
echo >&2
[ $FAILED = 0 ] || echo "failed: ${FAILED_NAMES[*]}" >&2
echo "$PASSED passed, $FAILED failed"
[ $FAILED = 0 ]
