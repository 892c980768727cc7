#!/usr/bin/env bash
# Installs what is missing, builds Vigil (release), and starts the demo: simulated cameras
# (Digest auth, ONVIF PTZ domes, each a live 640x360 H.264 picture that follows where it
# points) recorded by `vigil serve` into ./data, with the console at the
# printed URL and one-time logins for admin and operator, until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product vigil 2>&1 | grep -E "error|warning: |Build complete" || true
exec .build/release/vigil demo --data "${VIGIL_DATA:-./data}" "$@"
