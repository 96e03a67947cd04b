#!/usr/bin/env bash
# package.sh — makes Ferry's Linux packages in dist/:
#   dist/ferry_<version>-1_<arch>.deb        (cargo-deb; [package.metadata.deb] in Cargo.toml)
#   dist/ferry-<version>-<arch>-linux.tar.gz (program, launcher, icons, install.sh: no root needed)
#   dist/SHA256SUMS
#
#   scripts/package.sh              build the release binary (if needed) and package it
#   scripts/package.sh --no-build   package the target/release/ferry that is there
#   scripts/package.sh --icons      only redraw assets/icons/hicolor/*/apps/ferry.png from the SVG
#                                   (needs rsvg-convert: apt-get install librsvg2-bin)
#
# Both packages carry a stripped binary (~20 MB instead of ~140 MB with line tables). cargo-deb is
# installed with `cargo install` when missing (crates.io only, ~3 min). Builds nothing else and
# starts nothing: scripts/check-package.sh checks the result.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CARGO_DEB_VERSION=3.8.0
ICON_SIZES=(16 24 32 48 64 128 256 512)
SVG=assets/icons/hicolor/scalable/apps/ferry.svg
die() { echo "package: $*" >&2; exit 1; }

if [ "${1:-}" = "--icons" ]; then
  command -v rsvg-convert >/dev/null || die "rsvg-convert is missing (apt-get install librsvg2-bin)"
  for s in "${ICON_SIZES[@]}"; do
    mkdir -p "assets/icons/hicolor/${s}x${s}/apps"
    rsvg-convert -w "$s" -h "$s" "$SVG" -o "assets/icons/hicolor/${s}x${s}/apps/ferry.png"
  done
  echo "redrew ${#ICON_SIZES[@]} icons from $SVG"
  exit 0
fi
build=1
case "${1:-}" in
  --no-build) build=0 ;;
  "") ;;
  *) die "usage: $0 [--no-build | --icons]" ;;
esac

version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -1)
[ -n "$version" ] || die "no version in Cargo.toml"
arch=$(uname -m)
target=${CARGO_TARGET_DIR:-$ROOT/target}
case "$target" in /*) ;; *) target=$ROOT/$target ;; esac
bin=$target/release/ferry
for tool in strip tar gzip sha256sum; do command -v "$tool" >/dev/null || die "$tool is missing"; done

if ! cargo deb --version >/dev/null 2>&1; then
  echo "== installing cargo-deb $CARGO_DEB_VERSION (cargo install, once)"
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet
fi
if [ $build = 1 ]; then
  echo "== cargo build --release"
  cargo build --release --locked --bin ferry
fi
[ -x "$bin" ] || die "no release binary at $bin (run without --no-build)"

rm -rf dist && mkdir -p dist
echo "== .deb"
# --no-build: the binary above; cargo-deb strips its copy (the original keeps its line tables).
cargo deb --no-build --locked --strip --no-dbgsym --output dist/ >/dev/null
deb=$(ls dist/*.deb)

echo "== .tar.gz"
name=ferry-$version-$arch-linux
stage=$(mktemp -d /tmp/ferry-package.XXXXXX)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name"
strip --strip-all -o "$stage/$name/ferry" "$bin"
cp assets/ferry.desktop scripts/install.sh README.md LICENSE LICENSE-MIT LICENSE-APACHE "$stage/$name/"
mkdir -p "$stage/$name/icons/hicolor/scalable/apps"
cp "$SVG" "$stage/$name/icons/hicolor/scalable/apps/"
for s in "${ICON_SIZES[@]}"; do
  mkdir -p "$stage/$name/icons/hicolor/${s}x${s}/apps"
  cp "assets/icons/hicolor/${s}x${s}/apps/ferry.png" "$stage/$name/icons/hicolor/${s}x${s}/apps/"
done
chmod 755 "$stage/$name/ferry" "$stage/$name/install.sh"
# Same bytes for the same inputs: fixed owner, order and times.
tar -C "$stage" --owner=0 --group=0 --numeric-owner --sort=name --mtime="@$(git log -1 --format=%ct 2>/dev/null || echo 0)" \
  -cf - "$name" | gzip -9n >"dist/$name.tar.gz"

(cd dist && sha256sum -- *.deb *.tar.gz >SHA256SUMS)
echo "== made"
ls -l dist/
