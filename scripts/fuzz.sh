#!/usr/bin/env bash
# Coverage-guided fuzzing of Vigil's parsers with libFuzzer (docs/design/fuzzing.md).
#   scripts/fuzz.sh [SECONDS] [TARGET ...]
# Builds each target under Fuzz/ with `-sanitize=fuzzer,address` into .build-fuzz/, seeds
# its corpus (.build-fuzz/corpus/TARGET/) from the fixtures and from media ffmpeg makes,
# and runs it for SECONDS (default 60; the corpus grows from run to run). A crash leaves
# its input in Fuzz/crashes/TARGET/ and fails the run: add it to Fuzz/regressions/TARGET/,
# where the tests replay it (FuzzRegressionTests), once the bug is fixed.
# Targets: RTSPMessages SDP H264 H265 Boxes Range Checkpoint Onvif.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(RTSPMessages SDP H264 H265 Boxes Range Checkpoint Onvif)
extra=${FUZZ_FLAGS:-}

scratch=.build-fuzz
mkdir -p "$scratch"
flags=(-c release --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -parse-as-library)
for t in "${targets[@]}"; do
  echo "fuzz: building Fuzz$t"
  if ! swift build "${flags[@]}" --product "Fuzz$t" >"$scratch/build-$t.log" 2>&1; then
    grep -E "error" "$scratch/build-$t.log" | grep -v "Cannot export" | head -20 >&2
    echo "fuzz: Fuzz$t FAILED to build (log: $scratch/build-$t.log)" >&2
    exit 1
  fi
done

seeds=$scratch/seeds
mkdir -p "$seeds"
python3 scripts/fuzz_seeds.py "$seeds" Tests/RTSPTests/Fixtures ../shared/fixtures/rtsp-cameras Tests/OnvifTests/Fixtures

status=0
for t in "${targets[@]}"; do
  corpus=$scratch/corpus/$t
  crashes=Fuzz/crashes/$t
  mkdir -p "$corpus" "$crashes"
  cp -n "$seeds/$t"/* "$corpus"/ 2>/dev/null || true
  [ -d "Fuzz/regressions/$t" ] && cp -n "Fuzz/regressions/$t"/* "$corpus"/ 2>/dev/null || true
  # The message decoder rescans a partial head on every read: long inputs only slow it.
  max_len=65536
  [ "$t" = RTSPMessages ] && max_len=8192
  echo "fuzz: Fuzz$t for ${seconds} s ($(ls "$corpus" | wc -l) inputs in its corpus)"
  log=$scratch/fuzz-$t.log
  # Onvif: swift-corelibs-foundation's XMLParser keeps a few dozen bytes of every error
  # libxml2 reports (not Vigil's code; XMLTree stops at the first error to bound it), so
  # LeakSanitizer would stop at the first malformed input. Address errors are still caught.
  own="" leaks=1
  if [ "$t" = Onvif ]; then own="-detect_leaks=0" leaks=0; fi
  # shellcheck disable=SC2086
  if ASAN_OPTIONS="detect_leaks=$leaks${ASAN_OPTIONS:+:$ASAN_OPTIONS}" "$scratch/release/Fuzz$t" "$corpus" -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -timeout=60 \
        -artifact_prefix="$crashes/" -print_final_stats=1 $own $extra >"$log" 2>&1; then
    runs=$(grep -E "^stat::number_of_executed_units" "$log" | awk '{print $2}' || true)
    cov=$(grep -E "DONE +cov" "$log" | grep -oE "cov: [0-9]+" | tail -1 || true)
    echo "fuzz: Fuzz$t: ${runs:-?} executions, ${cov:-cov: ?}, no crash"
  else
    echo "fuzz: Fuzz$t FAILED; its input is in $crashes/:" >&2
    grep -E "ERROR|Fatal error|SUMMARY|panic|precondition" "$log" | head -5 >&2 || tail -20 "$log" >&2
    status=1
  fi
done
exit $status
