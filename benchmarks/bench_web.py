"""The operator workbench with 500 brands, rendered in Debian's Chromium.

The workspace is the API benchmark's (``bench_api.build_workspace``: 500 brands × 12 months of
synthetic metric frames diagnosed by the real ladder); ``windmaker serve`` runs in its own
process on 127.0.0.1. Chromium (Playwright, headless) logs in as the operator, whose portfolio
is every brand, and loads ``/workbench`` ``LOADS`` times in a fresh page each time (the HTTP
cache warm, as on a user's second visit; the first load is reported apart). Times come from the
browser's own Navigation Timing entry (``performance.getEntriesByType("navigation")``), from the
start of the navigation: ``responseStart`` (server answered), ``domContentLoadedEventEnd`` (table
parsed, scripts run) and ``loadEventEnd`` (styles, scripts and charts loaded). Target: the page
renders in under 1 s (``loadEventEnd``), reported, not asserted.

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
FIELDS = ("responseStart", "domContentLoadedEventEnd", "loadEventEnd")
TARGET_MS = 1000.0
NAVIGATION = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  return {responseStart: n.responseStart, domContentLoadedEventEnd: n.domContentLoadedEventEnd,
          loadEventEnd: n.loadEventEnd, transferSize: n.transferSize,
          rows: document.querySelectorAll("#portfolio tbody tr").length};
}"""


def _timings(context: Any, url: str, loads: int) -> list[dict[str, float]]:
    out = []
    for _ in range(loads):
        page = context.new_page()
        page.goto(url, wait_until="load")
        page.wait_for_function(
            "performance.getEntriesByType('navigation')[0].loadEventEnd > 0", timeout=60_000
        )
        out.append(page.evaluate(NAVIGATION))
        page.close()
    return out


def measure(base: str, username: str, password: str) -> dict[str, list[dict[str, float]]]:
    """First and repeated loads of ``/workbench`` and of the login page, in Chromium."""
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
            context.close()
        finally:
            browser.close()
    return {"reference": reference, "workbench": workbench}


def _median(rows: list[dict[str, float]], field: str) -> float:
    return float(statistics.median(r[field] for r in rows))


def main() -> str:
    from benchmarks.bench_api import BRANDS, PASSWORD, Server, build_workspace

    with tempfile.TemporaryDirectory(prefix="wm-bench-web-") as tmp:
        t = time.perf_counter()
        workspace = build_workspace(Path(tmp) / "ws")
        build_s = time.perf_counter() - t
        with Server(workspace) as server:
            runs = measure(server.url, "operator", PASSWORD)
    ref, wb = runs["reference"][1:], runs["workbench"][1:]
    first = runs["workbench"][0]
    rows = int(wb[0]["rows"])
    size_kib = max(r["transferSize"] for r in runs["workbench"]) / 1024
    load = _median(wb, "loadEventEnd")
    lines = [
        f"## Workbench in Chromium ({rows} brands on one page, median of {len(wb)} loads)",
        "",
        "| page | responseStart | domContentLoadedEventEnd | loadEventEnd | loadEventEnd / "
        "reference | target |",
        "|---|---|---|---|---|---|",
        "| reference: /login | "
        + " | ".join(f"{_median(ref, f):.0f} ms" for f in FIELDS)
        + " | 1.0× | — |",
        f"| /workbench ({rows} brands, operator) | "
        + " | ".join(f"{_median(wb, f):.0f} ms" for f in FIELDS)
        + f" | {load / _median(ref, 'loadEventEnd'):.1f}× | < {TARGET_MS:.0f} ms "
        f"({'met' if load < TARGET_MS else 'missed'}) |",
        "| /workbench, first load (cold cache) | "
        + " | ".join(f"{first[f]:.0f} ms" for f in FIELDS)
        + " | — | — |",
        "",
        f"Navigation Timing from the browser (ms from navigation start); HTML up to "
        f"{size_kib:.0f} KiB over the wire. Workspace: {BRANDS} synthetic brands diagnosed by "
        f"the real ladder ({build_s:.0f} s to build, not timed); server `windmaker serve` on "
        "127.0.0.1; Chromium headless "
        "(`" + " ".join(FLAGS) + "`).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
