"""Monthly reports on a diagnosed simulated market: HTML sections, and a PDF whose text is Chinese
and whose charts were drawn (their legends are text only ECharts puts on the page)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader
from typer.testing import CliRunner

from windmaker.cli.main import app
from windmaker.config import Settings
from windmaker.reports import brand_report
from windmaker.views import ReadModel
from windmaker.workspace import open_warehouse


@pytest.fixture(scope="module")
def readmodel(diagnosed_market: Settings) -> ReadModel:
    rm = ReadModel(lambda: open_warehouse(diagnosed_market))
    rm.reload()
    return rm


@pytest.fixture(scope="module")
def brand_id(readmodel: ReadModel) -> str:
    stages = readmodel.snap.frame("g_stage")
    latest = stages[stages["period"] == stages["period"].max()]
    return str(latest[latest["stage"] == "climbing"]["brand_id"].iloc[0])


def pdf_text(path: Path) -> str:
    # Fonts map some ideographs to Kangxi radicals in the PDF's text layer; NFKC maps them back.
    return unicodedata.normalize(
        "NFKC", "".join(p.extract_text() for p in PdfReader(str(path)).pages)
    )


def test_brand_report_html_has_every_section(readmodel: ReadModel, brand_id: str) -> None:
    html = brand_report(readmodel, brand_id, None, "zh-CN")
    soup = BeautifulSoup(html, "html.parser")
    headings = [h.get_text(" ", strip=True) for h in soup.select("h2")]
    assert headings[0].startswith("阶段: 店铺爬坡")
    assert any(h.startswith("本月变化") for h in headings)
    assert {"STEPS能力雷达", "瓶颈能力", "行动计划"} <= set(headings)
    assert len(soup.select("[data-chart]")) >= 1
    assert len(soup.select("section:nth-of-type(6) tbody tr")) in range(
        3, 6
    )  # the plan: 3-5 actions
    assert "<script src=" not in html  # self-contained: no asset to fetch


def test_english_report(readmodel: ReadModel, brand_id: str) -> None:
    soup = BeautifulSoup(brand_report(readmodel, brand_id, None, "en"), "html.parser")
    assert "Monthly report" in soup.select_one("h1").get_text()
    assert soup.select_one("h2").get_text(strip=True).startswith("Stage: Climbing")


def test_unknown_month_names_the_diagnosed_ones(readmodel: ReadModel, brand_id: str) -> None:
    with pytest.raises(LookupError, match="diagnosed months end with"):
        brand_report(readmodel, brand_id, "2019-01", "zh-CN")


def test_cli_writes_a_chinese_pdf_with_its_charts(
    diagnosed_market: Settings, brand_id: str, tmp_path: Path
) -> None:
    month = ReadModel(lambda: open_warehouse(diagnosed_market))
    month.reload()
    latest = month.snap.latest_period
    assert latest is not None
    result = CliRunner().invoke(
        app,
        [
            "report",
            brand_id,
            "--month",
            f"{latest:%Y-%m}",
            "--pdf",
            "--out",
            str(tmp_path),
            "-w",
            str(diagnosed_market.workspace),
        ],
    )
    assert result.exit_code == 0, result.output
    [pdf] = tmp_path.glob("*.pdf")
    text = pdf_text(pdf)
    assert "月度经营报告" in text and "品牌自播" in text and "行动计划" in text
    # The radar's legend exists only once ECharts has drawn the chart.
    assert "类目中位数" in text and "下一阶段中位数" in text


def test_brand_report_has_trend_trust_and_plan_in_words(
    readmodel: ReadModel, brand_id: str
) -> None:
    soup = BeautifulSoup(brand_report(readmodel, brand_id, None, "zh-CN"), "html.parser")
    assert soup.select_one("#trend-section h2").get_text(strip=True)
    assert soup.select_one("#trust-section h2") is not None
    plan = [td.get_text(" ", strip=True) for td in soup.select("#plan tbody td:nth-of-type(3)")]
    assert plan and all("→" in cell for cell in plan)
    text = soup.select_one("main").get_text(" ", strip=True)
    for raw in ("at_risk_buyers", "repurchase_rate", "None", "5,589.000"):
        assert raw not in text
    assert not any(len(x.split(".")[-1]) == 3 and x.replace(".", "").isdigit() for x in plan)


def test_pdf_has_no_blank_last_page(readmodel: ReadModel, brand_id: str) -> None:
    import io

    from windmaker.reports.render import pdf_bytes

    for lang in ("zh-CN", "en"):
        pages = PdfReader(
            io.BytesIO(pdf_bytes(brand_report(readmodel, brand_id, None, lang)))
        ).pages
        assert pages[-1].extract_text().strip(), f"{lang}: the last of {len(pages)} pages is blank"
