#!/usr/bin/env bash
# netns-lan.sh - a fake, fully isolated LAN made of network namespaces.
#
#   netns-lan.sh up [N]          create bridge ns + N hosts (default 3, max 26); on any
#                                error, removes what it made and exits non-zero
#   netns-lan.sh down            kill what runs inside, delete every namespace (idempotent:
#                                fine when nothing, or only half, is up; safe in a trap)
#   netns-lan.sh status          addresses, routes, qdiscs
#   netns-lan.sh shape "SPEC"    (re)apply shaping to every host link; "" = none
#   netns-lan.sh link X down|up  cut / restore host X's link (its port on the bridge)
#   netns-lan.sh drops           frames dropped so far by the 'loss' rules
#   netns-lan.sh addr X          print host X's IPv4 address
#   netns-lan.sh exec X CMD..    run CMD in host X (a|b|c.. or PREFIX-a ..); exit code passes through
#   netns-lan.sh check           exit 0 if this machine can build the LAN (root, ip netns), else say why
#
# Topology (nothing is ever created in, or attached to, the root namespace):
#
#   ns PREFIX-br :  br0 (bridge, no IP)  <- p-a, p-b, p-c ...  (veth ends)
#   ns PREFIX-a  :  eth0 SUBNET.1/24   (peer of p-a)
#   ns PREFIX-b  :  eth0 SUBNET.2/24   (peer of p-b)   ...
#
# Every host gets: lo up, a route 224.0.0.0/4 dev eth0 (multicast), and a default route via
# SUBNET.254 (no such host exists: off-LAN packets die at ARP inside the bridge ns). The default
# route is what makes sends to 255.255.255.255 and multicast work without SO_BINDTODEVICE.
#
# Environment:
#   SHAPE="rate 100mbit delay 2ms loss 0.1%"   applied at 'up' (or use 'shape')
#        keys: rate R | delay D [J] | loss P% ; applied on BOTH directions of each host link
#        (host eth0 egress + bridge port egress), so A->B crosses two shaped hops, like two
#        Wi-Fi stations via one AP. Uses netem when the kernel has it; otherwise tbf for 'rate'
#        and an nftables random-drop rule for 'loss' (offloads are turned off then so loss is
#        per MTU packet, dropped in the bridge ns); 'delay' cannot be emulated without netem and is reported as ignored.
#   LAN_PREFIX=flan    namespace name prefix (lowercase letters/digits, starts with a letter)
#   SUBNET=10.231.9    first three octets of the private /24
#   IPV6=0             1 keeps IPv6 on (off by default: quiet captures)
#   MTU=1500
set -euo pipefail

PREFIX=${LAN_PREFIX:-flan}
BRNS="${PREFIX}-br"
SUBNET=${SUBNET:-10.231.9}
GW="${SUBNET}.254"
MTU=${MTU:-1500}
IPV6=${IPV6:-0}
LETTERS=(a b c d e f g h i j k l m n o p q r s t u v w x y z)

die() { echo "netns-lan: $*" >&2; exit 1; }
log() { echo "netns-lan: $*" >&2; }

[[ "$PREFIX" =~ ^[a-z][a-z0-9]{0,11}$ ]] || die "LAN_PREFIX must be lowercase letters/digits (max 12), got '$PREFIX'"
[[ "$SUBNET" =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "SUBNET must look like 10.231.9, got '$SUBNET'"
case "$SUBNET" in
  10.*|192.168.*|172.1[6-9].*|172.2[0-9].*|172.3[01].*) ;;
  *) die "SUBNET must be private (10.x, 172.16-31.x, 192.168.x)";;
esac

