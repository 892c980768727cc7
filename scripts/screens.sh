#!/bin/bash
# Regenerates docs/screens/: each page of the console at the centre's two screen sizes
# (1600x900 and 1920x1080), as the end-to-end tests leave it in headless Chromium against a
# real `vigil serve` and simulated cameras. A reviewer sees the console without running it.
# Needs what the test command needs (scripts/setup.sh); takes about three minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/docs/screens"
fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
swift build --build-tests
VIGIL_SCREENS="$fresh" swift test --skip-build \
  --filter 'consoleSignInLive|anAdministratorFindsAndAdds|theVideoWall|evidenceRegisterThroughTheConsole|anOperatorSteers|theTimelinePlays|anAdministratorManagesUsers|anOperatorReportsAnIncident|aDutyConsoleHears|anAdministratorSetsUpWhoIsTold|anOperatorAsksToSecureFootage'
mkdir -p "$out"
rm -f "$out"/*.png
cp "$fresh"/*.png "$out"/
ls -1 "$out"/*.png | sed "s|$PWD/||"
