#!/usr/bin/env bash
# xcheck.sh — type-checks Ferry for Windows and macOS from a Debian 12 (bookworm) x86_64 machine that
# has no rustup targets and no internet but Debian's apt and crates.io. It checks only (cargo check /
# cargo clippy); nothing is linked, so no Windows or macOS linker or SDK is needed. .ci/run runs it so a
# change that breaks another platform fails CI.
#
#   scripts/xcheck.sh [TARGET...]
#     default targets: x86_64-pc-windows-msvc aarch64-apple-darwin x86_64-pc-windows-gnu x86_64-apple-darwin
#
# (Started from the project's shared tools/xcheck.sh, which was written for Ferry; this copy lives in the
# repository so that a clean checkout can run it, and it also checks ring's C code, see step 4.)
#
# How: Debian's bookworm-security rustc-web (1.96) ships its exact std source (rust-web-src), so cargo's
# unstable -Zbuild-std (enabled on a stable compiler with RUSTC_BOOTSTRAP=1) compiles core/std for any
# built-in target from that source. std's own dependencies come from crates.io. rustup's toolchains
# (1.95, nightly) can NOT do this: their rust-src is not installable here, and Debian's 1.96 std source
# does not compile with them (unknown lang items / intrinsics).
#
# Env:
#   XCHECK_MODE        clippy | check | both (default clippy)
#                      clippy = cargo clippy --all-targets --locked -- -D warnings (as .ci/run does)
#                      check  = cargo check --locked (lib + bins: what ships)
#   XCHECK_TARGET_DIR  cargo target dir (default /tmp/xcheck-target; ~1 GB per target)
#   XCHECK_COPY        where the project is copied to (default /tmp/xcheck-src); the checkout is only read
#   XCHECK_LOGS        logs (default /tmp/xcheck-logs)
#   XCHECK_NO_APT=1    skip the apt step
# Caveats: this checks with rustc/clippy 1.96, not the project's rust-version 1.95, so a lint new in
#   1.96 can fail here first (clippy's incompatible_msrv still flags std APIs newer than rust-version).
#   A first run per target takes ~2.5 min on 2 idle cores; repeat runs with the same target dir take
#   seconds.
# Exit status: 0 when every run passed, 1 otherwise. A summary per target/mode is printed at the end,
# splitting diagnostics into the project's own code (relative paths) and dependencies/build scripts.
set -uo pipefail

proj=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd) || exit 2
[ -f "$proj/Cargo.toml" ] || { echo "no Cargo.toml in $proj" >&2; exit 2; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] ||
  targets=(x86_64-pc-windows-msvc aarch64-apple-darwin x86_64-pc-windows-gnu x86_64-apple-darwin)
mode=${XCHECK_MODE:-clippy}
tdir=${XCHECK_TARGET_DIR:-/tmp/xcheck-target}
copy=${XCHECK_COPY:-/tmp/xcheck-src}
logs=${XCHECK_LOGS:-/tmp/xcheck-logs}
case "$copy" in "$proj"|"$proj"/*) echo "XCHECK_COPY must be outside the project" >&2; exit 2;; esac

# 1. Packages (Debian 12 + bookworm-security, which a stock bookworm sources list has).
#    rustc-web/cargo-web/rust-web-src/rust-web-clippy: one source package, same version.
#    binutils-mingw-w64-x86-64: x86_64-w64-mingw32-dlltool, which rustc calls even for `check` of std
#      on windows-gnu (raw-dylib import libraries). Without it: "error calling dlltool".
#    gcc-mingw-w64-x86-64: the C compiler for windows-gnu (ring's C code, blake3's assembly).
#    clang-14, llvm-14: the C compiler and archivers (llvm-lib for MSVC, llvm-ar for Apple) for ring's
#      C and assembly code on the MSVC and Apple targets (step 4).
pkgs=(rustc-web cargo-web rust-web-src rust-web-clippy binutils-mingw-w64-x86-64 gcc-mingw-w64-x86-64
      clang-14 llvm-14)
if [ "${XCHECK_NO_APT:-0}" != 1 ]; then
  missing=()
  for p in "${pkgs[@]}"; do
    [ "$(dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
    echo "== apt-get install ${missing[*]}"
    mkdir -p "$logs"
    { $sudo apt-get update &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"; } \
      >"$logs/apt.log" 2>&1 || { tail -20 "$logs/apt.log" >&2; echo "apt failed; see $logs/apt.log" >&2; exit 1; }
  fi
fi

# 2. Use Debian's toolchain only: rustup's proxies in ~/.cargo/bin (rustc, cargo, cargo-clippy) would
#    otherwise win. Note cargo also looks for subcommands in $CARGO_HOME/bin, so clippy is run as
#    /usr/bin/cargo-clippy directly instead of `cargo clippy`.
export PATH=/usr/bin:/bin
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO=/usr/bin/cargo
unset RUSTUP_TOOLCHAIN RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER CARGO_BUILD_TARGET RUSTFLAGS CFLAGS CC AR
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=$tdir
rustc_ver=$(dpkg-query -W -f '${Version}' rustc-web 2>/dev/null)
src_ver=$(dpkg-query -W -f '${Version}' rust-web-src 2>/dev/null)
[ -n "$rustc_ver" ] && [ "$rustc_ver" = "$src_ver" ] || { echo "rustc-web ($rustc_ver) and rust-web-src ($src_ver) differ" >&2; exit 1; }
[ -f "$(/usr/bin/rustc --print sysroot)/lib/rustlib/src/rust/library/Cargo.lock" ] || { echo "std source missing" >&2; exit 1; }
for tool in clang-14 llvm-lib-14 llvm-ar-14; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install clang-14 llvm-14)" >&2; exit 1; }
done
echo "== $(/usr/bin/rustc -V) / $(/usr/bin/cargo -V) / $(/usr/bin/cargo-clippy clippy -V 2>/dev/null) / $(clang-14 --version | head -1)"

# 3. Work on a copy (without target/, dist/ and .git/); tar keeps mtimes, so unchanged files are not
#    re-checked.
rm -rf "$copy" && mkdir -p "$copy" "$logs" "$tdir" || exit 1
tar -C "$proj" --exclude=./target --exclude=./dist --exclude=./.git -cf - . | tar -C "$copy" -xf - || exit 1
cd "$copy" || exit 1

# 4. C code in dependencies (build scripts using the cc crate). windows-gnu uses mingw's gcc. There is
#    no cl.exe/ml64 and no Apple SDK here, so for the MSVC and Apple targets:
#    - ring (rustls' crypto; C and assembly, no Rust fallback) is compiled with clang for the target,
#      freestanding: `-nostdlibinc` + ring's own RING_CORE_NOSTDLIBINC, which ring supports for
#      targets without a sysroot. Two headers the target's SDK would provide are stubbed in
#      $tdir/xcheck-include: an empty <stdlib.h> (ring includes it on MSVC for _byteswap_ulong,
#      which clang has built in) and <TargetConditionals.h> with macOS's values. Archives are made
#      with llvm-lib (cc gives MSVC archivers lib.exe-style arguments) and llvm-ar. So ring's C and
#      assembly really are compiled for these targets; only linking is left out.
#    - blake3's C/assembly needs MSVC's ml64 or the SDK's libc headers: Ferry's Cargo feature
#      `xcheck` (= blake3/pure) selects blake3's Rust code for these checks. It is a Cargo.toml
#      feature, not a flag hidden here, and never used for a build people run.
#    A new dependency with C code that needs libc headers fails here with "file not found": give it
#    a Rust-only feature the way blake3 has one, or extend the stubs above if it is header-only.
stubs=$tdir/xcheck-include
mkdir -p "$stubs"
[ -f "$stubs/stdlib.h" ] || : >"$stubs/stdlib.h"
[ -f "$stubs/TargetConditionals.h" ] ||
  printf '%s\n' '/* xcheck stub: the macOS values */' '#define TARGET_OS_MAC 1' '#define TARGET_OS_OSX 1' \
    '#define TARGET_OS_IPHONE 0' >"$stubs/TargetConditionals.h"
