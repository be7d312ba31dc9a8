"""Allocation of the windmaker plan's resources (造风者计划: funds and traffic) across providers.

The uplift rates, GMV projections and the response curve ``U_p,t(x, y)`` are defined in
:mod:`windmaker.ecosystem.allocation_estimate`.

**Constraints**, per period and resource: Σ_p x ≤ the period's budget; an eligible provider
(status ``admitted``; probation, warned, exited, applicant and rejected get nothing) gets
``lo ≤ x ≤ cap``, ``lo`` the configured minimum and ``cap = min(max per provider, per-client cap
× brands)``, brands = its clients up to its declared capacity (its clients when it declares
none); ``lo`` is cut to ``cap``.

**Objective**: Σ_p,t U_p,t + Σ_p,ℓ bonus_ℓ · z_p,ℓ, where ``z_p,ℓ = 1`` when provider ``p``,
below tier line ``L_ℓ`` on its year-end projection without the plan (``B_p``), reaches it with the
plan's uplift in the year-end window: ``B_p + Σ_t U_p,t ≥ L_ℓ`` (``bonus = tier_bonus``).

**Solver**: each response curve is cut into ``segments`` pieces between ``lo`` and ``cap``, at
equal steps of response (a tier candidate's: half at equal steps of the amount); a concave
piecewise-linear curve is exact in a linear program (at the optimum the segments fill in
order), solved by GLOP; with tier binaries (only for providers below a line the plan can reach)
it is a MILP solved by SCIP within ``time_limit_seconds`` and ``relative_gap``. The curves no
binary touches share each budget row as one pool, and what the solver gives a pool is split
among them exactly, at one marginal return. The result reports the solver's status,
objective, bound and gap, and the objective recomputed on the exact curves.

**Reasons**: every line carries ``reason_code`` and ``reason_params`` (no text): the binding of
each resource (``capacity``, ``max``, ``min``, ``marginal`` — interior, where its marginal return
equals the budget's —, ``zero`` — its return below the budget's —, ``no_response``), the marginal
returns at the allocation, the budget's margin per period and the tier the allocation takes the
provider over.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from ortools.linear_solver.python import model_builder_helper as mbh

from windmaker.ecosystem.allocation_estimate import (
    ELIGIBLE_STATUSES,
    RESOURCES,
    EvaluationPoint,
    PlanBudget,
    ProviderEstimate,
    ProviderHistory,
    breakpoints,
    curve,
    estimate_providers,
    limits,
    marginal_return,
    response,
    water_fill,
)
from windmaker.ecosystem.config import AllocationConfig, Tier

__all__ = [
    "ELIGIBLE_STATUSES",
    "AllocationLine",
    "AllocationResult",
    "EvaluationPoint",
    "PlanBudget",
    "ProviderEstimate",
    "ProviderHistory",
    "allocate",
    "estimate_providers",
    "limits",
    "objective_value",
    "response",
    "split_allocation",
]

#: Relative tolerance under which an allocation sits on one of its bounds.
_AT = 1e-6


@dataclass(frozen=True)
class AllocationLine:
    """One provider's funds (yuan) and traffic (impressions) in one period, the expected GMV
    uplift (yuan) and the reason, a code with its parameters; also each line of a stored
    proposal (:mod:`windmaker.services.allocation`)."""

    provider_id: str
    period: date
    funds: float
    traffic: float
    expected_uplift: float
    reason_code: str
    reason_params: dict[str, Any]


@dataclass(frozen=True)
class AllocationResult:
    """Lines (providers × periods, estimates' order), the solver's account and the objective.

    ``objective`` = ``uplift`` + ``tier_bonus`` on the exact curves; ``solver_objective`` and
    ``best_bound`` are the solver's (piecewise-linear) values, ``gap`` their relative distance.
    """

    lines: tuple[AllocationLine, ...]
    status: str  # optimal, feasible (time limit), infeasible, not_solved, rule
    solver: str
    objective: float
    uplift: float
    tier_bonus: float
    solver_objective: float
    best_bound: float
    gap: float
    solve_seconds: float
    crossings: tuple[tuple[str, str], ...]  # (provider_id, tier code) reached with the plan
    issues: tuple[dict[str, Any], ...] = field(default=())

    def matrix(self, resource: str) -> np.ndarray:
        """``funds`` or ``traffic`` as a [providers, periods] array in the estimates' order."""
        periods = sorted({ln.period for ln in self.lines})
        values = np.array([getattr(ln, resource) for ln in self.lines], dtype="float64")
        return values.reshape(-1, len(periods)) if periods else values.reshape(0, 0)


@dataclass(frozen=True)
class _Problem:
    """The arrays of one allocation problem, providers × periods."""

    gmv: np.ndarray  # [P, T]
    uplift: np.ndarray  # [P]
    eligible: np.ndarray  # [P]
    lo: dict[str, np.ndarray]  # [P] per resource
    cap: dict[str, np.ndarray]
    by_capacity: dict[str, np.ndarray]
    in_window: np.ndarray  # [T]
    baseline: np.ndarray  # [P]


def _problem(estimates: Sequence[ProviderEstimate], config: AllocationConfig) -> _Problem:
    if len({len(e.plan_offsets) for e in estimates}) > 1:
        raise ValueError("the estimates were made for different plan periods")
    lims = {r: limits(estimates, config, r) for r in RESOURCES}
    return _Problem(
        gmv=np.array([e.plan_gmv() for e in estimates], dtype="float64").reshape(
            len(estimates), len(estimates[0].plan_offsets) if estimates else 0
        ),
        uplift=np.array([e.uplift for e in estimates], dtype="float64"),
        eligible=np.array([e.eligible for e in estimates], dtype=bool),
        lo={r: v[0] for r, v in lims.items()},
        cap={r: v[1] for r, v in lims.items()},
        by_capacity={r: v[2] for r, v in lims.items()},
        in_window=np.array(estimates[0].plan_in_window if estimates else (), dtype=bool),
        baseline=np.array([e.baseline_year_end for e in estimates], dtype="float64"),
    )


def objective_value(
    estimates: Sequence[ProviderEstimate],
    funds: np.ndarray,
    traffic: np.ndarray,
    tiers: Sequence[Tier],
    config: AllocationConfig,
) -> tuple[float, float, tuple[tuple[str, str], ...]]:
    """The exact objective of any allocation ([providers, periods] arrays): total expected
    uplift, the tier bonus earned, and the (provider, tier) crossings behind it."""
    pr = _problem(estimates, config)
    u = response(funds, traffic, pr.gmv, pr.uplift[:, None], config)
    year_end = pr.baseline + (u * pr.in_window[None, :]).sum(axis=1)
    bonus, crossings = 0.0, []
    for tier in tiers:
        line = tier.min_annual_gmv_served
        crossed = pr.eligible & (pr.baseline < line) & (year_end >= line)
        bonus += config.tier_bonus.get(tier.code, 0.0) * float(crossed.sum())
        crossings += [(estimates[int(i)].provider_id, tier.code) for i in np.flatnonzero(crossed)]
    return float(u.sum()), bonus, tuple(crossings)


def allocate(
    estimates: Sequence[ProviderEstimate],
    budget: PlanBudget,
    tiers: Sequence[Tier],
    config: AllocationConfig,
) -> AllocationResult:
    """The allocation maximising expected uplift plus the tier bonus (module docstring)."""
    if estimates and len(estimates[0].plan_offsets) != len(budget.periods):
        raise ValueError("the estimates were made for other periods than the budget's")
    pr = _problem(estimates, config)
    P, T = len(estimates), len(budget.periods)
    K = config.segments
    issues = [
        {
            "code": "allocation.budget_below_minimums",
            "params": {
                "resource": r,
                "period": budget.periods[t].isoformat(),
                "budget": float(amount),
                "minimums": float(pr.lo[r].sum()),
            },
        }
        for r in RESOURCES
        for t, amount in enumerate(budget.amounts(r))
        if pr.lo[r].sum() > amount
    ]
    if issues or not estimates:
        zero = np.zeros((P, T))
        return _result(
            estimates,
            budget,
            tiers,
            config,
            (zero, zero),
            status="infeasible" if issues else "optimal",
            solver="none",
            account=(np.nan, np.nan, np.nan, 0.0),
            issues=tuple(issues),
        )

    const = response(
        pr.lo["funds"][:, None], pr.lo["traffic"][:, None], pr.gmv, pr.uplift[:, None], config
    )
    const = np.where(pr.eligible[:, None], const, 0.0)
    most = response(
        pr.cap["funds"][:, None], pr.cap["traffic"][:, None], pr.gmv, pr.uplift[:, None], config
    )
    # tier candidates: below the line, within reach of the most the plan can add in the window
    reach = pr.baseline + (np.where(pr.eligible[:, None], most, 0.0) * pr.in_window).sum(axis=1)
    base_win = pr.baseline + (const * pr.in_window).sum(axis=1)
    cands = [
        (int(p), tier)
        for tier in tiers
        if config.tier_bonus.get(tier.code, 0.0) > 0
        for p in np.flatnonzero(
            pr.eligible
            & (pr.baseline < tier.min_annual_gmv_served)
            & (reach >= tier.min_annual_gmv_served)
        )
    ]
    candidate = np.zeros(P, dtype=bool)
    candidate[[p for p, _ in cands]] = True
    # one curve per (provider, period, resource) with room above its floor and a response: K
    # segments, each a variable in [0, 1] (its share filled), of width w and gain Δf (yuan)
    blocks = []
    for r in RESOURCES:
        effect, scale = curve(r, config)
        coef = pr.gmv * pr.uplift[:, None] * effect  # [P, T]
        lo = np.broadcast_to(pr.lo[r][:, None], (P, T))
        cap = np.broadcast_to(pr.cap[r][:, None], (P, T))
        live = (coef > 0) & (cap > lo) & pr.eligible[:, None]
        for by_amount in (False, True):
            group = candidate if by_amount else ~candidate
            p_idx, t_idx = np.nonzero(live & group[:, None])
            sc = scale * pr.gmv[p_idx, t_idx]
            x = breakpoints(sc, lo[p_idx, t_idx], cap[p_idx, t_idx], K, by_amount=by_amount)
            gain = np.diff(coef[p_idx, t_idx, None] * -np.expm1(-x / sc[:, None]), axis=1)
            width, gain = np.diff(x, axis=1), np.maximum(gain, 0.0)
            blocks.append(
                _Block(r, p_idx, t_idx, width, gain, coef[p_idx, t_idx], sc, x[:, 0], x[:, -1])
            )
    solved = _solve(blocks, cands, pr, budget, base_win, config)
    funds = np.repeat(pr.lo["funds"][:, None], T, axis=1)
    traffic = np.repeat(pr.lo["traffic"][:, None], T, axis=1)
    if solved.added is not None:
        for b, added in zip(blocks, solved.added, strict=True):
            np.add.at(funds if b.resource == "funds" else traffic, (b.p_idx, b.t_idx), added)
    offset = float(const.sum())
    value, bound = solved.value + offset, solved.bound + offset
    return _result(
        estimates,
        budget,
        tiers,
        config,
        (_within(funds, pr, "funds", budget), _within(traffic, pr, "traffic", budget)),
        status=solved.status,
        solver=solved.solver,
        account=(value, bound, max(bound - value, 0.0) / max(abs(value), 1.0), solved.seconds),
    )


@dataclass(frozen=True)
class _Block:
    """The segments of the curves of one resource: lines (provider, period) × K segments."""

    resource: str
    p_idx: np.ndarray
    t_idx: np.ndarray
    width: np.ndarray  # [lines, K] resource per segment
    gain: np.ndarray  # [lines, K] yuan of uplift per segment, decreasing along each line
    coef: np.ndarray  # [lines] G·u·effect: the curve is coef · (1 − exp(−x / scale))
    scale: np.ndarray  # [lines] s·G
    lo: np.ndarray  # [lines]
    cap: np.ndarray  # [lines]


@dataclass(frozen=True)
class _Solved:
    status: str
    solver: str
    value: float
    bound: float
    seconds: float
    added: list[np.ndarray] | None  # per block, [lines] amount above the floor


#: Columns the segments of the providers no tier binary touches are pooled into, per budget row.
POOL_COLUMNS = 240


def _solve(
    blocks: list[_Block],
    cands: list[tuple[int, Tier]],
    pr: _Problem,
    budget: PlanBudget,
    base_win: np.ndarray,
    config: AllocationConfig,
) -> _Solved:
    """The LP (GLOP) or, with tier candidates, the MILP (SCIP) over the segments' shares.

    A provider no tier binary touches meets the others only in the budget rows: its segments
    join a pool per budget row, sorted by slope and cut into ``POOL_COLUMNS`` consecutive
    columns (a concave curve of the pool), and what the solver gives the pool is split exactly
    among its curves at one marginal return (:func:`~windmaker.ecosystem.allocation_estimate.water_fill`), which no piecewise-linear
    cut limits. The candidates keep a column per segment. Rows are scaled to order one (a
    budget row by its room, a tier row by the gap to the line, the objective by its largest
    coefficient) for well-conditioned LPs.
    """
    T = pr.gmv.shape[1]
    room = {r: budget.amounts(r) - pr.lo[r].sum() for r in RESOURCES}
    cand_providers = np.array(sorted({p for p, _ in cands}), dtype=np.int64)
    col_row: list[np.ndarray] = []  # budget row of each column
    col_width: list[np.ndarray] = []
    col_gain: list[np.ndarray] = []
    pools = []  # (block, lines, first column, column count)
    singles = []  # (block, flat segment indexes, first column)
    n_col = 0
    for bi, b in enumerate(blocks):
        row0 = RESOURCES.index(b.resource) * T
        own = np.isin(b.p_idx, cand_providers)
        flat_w, flat_g = b.width.ravel(), b.gain.ravel()
        for t in range(T):
            seg = (
                np.flatnonzero(~own & (b.t_idx == t))[:, None] * b.width.shape[1]
                + np.arange(b.width.shape[1])[None, :]
            ).ravel()
            if seg.size == 0:
                continue
            slope = np.divide(
                flat_g[seg], flat_w[seg], out=np.zeros(seg.size), where=flat_w[seg] > 0
            )
            order = seg[np.argsort(-slope, kind="stable")]
            edges = np.linspace(0, order.size, min(order.size, POOL_COLUMNS) + 1).astype(np.int64)
            col_width.append(np.add.reduceat(flat_w[order], edges[:-1]))
            col_gain.append(np.add.reduceat(flat_g[order], edges[:-1]))
            col_row.append(np.full(edges.size - 1, row0 + t))
            pools.append((bi, np.flatnonzero(~own & (b.t_idx == t)), n_col, edges.size - 1))
            n_col += edges.size - 1
        seg = (
            np.flatnonzero(own)[:, None] * b.width.shape[1] + np.arange(b.width.shape[1])[None, :]
        ).ravel()
        col_width.append(flat_w[seg])
        col_gain.append(flat_g[seg])
        col_row.append(row0 + np.repeat(b.t_idx[own], b.width.shape[1]))
        singles.append((bi, seg, n_col))
        n_col += seg.size
    widths, gains, budget_rows = (np.concatenate(v) for v in (col_width, col_gain, col_row))
    row_room = np.concatenate([room[r] for r in RESOURCES])[budget_rows]
    upper = np.concatenate([np.where(row_room > 0, 1.0, 0.0), np.ones(len(cands))])
    rows = [budget_rows]
    cols = [np.arange(n_col)]
    vals = [widths / np.where(row_room > 0, row_room, 1.0)]
    n_budget = len(RESOURCES) * T
    row_lo, row_hi = [-np.inf] * n_budget, [1.0] * n_budget
    for j, (p, tier) in enumerate(cands):
        gap = tier.min_annual_gmv_served - base_win[p]
        for bi, seg, first in singles:
            b = blocks[bi]
            line = seg // b.width.shape[1]
            sel = np.flatnonzero((b.p_idx[line] == p) & pr.in_window[b.t_idx[line]])
            rows.append(np.full(sel.size, n_budget + j))
            cols.append(first + sel)
            vals.append(gains[first + sel] / gap)
        # Σ uplift in the year-end window / (line − projection with the floors) ≥ z
        rows.append(np.array([n_budget + j]))
        cols.append(np.array([n_col + j]))
        vals.append(np.array([-1.0]))
        row_lo.append(0.0)
        row_hi.append(np.inf)
    obj = np.concatenate(
        [gains, np.array([config.tier_bonus[t.code] for _, t in cands], dtype="float64")]
    )
    unit = float(obj.max()) if obj.size and obj.max() > 0 else 1.0
    matrix = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(row_lo), n_col + len(cands)),
    )
    model = mbh.ModelBuilderHelper()
    fill: Any = model.fill_model_from_sparse_data  # its stub takes a dtype for the shape
    fill(np.zeros(upper.size), upper, obj / unit, np.array(row_lo), np.array(row_hi), matrix)
    model.set_maximize(True)
    for j in range(len(cands)):
        model.set_var_integrality(n_col + j, True)
    name = "SCIP" if cands else "GLOP"
    solver = mbh.ModelSolverHelper(name)
    solver.set_time_limit_in_seconds(config.time_limit_seconds)
    if cands:
        solver.set_solver_specific_parameters(_scip_parameters(config))
    started = time.perf_counter()
    solver.solve(model)
    seconds = time.perf_counter() - started
    status = _STATUS.get(solver.status(), "not_solved")
    if status not in ("optimal", "feasible") or not solver.has_solution():
        return _Solved(status, name, np.nan, np.nan, seconds, None)
    values = np.clip(solver.variable_values(), 0.0, 1.0)
    added = [np.zeros(len(b.p_idx)) for b in blocks]
    for bi, seg, first in singles:
        filled = np.zeros(blocks[bi].width.size)
        filled[seg] = values[first : first + seg.size]
        added[bi] += (filled.reshape(blocks[bi].width.shape) * blocks[bi].width).sum(axis=1)
    for bi, lines, first, count in pools:
        b = blocks[bi]
        given = float((values[first : first + count] * widths[first : first + count]).sum())
        x = water_fill(b.coef[lines], b.scale[lines], b.lo[lines], b.cap[lines], given)
        added[bi][lines] = x - b.lo[lines]
    value = solver.objective_value() * unit
    bound = solver.best_objective_bound() * unit if cands else value
    return _Solved(status, name, value, bound, seconds, added)


