"""Every page and report, in both languages, speaks words: no raw codes, no None or NaN, and no
English left on a Chinese page. The charts count: the words inside each ``data-chart`` option
(series and legend names, axis names, category labels, tooltips' names) are scanned like the
page's text, and the numbers they plot must be rounded.

The pages are fetched as each demo user (admin, operator, provider, brand) on the small simulated
market the other web tests use; the reports are rendered from the same workspace.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from bs4 import BeautifulSoup, Comment, Doctype
from fastapi.testclient import TestClient

from tests.web.conftest import login
from windmaker.config import Settings

ROLES = ("admin", "operator", "provider", "brand")
LANGS = ("zh-CN", "en")

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
EMPTY = re.compile(r"\b(?:None|NaN|nan)\b")
WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")

#: ASCII words a Chinese page may show. Acronyms of the method and of the trade (STEPS, GMV,
#: ROAS, KA, SKA, CLV, UV, SKU, MCN), file formats a user uploads or downloads (CSV, XLSX, PDF,
#: Parquet, JSON), the product's own name, "English" (the language switch names its language
#: in that language), the demo accounts' user names and the action owner another web test types
#: ("lin", tests/web/test_brand_plan.py): data people typed, not interface text.
ALLOWED_ON_ZH = {
    "STEPS",
    "GMV",
    "ROAS",
    "KA",
    "SKA",
    "CLV",
    "UV",
    "SKU",
    "MCN",
    "CSV",
    "XLSX",
    "PDF",
    "Parquet",
    "JSON",
    "ID",
    "windmaker",
    "English",
    "lin",
    *ROLES,
}


def visible_text(html: str) -> Iterator[str]:
    """Text a reader sees: every text node outside <script>, <style> and <template>."""
    page = BeautifulSoup(html, "html.parser")
    for tag in page(["script", "style", "template"]):
        tag.decompose()
    for node in page.find_all(string=True):
        if isinstance(node, (Comment, Doctype)):
            continue
        if text := str(node).strip():
            yield text


#: Keys of an ECharts option whose string values a reader sees (a legend, a tooltip, an axis or
#: a node shows them); ``data`` lists of strings are category labels. Everything else (type,
#: trigger, color, stack, …) configures the chart and is never shown.
CHART_TEXT_KEYS = {"name", "text", "subtext", "source", "target"}
#: Decimals a plotted number may carry: a tooltip shows the value as it is.
CHART_DECIMALS = 4


def _chart_options(html: str) -> Iterator[Any]:
    for el in BeautifulSoup(html, "html.parser").select("[data-chart]"):
        yield json.loads(str(el["data-chart"]))


def _walk(node: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key, leaf) of a chart option; a list's items carry the list's key."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v, key)
    else:
        yield key, node


def chart_text(html: str) -> Iterator[str]:
    """The words the page's charts show: names, titles, link ends and category labels."""
    for option in _chart_options(html):
        for key, leaf in _walk(option):
            text = leaf.strip() if isinstance(leaf, str) else ""
            if text and key in CHART_TEXT_KEYS | {"data"}:
                yield text


def chart_numbers(html: str) -> Iterator[float]:
    """Every number the page's charts plot (the ``data`` of series, axes and nodes)."""
    for option in _chart_options(html):
        for key, leaf in _walk(option):
            if key in {"data", "value"} and isinstance(leaf, float):
                yield leaf


def offences(html: str, lang: str, names: set[str]) -> list[str]:
    """What a reader should not see on this page, in its text and in its charts."""
    found = [
        f"unrounded {x!r} in a chart"
        for x in chart_numbers(html)
        if x == x and round(x, CHART_DECIMALS) != x
    ]
    for text in [*visible_text(html), *chart_text(html)]:
        cleaned = text
        for n in names:
            cleaned = cleaned.replace(n, " ")
        if m := SNAKE.search(cleaned):
            found.append(f"raw code {m.group()!r} in {text[:80]!r}")
        if m := EMPTY.search(cleaned):
            found.append(f"{m.group()!r} in {text[:80]!r}")
        if lang == "zh-CN":
            english = [w for w in WORD.findall(cleaned) if w not in ALLOWED_ON_ZH]
            if english:
                found.append(f"English {english[:4]} in {text[:80]!r}")
    return found


@pytest.fixture
def names(web_market: Settings) -> set[str]:
    """Brand, provider and influencer names and provider ids: data, shown as the user wrote
    them. Read at each test, since other tests of the session add providers to the store."""
    from windmaker.store import engine_for, list_providers, open_session
    from windmaker.workspace import open_warehouse

    with open_warehouse(web_market) as wh:
        out = set(wh.execute(wh.table("brands").select("name"))["name"].dropna().astype(str))
        out |= set(wh.execute(wh.table("accounts").select("name"))["name"].dropna().astype(str))
    with open_session(engine_for(web_market)) as s:
        out |= {p.name for p in list_providers(s)} | {p.provider_id for p in list_providers(s)}
    return {n for n in out if n}


