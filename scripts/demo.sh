#!/usr/bin/env bash
# The main job on a demo market: simulate it, ingest it through the normal path, diagnose every
# brand, create one user per role, and serve the dashboard and the API on localhost.
#   scripts/demo.sh DIR BRANDS MONTHS
set -euo pipefail
dir=${1:-demo}; brands=${2:-1000}; months=${3:-12}
wm=".venv/bin/windmaker"
start=$(date +%s)
rm -rf "$dir"
$wm init "$dir"
$wm simulate --brands "$brands" --months "$months" --seed 7 --out "$dir/market"
$wm ingest "$dir"/market/*.parquet --workspace "$dir"
$wm providers load "$dir/market/ecosystem" --workspace "$dir"
$wm run --workspace "$dir"
$wm users demo --workspace "$dir"
echo "demo market ready in $(( $(date +%s) - start )) s"
$wm status --workspace "$dir"
exec $wm serve --workspace "$dir"
