#!/usr/bin/env bash
# Install pvprobe's menu entry, icons and AppStream metadata for the current user
# (freedesktop locations under ${XDG_DATA_HOME:-~/.local/share}).
#
#   packaging/install-desktop-file.sh                  # Exec=pvprobe if on PATH, else the bundle
#   packaging/install-desktop-file.sh --exec /opt/pvprobe/pvprobe
#   packaging/install-desktop-file.sh --uninstall
#   DATA_HOME=/tmp/x packaging/install-desktop-file.sh  # install somewhere else (tests)
#
# The menu entry runs `pvprobe`: the desktop session's PATH must find it, or pass
# --exec with an absolute path (a venv's bin/pvprobe or the bundle's dist/pvprobe/pvprobe).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${DATA_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}}"
RES="$ROOT/pvprobe/resources"
EXEC=""
UNINSTALL=0

while [[ $# -gt 0 ]]; do
    case "$1" in
        --exec) EXEC="$2"; shift 2 ;;
        --uninstall) UNINSTALL=1; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "install-desktop-file.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

APPS="$DATA/applications"
META="$DATA/metainfo"
ICONS="$DATA/icons/hicolor"
SIZES="16 32 48 64 128 256"

if [[ $UNINSTALL == 1 ]]; then
    rm -f "$APPS/pvprobe.desktop" "$META/io.github.pvprobe.metainfo.xml" \
          "$ICONS/scalable/apps/pvprobe.svg"
    for s in $SIZES; do rm -f "$ICONS/${s}x${s}/apps/pvprobe.png"; done
    echo "removed pvprobe's menu entry and icons from $DATA"
    exit 0
fi

if [[ -z "$EXEC" ]]; then
    if command -v pvprobe >/dev/null 2>&1; then
        EXEC="pvprobe"
    elif [[ -x "$ROOT/dist/pvprobe/pvprobe" ]]; then
        EXEC="$ROOT/dist/pvprobe/pvprobe"
    else
        EXEC="pvprobe"
        echo "warning: pvprobe is not on PATH; the menu entry may not start (use --exec PATH)" >&2
    fi
fi
case "$EXEC" in
    *[[:space:]]*) echo "install-desktop-file.sh: --exec path must not contain spaces" >&2; exit 2 ;;
esac

install -d "$APPS" "$META" "$ICONS/scalable/apps"
for s in $SIZES; do
    install -d "$ICONS/${s}x${s}/apps"
    install -m 644 "$RES/png/pvprobe-$s.png" "$ICONS/${s}x${s}/apps/pvprobe.png"
done
install -m 644 "$RES/pvprobe.svg" "$ICONS/scalable/apps/pvprobe.svg"
install -m 644 "$ROOT/packaging/io.github.pvprobe.metainfo.xml" "$META/io.github.pvprobe.metainfo.xml"

# Exec/TryExec point at the chosen program; written atomically.
tmp="$(mktemp "$APPS/.pvprobe.desktop.XXXXXX")"
sed -e "s|^Exec=pvprobe|Exec=$EXEC|" -e "s|^TryExec=pvprobe$|TryExec=$EXEC|" \
    "$ROOT/packaging/pvprobe.desktop" > "$tmp"
chmod 644 "$tmp"
mv -f "$tmp" "$APPS/pvprobe.desktop"

command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS" || true
# Refresh an existing user icon cache only: creating one would hide icons other apps add later.
if [[ -f "$ICONS/icon-theme.cache" ]] && command -v gtk-update-icon-cache >/dev/null 2>&1; then
    gtk-update-icon-cache -q -t "$ICONS" || true
fi
echo "installed $APPS/pvprobe.desktop (Exec=$EXEC), icons in $ICONS, metainfo in $META"
