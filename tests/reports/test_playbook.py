"""A category's playbook as HTML and PDF, in zh-CN and English, on a copy of the diagnosed
simulated market, read as the brand role and as the provider role.

Known answers: the catalogues' words (each language's own), and the brands' ids and names
(``BRANDS_SQL`` of :mod:`tests.case_library`): none of a brand that has not consented is in the
page or in the PDF's text, while a brand that consented is (which shows the text would hold it).
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterator

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader
from sqlalchemy.orm import Session

from tests.case_library import copy_market, identities, no_identity
from windmaker import store
from windmaker.api.deps import principal_for
from windmaker.config import Settings
from windmaker.growth.case_playbook import CategoryPlaybook
from windmaker.growth.cases import CaseSource
from windmaker.i18n import name, t
from windmaker.reports.playbook import playbook_pdf, render_playbook
from windmaker.services import cases
from windmaker.services.configs import Configs
from windmaker.services.identity import Principal, workspace_admin
from windmaker.views import ReadModel
from windmaker.views.cases import case_source
from windmaker.workspace import open_warehouse

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
EMPTY = re.compile(r"\b(?:None|NaN|nan)\b")


@pytest.fixture(scope="module")
def market(web_market: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return copy_market(web_market, tmp_path_factory.mktemp("playbook") / "ws")


@pytest.fixture(scope="module")
def source(market: Settings) -> CaseSource:
    with open_warehouse(market) as wh:
        return case_source(ReadModel.of(wh))


@pytest.fixture
def session(market: Settings) -> Iterator[Session]:
    engine = store.engine_for(market)
    with store.open_session(engine) as s:
        yield s
    engine.dispose()


def user(session: Session, role: str) -> Principal:
    found = store.get_user_by_name(session, username=role)
    assert found is not None
    principal = principal_for(session, found.id)
    assert principal is not None
    return principal


def book(session: Session, market: Settings, source: CaseSource, role: str) -> CategoryPlaybook:
    configs = Configs.of(market)
    category = cases.library(session, configs, source)[0].category
    return cases.playbook(session, configs, user(session, role), source, category)


def pdf_text(data: bytes) -> str:
    # Fonts map some ideographs to Kangxi radicals in the PDF's text layer; NFKC maps them back.
    pages = PdfReader(io.BytesIO(data)).pages
    return unicodedata.normalize("NFKC", "".join(p.extract_text() for p in pages))


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("role", ["brand", "provider"])
def test_the_page_speaks_the_catalogue_and_names_no_one(
    market: Settings, source: CaseSource, session: Session, lang: str, role: str
) -> None:
    playbook = book(session, market, source, role)
    assert playbook.steps and playbook.cases >= 1
    html = render_playbook(playbook, lang)
    soup = BeautifulSoup(html, "html.parser")
    main = soup.select_one("main")
    assert main is not None
    text = main.get_text(" ", strip=True)
    assert soup.select_one("h1").get_text(strip=True) == t(  # type: ignore[union-attr]
        "cases.playbook_title", lang, category=name("category", playbook.category, lang)
    )
    for key in ("cases.method", "cases.evidence", "cases.anonymity_note"):
        assert t(key, lang) in text
    step = playbook.steps[0]
    assert f"{name('stage', step.from_stage, lang)} → {name('stage', step.to_stage, lang)}" in text
    rows = soup.select(f'section[data-step="{step.step}"] table.cases tbody tr')
    assert [r["data-case"] for r in rows] == [c.case_id for c in step.cases]
    assert not SNAKE.search(text) and not EMPTY.search(text), text[:400]
    if lang == "zh-CN":
        assert (
            t("cases.anonymous_brand", lang, category=name("category", playbook.category, lang))
            in text
        )
    no_identity(html, identities(market), named=set())


def test_the_pdf_renders_in_both_languages_without_a_non_consenting_brand(
    market: Settings, source: CaseSource, session: Session
) -> None:
    brands = identities(market)
    for lang, role in (("zh-CN", "brand"), ("en", "provider")):
        text = pdf_text(playbook_pdf(book(session, market, source, role), lang))
        for key in ("cases.method", "cases.evidence", "cases.score_change_axis"):
            # the chart's axis name is on the page only once ECharts has drawn it
            assert unicodedata.normalize("NFKC", t(key, lang)) in text, key
        no_identity(text, brands, named=set())


def test_a_brand_that_consented_is_named_in_the_pdf(
    market: Settings, source: CaseSource, session: Session
) -> None:
    configs = Configs.of(market)
    owner = cases.library(session, configs, source)[0].brand_id
    admin = workspace_admin("test")
    cases.set_consent(session, admin, source, owner, True, reason="named in the playbook")
    try:
        text = pdf_text(playbook_pdf(book(session, market, source, "brand"), "zh-CN"))
    finally:
        cases.set_consent(session, admin, source, owner, False)
    brands = identities(market)
    assert owner in text and brands[owner] in text
    no_identity(text, brands, named={owner})
