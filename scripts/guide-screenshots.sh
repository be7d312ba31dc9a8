#!/usr/bin/env bash
# Refresh the user guide's pictures: run the browser journeys (they save their screenshots in
# test-artifacts/screenshots) and copy the ones docs/user-guide.md shows into docs/screenshots.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pytest -q -m browser tests/browser/test_journeys.py tests/browser/test_phone.py
mkdir -p docs/screenshots
grep -o 'screenshots/[a-z0-9-]*\.png' docs/user-guide.md | sort -u | while read -r shot; do
  cp "test-artifacts/$shot" "docs/$shot"
done