# Says why this machine cannot build the LAN, or nothing.
preflight() {
  [ "$(id -u)" = 0 ] || { echo "must run as root (network namespaces need CAP_SYS_ADMIN + CAP_NET_ADMIN)"; return; }
  command -v ip >/dev/null || { echo "iproute2 missing (apt-get install iproute2)"; return; }
  ip netns list >/dev/null 2>&1 || { echo "'ip netns' does not work here"; return; }
  # listing can work where creating cannot (containers without CAP_SYS_ADMIN): try it
  local probe="${PREFIX}-probe" err
  ip netns del "$probe" 2>/dev/null || true
  err=$( { ip netns add "$probe" && ip -n "$probe" link add fprobe0 type veth peer name fprobe1 \
           && ip -n "$probe" link set fprobe0 up; } 2>&1 ) \
    || { ip netns del "$probe" 2>/dev/null; echo "cannot create a network namespace with a veth pair here: $err"; return; }
  ip netns del "$probe" 2>/dev/null || true
  command -v tc >/dev/null || { echo "tc missing (apt-get install iproute2)"; return; }
}

all_ns() { ip netns list 2>/dev/null | awk '{print $1}' || true; }
hosts() { all_ns | grep -E "^${PREFIX}-[a-z]$" | sort || true; }
is_up() { all_ns | grep -qx "$BRNS"; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
host_ns() {  # a | flan-a -> flan-a (must exist)
  local h=$1
  [[ "$h" == "${PREFIX}-"* ]] || h="${PREFIX}-$h"
  [[ "$h" =~ ^${PREFIX}-[a-z]$ ]] || die "no such host '$1' (want a, b, c ... or ${PREFIX}-a ...)"
  all_ns | grep -qx "$h" || die "host $h is not up"
  echo "$h"
}

have_netem() {
  # probe once, inside the bridge namespace, on a throwaway veth pair
  local ok=1
  ip -n "$BRNS" link add nprobe0 type veth peer name nprobe1 2>/dev/null || return 1
  nsx "$BRNS" tc qdisc add dev nprobe0 root netem delay 1ms 2>/dev/null && ok=0
  ip -n "$BRNS" link del nprobe0 2>/dev/null || true
  return $ok
}

parse_shape() {  # sets S_RATE S_DELAY S_JITTER S_LOSS
  S_RATE=""; S_DELAY=""; S_JITTER=""; S_LOSS=""
  local -a t; read -r -a t <<<"$1"
  local i=0
  while [ $i -lt ${#t[@]} ]; do
    case "${t[$i]}" in
      rate)  S_RATE=${t[$((i+1))]:?rate needs a value}; i=$((i+2));;
      delay) S_DELAY=${t[$((i+1))]:?delay needs a value}; i=$((i+2))
             if [ $i -lt ${#t[@]} ] && [[ "${t[$i]}" =~ ^[0-9.]+(us|ms|s)$ ]]; then S_JITTER=${t[$i]}; i=$((i+1)); fi;;
      loss)  S_LOSS=${t[$((i+1))]:?loss needs a value}; S_LOSS=${S_LOSS%\%}; i=$((i+2));;
      *) die "bad SHAPE token '${t[$i]}' (want: rate R | delay D [J] | loss P%)";;
    esac
  done
  [ -z "$S_LOSS" ] || [[ "$S_LOSS" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "loss must be a percentage like 1% or 0.5%"
}

rate_bytes() {  # 100mbit -> bytes/s
  local r=${1,,} n u
  n=${r%%[a-z]*}; u=${r#"$n"}
  [[ "$n" =~ ^[0-9]+$ ]] || die "rate '$1' must be a whole number with a unit (100mbit, 1gbit)"
  case "$u" in
    kbit) echo $(( n * 1000 / 8 ));; mbit) echo $(( n * 1000000 / 8 ));;
    gbit) echo $(( n * 1000000000 / 8 ));; bit|"") echo $(( n / 8 ));;
    *) die "rate unit '$u' not understood (kbit|mbit|gbit)";;
  esac
}

