"""The operator workbench with 500 brands and a brand page, rendered in Debian's Chromium.

The workspace is the API benchmark's (``bench_api.build_workspace``: 500 brands × 12 months of
synthetic metric frames diagnosed by the real ladder); ``windmaker serve`` runs in its own
process on 127.0.0.1. Chromium (Playwright, headless) logs in as the operator, whose portfolio
is every brand, and loads ``/workbench`` and the first brand's page ``LOADS`` times each in a
fresh page (the HTTP cache warm, as on a user's second visit; the first load is reported apart).
Times come from the browser's own performance timeline, from the start of the navigation:
``responseStart`` (server answered), ``domContentLoadedEventEnd`` (table parsed, scripts run),
``loadEventEnd`` (styles, scripts loaded) and ``chartsDrawn``, the ``wm-charts-drawn`` mark that
``app.js`` sets once every chart of the page has been drawn. Target: charts drawn in under 1 s on
both pages, reported, not asserted.

The in-run reference is the login page (``/login``, a small form on the same stylesheet and
scripts) measured the same way: the ratio separates the workbench's cost from the machine's.

Environment: ``WINDMAKER_BENCH_WEB_LOADS`` (default 10), ``WINDMAKER_BENCH_API_BRANDS``.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from windmaker.reports.render import CHROMIUM, CHROMIUM_FLAGS

LOADS = int(os.environ.get("WINDMAKER_BENCH_WEB_LOADS", "10"))
FLAGS = list(CHROMIUM_FLAGS)
FIELDS = ("responseStart", "domContentLoadedEventEnd", "loadEventEnd", "chartsDrawn")
TARGET_MS = 1000.0
NAVIGATION = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  const drawn = performance.getEntriesByName("wm-charts-drawn")[0];
  return {responseStart: n.responseStart, domContentLoadedEventEnd: n.domContentLoadedEventEnd,
          loadEventEnd: n.loadEventEnd, chartsDrawn: drawn ? drawn.startTime : NaN,
          transferSize: n.transferSize,
          rows: document.querySelectorAll("#portfolio tbody tr").length,
          charts: document.querySelectorAll("[data-chart][data-drawn]").length};
}"""


def _timings(context: Any, url: str, loads: int) -> list[dict[str, float]]:
    out = []
    for _ in range(loads):
        page = context.new_page()
        page.goto(url, wait_until="load")
        page.wait_for_function(
            "performance.getEntriesByType('navigation')[0].loadEventEnd > 0"
            " && performance.getEntriesByName('wm-charts-drawn').length > 0",
            timeout=60_000,
        )
        out.append(page.evaluate(NAVIGATION))
        page.close()
    return out


def measure(
    base: str, username: str, password: str, brand: str
) -> dict[str, list[dict[str, float]]]:
    """First and repeated loads of ``/workbench``, of ``brand``'s page and of the login page."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            reference = _timings(context, f"{base}/login", LOADS + 1)
            page = context.new_page()
            page.goto(f"{base}/login")
            page.fill("#username", username)
            page.fill("#password", password)
            page.click("form button[type=submit]")
            page.wait_for_load_state("load")
            page.close()
            workbench = _timings(context, f"{base}/workbench", LOADS + 1)
            brand_page = _timings(context, f"{base}/brands/{brand}", LOADS + 1)
            context.close()
        finally:
            browser.close()
    return {"reference": reference, "workbench": workbench, "brand": brand_page}


def _median(rows: list[dict[str, float]], field: str) -> float:
    return float(statistics.median(r[field] for r in rows))


def _cells(rows: list[dict[str, float]]) -> str:
    return " | ".join(f"{_median(rows, f):.0f} ms" for f in FIELDS)


def _verdict(ms: float) -> str:
    return f"< {TARGET_MS:.0f} ms ({'met' if ms < TARGET_MS else 'missed'})"


def main() -> str:
    from benchmarks.bench_api import BRANDS, PASSWORD, Server, build_workspace

    with tempfile.TemporaryDirectory(prefix="wm-bench-web-") as tmp:
        t = time.perf_counter()
        workspace = build_workspace(Path(tmp) / "ws")
        build_s = time.perf_counter() - t
        with Server(workspace) as server:
            runs = measure(server.url, "operator", PASSWORD, "B000000")
    ref, wb, br = runs["reference"][1:], runs["workbench"][1:], runs["brand"][1:]
    first = runs["workbench"][0]
    rows = int(wb[0]["rows"])
    size_kib = max(r["transferSize"] for r in runs["workbench"]) / 1024
    ref_load = _median(ref, "loadEventEnd")
    lines = [
        f"## Workbench and brand page in Chromium (median of {len(wb)} loads each)",
        "",
        "| page | responseStart | domContentLoadedEventEnd | loadEventEnd | charts drawn | "
        "loadEventEnd / reference | target (charts drawn) |",
        "|---|---|---|---|---|---|---|",
        f"| reference: /login | {_cells(ref)} | 1.0× | — |",
        f"| /workbench ({rows} rows shown, {BRANDS} brands, operator) | {_cells(wb)} | "
        f"{_median(wb, 'loadEventEnd') / ref_load:.1f}× | "
        f"{_verdict(_median(wb, 'chartsDrawn'))} |",
        f"| /brands/{{id}} ({int(br[0]['charts'])} charts) | {_cells(br)} | "
        f"{_median(br, 'loadEventEnd') / ref_load:.1f}× | "
        f"{_verdict(_median(br, 'chartsDrawn'))} |",
        "| /workbench, first load (cold cache) | "
        + " | ".join(f"{first[f]:.0f} ms" for f in FIELDS)
        + " | — | — |",
        "",
        f"Navigation Timing and the `wm-charts-drawn` mark from the browser (ms from navigation "
        f"start); workbench HTML up to {size_kib:.0f} KiB over the wire. Workspace: {BRANDS} "
        f"synthetic brands diagnosed by the real ladder ({build_s:.0f} s to build, not timed); "
        "server `windmaker serve` on 127.0.0.1; Chromium headless at 1280 × 900 "
        "(`" + " ".join(FLAGS) + "`).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