def _scip_parameters(config: AllocationConfig) -> str:
    """SCIP stops within ``relative_gap`` of its bound, without cutting planes: each binary
    sits in one row of its provider's segments, where rounds of cuts took twice the time of the
    whole solve (500 providers × 12 periods) and closed no gap the branching does not."""
    return f"limits/gap = {config.relative_gap}\nseparating/maxroundsroot = 0\nseparating/maxrounds = 0"


_STATUS = {
    mbh.SolveStatus.OPTIMAL: "optimal",
    mbh.SolveStatus.FEASIBLE: "feasible",
    mbh.SolveStatus.INFEASIBLE: "infeasible",
}


def _within(amount: np.ndarray, pr: _Problem, resource: str, budget: PlanBudget) -> np.ndarray:
    """The solver's amounts held to [lo, cap] and the budget (its tolerances are ~1e-9 of a
    row), to the cent."""
    lo, cap = pr.lo[resource][:, None], pr.cap[resource][:, None]
    x = np.clip(amount, lo, cap)
    above = x - lo
    room = budget.amounts(resource) - pr.lo[resource].sum()
    total = above.sum(axis=0)
    scale = np.where(total > room, np.maximum(room, 0.0) / np.where(total > 0, total, 1.0), 1.0)
    return np.maximum(np.floor((lo + above * scale[None, :]) * 100) / 100, lo)