# shape_dev NS DEV ; uses S_* and USE_NETEM
shape_dev() {
  local ns=$1 dev=$2
  nsx "$ns" tc qdisc del dev "$dev" root 2>/dev/null || true
  [ -z "$S_RATE$S_DELAY$S_LOSS" ] && return 0
  if [ "$USE_NETEM" = 1 ]; then
    local args=()
    [ -n "$S_DELAY" ] && args+=(delay "$S_DELAY" ${S_JITTER:+"$S_JITTER"})
    [ -n "$S_LOSS" ] && args+=(loss "${S_LOSS}%")
    [ -n "$S_RATE" ] && args+=(rate "$S_RATE")
    nsx "$ns" tc qdisc add dev "$dev" root handle 1: netem limit 10000 "${args[@]}"
  else
    if [ -n "$S_RATE" ]; then
      local bps burst
      bps=$(rate_bytes "$S_RATE")
      burst=$(( bps / 500 ))                 # 2 ms worth of bytes
      [ $burst -lt 131072 ] && burst=131072  # > one 64 KiB GSO super-packet
      nsx "$ns" tc qdisc add dev "$dev" root handle 1: tbf rate "$S_RATE" burst "$burst" latency 20ms
    fi
  fi
}

# Random loss without netem: nftables numgen rules in the bridge's forward hook, one for the
# frames a host sends (iifname p-X: its eth0 egress hop) and one for the frames it gets
# (oifname p-X: the bridge port's egress hop). Not in the host's own output hook: that hook
# runs before segmentation and sees 64 KiB TCP super-packets even with GSO off (measured on
# this kernel: ~20 KB per drop), whereas bridged frames are already MTU-sized.
loss_rules() {  # loss_rules PORT
  local dev=$1 per
  per=$(awk -v p="$S_LOSS" 'BEGIN{printf "%d", p*1000}')   # per 100000
  nsx "$BRNS" nft add table bridge fakelan_loss
  nsx "$BRNS" nft "add chain bridge fakelan_loss lossy { type filter hook forward priority 0 ; }"
  nsx "$BRNS" nft add rule bridge fakelan_loss lossy iifname "$dev" numgen random mod 100000 "<" "$per" counter drop
  nsx "$BRNS" nft add rule bridge fakelan_loss lossy oifname "$dev" numgen random mod 100000 "<" "$per" counter drop
}

apply_shape() {
  local spec=$1 h l
  is_up || die "the LAN is not up (run: $0 up)"
  parse_shape "$spec"
  USE_NETEM=0
  if [ -n "$S_RATE$S_DELAY$S_LOSS" ]; then
    if have_netem; then USE_NETEM=1; else
      log "netem qdisc not available in this kernel: using tbf for rate, nftables for loss"
      [ -n "$S_DELAY" ] && log "WARNING: 'delay $S_DELAY' IGNORED (needs netem)"
      if [ -n "$S_LOSS" ] && ! command -v nft >/dev/null; then die "loss without netem needs nft (apt-get install nftables)"; fi
      if [ -n "$S_LOSS" ] && ! command -v ethtool >/dev/null; then die "loss without netem needs ethtool (apt-get install ethtool)"; fi
    fi
  fi
  if command -v nft >/dev/null; then nsx "$BRNS" nft delete table bridge fakelan_loss 2>/dev/null || true; fi
  for h in $(hosts); do
    l=${h##*-}
    shape_dev "$h" eth0
    shape_dev "$BRNS" "p-$l"
    if [ -n "$S_LOSS" ] && [ "$USE_NETEM" = 0 ]; then
      # offloads off so that one drop == one MTU-sized packet, not a 64K GSO blob
      nsx "$h" ethtool -K eth0 tso off gso off gro off >/dev/null 2>&1 || die "ethtool -K failed on $h"
      nsx "$BRNS" ethtool -K "p-$l" tso off gso off gro off >/dev/null 2>&1 || die "ethtool -K failed on p-$l"
      loss_rules "p-$l"
    elif command -v ethtool >/dev/null; then
      nsx "$h" ethtool -K eth0 tso on gso on gro on >/dev/null 2>&1 || true
      nsx "$BRNS" ethtool -K "p-$l" tso on gso on gro on >/dev/null 2>&1 || true
    fi
  done
  if [ -n "$spec" ]; then log "shape '$spec' applied (netem=$USE_NETEM) to $(hosts | wc -l) host links, both directions"
  else log "shaping cleared"; fi
}

cmd_up() {
  local n=${1:-3} i l h why
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 26 ] || die "N must be 1..26"
  why=$(preflight); [ -z "$why" ] || die "$why"
  if is_up || [ -n "$(hosts)" ]; then log "already up: tearing down first"; cmd_down; fi
  # Whatever fails from here on, leave nothing half-built behind.
  trap 'rc=$?; if [ $rc != 0 ]; then log "up failed: removing what was made"; cmd_down || true; fi' EXIT
  ip netns add "$BRNS"
  nsx "$BRNS" ip link set lo up
  [ "$IPV6" = 1 ] || nsx "$BRNS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$BRNS" link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
  ip -n "$BRNS" link set br0 mtu "$MTU" up
  for ((i=1; i<=n; i++)); do
    l=${LETTERS[$((i-1))]}; h="${PREFIX}-$l"
    ip netns add "$h"
    nsx "$h" ip link set lo up
    [ "$IPV6" = 1 ] || nsx "$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    # both ends are created directly inside their namespaces: the root ns never sees them
    ip -n "$BRNS" link add "p-$l" mtu "$MTU" type veth peer name eth0 netns "$h"
    ip -n "$BRNS" link set "p-$l" master br0 up
    ip -n "$h" link set eth0 mtu "$MTU" up
    ip -n "$h" addr add "${SUBNET}.$i/24" brd + dev eth0
    ip -n "$h" route add 224.0.0.0/4 dev eth0
    ip -n "$h" route add default via "$GW" dev eth0
  done
  apply_shape "${SHAPE:-}"
  log "up: bridge ns $BRNS, hosts: $(hosts | tr '\n' ' ')(${SUBNET}.1..${SUBNET}.$n/24)"
}

