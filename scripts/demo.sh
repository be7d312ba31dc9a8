#!/usr/bin/env bash
# The main job: simulate a market, ingest it, compute the metrics, diagnose every brand, serve it.
#   scripts/demo.sh DIR BRANDS MONTHS
set -euo pipefail
dir=${1:-demo}; brands=${2:-1000}; months=${3:-12}
wm=".venv/bin/windmaker"
rm -rf "$dir"
$wm init "$dir"
$wm status --workspace "$dir"