#: The workbench filtered, sorted and on its second page, and with a filter nothing matches.
WORKBENCH_VIEWS = (
    "/workbench?stage=climbing&sort=net_gmv_t90d&dir=desc&page_size=2&page=2",
    "/workbench?q=no-such-brand",
)


def _pages(client: TestClient, role: str) -> list[str]:
    """Every page ``role`` may open: the navigation, one brand, one provider, one application."""
    urls = {
        "admin": ["/workbench", *WORKBENCH_VIEWS, "/providers", "/ecosystem", "/data"],
        "operator": ["/workbench", *WORKBENCH_VIEWS, "/providers", "/ecosystem", "/data"],
        "provider": ["/workbench", *WORKBENCH_VIEWS, "/providers"],
        "brand": [],
    }[role]
    home = client.get("/", follow_redirects=True)
    assert home.status_code == 200
    page = BeautifulSoup(home.text, "html.parser")
    brands = [a["href"] for a in page.select('a[href^="/brands/"]')]
    brands = brands or [str(home.url.path)]
    listing = BeautifulSoup(client.get("/providers").text, "html.parser")
    providers = [a["href"] for a in listing.select('#registry a[href^="/providers/"]')]
    applications = [a["href"] for a in listing.select('#queue a[href^="/applications/"]')]
    extra = [*brands[:1], *providers[:1], *applications[:1]]
    if brands:
        extra.append(f"/reports/brands/{brands[0].rsplit('/', 1)[-1]}")
        drill = f"{brands[0]}/drill?days=30"
        found = BeautifulSoup(client.get(drill).text, "html.parser")
        down = [a["href"] for a in found.select(".drill-children th a")][:1]
        sessions = BeautifulSoup(client.get(down[0]).text, "html.parser") if down else found
        down += [a["href"] for a in sessions.select("#children-session th a")][:1]
        extra += [drill, f"{brands[0]}/drill/skus", f"{brands[0]}/drill/influencers", *down]
    return [*urls, *extra]


def _fetch(client: TestClient, url: str, lang: str) -> str:
    r = client.get(url, headers={"accept-language": lang})
    assert r.status_code == 200, f"{url}: {r.status_code}"
    return r.text


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("role", ROLES)
def test_every_page_speaks_words(web: TestClient, names: set[str], role: str, lang: str) -> None:
    """Fails on raw snake_case codes, None/NaN and, on zh-CN pages, ASCII English words."""
    web.cookies.clear()
    web.cookies.set("wm_lang", lang)
    found = {"/login": offences(_fetch(web, "/login", lang), lang, names)}
    login(web, role)
    web.cookies.set("wm_lang", lang)
    pages = _pages(web, role)
    assert any(p.startswith("/brands/") for p in pages)
    chart_words = 0
    for url in pages:
        html = _fetch(web, url, lang)
        found[url] = offences(html, lang, names)
        chart_words += len(list(chart_text(html)))
    assert chart_words > 0, "no chart was scanned"  # the brand page draws its radar at least
    bad = [f"{url}: {f}" for url, fs in found.items() for f in fs]
    assert not bad, "\n".join(bad)


