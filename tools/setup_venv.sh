#!/usr/bin/env bash
# Creates the Python venv used by the fixture/dataset generators in tools/ and installs the
# pinned versions from tools/requirements.txt (so regenerated fixtures match the committed ones).
#
# Usage: tools/setup_venv.sh            # venv at /opt/compress-tools-venv
#        TOOLS_VENV=/tmp/venv tools/setup_venv.sh
set -euo pipefail

VENV="${TOOLS_VENV:-/opt/compress-tools-venv}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet -r "$HERE/requirements.txt"
echo "tools venv ready: $VENV (use with KERAS_BACKEND=jax)"