has_xcheck_feature=0
grep -qE '^[[:space:]]*xcheck[[:space:]]*=' Cargo.toml && has_xcheck_feature=1

declare -a summary
status=0
run_one() { # target mode
  local t=$1 m=$2 log="$logs/$1.$2.log" extra=() s rc dt v=${1//-/_}
  case "$t" in
    *-windows-gnu*) ;;
    *-windows-msvc|*-apple-*)
      export "CC_$v=clang-14" "CFLAGS_$v=-nostdlibinc -DRING_CORE_NOSTDLIBINC=1 -isystem $stubs"
      case "$t" in
        *-windows-msvc) export "AR_$v=llvm-lib-14" ;;
        *) export "AR_$v=llvm-ar-14" SDKROOT="$stubs" MACOSX_DEPLOYMENT_TARGET=11.0 ;;
      esac
      [ $has_xcheck_feature = 1 ] && extra+=(--features xcheck)
      ;;
    *) export "CC_$v=xcheck-no-c-compiler" ;;
  esac
  s=$(date +%s)
  if [ "$m" = check ]; then
    nice -n 10 /usr/bin/cargo check -Zbuild-std=std,panic_abort --target "$t" --locked \
      --message-format=short "${extra[@]}" >"$log" 2>&1
  else
    nice -n 10 /usr/bin/cargo-clippy clippy -Zbuild-std=std,panic_abort --target "$t" --locked --all-targets \
      --message-format=short "${extra[@]}" -- -D warnings >"$log" 2>&1
  fi
  rc=$?
  dt=$(( $(date +%s) - s ))
  local own deps
  own=$(grep -cE '^[^/ ][^ :]*\.rs:[0-9]+:[0-9]+: (error|warning)' "$log")
  deps=$(grep -E '^(/[^ :]+:[0-9]+:[0-9]+: error|error: failed to run custom build command|error calling|error: could not compile)' "$log" \
         | grep -vcE "could not compile \`$(sed -n 's/^name *= *"\(.*\)"/\1/p' Cargo.toml | head -1)\`")
  summary+=("$(printf '%-24s %-6s %-4s %5ss  own-code diagnostics: %s  dependency/build errors: %s  log: %s' \
    "$t" "$m" "$([ $rc = 0 ] && echo ok || echo FAIL)" "$dt" "$own" "$deps" "$log")")
  [ $rc = 0 ] || status=1
  echo "== $t $m: rc=$rc ${dt}s"
  grep -E '^[^/ ][^ :]*\.rs:[0-9]+:[0-9]+: (error|warning)' "$log" | sed 's/^/   own: /'
  grep -E '^(/[^ :]+:[0-9]+:[0-9]+: error|error: failed to run custom build command|  error occurred in cc-rs|error calling|.*fatal error:)' "$log" \
    | head -20 | sed 's/^/   dep: /'
  [ $rc = 0 ] || tail -5 "$log" | sed 's/^/   log: /'
}
for t in "${targets[@]}"; do
  [ "$mode" = clippy ] || run_one "$t" check
  [ "$mode" = check ] || run_one "$t" clippy
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