def _bindings(
    x: np.ndarray, lo: np.ndarray, cap: np.ndarray, by_capacity: np.ndarray, live: np.ndarray
) -> np.ndarray:
    """Per line: which bound holds the amount (``capacity``, ``max``, ``min``, ``zero``) or
    ``marginal`` when it is interior; ``ineligible``/``no_response`` set by the caller."""
    tol = _AT * np.maximum(cap, 1.0) + 0.01
    at_cap = (x >= cap - tol) & (cap > 0)
    out = np.where(x <= lo + tol, np.where(lo > 0, "min", "zero"), "marginal").astype(object)
    out = np.where(at_cap, np.where(by_capacity, "capacity", "max"), out)
    return np.where(live, out, "no_response")


def _margins(
    x: np.ndarray, marginal: np.ndarray, binding: np.ndarray, budget: np.ndarray, pushed: np.ndarray
) -> np.ndarray:
    """The budget's marginal return per period: the median marginal return of the interior
    lines (those not pushed over a tier line), 0 when the budget is not spent, else the best
    return left at a floor."""
    out = np.zeros(x.shape[1])
    for t in range(x.shape[1]):
        interior = (binding[:, t] == "marginal") & ~pushed
        floor = np.isin(binding[:, t], ("zero", "min"))
        if interior.any():
            out[t] = float(np.median(marginal[interior, t]))
        elif x[:, t].sum() < budget[t] * (1 - 1e-6) - 1.0:
            out[t] = 0.0
        elif floor.any():
            out[t] = float(marginal[floor, t].max())
    return out


