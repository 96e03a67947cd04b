#!/usr/bin/env bash
# check-package.sh — makes the Linux packages (scripts/package.sh) and checks them the way a person
# would meet them: the .deb's fields and contents (dpkg-deb -I / -c), the launcher
# (desktop-file-validate), every package it depends on exists in Debian (apt-cache show), the
# .deb unpacked into a throwaway root (dpkg -x) holds a stripped program that runs (`--version`),
# and the .tar.gz's install.sh installs for a user whose HOME is a temporary folder, and uninstalls.
#
#   scripts/check-package.sh              build (if needed), package, check   (.ci/run runs this)
#   scripts/check-package.sh --no-build   check packages of the target/release/ferry that is there
#
# Nothing is installed into the system, and Ferry is only ever started with --version and --help,
# which start no engine and touch no network. Missing tools (dpkg-dev's dpkg-deb is in dpkg itself;
# desktop-file-utils, binutils) are installed with apt-get. Last line: "package: N passed, N failed".
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "  ok   $*"; }
bad() { failed=$((failed + 1)); echo "  FAIL $*"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
finish() { echo "package: $passed passed, $failed failed"; [ "$failed" = 0 ]; exit $?; }

missing=()
command -v desktop-file-validate >/dev/null || missing+=(desktop-file-utils)
command -v readelf >/dev/null || missing+=(binutils)
command -v apt-cache >/dev/null || { echo "apt-cache is missing: not a Debian system?" >&2; bad "apt-cache"; finish; }
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2 ||
    { bad "installing ${missing[*]}"; finish; }
fi

echo "== scripts/package.sh $*"
if ! bash scripts/package.sh "$@"; then bad "scripts/package.sh"; finish; fi
version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -1)
protocol=$(sed -n 's/^pub const PROTOCOL_VERSION: u16 = \([0-9]*\);/\1/p' src/protocol/mod.rs)
want_version="ferry $version (protocol $protocol)"
deb=$(ls dist/*.deb 2>/dev/null | head -1)
tgz=$(ls dist/*.tar.gz 2>/dev/null | head -1)
[ -f "$deb" ] && [ -f "$tgz" ] || { bad "dist/ has a .deb and a .tar.gz"; finish; }

work=$(mktemp -d /tmp/ferry-check-package.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== $deb: fields (dpkg-deb -I)"
dpkg-deb -I "$deb" >"$work/info" 2>&1 || bad "dpkg-deb -I reads it"
sed 's/^/     /' "$work/info" | grep -E '^ +(Package|Version|Architecture|Depends|Recommends|Suggests|Installed-Size|Section):'
field() { sed -n "s/^ $1: //p" "$work/info"; }
check "Package is ferry" test "$(field Package)" = ferry
check "Version starts with $version" grep -q "^ Version: $version" "$work/info"
check "Architecture is $(dpkg --print-architecture)" test "$(field Architecture)" = "$(dpkg --print-architecture)"
depends=$(field Depends)
for lib in libc6 libegl1 libgl1 libx11-6 libx11-xcb1 libxcb1 libxcursor1 libxi6 libxrender1 libxkbcommon0 \
           libxkbcommon-x11-0 libwayland-client0 libwayland-egl1 libdbus-1-3; do
  case ", $depends," in *", $lib,"*|*", $lib "*) ok "Depends names $lib" ;; *) bad "Depends names $lib" ;; esac
done
check "Recommends CJK fonts" grep -q '^ Recommends:.*fonts-noto-cjk' "$work/info"

echo "== every package it names exists in Debian (apt-cache show)"
apt-cache show libc6 >/dev/null 2>&1 || apt-get update -qq >/dev/null 2>&1
names=$( { field Depends; field Recommends; field Suggests; } | tr ',|' '\n\n' | sed -e 's/(.*)//' -e 's/ //g' | grep -v '^$' | sort -u)
for p in $names; do check "apt-cache show $p" apt-cache show "$p"; done

echo "== contents (dpkg-deb -c)"
dpkg-deb -c "$deb" | awk '{print $6}' >"$work/contents"
for f in ./usr/bin/ferry ./usr/share/applications/ferry.desktop ./usr/share/icons/hicolor/scalable/apps/ferry.svg \
         ./usr/share/icons/hicolor/48x48/apps/ferry.png ./usr/share/icons/hicolor/128x128/apps/ferry.png \
         ./usr/share/icons/hicolor/256x256/apps/ferry.png ./usr/share/doc/ferry/copyright; do
  check "contains $f" grep -qx "$f" "$work/contents"
done
check "nothing outside /usr" test -z "$(grep -v -e '^\./$' -e '^\./usr/' "$work/contents")"

echo "== unpacked into a throwaway root (dpkg -x)"
root=$work/root
dpkg -x "$deb" "$root" || bad "dpkg -x"
prog=$root/usr/bin/ferry
check "the program is executable" test -x "$prog"
# (.debug_gdb_scripts stays: it is Rust's pointer to gdb pretty-printers, not debug info.)
check "the program is stripped (no symbol table, no debug info)" \
  bash -c "! readelf -W -S '$prog' | grep -qE '\.symtab|\.debug_(info|line|str|abbrev|ranges|loc)'"
size=$(stat -c %s "$prog" 2>/dev/null || echo 0)
check "the program is under 40 MB ($((size / 1048576)) MB)" test "$size" -lt $((40 * 1048576))
got=$("$prog" --version 2>&1)
echo "     --version: $got"
check "--version says '$want_version'" test "$got" = "$want_version"
check "--help runs" "$prog" --help
check "the .deb's launcher is valid (desktop-file-validate)" desktop-file-validate "$root/usr/share/applications/ferry.desktop"
check "the launcher starts 'ferry %F'" grep -qx 'Exec=ferry %F' "$root/usr/share/applications/ferry.desktop"
check "the launcher's icon exists in the package" grep -qx 'Icon=ferry' "$root/usr/share/applications/ferry.desktop"
check "the launcher offers itself for images, videos and any file" \
  bash -c "grep -q '^MimeType=.*image/jpeg;.*video/mp4;.*application/octet-stream;' '$root/usr/share/applications/ferry.desktop'"
for s in 48 128 256; do
  dims=$(od -An -tu1 -j16 -N8 "$root/usr/share/icons/hicolor/${s}x${s}/apps/ferry.png" |
         awk '{print $1*16777216+$2*65536+$3*256+$4 "x" $5*16777216+$6*65536+$7*256+$8}')
  check "the ${s}x${s} icon is ${s}x${s} px ($dims)" test "$dims" = "${s}x${s}"
done

echo "== $tgz: install.sh for a user (HOME in a temporary folder)"
mkdir -p "$work/unpacked" "$work/home"
tar -C "$work/unpacked" -xzf "$tgz" || bad "tar -xzf"
dir=$(ls -d "$work/unpacked"/ferry-*-linux 2>/dev/null | head -1)
check "it unpacks into one ferry-$version-…-linux folder" test -n "$dir"
for f in ferry ferry.desktop install.sh README.md LICENSE icons/hicolor/scalable/apps/ferry.svg icons/hicolor/48x48/apps/ferry.png; do
  check "the archive has $f" test -e "$dir/$f"
done
home=$work/home
run_install() { env -i PATH=/usr/bin:/bin HOME="$home" sh "$dir/install.sh" "$@"; }
if run_install >"$work/install.log" 2>&1; then ok "install.sh ran"; else bad "install.sh ran"; cat "$work/install.log"; fi
sed 's/^/     /' "$work/install.log"
installed=$home/.local/bin/ferry
check "~/.local/bin/ferry is there and executable" test -x "$installed"
check "~/.local/bin/ferry --version says '$want_version'" test "$("$installed" --version 2>&1)" = "$want_version"
launcher=$home/.local/share/applications/ferry.desktop
check "~/.local/share/applications/ferry.desktop is valid" desktop-file-validate "$launcher"
check "the launcher starts the installed program by its full path" grep -qx "Exec=$installed %F" "$launcher"
for s in 48 128 256; do check "~/.local/share/icons/hicolor/${s}x${s}/apps/ferry.png" test -f "$home/.local/share/icons/hicolor/${s}x${s}/apps/ferry.png"; done
check "~/.local/share/icons/hicolor/scalable/apps/ferry.svg" test -f "$home/.local/share/icons/hicolor/scalable/apps/ferry.svg"
check "nothing was written outside HOME/.local" test -z "$(find "$home" -mindepth 1 -maxdepth 1 ! -name .local)"
check "installing again (an update) works" run_install
# A HOME with a space: the launcher must quote the path.
spaced="$work/home two"
mkdir -p "$spaced"
check "install.sh with a space in HOME" env -i PATH=/usr/bin:/bin HOME="$spaced" sh "$dir/install.sh"
check "…quotes the path in the launcher" grep -qx "Exec=\"$spaced/.local/bin/ferry\" %F" "$spaced/.local/share/applications/ferry.desktop"
check "…and the launcher is still valid" desktop-file-validate "$spaced/.local/share/applications/ferry.desktop"
check "install.sh --uninstall ran" run_install --uninstall
check "…and removed the program, the launcher and the icons" \
  test -z "$(find "$home/.local" -name 'ferry*' 2>/dev/null)"

finish
