"""The case library's pages on a copy of the diagnosed web market, as the brand and provider
roles in both languages (a playbook opened as a page is the report itself, checked whole).

Known answers: the brands' ids and names (``BRANDS_SQL`` of :mod:`tests.case_library`), none of
which a page shows for a brand that has not consented, and the catalogue's words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from tests.case_library import copy_market, identities, no_identity
from tests.web.conftest import login
from windmaker.api.app import create_app
from windmaker.config import Settings
from windmaker.i18n import t

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
EMPTY = re.compile(r"\b(?:None|NaN|nan)\b")


@pytest.fixture(scope="module")
def market(web_market: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return copy_market(web_market, tmp_path_factory.mktemp("web-cases") / "ws")


@pytest.fixture(scope="module")
def web(market: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(market)) as c:
        yield c


def main_text(html: str) -> str:
    main = BeautifulSoup(html, "html.parser").select_one("main")
    assert main is not None
    return main.get_text(" ", strip=True)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("role", ["brand", "provider"])
def test_the_pages_name_no_brand_that_has_not_consented(
    web: TestClient, market: Settings, role: str, lang: str
) -> None:
    login(web, role)
    web.cookies.set("wm_lang", lang)
    brands = identities(market)
    listing = web.get("/cases")
    assert listing.status_code == 200
    soup = BeautifulSoup(listing.text, "html.parser")
    ids = [a.get_text() for a in soup.select("#cases a[href^='/cases/']")]
    assert ids, "the library lists no case"
    assert soup.select_one("h1").get_text(strip=True) == t("cases.title", lang)  # type: ignore[union-attr]
    pages = [listing.text]
    for case_id in ids:
        page = web.get(f"/cases/{case_id}")
        assert page.status_code == 200
        assert t("cases.case_title", lang, case_id=case_id) in main_text(page.text)
        pages.append(page.text)
    playbooks = [a["href"] for a in soup.select("#playbooks a") if "format" not in a["href"]]
    for href in playbooks:
        page = web.get(str(href))
        assert page.status_code == 200
        pages.append(page.text)
    for html in pages:
        # the page's own content (the navigation holds a brand user's link to its own page)
        main = BeautifulSoup(html, "html.parser").select_one("main")
        no_identity(str(main), brands, named=set())
        text = main_text(html)
        assert not SNAKE.search(text) and not EMPTY.search(text), text[:300]
    assert web.get("/cases/C0000000000").status_code == 404


def test_a_brand_user_gives_and_withdraws_its_consent(web: TestClient) -> None:
    login(web, "brand")
    web.cookies.set("wm_lang", "en")
    page = BeautifulSoup(web.get("/cases").text, "html.parser")
    assert page.select_one("#consent p").get_text(strip=True) == t("cases.consent_yours_not", "en")  # type: ignore[union-attr]
    form = {"csrf_token": web.headers["X-CSRF-Token"], "consented": "yes"}
    r = web.post("/cases/consent", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = BeautifulSoup(web.get("/cases").text, "html.parser")
    assert page.select_one("#consent p").get_text(strip=True) == t(
        "cases.consent_yours_given", "en"
    )  # type: ignore[union-attr]
    r = web.post("/cases/consent", data=form | {"consented": "no"}, follow_redirects=False)
    assert r.status_code == 303
    login(web, "provider")
    assert BeautifulSoup(web.get("/cases").text, "html.parser").select_one("#consent") is None
    r = web.post(
        "/cases/consent",
        data={"csrf_token": web.headers["X-CSRF-Token"], "consented": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 404
