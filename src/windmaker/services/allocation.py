"""The windmaker plan's resources (造风者计划资源分配) as use cases: propose an allocation of the
plan's funds and traffic across the providers, read the proposals, and a person's confirmation
or rejection, written to the audit log with the change.

A proposal is the domain's (:mod:`windmaker.ecosystem.allocation`) on the stored evaluations of
every provider in the registry: the uplift rates and GMV projections they give, one optimisation
of the budget, each line with its reason, and the year-end tier forecast with the allocation
and without it. Only admins propose, read and decide allocations (403 for every other role).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from windmaker import store
from windmaker.ecosystem import allocation as domain
from windmaker.ecosystem.allocation_estimate import histories_from_frames
from windmaker.ecosystem.allocation_forecast import Forecast, forecast_tiers
from windmaker.i18n import reason_text
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError, conflict, forbidden, invalid, not_found
from windmaker.services.identity import Principal
from windmaker.store import allocations as allocation_store
from windmaker.store.models import PlanAllocation, now

#: What a person may answer to a proposal.
OUTCOMES = allocation_store.OUTCOMES
#: Most periods (months) one proposal plans.
MAX_PERIODS = 24
#: The months a plan may start in.
FIRST_START, LAST_START = date(2000, 1, 1), date(2100, 12, 1)
#: The most a period's budget may hold: ¥1万亿 of funds, 10万亿 impressions.
MAX_FUNDS, MAX_TRAFFIC = 1e12, 1e13


@dataclass(frozen=True)
class ProviderShare:
    """One provider's share over the plan's periods: the totals, and the reason its lines give
    (the tier it is taken over when it is, else the reason most of its periods give)."""

    provider_id: str
    name: str
    status: str
    funds: float
    traffic: float
    expected_uplift: float
    reason_code: str
    reason_params: dict[str, Any]


@dataclass(frozen=True)
class CountRange:
    """Providers at or above a line at year-end: mean, median and the central interval."""

    mean: float
    median: float
    low: int
    high: int


@dataclass(frozen=True)
class TierOutlook:
    """One tier of the plan: its line and target, the providers over it now, and at year-end
    with the allocation and without it."""

    code: str
    threshold: float
    target: int
    now: int
    with_plan: CountRange
    without_plan: CountRange


@dataclass(frozen=True)
class AllocationSummary:
    """A stored proposal without its lines: the budget, what it hands out, and its decision.

    ``funds``, ``traffic`` and ``expected_uplift`` are the totals over its lines;
    ``crossings`` the (provider, tier) lines it is expected to take providers over by year-end.
    """

    id: int
    created_at: datetime
    created_by: str
    status: str
    periods: tuple[date, ...]
    funds_per_period: tuple[float, ...]
    traffic_per_period: tuple[float, ...]
    funds: float
    traffic: float
    expected_uplift: float
    providers_funded: int
    solver_status: str
    crossings: tuple[tuple[str, str], ...]
    decided_by: str | None
    decided_at: datetime | None
    note: str | None

    @property
    def decided(self) -> bool:
        return self.status != "proposed"


@dataclass(frozen=True)
class AllocationRecord(AllocationSummary):
    """A stored proposal with its lines (providers × periods) and its year-end tier forecast
    (``interval``: the central share of the draws the count ranges hold)."""

    lines: tuple[domain.AllocationLine, ...]
    tiers: tuple[TierOutlook, ...]
    interval: float
    provider_names: Mapping[str, str]
    provider_statuses: Mapping[str, str]

    def by_provider(self) -> list[ProviderShare]:
        """Each provider's totals and reason, the most funds first."""
        grouped: dict[str, list[domain.AllocationLine]] = {}
        for line in self.lines:
            grouped.setdefault(line.provider_id, []).append(line)
        out = []
        for pid, lines in grouped.items():
            crossing = [ln for ln in lines if ln.reason_code == "allocation.tier_crossing"]
            if crossing:
                shown = crossing[0]
            else:
                code = Counter(ln.reason_code for ln in lines).most_common(1)[0][0]
                shown = next(ln for ln in lines if ln.reason_code == code)
            out.append(
                ProviderShare(
                    provider_id=pid,
                    name=self.provider_names.get(pid, pid),
                    status=self.provider_statuses.get(pid, str(shown.reason_params.get("status"))),
                    funds=sum(ln.funds for ln in lines),
                    traffic=sum(ln.traffic for ln in lines),
                    expected_uplift=sum(ln.expected_uplift for ln in lines),
                    reason_code=shown.reason_code,
                    reason_params=dict(shown.reason_params),
                )
            )
        return sorted(out, key=lambda s: (-s.funds, -s.traffic, -s.expected_uplift, s.name))


