"""Render a report to one self-contained HTML page, and print that page to PDF with Chromium.

The brand report shows the brand page's context (:func:`windmaker.views.brand.brand_context`,
one builder for both), so a report and the page say the same.

The page carries its own CSS and ECharts (inlined from the locally installed package), so the
same file opens in a browser offline and prints with its charts; Chromium waits until every
chart has drawn before printing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from windmaker import contract
from windmaker.i18n import explain_bottleneck, name, reason_text, t
from windmaker.numbers import Formatter
from windmaker.numbers import month as month_name
from windmaker.services.identity import Principal
from windmaker.views import ReadModel
from windmaker.views.brand import brand_context, pick_month

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
_env = Environment(
    loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"])
)
_env.globals["explain_bottleneck"] = explain_bottleneck
_env.globals["reason_text"] = reason_text
_env.globals["name"] = name


def _inline_assets() -> dict[str, str]:
    vendor = STATIC / "vendor" / "echarts.min.js"
    if not vendor.is_file():
        raise FileNotFoundError(f"{vendor} is missing: run `make setup` to install the web assets")
    # the charts' number formatter (the "wm" key of an option), when the web assets carry it
    wm_format = STATIC / "format.js"
    return {
        "echarts": vendor.read_text(encoding="utf-8"),
        "wm_format": wm_format.read_text(encoding="utf-8") if wm_format.is_file() else "",
        "css": (STATIC / "app.css").read_text(encoding="utf-8"),
    }


def render_html(context: dict[str, Any], lang: str) -> str:
    template = _env.get_template(f"{context['kind']}.html")

    def tr(key: str, **values: object) -> str:
        return t(key, lang, **values)

    fmt = Formatter(lang)
    return template.render(
        t=tr, fmt=fmt, lang=lang, contract=contract, **_inline_assets(), **context
    )


def render_brand(
    rm: ReadModel,
    brand_id: str,
    month: str | date | None = None,
    lang: str = "zh-CN",
    viewer: Principal | None = None,
) -> tuple[str, date]:
    """The monthly brand report as one self-contained HTML page, and the month it reports.

    Raises ``LookupError`` for an unknown brand, a brand not diagnosed yet, or a month that
    was not diagnosed.
    """
    context = brand_context(rm, brand_id, lang, month, viewer)
    if not context["history"] or context["period"] is None:
        raise LookupError("no diagnosed month yet: run `windmaker run` first")
    return render_html({"kind": "brand", **context}, lang), context["period"]


def brand_report(
    rm: ReadModel, brand_id: str, month: str | date | None = None, lang: str = "zh-CN"
) -> str:
    """The monthly brand report's HTML (see :func:`render_brand`)."""
    return render_brand(rm, brand_id, month, lang)[0]


def render_provider(
    provider: Any,
    evaluations: Sequence[Any],
    clients: Sequence[Any],
    month: str | date | None = None,
    lang: str = "zh-CN",
) -> tuple[str, date]:
    """The monthly provider report (evaluation, standing, clients) as one HTML page, and the
    month it reports. Raises ``LookupError`` when that month was not evaluated."""
    available = [e.period for e in evaluations]
    period = pick_month(month, available)
    current = next(e for e in evaluations if e.period == period)
    history = sorted(evaluations, key=lambda e: e.period)
    chart = {
        "animation": False,
        "wm": {"lang": lang, "value": "num"},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": [month_name(e.period, lang) for e in history]},
        "yAxis": {"type": "value", "name": t("label.score", lang)},
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
    return render_html(context, lang), period


def provider_report(
    provider: Any,
    evaluations: Sequence[Any],
    clients: Sequence[Any],
    month: str | date | None = None,
    lang: str = "zh-CN",
) -> str:
    """The monthly provider report's HTML (see :func:`render_provider`)."""
    return render_provider(provider, evaluations, clients, month, lang)[0]


def to_pdf(html: str, out: Path, *, timeout_ms: int = 30_000) -> Path:
    """Print ``html`` to ``out`` with Chromium (A4), after every chart on the page has drawn.

    Playwright's sync API refuses to start in a thread whose event loop is running (a server's,
    or another Playwright session's), so the printing always runs on a thread of its own.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_print_pdf, html, out, timeout_ms).result()
    return out


def pdf_bytes(html: str, *, timeout_ms: int = 30_000) -> bytes:
    """``html`` printed to PDF (see :func:`to_pdf`), through a temporary file."""
    with tempfile.TemporaryDirectory() as tmp:
        return to_pdf(html, Path(tmp) / "report.pdf", timeout_ms=timeout_ms).read_bytes()


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
