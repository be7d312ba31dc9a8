"""Build a report's context from the read model, render it to one self-contained HTML page, and
print that page to PDF with Chromium.

The page carries its own CSS and ECharts (inlined from the locally installed package), so the
same file opens in a browser offline and prints with its charts; Chromium waits until every
chart has drawn before printing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from windmaker import contract
from windmaker.api.readmodel import ReadModel
from windmaker.i18n import explain_bottleneck, t
from windmaker.web import charts

HERE = Path(__file__).parent
STATIC = HERE.parent / "web" / "static"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
KEY_METRICS = (
    "net_gmv",
    "orders",
    "buyers",
    "aov",
    "self_share",
    "public_share",
    "distribution_share",
    "repurchase_rate_90d",
    "special_supply_share",
    "refund_rate",
)

_env = Environment(
    loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"])
)
_env.globals["explain_bottleneck"] = explain_bottleneck


def _inline_assets() -> dict[str, str]:
    vendor = STATIC / "vendor" / "echarts.min.js"
    if not vendor.is_file():
        raise FileNotFoundError(f"{vendor} is missing: run `make setup` to install the web assets")
    return {
        "echarts": vendor.read_text(encoding="utf-8"),
        "css": (STATIC / "app.css").read_text(encoding="utf-8"),
    }


def _month(value: str | date | None, available: list[date]) -> date:
    if value is None:
        if not available:
            raise LookupError("no diagnosed month yet: run `windmaker run` first")
        return max(available)
    if isinstance(value, str):
        year, month = value.split("-")[:2]
        value = date(int(year), int(month), 1)
    if value not in available:
        shown = ", ".join(f"{d:%Y-%m}" for d in sorted(available)[-6:])
        raise LookupError(f"no diagnosis for {value:%Y-%m}; diagnosed months end with: {shown}")
    return value


def brand_context(
    rm: ReadModel, brand_id: str, month: str | date | None, lang: str
) -> dict[str, Any]:
    """Stage, scorecard, month-over-month changes, bottlenecks, plan and drivers for one month."""
    brand = rm.brand(brand_id)
    if brand is None:
        raise LookupError(f"unknown brand {brand_id}")
    history = rm.stage_history(brand_id)
    period = _month(month, [h["period"] for h in history])
    series = {r["period"]: r for r in rm.metric_series(brand_id)}
    previous = max((p for p in series if p < period), default=None)
    changes = []
    for m in KEY_METRICS:
        now = series.get(period, {}).get(m)
        before = series.get(previous, {}).get(m) if previous else None
        delta = None if now is None or before in (None, 0) else float(now) / float(before) - 1
        changes.append({"metric": m, "now": now, "before": before, "change": delta})
    diag = rm.diagnosis(brand_id, period)
    score = rm.scorecard(brand_id, period)
    drivers = [
        r
        for r in rm.table_rows("m_gmv_drivers", brand_id)
        if r.get("level") == "brand" and r.get("period") == period
    ]
    waterfall = None
    if drivers and drivers[0].get("decomposable") and drivers[0].get("prev_live_gmv") is not None:
        d = drivers[0]
        parts = [
            (t(f"driver.{k}", lang), float(d[f"contrib_{k}"] or 0.0))
            for k in ("uv", "watch_time", "conversion", "aov")
        ]
        waterfall = charts.waterfall(parts, float(d["prev_live_gmv"]), lang)
    return {
        "kind": "brand",
        "brand": brand,
        "period": period,
        "previous": previous,
        "stage": diag["stage"],
        "bottlenecks": diag["bottlenecks"],
        "plan": diag["plan"],
        "capabilities": score["capabilities"],
        "changes": changes,
        "radar": charts.radar(rm.radar(brand_id, period), lang),
        "waterfall": waterfall,
        "trust_alert": score["trust_alert"],
    }


def render_html(context: dict[str, Any], lang: str) -> str:
    template = _env.get_template(f"{context['kind']}.html")

    def tr(key: str, **values: object) -> str:
        return t(key, lang, **values)

    return template.render(t=tr, lang=lang, contract=contract, **_inline_assets(), **context)


def brand_report(
    rm: ReadModel, brand_id: str, month: str | date | None = None, lang: str = "zh-CN"
) -> str:
    """The monthly brand report as one self-contained HTML page."""
    return render_html(brand_context(rm, brand_id, month, lang), lang)


def provider_report(
    provider: Any,
    evaluations: list[Any],
    clients: list[Any],
    month: str | date | None = None,
    lang: str = "zh-CN",
) -> str:
    """The monthly provider report (evaluation, standing, clients) as one HTML page."""
    available = [e.period for e in evaluations]
    period = _month(month, available)
    current = next(e for e in evaluations if e.period == period)
    history = sorted(evaluations, key=lambda e: e.period)
    chart = {
        "animation": False,
        "xAxis": {"type": "category", "data": [f"{e.period:%Y-%m}" for e in history]},
        "yAxis": {"type": "value"},
        "series": [{"type": "line", "data": [round(e.score, 1) for e in history]}],
    }
    context = {
        "kind": "provider",
        "provider": provider,
        "period": period,
        "evaluation": current,
        "history_chart": chart,
        "clients": clients,
    }
    return render_html(context, lang)


def to_pdf(html: str, out: Path, *, timeout_ms: int = 30_000) -> Path:
    """Print ``html`` to ``out`` with Chromium (A4), after every chart on the page has drawn.

    Playwright's sync API refuses to start in a thread whose event loop is running (a server's,
    or another Playwright session's), so the printing always runs on a thread of its own.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_print_pdf, html, out, timeout_ms).result()
    return out


def _print_pdf(html: str, out: Path, timeout_ms: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_FLAGS))
        try:
            page = browser.new_page()
            page.set_content(html, wait_until="load", timeout=timeout_ms)
            page.wait_for_function("window.__chartsDrawn === true", timeout=timeout_ms)
            page.pdf(
                path=str(out),
                format="A4",
                print_background=True,
                margin={"top": "12mm", "bottom": "12mm", "left": "10mm", "right": "10mm"},
            )
        finally:
            browser.close()