def _result(
    estimates: Sequence[ProviderEstimate],
    budget: PlanBudget,
    tiers: Sequence[Tier],
    config: AllocationConfig,
    amounts: tuple[np.ndarray, np.ndarray],
    *,
    status: str,
    solver: str,
    account: tuple[float, float, float, float],
    issues: tuple[dict[str, Any], ...] = (),
    rule: str | None = None,
) -> AllocationResult:
    """Lines with their reasons and the exact objective of an allocation."""
    value, bound, gap, seconds = account
    if not estimates:
        return AllocationResult((), status, solver, 0.0, 0.0, 0.0, value, bound, gap, 0.0, ())
    pr = _problem(estimates, config)
    funds, traffic = amounts
    expected = response(funds, traffic, pr.gmv, pr.uplift[:, None], config)
    uplift, bonus, crossings = objective_value(estimates, funds, traffic, tiers, config)
    year_end = pr.baseline + (expected * pr.in_window[None, :]).sum(axis=1)
    crossed: dict[str, Tier] = {}
    for pid, code in crossings:  # the highest line each provider crosses
        tier = next(t for t in tiers if t.code == code)
        if pid not in crossed or tier.min_annual_gmv_served > crossed[pid].min_annual_gmv_served:
            crossed[pid] = tier
    pushed = np.array([e.provider_id in crossed for e in estimates], dtype=bool)
    live = pr.eligible[:, None] & (pr.gmv > 0) & (pr.uplift[:, None] > 0)
    marg, bind, margin = {}, {}, {}
    for r, x in zip(RESOURCES, (funds, traffic), strict=True):
        marg[r] = marginal_return(r, x, pr.gmv, pr.uplift[:, None], config)
        bind[r] = _bindings(
            x, pr.lo[r][:, None], pr.cap[r][:, None], pr.by_capacity[r][:, None], live
        )
        margin[r] = _margins(x, marg[r], bind[r], budget.amounts(r), pushed)
    lines = []
    for i, e in enumerate(estimates):
        for t, period in enumerate(budget.periods):
            params: dict[str, Any] = {"status": e.status}
            if not e.eligible:
                code = "allocation.ineligible"
            else:
                fb, tb = str(bind["funds"][i, t]), str(bind["traffic"][i, t])
                params |= {
                    "uplift": e.uplift,
                    "uplift_measured": e.uplift_measured,
                    "clients": e.clients,
                    "monthly_gmv": float(pr.gmv[i, t]),
                    "funds_binding": fb,
                    "traffic_binding": tb,
                    "marginal_per_yuan": float(marg["funds"][i, t]),
                    "marginal_per_1k_impressions": float(1000 * marg["traffic"][i, t]),
                    "funds_margin": float(margin["funds"][t]),
                    "traffic_margin_per_1k": float(1000 * margin["traffic"][t]),
                    "projected_annual_gmv": float(year_end[i]),
                }
                above = funds[i, t] > pr.lo["funds"][i] or traffic[i, t] > pr.lo["traffic"][i]
                if fb == "no_response":
                    code = "allocation.no_response"
                elif e.provider_id in crossed and above:
                    tier = crossed[e.provider_id]
                    code = "allocation.tier_crossing"
                    params |= {"tier": tier.code, "tier_line": tier.min_annual_gmv_served}
                    params["baseline_annual_gmv"] = float(pr.baseline[i])
                else:  # the most telling binding of the two resources
                    held = [b for b in ("capacity", "max", "marginal", "min") if b in (fb, tb)]
                    code = f"allocation.{held[0] if held else 'zero'}"
                if rule is not None:
                    params["rule"], code = rule, "allocation.rule"
            lines.append(
                AllocationLine(
                    provider_id=e.provider_id,
                    period=period,
                    funds=float(funds[i, t]),
                    traffic=float(traffic[i, t]),
                    expected_uplift=float(expected[i, t]),
                    reason_code=code,
                    reason_params=params,
                )
            )
    return AllocationResult(
        lines=tuple(lines),
        status=status,
        solver=solver,
        objective=uplift + bonus,
        uplift=uplift,
        tier_bonus=bonus,
        solver_objective=float(value),
        best_bound=float(bound),
        gap=float(gap),
        solve_seconds=float(seconds),
        crossings=crossings,
        issues=issues,
    )