# Kills every process inside NS: TERM, up to 2 s grace, then KILL.
kill_inside() {
  local ns=$1 pids p i
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  [ -n "$pids" ] || return 0
  log "killing pids in $ns: $(echo $pids)"
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  for ((i=0; i<20; i++)); do
    [ -z "$(ip netns pids "$ns" 2>/dev/null || true)" ] && return 0
    sleep 0.1
  done
  for p in $(ip netns pids "$ns" 2>/dev/null || true); do kill -9 "$p" 2>/dev/null || true; done
}

cmd_down() {
  local ns rc=0
  for ns in $(hosts) $(all_ns | grep -x "$BRNS" || true); do
    kill_inside "$ns"
    ip netns del "$ns" 2>/dev/null || { log "could not delete namespace $ns"; rc=1; }
  done
  log "down"
  return $rc
}

cmd_status() {
  local h
  is_up || { echo "not up"; return 1; }
  echo "== $BRNS"; ip -n "$BRNS" -br link; nsx "$BRNS" tc qdisc show | grep -v "noqueue\|pfifo_fast" || true
  for h in $(hosts); do
    echo "== $h"; ip -n "$h" -br addr show dev eth0; ip -n "$h" route | sed 's/^/   /'
    nsx "$h" tc qdisc show dev eth0 | grep -v noqueue || true
  done
}

cmd_link() {
  local h l state=${2:-}
  h=$(host_ns "${1:?host}"); l=${h##*-}
  case "$state" in up|down) ;; *) die "link X down|up";; esac
  ip -n "$BRNS" link set "p-$l" "$state"
  log "link of $h is $state"
}

sub=${1:-}; shift || true
case "$sub" in
  up) cmd_up "$@";;
  down) cmd_down;;
  status) cmd_status;;
  shape) apply_shape "${1:-}";;
  link) cmd_link "$@";;
  drops) nsx "$BRNS" nft list table bridge fakelan_loss 2>/dev/null | awk '/counter/ {for (i=1;i<NF;i++) if ($i=="packets") s+=$(i+1)} END {print s+0}';;
  addr) h=$(host_ns "${1:?host}"); ip -n "$h" -4 -o addr show dev eth0 | awk '{split($4,a,"/"); print a[1]}';;
  exec) h=$(host_ns "${1:?host}"); shift; exec ip netns exec "$h" "$@";;
  check) why=$(preflight); [ -z "$why" ] || die "$why";;
  *) sed -n '2,15p' "$0"; exit 2;;
esac