def _require_admin(user: Principal) -> None:
    if user.role != "admin":
        raise forbidden()


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars as Python numbers, NaN and infinities as None (PostgreSQL's
    JSON holds no NaN), dates as ISO text."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, date):
        return value.isoformat()
    return value


def _month_after(d: date, months: int = 1) -> date:
    idx = d.year * 12 + d.month - 1 + months
    return date(idx // 12, idx % 12 + 1, 1)


def _number(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def store_frames(session: Session) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every provider in the registry (provider_id, status, capacity) and its stored
    evaluations (provider_id, period, clients, gmv_served, annual_gmv_served,
    client_uplift_year): the domain's inputs (:func:`histories_from_frames`)."""
    providers = pd.DataFrame(
        [(p.provider_id, p.status, int(p.capacity or 0)) for p in store.list_providers(session)],
        columns=["provider_id", "status", "capacity"],
    )
    rows = []
    for e in store.list_evaluations(session):
        m = e.metrics or {}
        rows.append(
            (
                e.provider_id,
                e.period,
                int(_number(m.get("clients")) or 0),
                _number(e.gmv_served) or 0.0,
                _number(m.get("annual_gmv_served")) or 0.0,
                _number(m.get("client_uplift_year")),
            )
        )
    evaluations = pd.DataFrame(
        rows,
        columns=[
            "provider_id",
            "period",
            "clients",
            "gmv_served",
            "annual_gmv_served",
            "client_uplift_year",
        ],
    )
    return providers, evaluations


def plan_budget(
    session: Session,
    *,
    funds_per_period: float,
    traffic_per_period: float,
    periods: int,
    start: date | None = None,
) -> domain.PlanBudget:
    """The same budget every period from ``start`` (its month; default: the month after the
    latest stored evaluation, else next month); 422 for amounts or periods out of range."""
    funds, traffic = _number(funds_per_period), _number(traffic_per_period)
    if funds is None or not 0 <= funds <= MAX_FUNDS:
        raise invalid("funds_per_period", f"funds per period must be 0 to {MAX_FUNDS:,.0f} yuan")
    if traffic is None or not 0 <= traffic <= MAX_TRAFFIC:
        raise invalid(
            "traffic_per_period", f"traffic per period must be 0 to {MAX_TRAFFIC:,.0f} impressions"
        )
    if not 1 <= periods <= MAX_PERIODS:
        raise invalid("periods", f"a plan has 1 to {MAX_PERIODS} periods (months)")
    if start is None:
        evaluated = [e.period for e in store.list_evaluations(session)]
        start = _month_after(max(evaluated)) if evaluated else _month_after(now().date())
    start = date(start.year, start.month, 1)
    if not FIRST_START <= start <= LAST_START:
        raise invalid("start", f"a plan starts between {FIRST_START:%Y-%m} and {LAST_START:%Y-%m}")
    months = tuple(_month_after(start, t) for t in range(periods))
    return domain.PlanBudget(periods=months, funds=(funds,) * periods, traffic=(traffic,) * periods)


def _forecast_json(forecast: Forecast) -> dict[str, Any]:
    return _plain(
        {
            "interval": forecast.interval,
            "draws": forecast.draws,
            "tiers": [
                {
                    "code": x.code,
                    "threshold": x.threshold,
                    "target": x.target,
                    "now": x.now,
                    "with_plan": vars(x.with_plan),
                    "without_plan": vars(x.without_plan),
                }
                for x in forecast.tiers
            ],
            "chances": [vars(c) for c in forecast.chances],
        }
    )


def _totals(lines: list[dict[str, Any]]) -> dict[str, Any]:
    funded = {ln["provider_id"] for ln in lines if ln["funds"] > 0 or ln["traffic"] > 0}
    return {
        "funds": round(sum(ln["funds"] for ln in lines), 2),
        "traffic": round(sum(ln["traffic"] for ln in lines), 2),
        "expected_uplift": round(sum(ln["expected_uplift"] for ln in lines), 2),
        "providers_funded": len(funded),
    }


def propose_allocation(
    session: Session,
    configs: Configs,
    user: Principal,
    *,
    funds_per_period: float,
    traffic_per_period: float,
    periods: int = 12,
    start: date | None = None,
) -> AllocationRecord:
    """Allocate the same budget of funds (yuan) and traffic (impressions) in each of
    ``periods`` months from ``start`` across the registry's providers (admitted ones receive
    it), forecast the tiers with and without it, and store it as a proposal a person confirms.

    A budget below the providers' configured minimums is refused (422, each shortfall with its
    ``allocation.budget_below_minimums`` code and numbers), as is a registry without providers
    (409).
    """
    _require_admin(user)
    budget = plan_budget(
        session,
        funds_per_period=funds_per_period,
        traffic_per_period=traffic_per_period,
        periods=periods,
        start=start,
    )
    providers, evaluations = store_frames(session)
    if providers.empty:
        raise conflict("the provider registry is empty: there is no one to allocate to")
    cfg = configs.ecosystem
    estimates = domain.estimate_providers(
        histories_from_frames(providers, evaluations), budget.periods, cfg.allocation
    )
    result = domain.allocate(estimates, budget, cfg.tiers, cfg.allocation)
    if result.status == "infeasible":
        raise ServiceError(
            "validation",
            422,
            detail=[
                {
                    "loc": [f"{issue['params']['resource']}_per_period"],
                    "msg": reason_text(issue["code"], issue["params"], "en"),
                    "code": issue["code"],
                    "params": _plain(issue["params"]),
                }
                for issue in result.issues
            ],
        )
    if result.status not in ("optimal", "feasible"):
        raise conflict(f"the solver found no allocation ({result.status}); try again")
    forecast = forecast_tiers(
        estimates, result.matrix("funds"), result.matrix("traffic"), cfg.tiers, cfg.allocation
    )
    lines = [
        _plain(
            {
                "provider_id": ln.provider_id,
                "period": ln.period,
                "funds": ln.funds,
                "traffic": ln.traffic,
                "expected_uplift": ln.expected_uplift,
                "reason_code": ln.reason_code,
                "reason_params": ln.reason_params,
            }
        )
        for ln in result.lines
    ]
    totals = _totals(lines)
    solver = _plain(
        {
            "status": result.status,
            "solver": result.solver,
            "objective": result.objective,
            "uplift": result.uplift,
            "tier_bonus": result.tier_bonus,
            "solver_objective": result.solver_objective,
            "best_bound": result.best_bound,
            "gap": result.gap,
            "solve_seconds": result.solve_seconds,
            "crossings": [list(c) for c in result.crossings],
            "totals": totals,
        }
    )
    budget_json = _plain(
        {"periods": budget.periods, "funds": budget.funds, "traffic": budget.traffic}
    )
    row = allocation_store.save_allocation(
        session,
        created_by=user.username,
        budget=budget_json,
        lines=lines,
        forecast=_forecast_json(forecast),
        solver=solver,
        summary={"periods": len(budget.periods), **totals},
    )
    return _record(session, row)


def decide_allocation(
    session: Session,
    user: Principal,
    allocation_id: int,
    *,
    outcome: str,
    note: str = "",
) -> AllocationRecord:
    """A person confirms or rejects a proposal (``confirmed`` / ``rejected``); the audit log
    gets ``allocation.<outcome>`` with the lines' totals in the same transaction. A proposal
    already decided is a conflict (409)."""
    _require_admin(user)
    if outcome not in OUTCOMES:
        raise invalid("outcome", f"an allocation is {' or '.join(OUTCOMES)}")
    try:
        row = allocation_store.get_allocation(session, allocation_id=allocation_id)
        totals = dict((row.solver or {}).get("totals") or _totals(row.lines))
        taken = allocation_store.decide_allocation(
            session,
            allocation_id=allocation_id,
            outcome=outcome,
            reviewer=user.username,
            note=note.strip(),
            detail={"periods": len((row.budget or {}).get("periods") or []), **totals},
        )
    except store.NotFoundError:
        raise not_found(f"no allocation {allocation_id}") from None
    except store.AlreadyDecidedError as exc:
        raise conflict(str(exc)) from None
    return _record(session, taken)


def list_allocations(
    session: Session, user: Principal, *, status: str | None = None, limit: int | None = None
) -> list[AllocationSummary]:
    """The proposals, newest first, without their lines."""
    _require_admin(user)
    return [
        _summary(r) for r in allocation_store.list_allocations(session, status=status, limit=limit)
    ]


def get_allocation(session: Session, user: Principal, allocation_id: int) -> AllocationRecord:
    """One proposal with its lines and forecast (404 when there is none)."""
    _require_admin(user)
    try:
        row = allocation_store.get_allocation(session, allocation_id=allocation_id)
    except store.NotFoundError:
        raise not_found(f"no allocation {allocation_id}") from None
    return _record(session, row)


def latest_allocation(session: Session, user: Principal) -> AllocationRecord | None:
    """The newest proposal with its lines (None before the first)."""
    newest = list_allocations(session, user, limit=1)
    return get_allocation(session, user, newest[0].id) if newest else None


def _summary(row: PlanAllocation) -> AllocationSummary:
    budget, solver = row.budget or {}, row.solver or {}
    totals = solver.get("totals") or {}
    return AllocationSummary(**_summary_fields(row, budget, solver, totals))


def _summary_fields(
    row: PlanAllocation,
    budget: Mapping[str, Any],
    solver: Mapping[str, Any],
    totals: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "id": row.id,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "status": row.status,
        "periods": tuple(date.fromisoformat(p) for p in budget.get("periods") or []),
        "funds_per_period": tuple(float(v) for v in budget.get("funds") or []),
        "traffic_per_period": tuple(float(v) for v in budget.get("traffic") or []),
        "funds": float(totals.get("funds") or 0.0),
        "traffic": float(totals.get("traffic") or 0.0),
        "expected_uplift": float(totals.get("expected_uplift") or 0.0),
        "providers_funded": int(totals.get("providers_funded") or 0),
        "solver_status": str(solver.get("status") or ""),
        "crossings": tuple((str(p), str(t)) for p, t in solver.get("crossings") or []),
        "decided_by": row.decided_by,
        "decided_at": row.decided_at,
        "note": row.note,
    }


def _range(value: Mapping[str, Any]) -> CountRange:
    return CountRange(
        mean=float(value.get("mean") or 0.0),
        median=float(value.get("median") or 0.0),
        low=int(value.get("low") or 0),
        high=int(value.get("high") or 0),
    )


def _record(session: Session, row: PlanAllocation) -> AllocationRecord:
    budget, solver, forecast = row.budget or {}, row.solver or {}, row.forecast or {}
    lines = tuple(
        domain.AllocationLine(
            provider_id=str(ln["provider_id"]),
            period=date.fromisoformat(ln["period"]),
            funds=float(ln["funds"] or 0.0),
            traffic=float(ln["traffic"] or 0.0),
            expected_uplift=float(ln["expected_uplift"] or 0.0),
            reason_code=str(ln["reason_code"]),
            reason_params=dict(ln.get("reason_params") or {}),
        )
        for ln in row.lines or []
    )
    ids = {ln.provider_id for ln in lines}
    known = [p for p in store.list_providers(session) if p.provider_id in ids]
    totals = solver.get("totals") or _totals(list(row.lines or []))
    return AllocationRecord(
        **_summary_fields(row, budget, solver, totals),
        lines=lines,
        tiers=tuple(
            TierOutlook(
                code=str(x["code"]),
                threshold=float(x["threshold"]),
                target=int(x["target"]),
                now=int(x["now"]),
                with_plan=_range(x["with_plan"]),
                without_plan=_range(x["without_plan"]),
            )
            for x in forecast.get("tiers") or []
        ),
        interval=float(forecast.get("interval") or 0.0),
        provider_names={p.provider_id: p.name for p in known},
        provider_statuses={p.provider_id: p.status for p in known},
    )


_AMOUNT = re.compile(r"^\s*([0-9][0-9,，\s]*(?:\.[0-9]+)?)\s*(万|亿)?\s*(元|次)?\s*$")


def parse_amount(text: str) -> float | None:
    """An amount as people type it (``8,000,000``, ``800万``, ``0.8亿``); None when it is not
    one."""
    m = _AMOUNT.match(str(text))
    if not m:
        return None
    try:
        value = float(re.sub(r"[,，\s]", "", m.group(1)))
    except ValueError:
        return None
    return value * {"万": 1e4, "亿": 1e8}.get(m.group(2) or "", 1.0)
