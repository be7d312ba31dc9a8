"""The brand page's top half as people read it: the period picker, the radar and scores in
S-T-E-P-S order, the plan in the metric's own units, peer stories, and action items moved
open → doing → done through the page's forms.

Known answers come from the read model the page is built from (the diagnosed months, the plan's
metrics and values) formatted by ``windmaker.numbers``; nothing is read back from the page to
build its own expectation.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest
from bs4 import BeautifulSoup, Tag
from fastapi.testclient import TestClient

from tests.web.conftest import csrf_token, login
from windmaker import numbers
from windmaker.codes import Capability
from windmaker.i18n import name, t
from windmaker.services.identity import Principal
from windmaker.views.brand import month_choices
from windmaker.views.readmodel import ReadModel

STEPS = [c.value for c in Capability]


def one(node: Tag, css: str) -> Tag:
    """The one element ``css`` selects (it must be there)."""
    found = node.select_one(css)
    assert found is not None, css
    return found


def readmodel(client: TestClient) -> ReadModel:
    return client.app.state.windmaker.readmodel  # type: ignore[attr-defined,no-any-return]


def soup(client: TestClient, url: str, lang: str = "en") -> BeautifulSoup:
    client.cookies.set("wm_lang", lang)
    r = client.get(url)
    assert r.status_code == 200, f"{url}: {r.status_code} {r.text[:300]}"
    return BeautifulSoup(r.text, "html.parser")


def planned_brand(client: TestClient, scope: set[str]) -> str:
    """A brand of ``scope`` whose latest plan has actions with peers that improved."""
    rm = readmodel(client)
    best = None
    for b in sorted(scope):
        plan = rm.diagnosis(b).plan
        if not plan:
            continue
        best = best or b
        for a in plan:
            peers = a.evidence.peers if a.evidence else []
            if any(p.from_ is not None and p.to is not None and p.to > p.from_ for p in peers):
                return b
    assert best is not None, "no brand in scope has a plan"
    return best


def test_period_picker_lists_every_diagnosed_month_newest_first(
    web: TestClient, scopes: dict[str, set[str]]
) -> None:
    login(web, "admin")
    brand = planned_brand(web, scopes["operator"])
    months = [h["period"] for h in readmodel(web).stage_history(brand)]
    assert len(months) >= 2
    page = soup(web, f"/brands/{brand}", "zh-CN")
    options = page.select("#period-picker select[name=month] option")
    newest_first = sorted(months, reverse=True)
    assert [o["value"] for o in options] == [f"{m:%Y-%m}" for m in newest_first]
    assert options[0].get_text(strip=True).startswith(f"{newest_first[0].year}年")
    assert options[0].has_attr("selected")
    # an older month is served, and picked in the select
    older = newest_first[1]
    page = soup(web, f"/brands/{brand}?month={older:%Y-%m}")
    chosen = one(page, "#period-picker option[selected]")
    assert chosen is not None and chosen["value"] == f"{older:%Y-%m}"
    assert numbers.month(older, "en") in one(page, "#brand-name").get_text()
    assert web.get(f"/brands/{brand}?month=1999-01").status_code == 404


def test_month_the_data_ends_inside_is_marked_to_date() -> None:
    history = [{"period": date(2026, 10, 1)}, {"period": date(2026, 11, 1)}]
    series = [
        {"period": date(2026, 10, 1), "to_date": False},
        {"period": date(2026, 11, 1), "to_date": True, "days_covered": 16},
    ]
    zh = month_choices(history, series, "zh-CN")
    assert [(m["value"], m["label"]) for m in zh] == [
        ("2026-11", "2026年11月 · 本月至今"),
        ("2026-10", "2026年10月"),
    ]
    assert month_choices(history, series, "en")[0]["label"] == "Nov 2026 · Month to date"


def test_radar_and_scores_run_in_steps_order(web: TestClient, scopes: dict[str, set[str]]) -> None:
    login(web, "admin")
    brand = planned_brand(web, scopes["operator"])
    page = soup(web, f"/brands/{brand}", "zh-CN")
    option = json.loads(str(one(page, "section .chart")["data-chart"]))
    names = [i["name"] for i in option["radar"]["indicator"]]
    assert names == [t(f"capability.{c}", "zh-CN") for c in STEPS]
    assert {(i["min"], i["max"]) for i in option["radar"]["indicator"]} == {(0, 100)}
    assert option["radar"]["axisLabel"]["show"] is True and option["wm"]["value"] == "score"
    legend = [d["name"] for d in option["series"][0]["data"]]
    assert "下一阶段中位数" in legend or len(legend) < 3
    assert "上一阶梯" not in page.get_text()
    rows = [tr["data-capability"] for tr in page.select("#scores tbody tr")]
    assert rows == STEPS


def test_plan_rows_read_in_the_metric_units_with_names(
    web: TestClient, scopes: dict[str, set[str]]
) -> None:
    login(web, "admin")
    brand = planned_brand(web, scopes["operator"])
    plan = readmodel(web).diagnosis(brand).plan
    page = soup(web, f"/brands/{brand}", "zh-CN")
    rows = page.select("#plan tbody tr[data-action]")
    assert [r["data-action"] for r in rows] == [a.action_id for a in plan]
    for row, a in zip(rows, plan, strict=True):
        assert a.metric is not None
        current = one(row, ".plan-current").get_text(strip=True)
        assert current == numbers.metric(a.metric, a.current, "zh-CN")
        assert one(row, ".plan-target").get_text(strip=True) == numbers.metric(
            a.metric, a.target, "zh-CN"
        )
        moves = one(row, ".plan-moves").get_text(strip=True)
        assert name("metric", a.metric, "zh-CN") in moves
        assert t(f"capability.{a.capability}", "zh-CN") in moves
        assert a.metric not in row.get_text()  # no raw key
        if numbers.unit_of(a.metric) == "share":
            assert current.endswith("%")
        assert not re.search(r"\d\.\d{3}", current)  # neither 0.653 nor 5,589.000


def test_every_plan_metric_has_a_name_and_a_unit() -> None:
    """Every metric the playbook or a model puts in a plan reads as a name in both languages."""
    from importlib.resources import files

    import yaml

    from windmaker.i18n import messages

    playbook = yaml.safe_load(
        files("windmaker.config.defaults").joinpath("playbook.yaml").read_text("utf-8")
    )
    metrics = {"at_risk_buyers", "paid_spend_month"}  # the models' actions (growth.model_feed)
    for capabilities in playbook["stages"].values():
        for entries in capabilities.values():
            metrics |= {e["metric"] for e in entries}
    assert len(metrics) > 10
    for lang in ("en", "zh-CN"):
        missing = sorted(m for m in metrics if f"metric.{m}" not in messages(lang))  # type: ignore[arg-type]
        assert missing == [], lang
    assert numbers.metric("paid_spend_month", 125000.0, "zh-CN") == "¥12.5万"
    assert numbers.metric("at_risk_buyers", 5589.0, "en") == "5,589"


class StoryMarket:
    """The few read-model answers a peer story needs: B1 (beauty) plans to raise its repurchase
    rate; peers P1 (31% → 44% in 4 months, net GMV ¥100,000 → ¥138,000 over that stay) and P2
    (fell: no story); the category holds ``brands`` brands."""

    min_category_brands = 5

    def __init__(self, brands: int = 12) -> None:
        self.brands = brands

    def brand(self, brand_id: str) -> dict[str, str]:
        return {"brand_id": brand_id, "category": "beauty"}

    def category_brands(self, category: object, period: object) -> int:
        return self.brands

    def diagnosis(self, brand_id: str, period: object = None) -> Any:
        from windmaker.views.records import Diagnosis

        peers = [
            {"brand_id": "P1", "from": 0.31, "to": 0.44, "months": 4, "censored": False},
            {"brand_id": "P2", "from": 0.30, "to": 0.25, "months": 2, "censored": False},
        ]
        action = {
            "rank": 1,
            "action_id": "ka_repurchase",
            "period": date(2026, 10, 1),
            "capability": "private_domain",
            "metric": "repurchase_rate_90d",
            "direction": "higher",
            "current": 0.18,
            "target": 0.31,
            "evidence": {"step": "climbing→ka", "peers": peers},
        }
        return Diagnosis(stage=None, bottlenecks=[], plan=[action])  # type: ignore[list-item]

    def stage_history(self, brand_id: str) -> list[dict[str, Any]]:
        stages = ["zero_breaking", "climbing", "climbing", "climbing", "climbing", "ka"]
        return [{"period": date(2026, m + 1, 1), "stage": s} for m, s in enumerate(stages)]

    def metric_series(self, brand_id: str, metrics: Any = None) -> list[dict[str, Any]]:
        gmv = {2: 100000.0, 3: 110000.0, 4: 120000.0, 5: 138000.0, 6: 150000.0}
        return [{"period": date(2026, m, 1), "net_gmv": v} for m, v in gmv.items()]


def test_peer_stories_are_anonymous_and_only_of_peers_that_improved() -> None:
    from windmaker.views.evidence import plan_stories

    operator = Principal(2, "olga", "operator", frozenset({"B1", "P1"}))
    far = Principal(3, "otto", "operator", frozenset({"B1"}))
    brand = Principal(4, "bert", "brand", frozenset({"B1"}), brand_id="B1")
    rm: Any = StoryMarket()
    zh = plan_stories(rm, "B1", date(2026, 10, 1), "zh-CN", brand)["ka_repurchase"]
    assert [s.text for s in zh] == [
        "一个规模相近的美妆品牌在4个月内将90天内回购率从31%提升至44%，GMV +38%"
    ]
    assert zh[0].peer_id is None
    en = plan_stories(rm, "B1", date(2026, 10, 1), "en", operator)["ka_repurchase"]
    assert [(s.text, s.peer_id) for s in en] == [
        (
            "A similar-sized Beauty brand: Returned within 90 days from 31% to 44% in 4 months, "
            "GMV +38%",
            "P1",
        )
    ]
    assert plan_stories(rm, "B1", None, "en", far)["ka_repurchase"][0].peer_id is None
    # a category too small to stay anonymous: a brand user reads no story, an operator does
    assert plan_stories(StoryMarket(3), "B1", None, "en", brand) == {}  # type: ignore[arg-type]
    assert plan_stories(StoryMarket(3), "B1", None, "en", operator)["ka_repurchase"]  # type: ignore[arg-type]


def test_brand_user_evidence_has_no_link_and_no_other_brand(
    web: TestClient, scopes: dict[str, set[str]]
) -> None:
    login(web, "brand")
    mine = next(iter(scopes["brand"]))
    page = soup(web, f"/brands/{mine}", "zh-CN")
    evidence = page.select("#plan .plan-evidence")
    assert evidence, "the plan has no evidence column"
    assert not any(e.select("a") for e in evidence)
    text = " ".join(e.get_text(" ", strip=True) for e in evidence)
    assert text.strip()
    other_ids = readmodel(web).brand_ids() - {mine}
    assert not any(re.search(rf"\b{re.escape(b)}\b", text) for b in other_ids)


def _status(page: BeautifulSoup, action_id: str) -> str | None:
    row = one(page, f'#plan tr[data-action="{action_id}"]')
    assert row is not None
    return row.get("data-status")  # type: ignore[return-value]


def test_action_item_lifecycle_through_the_page(
    web: TestClient, scopes: dict[str, set[str]]
) -> None:
    login(web, "operator")
    brand = planned_brand(web, scopes["operator"])
    url = f"/brands/{brand}"
    action = readmodel(web).diagnosis(brand).plan[-1].action_id
    token = csrf_token(web, url)
    r = web.post(
        f"{url}/assign",
        data={"csrf_token": token, "action_id": action, "owner": "lin", "due_date": "2026-12-31"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith(url)
    page = soup(web, url, "zh-CN")
    assert _status(page, action) == "open"
    row = one(page, f'#plan tr[data-action="{action}"]')
    assert "待办" in one(row, ".pill").get_text() and "2026年12月31日截止" in row.get_text()
    for step, word in (("doing", "进行中"), ("done", "已完成")):
        form = one(row, "form.status-form")
        assert form is not None and one(form, "input[name=status]")["value"] == step
        r = web.post(
            str(form["action"]),
            data={"csrf_token": token, "status": step},
            follow_redirects=False,
        )
        assert r.status_code == 303
        page = soup(web, url, "zh-CN")
        row = one(page, f'#plan tr[data-action="{action}"]')
        assert _status(page, action) == step and word in one(row, ".pill").get_text()
    assert row.select_one("form.status-form") is None  # done is the end
    lines = [li.get_text(" ", strip=True) for li in row.select(".item-history li")]
    assert len(lines) == 3
    assert "operator" in lines[0] and "lin" in lines[0]
    assert "待办 → 进行中" in lines[1] and "进行中 → 已完成" in lines[2]


def test_brand_user_moves_its_item_but_cannot_assign_or_touch_another(
    web: TestClient, scopes: dict[str, set[str]]
) -> None:
    mine = next(iter(scopes["brand"]))
    other = sorted(scopes["admin"] - scopes["brand"])[0]
    login(web, "admin")
    rm = readmodel(web)
    items = {}
    for brand in (mine, other):
        action = rm.diagnosis(brand).plan[0].action_id if rm.diagnosis(brand).plan else "act"
        r = web.post(
            f"/api/v1/brands/{brand}/action-items", json={"action_id": action, "owner": "a"}
        )
        assert r.status_code == 201, r.text
        items[brand] = r.json()["id"]
    login(web, "brand")
    token = csrf_token(web, f"/brands/{mine}")
    page = soup(web, f"/brands/{mine}")
    assert not page.select("form.assign-form")
    r = web.post(
        f"/brands/{mine}/assign",
        data={"csrf_token": token, "action_id": "x", "owner": "me"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = web.post(
        f"/brands/{other}/action-items/{items[other]}/status",
        data={"csrf_token": token, "status": "doing"},
    )
    assert r.status_code == 404
    r = web.post(  # another brand's item under the brand's own url is not found either
        f"/brands/{mine}/action-items/{items[other]}/status",
        data={"csrf_token": token, "status": "doing"},
    )
    assert r.status_code == 404
    assert (
        web.patch(f"/api/v1/action-items/{items[other]}", json={"status": "done"}).status_code
        == 404
    )
    r = web.post(f"/api/v1/action-items/{items[mine]}/assignment", json={"owner": "me"})
    assert r.status_code == 403
    r = web.post(
        f"/brands/{mine}/action-items/{items[mine]}/status",
        data={"csrf_token": token, "status": "doing"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    history = web.get(f"/api/v1/action-items/{items[mine]}/history").json()
    assert [(h["kind"], h["from_status"], h["to_status"], h["actor"]) for h in history] == [
        ("created", None, "open", "admin"),
        ("status", "open", "doing", "brand"),
    ]


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_bottlenecks_name_the_stage_reached(
    web: TestClient, scopes: dict[str, set[str]], lang: str
) -> None:
    login(web, "admin")
    rm = readmodel(web)
    found = 0
    for brand in sorted(scopes["operator"]):
        diag = rm.diagnosis(brand)
        if diag.stage is None:
            continue
        rows = [b for b in diag.bottlenecks if b.weakness and b.ranked_by != "criterion"]
        if not rows:
            continue
        page = soup(web, f"/brands/{brand}", lang)
        text = one(page, "#bottlenecks").get_text(" ", strip=True)
        assert not re.search(r"\d\.\d{3}", text)
        found += 1
        if found >= 2:
            break
    assert found
