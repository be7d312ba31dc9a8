"""Every page and report, in both languages, speaks words: no raw codes, no None or NaN, and no
English left on a Chinese page.

The pages are fetched as each demo user (admin, operator, provider, brand) on the small simulated
market the other web tests use; the reports are rendered from the same workspace.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

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
#: in that language) and the demo accounts' user names (data people typed, not interface text).
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


def offences(html: str, lang: str, names: set[str]) -> list[str]:
    """What a reader should not see on this page."""
    found = []
    for text in visible_text(html):
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


def _pages(client: TestClient, role: str) -> list[str]:
    """Every page ``role`` may open: the navigation, one brand, one provider, one application."""
    urls = {
        "admin": ["/workbench", "/providers", "/ecosystem", "/data"],
        "operator": ["/workbench", "/providers", "/ecosystem", "/data"],
        "provider": ["/workbench", "/providers"],
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
    for url in pages:
        found[url] = offences(_fetch(web, url, lang), lang, names)
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
