#!/usr/bin/env bash
# Installs what Vigil needs beyond the Swift toolchain: ffmpeg (clips for simulated
# cameras, strict decoding in tests), GStreamer's RTSP server (the third-party camera
# the tests record from), Chromium (the browser the console test drives headless),
# libxml2 (Foundation's XML parser, which reads ONVIF replies, links it), aiosmtpd (the
# mail relay that dispatch's e-mail is tested against) and openssl (its test certificates).
# Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  ffmpeg chromium systemd python3-venv libxml2 iproute2 util-linux openssl python3-aiosmtpd
  gstreamer1.0-tools gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gst-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null; then
  echo "setup: Swift 6.3 is required (https://www.swift.org/install/linux/) and was not found on PATH" >&2
  exit 1
fi
echo "setup: ffmpeg $(ffmpeg -version | head -1 | cut -d' ' -f3), GStreamer $(gst-launch-1.0 --version | sed -n 2p | cut -d' ' -f2), $(swift --version 2>&1 | head -1)"
