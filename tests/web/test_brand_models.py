"""The brand page's model sections read as a business view: lifetime value by buyer segment,
the paid-traffic response curve, trust against its maxima, influencer profiles and the GMV
waterfall; model parameters only inside the analysts' details, named and rounded.

A small simulated market is taken through the main job with the models fitted and the
influencer recommendations made; the known answers are read back from the warehouse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from tests.conftest import DEMO_PASSWORD
from tests.web.conftest import login
from tests.web.test_vocabulary import offences
from windmaker import numbers
from windmaker.api.app import create_app
from windmaker.config import Settings
from windmaker.i18n import t
from windmaker.views.brand import DRIVERS
from windmaker.workspace import open_warehouse

FAST_MODELS = """\
version: 1
clv:
  min_buyers: 100000000
  pareto_nbd: false
traffic:
  alpha_starts: [0.4]
  history_days: 90
"""
#: Words and numbers the visible page must never show: parameter names and unrounded floats.
PARAMETER = re.compile(r"\b(?:r|s|a|b|alpha|beta|loglik\w*|gg_\w+|p_alive\w*|None|nan)\s+-?\d")
UNROUNDED = re.compile(r"\d\.\d{3,}")


@dataclass(frozen=True)
class Modelled:
    settings: Settings
    brand: str  # a brand with every model section and a trust alert
    frames: dict[str, pd.DataFrame]


@pytest.fixture(scope="module")
def modelled(tmp_path_factory: pytest.TempPathFactory) -> Modelled:
    from windmaker.ingest import ingest_files
    from windmaker.services import distribution, providers, users
    from windmaker.services.configs import Configs
    from windmaker.services.identity import workspace_admin
    from windmaker.services.run import run_pipeline
    from windmaker.simulator import small_market
    from windmaker.store import engine_for, open_session, upgrade
    from windmaker.workspace import init_workspace

    root = tmp_path_factory.mktemp("models")
    files = small_market(root / "files", seed=3, brands=20, months=6)
    config = root / "config"
    config.mkdir()
    (config / "models.yaml").write_text(FAST_MODELS, encoding="utf-8")
    settings = init_workspace(root / "ws").model_copy(update={"config_dir": config})
    assert ingest_files(settings, sorted(files.glob("*.parquet")), progress=False).rejected == 0
    engine = engine_for(settings)
    upgrade(engine)
    with open_session(engine) as session:
        providers.load(
            session,
            workspace_admin("import"),
            *providers.read_ecosystem_folder(Path(files) / "ecosystem"),
        )
    run_pipeline(settings, models=True)
    with open_warehouse(settings) as wh:
        distribution.recommend_influencers(wh, Configs.of(settings))
        with open_session(engine) as session:
            users.create_demo_users(
                session, wh, workspace_admin("demo"), password=DEMO_PASSWORD, portfolio_size=20
            )
        frames = {
            name: wh.execute(wh.table(name))
            for name in (
                "mdl_clv_brand",
                "mdl_clv_buyers",
                "mdl_traffic_curves",
                "mdl_budget",
                "mdl_recommendations",
                "mdl_trust_alerts",
            )
        }
    engine.dispose()
    alerted = frames["mdl_trust_alerts"]
    alerted = set(alerted.loc[alerted["account_id"].isna(), "brand_id"])
    every = (
        set(frames["mdl_clv_brand"]["brand_id"])
        & set(frames["mdl_budget"]["brand_id"])
        & set(frames["mdl_recommendations"]["brand_id"])
        & alerted
    )
    assert every, "no brand has every model section and a trust alert"
    return Modelled(settings, sorted(every)[0], frames)


@pytest.fixture(scope="module")
def client(modelled: Modelled) -> Iterator[TestClient]:
    with TestClient(create_app(modelled.settings)) as c:
        yield c


def fetch(client: TestClient, path: str, lang: str = "zh-CN") -> str:
    client.cookies.set("wm_lang", lang)
    r = client.get(path)
    assert r.status_code == 200, r.text[:500]
    return r.text


def page(client: TestClient, path: str, lang: str = "zh-CN") -> BeautifulSoup:
    return BeautifulSoup(fetch(client, path, lang), "html.parser")


def chart(section: Any) -> dict[str, Any]:
    el = section.select_one("[data-chart]")
    assert el is not None
    return json.loads(str(el["data-chart"]))


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_no_model_parameter_outside_the_analysts_details(
    client: TestClient, modelled: Modelled, lang: str
) -> None:
    login(client, "admin")
    html = fetch(client, f"/brands/{modelled.brand}", lang)
    soup = BeautifulSoup(html, "html.parser")
    for sel in ("#clv", "#traffic", "#trust-section", "#recommendations"):
        assert soup.select_one(sel) is not None, sel
    details = soup.select(".model-details")
    assert len(details) == 2
    inside = " ".join(d.get_text(" ", strip=True) for d in details)
    for d in details:
        d.decompose()
    for tag in soup(["script", "style"]):
        tag.decompose()
    visible = soup.get_text(" ", strip=True)
    assert not PARAMETER.search(visible), PARAMETER.search(visible)
    assert not UNROUNDED.search(visible), UNROUNDED.search(visible)
    assert "loglik" not in visible and "bg_nbd" not in visible
    # inside the details: named and rounded
    assert not UNROUNDED.search(inside) and "loglik" not in inside and "None" not in inside
    assert ("对数似然" if lang == "zh-CN" else "Log-likelihood") in inside


def test_the_model_sections_pass_the_vocabulary_scan(
    client: TestClient, modelled: Modelled
) -> None:
    """The raw-code / None / English-on-zh scan of test_vocabulary, on a page with every model."""
    login(client, "admin")
    names = {str(n) for n in modelled.frames["mdl_recommendations"]["name"]}
    with open_warehouse(modelled.settings) as wh:
        names |= {str(n) for n in wh.execute(wh.table("brands"))["name"]}
    for lang in ("zh-CN", "en"):
        html = fetch(client, f"/brands/{modelled.brand}", lang)
        assert offences(html, lang, names) == []


def test_segments_add_up_to_the_buyers_the_model_scored(
    client: TestClient, modelled: Modelled
) -> None:
    login(client, "admin")
    soup = page(client, f"/brands/{modelled.brand}", "en")
    buyers = modelled.frames["mdl_clv_buyers"]
    mine = buyers[buyers["brand_id"] == modelled.brand]
    by_segment = mine.groupby("segment").size()
    shown = {
        tr["data-segment"]: tr.select("td")[0].get_text(strip=True)
        for tr in soup.select("#clv-segments tbody tr")
    }
    assert list(shown) == ["active_fan", "new", "at_risk", "lapsed"]
    for seg, text in shown.items():
        assert text == numbers.count(int(by_segment.get(seg, 0)), "en"), seg
    brand_row = modelled.frames["mdl_clv_brand"].set_index("brand_id").loc[modelled.brand]
    assert int(brand_row["buyers"]) == len(mine) == int(by_segment.sum())
    assert soup.select_one("#clv-total").get_text(strip=True) == numbers.count(len(mine), "en")
    at_risk = mine[mine["segment"] == "at_risk"]
    value = float(at_risk["expected_value_365d"].astype(float).sum())
    sentence = soup.select_one("#clv-reengage").get_text(" ", strip=True)
    assert (
        f"Re-engage the {numbers.count(len(at_risk), 'en')} at-risk buyers, worth "
        f"{numbers.money(value, 'en')}"
    ) in sentence
    horizons = [th.get_text(strip=True) for th in soup.select("#clv-per-buyer tbody th")]
    assert horizons == ["90 days", "180 days", "365 days"]
    per_buyer = float(mine["expected_value_365d"].astype(float).mean())
    cells = [
        tr.select("td")[0].get_text(strip=True) for tr in soup.select("#clv-per-buyer tbody tr")
    ]
    assert cells[-1] == numbers.money(per_buyer, "en")


def test_response_curve_marks_today_break_even_and_the_budget(
    client: TestClient, modelled: Modelled
) -> None:
    login(client, "admin")
    soup = page(client, f"/brands/{modelled.brand}", "zh-CN")
    option = chart(soup.select_one("#traffic"))
    assert option["wm"] == {"lang": "zh-CN", "value": "money", "axis": "money"}
    line = option["series"][0]
    marks = line["markPoint"]["data"]
    assert [m["name"].split(" ")[0] for m in marks] == ["当前", "盈亏平衡", "建议"]
    assert len(line["markLine"]["data"]) == 3
    for x, y in [*line["data"], *(m["coord"] for m in marks)]:
        assert isinstance(x, int) and isinstance(y, int)
    curves = modelled.frames["mdl_traffic_curves"].set_index("brand_id").loc[modelled.brand]
    budget = modelled.frames["mdl_budget"].set_index("brand_id").loc[modelled.brand]
    today = round(float(curves["current_spend"]) * 30)
    recommended = round(float(budget["recommended_spend"]) * 30)
    assert marks[0]["coord"][0] == today and marks[2]["coord"][0] == recommended
    assert marks[1]["coord"][0] == round(float(curves["break_even_spend"]) * 30)
    # the curve is the stored model: at today's spend it predicts the budget table's GMV
    assert marks[0]["coord"][1] == pytest.approx(
        float(budget["predicted_gmv_current"]) * 30, abs=30
    )
    sentence = soup.select_one("#traffic-sentence").get_text(" ", strip=True)
    gain = float(budget["predicted_gmv_recommended"]) / float(budget["predicted_gmv_current"]) - 1
    assert f"每月投流 {numbers.money(today, 'zh-CN')}" in sentence
    assert f"建议预算为每月 {numbers.money(recommended, 'zh-CN')}" in sentence
    assert f"付费GMV {numbers.change(gain, 'zh-CN')}" in sentence
    assert option["xAxis"]["name"] == "每月投流花费" and option["yAxis"]["name"] == "每月付费GMV"


def test_trust_parts_show_points_of_their_maximum_and_the_cause(
    client: TestClient, modelled: Modelled
) -> None:
    from windmaker.models.trust import load_config

    weights = load_config().score.weights
    login(client, "admin")
    soup = page(client, f"/brands/{modelled.brand}", "zh-CN")
    rows = soup.select("#trust tbody tr")
    assert [r["data-part"] for r in rows] == list(weights)
    for r in rows:
        text = r.select_one(".points").get_text(strip=True)
        got = re.fullmatch(r"(\d+)/(\d+) 分", text)
        assert got, text
        assert int(got.group(2)) == round(100 * weights[r["data-part"]])
        assert int(got.group(1)) <= int(got.group(2))
        assert r.select_one("meter")["max"] == got.group(2)
    assert rows[0].th is not None and rows[0].th.get_text(strip=True) == "退款率"
    cause = soup.select_one("#trust-cause").get_text(" ", strip=True)
    alerts = modelled.frames["mdl_trust_alerts"]
    kinds = set(alerts.loc[alerts["brand_id"] == modelled.brand, "kind"])
    assert ("信任分" in cause and "低于门槛" in cause) or "疑似刷单订单占" in cause
    if "low_trust" in kinds and "低于门槛" in cause:
        # the weakest parts are named with their points
        assert re.search(r"类目参考 .+（\d+/\d+ 分）", cause), cause


def test_influencers_read_as_profiles_with_their_own_reasons(
    client: TestClient, modelled: Modelled
) -> None:
    login(client, "admin")
    soup = page(client, f"/brands/{modelled.brand}", "en")
    cards = soup.select("#influencers li.profile")
    recs = modelled.frames["mdl_recommendations"]
    mine = recs[(recs["brand_id"] == modelled.brand) & recs["sku_id"].isna()].sort_values("rank")
    assert [c["data-account"] for c in cards] == list(mine["account_id"].astype(str))[:10]
    reasons = [c.select_one(".reason").get_text(strip=True) for c in cards]
    assert len(set(reasons)) > len(reasons) // 2, reasons
    text = soup.select_one("#recommendations").get_text(" ", strip=True)
    for pct in re.findall(r"([\d,]+(?:\.\d+)?)%", text):
        assert float(pct.replace(",", "")) <= 1000, pct
    first = cards[0].get_text(" ", strip=True)
    for label in ("Audience price band", "Orders per 1,000 viewers", "GMV, last 12 months"):
        assert label in first
    assert "fans" in cards[0].h3.get_text(" ", strip=True)
    profile = json.loads(mine.iloc[0]["reason_params"])["profile"]
    assert numbers.money(profile["gmv"], "en") in first
    # growth beyond 1,000% anywhere in the lists is capped, never printed as it is
    growth = {
        str(a): json.loads(p)["profile"]["growth"]
        for a, p in zip(mine["account_id"], mine["reason_params"], strict=True)
    }
    for card in cards:
        g = growth[card["data-account"]]
        if g is not None and g > 10 and "viewers" in card.select_one(".reason").get_text():
            assert ">+1,000%" in card.select_one(".reason").get_text()


def test_invite_creates_an_action_item(client: TestClient, modelled: Modelled) -> None:
    login(client, "operator")
    path = f"/brands/{modelled.brand}"
    r = client.get(path)
    if r.status_code == 404:  # the operator's portfolio may not hold this brand
        login(client, "admin")
    soup = page(client, path, "en")
    card = soup.select("#influencers li.profile")[1]
    form = card.select_one("form.invite-form")
    assert form is not None and form.button.get_text(strip=True) == "Invite"
    data = {i["name"]: i.get("value", "") for i in form.select("input")}
    assert data["action_id"] == f"invite:{card['data-account']}"
    r = client.post(form["action"], data=data, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    after = page(client, path, "en").select_one(
        f"#influencers li.profile[data-account='{card['data-account']}']"
    )
    assert after.select_one("form.invite-form") is None
    assert after.select_one(".pill").get_text(strip=True) == "Open"
    from windmaker.services import actions
    from windmaker.services.identity import workspace_admin
    from windmaker.store import engine_for, open_session

    with open_session(engine_for(modelled.settings)) as s:
        items = actions.brand_items(s, workspace_admin("test"), modelled.brand)
    assert f"invite:{card['data-account']}" in {i.action_id for i in items}


def test_brand_user_reads_the_sections_without_invite_buttons(
    client: TestClient, modelled: Modelled
) -> None:
    login(client, "brand")
    from windmaker.store import engine_for, get_user_by_name, open_session

    with open_session(engine_for(modelled.settings)) as s:
        user = get_user_by_name(s, username="brand")
        assert user is not None
        brand = user.brand_id
    soup = page(client, f"/brands/{brand}", "zh-CN")
    assert soup.select("form.invite-form") == []


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_waterfall_labels_every_bar_in_money(lang: str) -> None:
    from windmaker.views.charts import waterfall

    option = waterfall(
        [("UV", 69646.40313049138), ("AOV", -12345.678)], 1e6 / 3, lang, ends=("A", "B")
    )
    assert option["wm"] == {"lang": lang, "value": "money", "labels": True}
    base, bars = option["series"]
    assert base["label"] == {"show": False}
    labels = [b["label"]["formatter"] for b in bars["data"]]
    assert labels == [
        numbers.money(333333, lang),
        "+" + numbers.money(69646, lang),
        numbers.money(-12346, lang),
        numbers.money(round(1e6 / 3 + 69646.40313049138 - 12345.678), lang),
    ]
    for v in [*base["data"], *(b["value"] for b in bars["data"])]:
        assert float(v) == round(float(v))
    assert option["xAxis"]["data"] == ["A", "UV", "AOV", "B"]


def test_brand_waterfall_names_its_months(client: TestClient, modelled: Modelled) -> None:
    login(client, "admin")
    soup = page(client, f"/brands/{modelled.brand}", "zh-CN")
    options = [json.loads(str(e["data-chart"])) for e in soup.select("[data-chart]")]
    falls = [o for o in options if o.get("wm", {}).get("labels") and "stack" in str(o)]
    assert falls, "no waterfall on the page"
    labels = falls[0]["xAxis"]["data"]
    assert labels[1:5] == [t(f"driver.{d}", "zh-CN") for d in DRIVERS]
    assert re.fullmatch(r"\d{4}年\d{1,2}月", labels[-1]) or labels[-1] == "本月至今"
    for b in falls[0]["series"][1]["data"]:
        assert b["label"]["formatter"].lstrip("+-").startswith("¥")


def test_a_past_month_shows_no_later_trust_alert() -> None:
    """Known answer: scores for January to March and an alert raised in March. Read as of
    February, the trust section states February's score and no alert cause (the March alert
    came later); read as of March it states the alert's cause and its month."""
    from datetime import date

    from windmaker.views.models_view import trust_view

    months = [date(2026, m, 1) for m in (1, 2, 3)]
    scores = [
        {"period": p, "score": 80.0 - 10 * i, "status": "scored"} for i, p in enumerate(months)
    ]
    alerts = [
        {"period": months[2], "kind": "score_low", "account_id": None, "score": 60.0},
    ]
    maxima = {"refund_rate": 20.0}
    february = trust_view(scores, alerts, months[1], "en", maxima)
    march = trust_view(scores, alerts, months[2], "en", maxima)
    assert february is not None and march is not None
    assert february["score_text"] == "70" and february["cause"] is None
    assert february["alert_period_text"] is None
    assert march["cause"] and march["alert_period_text"] == numbers.month(months[2], "en")
