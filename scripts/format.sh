#!/usr/bin/env bash
# Formats Vigil's Swift code in place with the toolchain's swift-format, configured in
# .swift-format (4 spaces, lines of at most 140 columns where the formatter can break
# them). scripts/test.sh checks the same (`swift format lint --strict`), and CI fails on a
# file this would change.
set -euo pipefail
cd "$(dirname "$0")/.."
swift format format -i -r --parallel Sources Tests Fuzz Package.swift
