#!/usr/bin/env bash
# System packages the test suite needs, from Debian's archive: Java 17 (PySpark local mode),
# PostgreSQL (the store's tests), Chromium (browser tests, PDF reports), CJK fonts (reports).
# Installs only what is missing, so a warm machine spends no time here.
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
for pkg in openjdk-17-jre-headless postgresql chromium chromium-driver fonts-noto-cjk; do
  have "$pkg" || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages present"
  exit 0
fi
echo "installing system packages: ${need[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
