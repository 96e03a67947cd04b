# lan/lib.sh - helpers shared by tests/e2e/run.sh and bench/run.sh (source it; bash only).
#
# Expects: ROOT (repo root), LAN_PREFIX, SUBNET, WORK (a scratch dir this run owns).
# Provides: lan (the netns-lan.sh wrapper), host_ip, in_host, ferry_in, bg_ferry, wait_exit,
# wait_until, tree_hash, dir_bytes, need_tools, ferry_bin, now_ms, loop_image, fresh_ext4.

LAN_SH="$ROOT/lan/netns-lan.sh"
lan() { "$LAN_SH" "$@"; }

# host_ip a -> SUBNET.1
host_ip() {
  local l=$1 i
  i=$(( $(printf '%d' "'$l") - 96 ))
  echo "${SUBNET}.$i"
}

# in_host a CMD... : runs CMD inside host a (foreground only: as a shell function, a
# backgrounded in_host gets a subshell pid that killing does not reach; use ip netns exec there).
in_host() { local h=$1; shift; ip netns exec "${LAN_PREFIX}-$h" "$@"; }

# ferry_in SECS a ARGS... : runs ferry inside host a, killed after SECS (exit 124), with a
# config dir of its own (one per process: the config dir holds the instance id, and two
# processes sharing one would ignore each other's announcements).
ferry_in() {
  local secs=$1 h=$2; shift 2
  local cfg; cfg=$(mktemp -d "$WORK/cfg-$h-XXXX")
  timeout -k 2 "$secs" ip netns exec "${LAN_PREFIX}-$h" env FERRY_CONFIG_DIR="$cfg" "$FERRY" "$@"
}

# bg_ferry VAR LOG a ARGS... : starts ferry in host a in the background, stdout+stderr to LOG
# (stderr also to LOG.err), and stores its pid in VAR. The pid is ferry's own (ip netns exec
# and env both exec).
bg_ferry() {
  local __var=$1 log=$2 h=$3; shift 3
  local cfg; cfg=$(mktemp -d "$WORK/cfg-$h-XXXX")
  ip netns exec "${LAN_PREFIX}-$h" env FERRY_CONFIG_DIR="$cfg" "$FERRY" "$@" >"$log" 2>"$log.err" &
  printf -v "$__var" '%s' "$!"
  BG_PIDS+=("$!")
}
BG_PIDS=()

# kill_bg : kills every background process this script started (by pid), bounded.
kill_bg() {
  local p
  for p in "${BG_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  for p in "${BG_PIDS[@]:-}"; do [ -n "$p" ] && wait_exit "$p" 3; done
  for p in "${BG_PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
  BG_PIDS=()
  return 0
}

now_ms() { local t=${EPOCHREALTIME/./}; echo $(( t / 1000 )); }

# wait_exit PID SECS : waits at most SECS for PID (a child of this shell: do not call it in
# $(...)) to end; returns its exit code, or 124 if it is still running.
wait_exit() {
  local pid=$1 secs=$2 deadline
  deadline=$(( $(now_ms) + secs * 1000 ))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$(now_ms)" -ge "$deadline" ] && return 124
    sleep 0.05
  done
  wait "$pid" 2>/dev/null
}

# wait_both PID1 PID2 SECS : waits at most SECS for both children; sets RC1 RC2 (124 = still
# running) and T1 T2 (ms after the call when each ended, or empty).
wait_both() {
  local p1=$1 p2=$2 secs=$3 start deadline
  start=$(now_ms); deadline=$(( start + secs * 1000 ))
  RC1=124; RC2=124; T1=""; T2=""
  while [ -z "$T1" ] || [ -z "$T2" ]; do
    if [ -z "$T1" ] && ! kill -0 "$p1" 2>/dev/null; then wait "$p1" 2>/dev/null; RC1=$?; T1=$(( $(now_ms) - start )); fi
    if [ -z "$T2" ] && ! kill -0 "$p2" 2>/dev/null; then wait "$p2" 2>/dev/null; RC2=$?; T2=$(( $(now_ms) - start )); fi
    [ "$(now_ms)" -ge "$deadline" ] && break
    sleep 0.05
  done
  return 0
}

# wait_until SECS CMD... : polls CMD every 50 ms until it succeeds; fails after SECS.
wait_until() {
  local secs=$1 deadline; shift
  deadline=$(( $(now_ms) + secs * 1000 ))
  until "$@"; do
    [ "$(now_ms)" -ge "$deadline" ] && return 1
    sleep 0.05
  done
}

# tree_hash DIR : one line per regular file, "sha256  ./relative/path", sorted; stable across
# machines, so two trees are identical iff their tree_hash output is.
tree_hash() {
  (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

# dir_bytes DIR : total bytes of the regular files under DIR (temporary files included).
dir_bytes() { find "$1" -type f -printf '%s\n' 2>/dev/null | awk '{s+=$1} END{print s+0}'; }

# need_tools CMD:PACKAGE ... : installs the missing ones with apt-get (once), or fails.
need_tools() {
  local pair cmd pkg missing=()
  for pair in "$@"; do
    cmd=${pair%%:*}; pkg=${pair#*:}
    command -v "$cmd" >/dev/null 2>&1 || [ -x "$cmd" ] || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing missing packages: ${missing[*]}" >&2
  command -v apt-get >/dev/null || { echo "apt-get not found: install ${missing[*]} by hand" >&2; return 1; }
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# loop_image FILE : a 3 GiB image file attached to a loop device with direct I/O (so its writes
# reach the same disk without a second page cache); prints the device.
loop_image() { truncate -s 3G "$1" && losetup --direct-io=on -f --show "$1"; }

# fresh_ext4 DEV DIR : makes a new, empty ext4 on DEV (inode tables written now, not by a
# background thread during the measurement) and mounts it on DIR, unmounting what was there.
# The benchmarks receive into one per run: see "fresh_fs" in bench/run.sh for why.
fresh_ext4() {
  mountpoint -q "$2" && { umount "$2" || return 1; }
  mkdir -p "$2"
  mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$1" && mount "$1" "$2"
}

# ferry_bin : sets FERRY to $FERRY_BIN, or builds the release binary of this checkout.
ferry_bin() {
  if [ -n "${FERRY_BIN:-}" ]; then
    FERRY=$(realpath "$FERRY_BIN")
  else
    echo "building the release binary (set FERRY_BIN to skip) ..." >&2
    (cd "$ROOT" && cargo build --release --locked --bin ferry >&2) || return 1
    # Where cargo put it: CARGO_TARGET_DIR when set (shared build caches), else ./target.
    local target=${CARGO_TARGET_DIR:-$ROOT/target}
    case "$target" in /*) ;; *) target="$ROOT/$target" ;; esac
    FERRY="$target/release/ferry"
  fi
  [ -x "$FERRY" ] || { echo "no ferry binary at $FERRY" >&2; return 1; }
}
