"""The windmaker plan's allocation as use cases: propose from the stored evaluations, confirm or
reject (audited), admins only.

Known answer: the planted market of ``simulator/plan_response.py`` (24 providers, a year of
evaluations) stored as the evaluation stores it; the stored proposal must be exactly the
domain's allocation and forecast of the same providers and evaluations, and a provider the
allocation funds most gets nothing once it is warned.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import yaml
from sqlalchemy.orm import Session

from windmaker import store
from windmaker.config import Settings
from windmaker.ecosystem import allocation as domain
from windmaker.ecosystem.allocation_estimate import histories_from_frames
from windmaker.ecosystem.allocation_forecast import forecast_tiers
from windmaker.services import allocation as service
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal, workspace_admin
from windmaker.simulator.plan_response import PlanMarket, plan_market
from windmaker.workspace import init_workspace

ADMIN = workspace_admin("alice")
OTHERS = (
    Principal(2, "olga", "operator", frozenset({"B1"})),
    Principal(3, "pete", "provider", frozenset(), provider_id="SP00001"),
    Principal(4, "bert", "brand", frozenset({"B1"}), brand_id="B1"),
)
SEED = 2


@pytest.fixture(scope="module")
def market() -> PlanMarket:
    return plan_market(24, periods=12, seed=SEED)


def planted_store(folder: Path, market: PlanMarket) -> Settings:
    """A workspace whose store holds the planted providers and their evaluations, stored as
    the evaluation use case stores them (metrics JSON, GMV served to the fen)."""
    settings = init_workspace(folder)
    engine = store.engine_for(settings)
    store.upgrade(engine)
    with store.open_session(engine) as s:
        for pid, status, capacity in market.providers.itertuples(index=False):
            store.upsert_provider(
                s,
                provider_id=pid,
                name=f"服务商{pid[-2:]}",
                kind="brand_operation",
                capabilities=["traffic"],
                categories=["beauty"],
                capacity=int(capacity),
                status=status,
                actor="test",
            )
        for r in market.evaluations.itertuples(index=False):
            store.record_evaluation(
                s,
                provider_id=r.provider_id,
                period=r.period,
                metrics={
                    "clients": int(r.clients),
                    "annual_gmv_served": str(r.annual_gmv_served),
                    "client_uplift_year": float(r.client_uplift_year),
                },
                gmv_served=r.gmv_served,
                score=0.0,
                meets_standard=True,
                severe_violation=False,
                reasons=[],
                actor="test",
                commit=False,
            )
        s.commit()
    engine.dispose()
    return settings


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, market: PlanMarket) -> Settings:
    return planted_store(tmp_path_factory.mktemp("allocation") / "ws", market)


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    engine = store.engine_for(settings)
    with store.open_session(engine) as s:
        yield s
    engine.dispose()


def propose(session: Session, market: PlanMarket, **kw: object) -> service.AllocationRecord:
    args: dict[str, object] = {
        "funds_per_period": market.funds_budget[0],
        "traffic_per_period": market.traffic_budget[0],
        "periods": 12,
    }
    return service.propose_allocation(session, Configs(), ADMIN, **(args | kw))  # type: ignore[arg-type]


def test_the_stored_lines_are_the_domains_allocation(session: Session, market: PlanMarket) -> None:
    """The proposal holds exactly what the domain allocates and forecasts for the same providers
    and evaluations (the planted market's frames, handed to the domain directly)."""
    record = propose(session, market)
    assert record.status == "proposed" and record.periods == market.periods
    cfg = Configs().ecosystem
    budget = domain.PlanBudget(market.periods, market.funds_budget, market.traffic_budget)
    estimates = domain.estimate_providers(
        histories_from_frames(market.providers, market.evaluations), budget.periods, cfg.allocation
    )
    want = domain.allocate(estimates, budget, cfg.tiers, cfg.allocation)
    assert want.status == "optimal" and len(record.lines) == len(want.lines) == 24 * 12
    for got, ln in zip(record.lines, want.lines, strict=True):
        assert (got.provider_id, got.period, got.reason_code) == (
            ln.provider_id,
            ln.period,
            ln.reason_code,
        )
        assert got.funds == pytest.approx(ln.funds, abs=0.01)
        assert got.traffic == pytest.approx(ln.traffic, abs=0.01)
        assert got.expected_uplift == pytest.approx(ln.expected_uplift, rel=1e-9)
        assert got.reason_params.keys() == ln.reason_params.keys()
    assert record.funds == pytest.approx(sum(ln.funds for ln in want.lines), abs=0.01)
    assert record.expected_uplift == pytest.approx(want.uplift, rel=1e-9)
    assert record.funds <= 12 * market.funds_budget[0] + 0.01
    forecast = forecast_tiers(
        estimates, want.matrix("funds"), want.matrix("traffic"), cfg.tiers, cfg.allocation
    )
    assert [(x.code, x.now, x.with_plan.low, x.with_plan.high) for x in record.tiers] == [
        (x.code, x.now, x.with_plan.low, x.with_plan.high) for x in forecast.tiers
    ]
    assert [x.without_plan.median for x in record.tiers] == [
        x.without_plan.median for x in forecast.tiers
    ]
    assert record.interval == cfg.allocation.forecast_interval


def test_propose_then_confirm_writes_the_audit_entry(session: Session, market: PlanMarket) -> None:
    record = propose(session, market)
    proposed = store.list_audit(session, subject_type="plan_allocation", subject_id=str(record.id))
    assert [a.action for a in proposed] == ["allocation.proposed"]
    taken = service.decide_allocation(session, ADMIN, record.id, outcome="confirmed", note=" ok ")
    assert (taken.status, taken.decided_by, taken.note) == ("confirmed", "alice", "ok")
    assert taken.decided_at is not None and taken.lines == record.lines
    audit = store.list_audit(session, subject_type="plan_allocation", subject_id=str(record.id))
    assert [a.action for a in audit] == ["allocation.proposed", "allocation.confirmed"]
    detail = audit[-1].detail
    assert (audit[-1].actor, audit[-1].reason, detail["periods"]) == ("alice", "ok", 12)
    assert detail["funds"] == pytest.approx(sum(ln.funds for ln in record.lines), abs=0.01)
    assert detail["traffic"] == pytest.approx(sum(ln.traffic for ln in record.lines), abs=0.01)
    assert detail["expected_uplift"] == pytest.approx(
        sum(ln.expected_uplift for ln in record.lines), abs=0.01
    )
    funded = {ln.provider_id for ln in record.lines if ln.funds > 0 or ln.traffic > 0}
    assert detail["providers_funded"] == len(funded) > 0


def test_a_second_decision_is_a_conflict(
    session: Session, settings: Settings, market: PlanMarket
) -> None:
    record = propose(session, market)
    service.decide_allocation(session, ADMIN, record.id, outcome="rejected", note="too early")
    with pytest.raises(ServiceError) as again:
        service.decide_allocation(session, ADMIN, record.id, outcome="confirmed")
    assert again.value.status == 409
    assert service.get_allocation(session, ADMIN, record.id).status == "rejected"
    # two people at once: the one who read it first and decides second is refused
    other = propose(session, market)
    engine = store.engine_for(settings)
    with store.open_session(engine) as late:
        assert service.get_allocation(late, ADMIN, other.id).status == "proposed"
        service.decide_allocation(session, ADMIN, other.id, outcome="confirmed")
        with pytest.raises(ServiceError) as raced:
            service.decide_allocation(late, workspace_admin("bob"), other.id, outcome="rejected")
        assert raced.value.status == 409
    engine.dispose()
    decided = [
        a.action
        for a in store.list_audit(session, subject_type="plan_allocation", subject_id=str(other.id))
    ]
    assert decided == ["allocation.proposed", "allocation.confirmed"]


def test_only_admins_propose_read_and_decide(session: Session, market: PlanMarket) -> None:
    record = propose(session, market)
    for user in OTHERS:
        calls = (
            lambda u=user: service.propose_allocation(
                session, Configs(), u, funds_per_period=1e6, traffic_per_period=1e9, periods=3
            ),
            lambda u=user: service.list_allocations(session, u),
            lambda u=user: service.get_allocation(session, u, record.id),
            lambda u=user: service.decide_allocation(session, u, record.id, outcome="confirmed"),
        )
        for call in calls:
            with pytest.raises(ServiceError) as refused:
                call()
            assert refused.value.status == 403, user.role
    assert service.get_allocation(session, ADMIN, record.id).status == "proposed"
    with pytest.raises(ServiceError) as absent:
        service.get_allocation(session, ADMIN, 10_000)
    assert absent.value.status == 404


def test_a_warned_provider_gets_nothing(tmp_path: Path, market: PlanMarket) -> None:
    """The provider the allocation funds most gets nothing once it is warned, and its line
    says why; the planted warned and probation providers get nothing either."""
    settings = planted_store(tmp_path / "ws", market)
    engine = store.engine_for(settings)
    with store.open_session(engine) as s:
        before = propose(s, market)
        top = before.by_provider()[0]
        assert top.funds > 0 and top.status == "admitted"
        provider = store.get_provider(s, provider_id=top.provider_id)
        provider.status = "warned"
        s.commit()
        after = propose(s, market)
    engine.dispose()
    not_admitted = {
        pid for pid, st in zip(market.provider_ids, market.status, strict=True) if st != "admitted"
    } | {top.provider_id}
    assert {"warned", "probation"} <= set(market.status)
    for line in after.lines:
        if line.provider_id in not_admitted:
            assert (line.funds, line.traffic, line.expected_uplift) == (0.0, 0.0, 0.0)
            assert line.reason_code == "allocation.ineligible"
    warned = [ln for ln in after.lines if ln.provider_id == top.provider_id]
    assert warned and all(ln.reason_params == {"status": "warned"} for ln in warned)
    # what it had goes to the others: the budget is spent as before
    assert after.funds == pytest.approx(before.funds, rel=1e-3)


def test_a_budget_below_the_minimums_is_refused_with_its_reason(
    session: Session, market: PlanMarket, tmp_path: Path
) -> None:
    raw = yaml.safe_load(
        (Path(service.__file__).parents[1] / "config/defaults/ecosystem.yaml").read_text("utf-8")
    )
    raw["allocation"]["min_funds_per_provider"] = 50_000
    (tmp_path / "ecosystem.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    admitted = int((market.status == "admitted").sum())
    with pytest.raises(ServiceError) as refused:
        service.propose_allocation(
            session,
            Configs(tmp_path),
            ADMIN,
            funds_per_period=50_000 * admitted - 1,
            traffic_per_period=1e9,
            periods=2,
        )
    assert refused.value.status == 422
    issues = refused.value.detail
    assert [d["code"] for d in issues] == ["allocation.budget_below_minimums"] * 2
    assert issues[0]["params"]["minimums"] == pytest.approx(50_000 * admitted)
    assert issues[0]["loc"] == ["funds_per_period"] and "below" in issues[0]["msg"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("periods", 0), ("periods", 25), ("funds_per_period", -1.0), ("traffic_per_period", np.nan)],
)
def test_a_budget_out_of_range_is_invalid(
    session: Session, market: PlanMarket, field: str, value: object
) -> None:
    with pytest.raises(ServiceError) as refused:
        propose(session, market, **{field: value})
    assert refused.value.status == 422 and refused.value.detail[0]["loc"] == [field]


def test_the_plan_starts_after_the_latest_evaluation_unless_told(
    session: Session, market: PlanMarket
) -> None:
    record = propose(session, market, periods=2)
    assert record.periods == market.periods[:2]  # the planted evaluations end the month before
    later = propose(session, market, periods=1, start=date(2027, 6, 17))
    assert later.periods == (date(2027, 6, 1),)


def test_amounts_as_people_type_them() -> None:
    assert service.parse_amount("800万") == 8e6
    assert service.parse_amount("0.8亿") == 8e7
    assert service.parse_amount("8,000,000") == 8e6
    assert service.parse_amount("30亿次") == 3e9
    assert service.parse_amount("-5") is None and service.parse_amount("a lot") is None


def test_providers_shares_sum_to_the_lines(session: Session, market: PlanMarket) -> None:
    record = propose(session, market, periods=3)
    shares = record.by_provider()
    assert len(shares) == 24
    assert sum(s.funds for s in shares) == pytest.approx(record.funds, abs=0.05)
    assert [s.funds for s in shares] == sorted((s.funds for s in shares), reverse=True)
    assert all(s.name.startswith("服务商") for s in shares)


def test_every_reason_the_domain_gives_reads_as_words(session: Session, market: PlanMarket) -> None:
    """Each reason code of a proposal, of a rule of thumb and of a budget's shortfall renders
    in both languages with its numbers in the reader's units and its codes by name (known
    answer: the catalogue's templates, filled by ``windmaker.numbers``)."""
    from windmaker.i18n import reason_text
    from windmaker.numbers import money, pct

    record = propose(session, market)
    cfg = Configs().ecosystem
    budget = domain.PlanBudget(
        market.periods[:2], market.funds_budget[:2], market.traffic_budget[:2]
    )
    estimates = domain.estimate_providers(
        histories_from_frames(market.providers, market.evaluations), budget.periods, cfg.allocation
    )
    rule = domain.split_allocation(estimates, budget, cfg.tiers, cfg.allocation, rule="gmv")
    reasons = {ln.reason_code: ln.reason_params for ln in (*record.lines, *rule.lines)}
    reasons["allocation.budget_below_minimums"] = {
        "resource": "traffic",
        "period": "2027-01-01",
        "budget": 3e9,
        "minimums": 4e9,
    }
    assert {"allocation.ineligible", "allocation.marginal", "allocation.rule"} <= set(reasons)
    for code, params in reasons.items():
        for lang in ("zh-CN", "en"):
            text = reason_text(code, params, lang)
            assert text and not re.search(r"[{}]|\b[a-z]+_[a-z_]+\b|None|nan|allocation\.", text)
            if code in ("allocation.marginal", "allocation.capacity", "allocation.max"):
                assert pct(params["uplift"], lang) in text
                assert money(params["monthly_gmv"], lang) in text
    assert reason_text("allocation.ineligible", {"status": "warned"}, "zh-CN").startswith(
        "不分配（状态：已警告）"
    )
    assert "30亿次曝光" in reason_text(
        "allocation.budget_below_minimums", reasons["allocation.budget_below_minimums"], "zh-CN"
    )
    assert reason_text("allocation.rule", {"rule": "gmv"}, "en").startswith("Split by GMV served")
