#!/usr/bin/env bash
# Installs what is missing, builds with warnings treated as failures for Vigil's own code,
# and runs every test: unit, property, fuzz and fixture tests in parallel, then the
# end-to-end tests against real peers (GStreamer, ffmpeg) on their own, since they measure
# timing (kill -9 loss, reconnect delay) that a loaded 2-core machine would distort.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# Formatting first, as it is quick (.swift-format; scripts/format.sh applies it). A file it
# would change fails the run at the end, after every test has still been run.
format_status=0
swift format lint -r --strict --parallel Sources Tests Fuzz Package.swift || format_status=1
[ "$format_status" -eq 0 ] || echo "test: some files are not formatted (above); run scripts/format.sh" >&2

log=$(mktemp)
swift build --build-tests 2>&1 | tee "$log" | grep -E "error|warning: |Compiling|Build complete" | grep -v "^\[" || true
if grep -E "^/.*/(Sources|Tests)/.*: (warning|error):" "$log" | grep -v "/.build/" >/dev/null; then
  echo "test: the build has warnings or errors in Vigil's code:" >&2
  grep -E "^/.*/(Sources|Tests)/.*: (warning|error):" "$log" | grep -v "/.build/" | sort -u >&2
  exit 1
fi
grep -q "Build complete" "$log" || { echo "test: build failed" >&2; exit 1; }

results=$(mktemp)
status=0
swift test --skip-build --skip EndToEndTests 2>&1 | tee -a "$results" || status=1
swift test --skip-build --filter EndToEndTests 2>&1 | tee -a "$results" || status=1

# The HTTP API under schemathesis, once per role, a few examples per operation with a
# fixed seed (scripts/api_fuzz.py; longer runs: docs/design/security.md). schemathesis
# and its dependencies come from PyPI at pinned versions, into a virtual environment of
# their own (only the tests need them: the demo does not).
# A virtual environment under .build-tools/NAME holding REQUIREMENTS, made again when they change.
python_tools() {
  local venv=".build-tools/$1" requirements="$2"
  if ! cmp -s "$requirements" "$venv/requirements.txt"; then
    echo "test: installing $requirements into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/requirements.txt"
  fi
}
python_tools schemathesis scripts/api_fuzz_requirements.txt
api_status=0
scripts/api_fuzz.py --vigil .build/debug/vigil --schemathesis .build-tools/schemathesis/bin/schemathesis \
  --examples "${API_FUZZ_EXAMPLES:-5}" 2>&1 | tee -a "$results" || true
grep -q "^api-fuzz: every role passed" "$results" || api_status=1

# Both ends of Vigil's ONVIF against code we did not write (scripts/onvif_peers.py): Vigil's
# client steering ipycam, and onvif-zeep-async steering Vigil's simulated dome; pinned, from
# PyPI, into a virtual environment of their own.
python_tools onvif-peers scripts/onvif_peers_requirements.txt
peers_status=0
.build-tools/onvif-peers/bin/python scripts/onvif_peers.py --vigil .build/debug/vigil 2>&1 | tee -a "$results" || true
grep -q "^onvif-peers: every check passed" "$results" || peers_status=1

# Each libFuzzer target briefly (scripts/fuzz.sh; longer runs: docs/design/fuzzing.md).
fuzz_status=0
scripts/fuzz.sh "${FUZZ_SECONDS:-15}" 2>&1 | tee -a "$results" | grep -E "^fuzz: .*(executions|FAILED)" || true
grep -q "^fuzz: .*FAILED" "$results" && fuzz_status=1
grep -qE "^fuzz: .*no crash" "$results" || fuzz_status=1

# One closing line over both runs (Swift Testing prints "Test run with N tests ... passed|failed").
passed=$(grep -E "✔ Test .* passed" "$results" | grep -vcE "Suite|Test run" || true)
failed=$(grep -E "✘ Test .* failed" "$results" | grep -vcE "Suite|Test run" || true)
echo "vigil: $passed passed, $failed failed"
[ "$fuzz_status" -eq 0 ] || echo "test: a fuzz target failed (see above)" >&2
[ "$api_status" -eq 0 ] || echo "test: schemathesis found the API at fault (see above)" >&2
[ "$peers_status" -eq 0 ] || echo "test: an ONVIF peer check failed (see above)" >&2
[ "$format_status" -eq 0 ] || echo "test: some files are not formatted (see the start); run scripts/format.sh" >&2
[ "$format_status" -eq 0 ] && [ "$status" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ] && [ "$fuzz_status" -eq 0 ] && [ "$api_status" -eq 0 ] && [ "$peers_status" -eq 0 ]
