#!/usr/bin/env bash
# Creates the small venv for the deploy/ checks (PyYAML, jsonschema, hadolint) from tools/deploy-requirements.txt.
# Idempotent and quick when already there: `make deploy-check` runs it first.
#
# Usage: tools/setup_deploy_venv.sh            # venv at /opt/compress-deploy-venv
#        DEPLOY_VENV=/tmp/venv tools/setup_deploy_venv.sh
set -euo pipefail

VENV="${DEPLOY_VENV:-/opt/compress-deploy-venv}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STAMP="$VENV/.requirements.sha256"
WANT="$(sha256sum "$HERE/deploy-requirements.txt" | cut -d' ' -f1)"

if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
    exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet -r "$HERE/deploy-requirements.txt"
echo "$WANT" > "$STAMP"
echo "deploy venv ready: $VENV" >&2
