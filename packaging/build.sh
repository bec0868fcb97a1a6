#!/usr/bin/env bash
# Build the one-folder desktop bundle dist/pvprobe/ (executable: dist/pvprobe/pvprobe).
#
#   packaging/build.sh                 # build venv in build/bundle-venv (created if missing)
#   PVPROBE_BUILD_PYTHON=.venv/bin/python packaging/build.sh   # use an existing environment
#
# The build venv gets a normal (non-editable) `pip install .[packaging]`, so the bundle holds
# exactly what a wheel would: pvprobe plus its package data (icons), PyInstaller from PyPI.
# Prints the bundle path on the last line.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [[ -n "${PVPROBE_BUILD_PYTHON:-}" ]]; then
    PY="$PVPROBE_BUILD_PYTHON"
    "$PY" -m pip install -q 'pyinstaller>=6'
else
    VENV="$ROOT/build/bundle-venv"
    if [[ ! -x "$VENV/bin/python" ]]; then
        python3 -m venv "$VENV"
    fi
    PY="$VENV/bin/python"
    "$PY" -m pip install -q '.[packaging]'
    # Always the current tree (not a stale copy of the same version).
    "$PY" -m pip install -q --no-deps --force-reinstall .
fi

start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean \
    --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" \
    "$ROOT/packaging/pvprobe.spec"
end=$(date +%s)

BUNDLE="$ROOT/dist/pvprobe"
[[ -x "$BUNDLE/pvprobe" ]] || { echo "build.sh: $BUNDLE/pvprobe was not produced" >&2; exit 1; }
echo "build.sh: PyInstaller took $((end - start)) s; bundle size $(du -sh "$BUNDLE" | cut -f1)" >&2
echo "$BUNDLE"
