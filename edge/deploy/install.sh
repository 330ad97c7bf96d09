#!/bin/sh
# Install fieldkit from this offline bundle: no internet, no compiler, no python3-venv package needed.
#   sudo ./install.sh              -> /opt/fieldkit, then `fieldkit service install`
#   PREFIX=/some/dir ./install.sh  -> elsewhere (no root needed)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=${PREFIX:-/opt/fieldkit}
PYTHON=${PYTHON:-python3.11}
ARCH=$(uname -m)
case "$ARCH" in
  x86_64|amd64) ARCH=x86_64 ;;
  aarch64|arm64) ARCH=aarch64 ;;
  *) echo "install.sh: this bundle has wheels for x86_64 and aarch64, not $ARCH" >&2; exit 1 ;;
esac
WHEELS="$HERE/wheels/$ARCH"
[ -d "$WHEELS" ] || { echo "install.sh: this bundle has no wheels for $ARCH" >&2; exit 1; }
command -v "$PYTHON" >/dev/null || { echo "install.sh: $PYTHON is missing (Debian 12: apt-get install python3)" >&2; exit 1; }
if command -v sha256sum >/dev/null; then
  (cd "$HERE" && sha256sum --quiet --check SHA256SUMS) || { echo "install.sh: the bundle is damaged (SHA256SUMS)" >&2; exit 1; }
fi
# No pip configuration of this machine applies: every file comes from the bundle.
export PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_CONSTRAINT 2>/dev/null || true
# --without-pip: Debian ships ensurepip only in python3-venv; pip runs from its own wheel instead.
"$PYTHON" -m venv --without-pip "$PREFIX"
PIP_WHEEL=$(ls "$WHEELS"/pip-*.whl | head -n 1)
"$PREFIX/bin/python" "$PIP_WHEEL/pip" install --quiet --no-index --find-links "$WHEELS" pip
"$PREFIX/bin/python" -m pip install --quiet --no-index --find-links "$WHEELS" --find-links "$HERE/wheels/fieldkit" fieldkit
"$PREFIX/bin/fieldkit" version
echo "install.sh: installed in $PREFIX. Next: sudo $PREFIX/bin/fieldkit service install"