def split_allocation(
    estimates: Sequence[ProviderEstimate],
    budget: PlanBudget,
    tiers: Sequence[Tier],
    config: AllocationConfig,
    *,
    rule: Literal["equal", "gmv"],
) -> AllocationResult:
    """A rule of thumb to compare with: each period's budget above the floors split among the
    eligible providers equally (``equal``) or in proportion to their projected monthly GMV
    (``gmv``), each held to its cap, what a cap leaves over going to the others (water-filling).
    """
    pr = _problem(estimates, config)
    T = pr.gmv.shape[1]
    out = {}
    for r in RESOURCES:
        x = np.repeat(pr.lo[r][:, None], T, axis=1)
        room = pr.cap[r] - pr.lo[r]
        for t, amount in enumerate(budget.amounts(r)[:T]):
            w = np.where(room > 0, 1.0 if rule == "equal" else pr.gmv[:, t], 0.0)
            left, open_ = amount - x[:, t].sum(), w > 0
            for _ in range(len(w)):  # each round fills the budget or caps a provider
                if left <= 1e-9 * max(amount, 1.0) or not open_.any():
                    break
                share = left * np.where(open_, w, 0.0) / w[open_].sum()
                add = np.minimum(share, room - (x[:, t] - pr.lo[r]))
                x[:, t] += add
                left -= add.sum()
                open_ &= x[:, t] - pr.lo[r] < room - 1e-9
        out[r] = np.maximum(np.floor(x * 100) / 100, pr.lo[r][:, None])
    return _result(
        estimates,
        budget,
        tiers,
        config,
        (out["funds"], out["traffic"]),
        status="rule",
        solver="none",
        account=(np.nan, np.nan, np.nan, 0.0),
        rule=rule,
    )
