#!/usr/bin/env bash
# The main job on a demo market: simulate it, ingest it through the normal path, diagnose every
# brand, evaluate the providers for every month, fit the distribution models, create one user per
# role, and serve the dashboard and the API on localhost (http://127.0.0.1:8000; log in as admin /
# operator / provider / brand with the password printed by `windmaker users demo`). The server
# answers as soon as the diagnosis is stored; lifetime value and paid-traffic curves are then
# fitted as a background job (its progress on the data page), and the pages read them (model-
# backed P and T scores and actions) when it is stored.
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
# Lifetime value (客户终身价值) and traffic curves (投流曲线) are fitted by the server once it
# answers (`serve --fit-models`), then the diagnosis runs again with them, so the plans re-engage
# at-risk buyers and move paid spend towards break-even. Lifetime value runs as shipped (BG/NBD
# and Pareto/NBD compared on every brand); the traffic curves take one starting point each
# instead of three, models.yaml's large-market switch.
mkdir -p "$dir/config"
cat > "$dir/config/models.yaml" <<'YAML'
version: 1
traffic:
  alpha_starts: [0.4]
YAML
export WINDMAKER_CONFIG_DIR="$(cd "$dir" && pwd)/config"
$wm run --workspace "$dir"
# The monthly provider evaluation (服务商考核) for every month of the market, oldest first, as if
# each month had been evaluated when it closed: provider pages show a real history, and the
# warnings it proposes wait for an admin on those pages. 12 months of 1,000 brands and 50
# providers: 28 s on the shared 2-core machine.
$wm providers evaluate --period all --workspace "$dir"
# Distribution models (达人推荐, 测款, 矩阵号赛马, 集中度).
$wm influencers recommend --workspace "$dir"
$wm hits --workspace "$dir"
$wm horse-race --workspace "$dir"
$wm concentration --workspace "$dir"
$wm users demo --workspace "$dir"
echo "demo market ready in $(( $(date +%s) - start )) s"
$wm status --workspace "$dir"
exec $wm serve --fit-models --workspace "$dir"