@pytest.fixture(scope="module")
def evaluated_market(web_market: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A copy of the web market whose providers were evaluated for the latest month (the copy
    keeps the evaluations away from the pages the other tests read)."""
    import shutil

    from windmaker.services import providers
    from windmaker.services.configs import Configs
    from windmaker.services.identity import workspace_admin
    from windmaker.store import engine_for, open_session
    from windmaker.workspace import open_warehouse

    copy = tmp_path_factory.mktemp("evaluated") / "ws"
    shutil.copytree(web_market.workspace, copy)
    settings = web_market.model_copy(update={"workspace": copy})
    with open_warehouse(settings) as wh, open_session(engine_for(settings)) as s:
        month = wh.execute(wh.table("m_brand_month").select("period"))["period"].max()
        providers.evaluate(
            s, wh, Configs.of(settings), workspace_admin("test"), pd.Timestamp(month).date()
        )
    return settings


@pytest.mark.parametrize("lang", LANGS)
def test_provider_report_speaks_words(
    evaluated_market: Settings, names: set[str], lang: str
) -> None:
    """The provider's monthly report, rendered from the store as the report command does."""
    from windmaker.reports import provider_report
    from windmaker.store import (
        engine_for,
        list_assignments,
        list_evaluations,
        list_providers,
        open_session,
    )

    with open_session(engine_for(evaluated_market)) as s:
        evaluated = [
            (p, ev)
            for p in list_providers(s)
            if (ev := list_evaluations(s, provider_id=p.provider_id))
        ]
        assert evaluated
        provider, evaluations = evaluated[0]
        html = provider_report(
            provider,
            evaluations,
            list_assignments(s, provider_id=provider.provider_id),
            None,
            lang,
        )
    bad = offences(html, lang, names)
    assert not bad, "\n".join(bad)


def test_the_scan_catches_what_it_looks_for() -> None:
    """The scanner itself, on a page with one of each offence and the things it must ignore."""
    page = (
        "<html><head><style>.a_b{}</style><script>var brand_id = null;</script></head><body>"
        '<a href="/brands/B000123" data-x="self_share">B000123</a><p>品牌 GMV ROAS 3.2</p>'
        "<p>repurchase_rate_90d</p><p>None</p><td>NaN</td><p>阶段 Stage</p></body></html>"
    )
    found = offences(page, "zh-CN", {"云栖美妆"})
    flagged = {f.rsplit(" in ", 1)[-1].strip("'") for f in found}
    assert flagged == {"repurchase_rate_90d", "None", "NaN", "阶段 Stage"}, found
    assert offences(page.replace("阶段 Stage", "阶段"), "en", set()) != []
    clean = "<html><body><p>云栖美妆 · 行业KA品牌 · GMV ¥9M</p></body></html>"
    assert offences(clean, "zh-CN", {"云栖美妆"}) == []


def _chart_page(option: dict[str, Any]) -> str:
    return f"<html><body><div data-chart='{json.dumps(option, ensure_ascii=False)}'></div></body></html>"


def test_the_scan_reads_the_charts() -> None:
    """A chart's series name, category label, sankey link end and plotted number are read;
    its configuration (type, trigger, colour) is not."""
    option = {
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0},
        "xAxis": {"type": "category", "data": ["2024-03", "net_gmv"]},
        "series": [
            {"name": "Providers", "type": "line", "color": "#5470c6", "data": [1.5, 0.123456]},
            {"type": "sankey", "data": [{"name": "店铺爬坡"}], "links": [{"source": "None"}]},
        ],
    }
    found = offences(_chart_page(option), "zh-CN", set())
    flagged = {f.rsplit(" in ", 1)[-1].strip("'") for f in found}
    assert flagged == {"net_gmv", "Providers", "None", "a chart"}, found
    assert "unrounded 0.123456 in a chart" in found
    option["xAxis"]["data"] = ["2024-03", "净GMV"]  # type: ignore[index]
    option["series"][0].update(name="服务商数量", data=[1.5, 0.1235])  # type: ignore[index]
    option["series"][1]["links"] = [{"source": "店铺爬坡"}]  # type: ignore[index]
    assert offences(_chart_page(option), "zh-CN", set()) == []


@pytest.mark.parametrize("lang", LANGS)
def test_every_chart_option_speaks_words(lang: str) -> None:
    """Each chart builder of the read model, fed the codes and raw floats the tables hold,
    names them in ``lang`` and rounds what it plots (the rows mimic the result tables)."""
    from windmaker.views import charts

    rows = [
        {"period": "2024-01-01", "net_gmv": 1e6 / 3, "self_gmv": 2e5 / 7, "to_date": False},
        {
            "period": "2024-02-01",
            "net_gmv": 1e6 / 7,
            "self_gmv": 1e5 / 3,
            "to_date": True,
            "days_covered": 16,
        },
    ]
    options = [
        charts.trend(rows, ["net_gmv", "self_gmv", "distribution_gmv", "paid_gmv"], lang),
        charts.radar(
            {
                "capabilities": ["self_operation", "traffic"],
                "brand": [1 / 3, None],
                "category_median": [50.0, 2 / 3],
                "next_stage_median": [None, 70.0],
            },
            lang,
        ),
        charts.bottleneck_bars(
            [{"capability": "private_domain", "rank": 1, "gap": 0.123456789}], lang
        ),
        charts.waterfall([("UV", 1234.5678901), ("AOV", -0.1 - 0.2)], 1e6 / 3, lang, 16),
        charts.stage_distribution([{"period": "2024-01-01", "stage": "ka", "brands": 3}], lang),
        charts.flows([{"source": "climbing", "target": "ka", "brands": 2}], lang),
        charts.tier_progress([{"tier": "十亿级", "count": 3, "target": 100}], lang),
    ]
    page = "".join(_chart_page(o) for o in options)
    assert len(list(chart_text(page))) > 20
    bad = offences(page, lang, {"UV", "AOV"})
    assert bad == [], "\n".join(bad)
