#!/bin/sh
# install.sh — installs Ferry for the current user, without root: the program in ~/.local/bin, the
# launcher in ~/.local/share/applications (so Ferry is in the menu and in "Open with"), the icons in
# ~/.local/share/icons/hicolor. Run it from the unpacked ferry-*-linux.tar.gz.
#
#   ./install.sh               install (or update)
#   ./install.sh --uninstall   remove what it installed (your settings and received files stay)
#
# Env: BIN_DIR (default ~/.local/bin), XDG_DATA_HOME (default ~/.local/share).
# It only copies files; it starts nothing.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
: "${HOME:?HOME is not set}"
bin_dir=${BIN_DIR:-$HOME/.local/bin}
data_dir=${XDG_DATA_HOME:-$HOME/.local/share}
[ -n "$data_dir" ] || data_dir=$HOME/.local/share
apps_dir=$data_dir/applications
icons_dir=$data_dir/icons/hicolor
sizes="16 24 32 48 64 128 256 512"

refresh_menus() {
  # Best effort: menus also notice new files by themselves, these only make it immediate.
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$apps_dir" 2>/dev/null || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$icons_dir" 2>/dev/null || true
}

if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$bin_dir/ferry" "$apps_dir/ferry.desktop" "$icons_dir/scalable/apps/ferry.svg"
  for s in $sizes; do rm -f "$icons_dir/${s}x${s}/apps/ferry.png"; done
  refresh_menus
  echo "Ferry is uninstalled. Your settings (~/.config/ferry) and received files were left alone."
  exit 0
fi
[ $# -eq 0 ] || { echo "usage: $0 [--uninstall]" >&2; exit 2; }
[ -x "$here/ferry" ] || { echo "no ferry program next to $0" >&2; exit 1; }

mkdir -p "$bin_dir" "$apps_dir" "$icons_dir/scalable/apps"
# Copy to a temporary name, then rename: a running Ferry keeps its old file and nothing half-copied
# is ever started.
cp "$here/ferry" "$bin_dir/.ferry.new" && chmod 755 "$bin_dir/.ferry.new" && mv -f "$bin_dir/.ferry.new" "$bin_dir/ferry"

for s in $sizes; do
  src=$here/icons/hicolor/${s}x${s}/apps/ferry.png
  [ -f "$src" ] || continue
  mkdir -p "$icons_dir/${s}x${s}/apps"
  cp "$src" "$icons_dir/${s}x${s}/apps/ferry.png"
done
cp "$here/icons/hicolor/scalable/apps/ferry.svg" "$icons_dir/scalable/apps/ferry.svg"

# The menu starts programs with the session's PATH, which may not include ~/.local/bin: name the
# program by its full path. Desktop-entry quoting: a path with spaces and the like goes in double
# quotes; one with characters that would need escaping even there (" ` $ \ %) falls back to the
# plain name and PATH.
exec_path=$bin_dir/ferry
case "$exec_path" in
  *[\"\`\$\\%]*|*"
"*)
    echo "note: the launcher starts 'ferry' from your PATH (the folder name $bin_dir cannot be written in a launcher)." >&2
    exec_path=ferry ;;
  *[!A-Za-z0-9/._+-]*) exec_path="\"$exec_path\"" ;;
esac
exec_sed=$(printf '%s' "$exec_path" | sed -e 's/[&|]/\\&/g')
sed -e "s|^Exec=ferry |Exec=$exec_sed |" "$here/ferry.desktop" >"$apps_dir/.ferry.desktop.new"
mv -f "$apps_dir/.ferry.desktop.new" "$apps_dir/ferry.desktop"
refresh_menus

echo "Ferry is installed: $bin_dir/ferry, and in your applications menu."
case ":$PATH:" in
  *":$bin_dir:"*) ;;
  *) echo "To start it from a terminal as 'ferry', add $bin_dir to your PATH (it is there after the next login on most systems)." ;;
esac
