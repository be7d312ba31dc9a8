"""Reports through the reports service, as the CLI and the web get them: scope, the month, the
file name, and a busy PDF printer answered 503 with ``Retry-After``.

Runs on a copy of the diagnosed simulated market (its providers evaluated on the latest month),
so the known answers are the read model's own: the latest diagnosed month is the default, a
brand outside the caller's portfolio is not found, and a page built by the renderer directly is
the page the service returns. PDFs come from a stubbed printer: Chromium is the browser
tests' concern, the bound on it is this module's.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from tests.conftest import DEMO_PASSWORD
from tests.web.conftest import web_login
from windmaker.api.app import create_app
from windmaker.config import Settings
from windmaker.reports import brand_report as render_brand_report
from windmaker.reports import service as reports
from windmaker.services import providers
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal, workspace_admin
from windmaker.store import engine_for, open_session
from windmaker.views import ReadModel
from windmaker.workspace import open_warehouse

#: Third-party deprecations raised inside ibis' DuckDB backend (not windmaker code).
pytestmark = [
    pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'future.infer_string':DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]


@pytest.fixture(scope="module")
def market(web_market: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    copy = tmp_path_factory.mktemp("reports") / "ws"
    shutil.copytree(web_market.workspace, copy)
    settings = web_market.model_copy(update={"workspace": copy})
    with open_warehouse(settings) as wh, open_session(engine_for(settings)) as s:
        month = wh.execute(wh.table("m_brand_month").select("period"))["period"].max()
        providers.evaluate(
            s, wh, Configs.of(settings), workspace_admin("test"), pd.Timestamp(month).date()
        )
    return settings


@pytest.fixture(scope="module")
def rm(market: Settings) -> ReadModel:
    model = ReadModel(lambda: open_warehouse(market))
    model.reload()
    return model


@pytest.fixture(scope="module")
def web(market: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(market)) as c:
        yield c


def login(client: TestClient, username: str) -> None:
    client.cookies.clear()
    r = web_login(client, username, DEMO_PASSWORD)
    assert r.status_code == 303, r.text


def brands(rm: ReadModel) -> list[str]:
    stages = rm.snap.frame("g_stage")
    return sorted(stages["brand_id"].astype(str).unique())


def test_brand_report_is_the_renderer_page_of_the_latest_month(rm: ReadModel) -> None:
    brand = brands(rm)[0]
    made = reports.brand_report(rm, workspace_admin("t"), brand, None, "en")
    assert made.period == rm.snap.latest_period and made.pdf is None
    assert made.filename == f"brand-{brand}-{made.period:%Y-%m}-en.html"
    assert made.html == render_brand_report(rm, brand, None, "en")


def test_brand_report_outside_scope_or_month_is_not_found(rm: ReadModel) -> None:
    inside, outside = brands(rm)[:2]
    operator = Principal(9, "o", "operator", frozenset({inside}))
    assert reports.brand_report(rm, operator, inside).period == rm.snap.latest_period
    for user, brand, month in (
        (operator, outside, None),
        (operator, "NO-SUCH-BRAND", None),
        (operator, inside, "2019-01"),
        (operator, inside, "not-a-month"),
    ):
        with pytest.raises(ServiceError) as caught:
            reports.brand_report(rm, user, brand, month)
        assert (caught.value.status, caught.value.code) == (404, "not_found")


def test_web_pdf_is_served_under_its_safe_name(
    web: TestClient, rm: ReadModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    printer = reports.PdfPrinter(1, render=lambda html: b"%PDF-stub")
    monkeypatch.setattr(reports, "printer_for", lambda settings=None: printer)
    login(web, "admin")
    brand = brands(rm)[0]
    r = web.get(f"/reports/brands/{brand}", params={"format": "pdf"})
    assert r.status_code == 200 and r.content == b"%PDF-stub"
    assert r.headers["content-type"] == "application/pdf"
    name = f"brand-{brand}-{rm.snap.latest_period:%Y-%m}-zh-CN.pdf"
    assert r.headers["content-disposition"] == f'attachment; filename="{name}"'


def test_web_refuses_a_pdf_while_every_printer_is_busy(
    web: TestClient, rm: ReadModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both slots of the printer are held (two prints under way); the request is refused at
    once with 503, a ``Retry-After`` and the message in the page's language."""
    printer = reports.PdfPrinter(2, wait_seconds=0, render=lambda html: b"%PDF-stub")
    monkeypatch.setattr(reports, "printer_for", lambda settings=None: printer)
    login(web, "admin")
    web.cookies.set("wm_lang", "en")
    brand = brands(rm)[0]
    assert printer._slots.acquire(blocking=False) and printer._slots.acquire(blocking=False)
    try:
        r = web.get(f"/reports/brands/{brand}", params={"format": "pdf"})
    finally:
        printer._slots.release()
        printer._slots.release()
    assert r.status_code == 503
    assert r.headers["retry-after"] == str(reports.RETRY_AFTER_SECONDS)
    assert "try again in" in r.text
    assert web.get(f"/reports/brands/{brand}", params={"format": "pdf"}).status_code == 200


def test_web_provider_report_for_the_provider_itself_only(web: TestClient) -> None:
    login(web, "provider")
    listing = BeautifulSoup(web.get("/providers").text, "html.parser")
    [own] = [
        str(a["href"]).rsplit("/", 1)[-1]
        for a in listing.select('#registry a[href^="/providers/"]')
    ]
    page = BeautifulSoup(web.get(f"/providers/{own}").text, "html.parser")
    link = page.select_one("#report")
    assert link is not None and link["href"] == f"/reports/providers/{own}"
    r = web.get(f"/reports/providers/{own}")
    assert r.status_code == 200 and own in r.text
    login(web, "brand")
    assert web.get(f"/reports/providers/{own}").status_code == 404
