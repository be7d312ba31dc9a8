"""Matching brands that need help to providers, as one optimisation over the whole portfolio.

Each brand needing help has a bottleneck capability, a category and a size (monthly GMV). A
provider is **eligible** for it when it declares the bottleneck capability, serves the category
(or, when ``category_must_match`` is false, at ``off_category_factor`` of the benefit), has
capacity left, is not excluded for that brand, and its predicted uplift is above
``min_predicted_uplift``.

**Predicted uplift** of provider ``p`` for brand ``b`` (category ``c``, size band ``s``, where
bands are ``floor(ln(GMV + 1) / ln(similar_size_factor))``) shrinks ``p``'s track record — the
uplifts of its past clients measured by the evaluation — in two steps, with ``k =
shrinkage_brands``::

    u_p      = (n_p · mean_p + k · prior_uplift) / (n_p + k)
    u_{p,c,s} = (n_{p,c,s} · mean_{p,c,s} + k · u_p) / (n_{p,c,s} + k)

**Predicted benefit** (yuan per month) = max(GMV_b, ``min_brand_value``) · u_{p,c,s}
(· ``off_category_factor`` off category).

The assignment maximises the total predicted benefit, each brand getting at most one provider
and each provider at most its capacity left (capacity − current clients), as a min-cost flow
(OR-Tools): source → brand (capacity 1) → provider (cost −benefit) → sink (capacity left),
plus a zero-cost bypass source → sink, so leaving a brand unmatched is allowed. Integer costs
are benefits in units of ``benefit_unit`` yuan; the flow is optimal for those integers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from ortools.graph.python import min_cost_flow

from windmaker.contract import CAPABILITIES
from windmaker.ecosystem.config import MatchingConfig


@dataclass(frozen=True)
class Arcs:
    """Eligible brand–provider pairs with their predicted uplift and integer benefit."""

    brand: np.ndarray  # int index into the needs frame
    provider: np.ndarray  # int index into the providers frame
    uplift: np.ndarray  # float
    benefit: np.ndarray  # int64, units of benefit_unit yuan
    on_category: np.ndarray  # bool
    capacity: np.ndarray  # int per provider: capacity left
    n_brands: int


@dataclass(frozen=True)
class MatchResult:
    """Matches with reasons, brands left unmatched with why, and the objective."""

    matches: (
        pd.DataFrame
    )  # brand_id, provider_id, predicted_uplift, predicted_benefit, reason_code, reason_params
    unmatched: pd.DataFrame  # brand_id, reason_code, reason_params (``i18n.reason_text``)
    total_benefit: float


def _split(value: object) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        return [s.strip() for s in value.split(",") if s.strip()]
    return [str(s) for s in value]  # type: ignore[attr-defined]


def _band(gmv: np.ndarray, factor: float) -> np.ndarray:
    return np.floor(np.log(np.maximum(gmv, 0.0) + 1.0) / np.log(factor)).astype(np.int64)


def build_arcs(
    needs: pd.DataFrame,
    providers: pd.DataFrame,
    config: MatchingConfig,
    *,
    track_record: pd.DataFrame | None = None,
    existing: pd.DataFrame | None = None,
    exclusions: pd.DataFrame | None = None,
) -> Arcs:
    """Eligible pairs and their benefits (see the module docstring).

    Parameters
    ----------
    needs
        brand_id, category, bottleneck (capability code), monthly_gmv — brands needing help;
        brands already served in ``existing`` are left out.
    providers
        provider_id, capabilities, categories (lists or comma-separated), capacity.
    track_record
        provider_id, category, base_gmv, uplift — past clients' measured uplift
        (``EvaluationResult.client_effects``).
    existing
        provider_id, brand_id — current assignments (use capacity, keep their brands).
    exclusions
        brand_id, provider_id — pairs never to propose.
    """
    n_b, n_p = len(needs), len(providers)
    pid_index = {p: i for i, p in enumerate(providers["provider_id"].astype(str))}
    capacity = providers["capacity"].to_numpy(dtype=np.int64).copy()
    served = set()
    if existing is not None and not existing.empty:
        used = existing["provider_id"].astype(str).map(pid_index).dropna().astype(int)
        capacity -= np.bincount(used.to_numpy(), minlength=n_p)
        served = set(existing["brand_id"].astype(str))
    capacity = np.maximum(capacity, 0)

    caps = np.zeros((n_p, len(CAPABILITIES)), dtype=bool)
    cat_codes = pd.Index(sorted(set(needs["category"].astype(str))))
    serves = np.zeros((n_p, len(cat_codes)), dtype=bool)
    cat_pos = {c: j for j, c in enumerate(cat_codes)}
    for i, (cs, cats) in enumerate(
        zip(providers["capabilities"], providers["categories"], strict=True)
    ):
        for c in _split(cs):
            if c in CAPABILITIES:
                caps[i, CAPABILITIES.index(c)] = True
        for c in _split(cats):
            j = cat_pos.get(c)
            if j is not None:
                serves[i, j] = True

    prior, k = config.prior_uplift, config.shrinkage_brands
    u_p = np.full(n_p, prior)
    rec_stats: dict[tuple[int, str, int], tuple[float, float]] = {}
    if track_record is not None and not track_record.empty:
        tr = track_record.dropna(subset=["uplift"]).copy()
        tr["p"] = tr["provider_id"].astype(str).map(pid_index)
        tr = tr.dropna(subset=["p"])
        tr["p"] = tr["p"].astype(int)
        agg = tr.groupby("p")["uplift"].agg(["sum", "count"])
        u_p[agg.index.to_numpy()] = (agg["sum"].to_numpy() + k * prior) / (
            agg["count"].to_numpy() + k
        )
        tr["band"] = _band(tr["base_gmv"].to_numpy(dtype=float), config.similar_size_factor)
        grouped = tr.groupby(["p", "category", "band"])["uplift"].agg(["sum", "count"])
        for (p, c, s), total, count in zip(
            grouped.index, grouped["sum"].to_numpy(), grouped["count"].to_numpy(), strict=True
        ):
            rec_stats[(int(p), str(c), int(s))] = (float(total), float(count))

    b_cat = needs["category"].astype(str).to_numpy()
    b_cap = (
        needs["bottleneck"].astype(str).map({c: i for i, c in enumerate(CAPABILITIES)}).to_numpy()
    )
    value = np.maximum(needs["monthly_gmv"].to_numpy(dtype=float), config.min_brand_value)
    band = _band(needs["monthly_gmv"].to_numpy(dtype=float), config.similar_size_factor)
    excluded: set[tuple[str, str]] = set()
    if exclusions is not None and not exclusions.empty:
        excluded = set(
            zip(
                exclusions["brand_id"].astype(str),
                exclusions["provider_id"].astype(str),
                strict=True,
            )
        )
    brand_ids = needs["brand_id"].astype(str).to_numpy()
    provider_ids = providers["provider_id"].astype(str).to_numpy()
    keep = ~pd.Series(brand_ids).isin(served).to_numpy() & ~pd.isna(b_cap)

    groups = pd.DataFrame({"cat": b_cat, "cap": b_cap, "band": band, "i": np.arange(n_b)})[keep]
    parts_b, parts_p, parts_u, parts_on = [], [], [], []
    has_capacity = capacity > 0
    for (cat, cap, bnd), g in groups.groupby(["cat", "cap", "band"], sort=False):
        on_cat = serves[:, cat_pos[cat]]
        ok = caps[:, int(cap)] & has_capacity
        if config.category_must_match:
            ok &= on_cat
        cand = np.flatnonzero(ok)
        if cand.size == 0:
            continue
        u = u_p[cand].copy()
        for t, p in enumerate(cand):
            stat = rec_stats.get((int(p), str(cat), int(bnd)))
            if stat is not None:
                u[t] = (stat[0] + k * u_p[p]) / (stat[1] + k)
        eligible = u > config.min_predicted_uplift
        cand, u = cand[eligible], u[eligible]
        if cand.size == 0:
            continue
        rows = g["i"].to_numpy()
        parts_b.append(np.repeat(rows, cand.size))
        parts_p.append(np.tile(cand, rows.size))
        parts_u.append(np.tile(u, rows.size))
        parts_on.append(np.tile(on_cat[cand], rows.size))
    if parts_b:
        arc_b = np.concatenate(parts_b)
        arc_p = np.concatenate(parts_p)
        arc_u = np.concatenate(parts_u)
        arc_on = np.concatenate(parts_on)
    else:
        arc_b = arc_p = np.zeros(0, dtype=np.int64)
        arc_u = np.zeros(0)
        arc_on = np.zeros(0, dtype=bool)
    if excluded:
        pairs = pd.MultiIndex.from_arrays([brand_ids[arc_b], provider_ids[arc_p]])
        mask = ~pairs.isin(list(excluded))
        arc_b, arc_p, arc_u, arc_on = arc_b[mask], arc_p[mask], arc_u[mask], arc_on[mask]
    factor = np.where(arc_on, 1.0, config.off_category_factor)
    benefit = np.rint(value[arc_b] * arc_u * factor / config.benefit_unit).astype(np.int64)
    positive = benefit > 0
    return Arcs(
        brand=arc_b[positive].astype(np.int64),
        provider=arc_p[positive].astype(np.int64),
        uplift=arc_u[positive],
        benefit=benefit[positive],
        on_category=arc_on[positive],
        capacity=capacity,
        n_brands=n_b,
    )


def solve_min_cost_flow(arcs: Arcs) -> np.ndarray:
    """Indices of the chosen arcs maximising Σ benefit (exact for the integer benefits)."""
    if arcs.brand.size == 0:
        return np.zeros(0, dtype=np.int64)
    n_b, n_p = arcs.n_brands, arcs.capacity.size
    source, sink = n_b + n_p, n_b + n_p + 1
    brands_used = np.unique(arcs.brand)
    supply = int(min(brands_used.size, arcs.capacity.sum()))
    flow = min_cost_flow.SimpleMinCostFlow()
    zeros_b = np.zeros(brands_used.size, dtype=np.int64)
    flow.add_arcs_with_capacity_and_unit_cost(
        np.full(brands_used.size, source), brands_used, zeros_b + 1, zeros_b
    )
    first = flow.add_arcs_with_capacity_and_unit_cost(
        arcs.brand, n_b + arcs.provider, np.ones(arcs.brand.size, dtype=np.int64), -arcs.benefit
    )
    providers_used = np.unique(arcs.provider)
    flow.add_arcs_with_capacity_and_unit_cost(
        n_b + providers_used,
        np.full(providers_used.size, sink),
        arcs.capacity[providers_used],
        np.zeros(providers_used.size, dtype=np.int64),
    )
    flow.add_arc_with_capacity_and_unit_cost(source, sink, supply, 0)
    flow.set_node_supply(source, supply)
    flow.set_node_supply(sink, -supply)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow did not solve the matching (status {status})")
    first_arc = int(np.asarray(first).ravel()[0]) if np.ndim(first) else int(first)
    flows = flow.flows(np.arange(first_arc, first_arc + arcs.brand.size))
    return np.flatnonzero(np.asarray(flows) > 0)


def solve_greedy(arcs: Arcs) -> np.ndarray:
    """Reference heuristic: take pairs by benefit, highest first, while brand and capacity allow."""
    order = np.argsort(-arcs.benefit, kind="stable")
    left = arcs.capacity.copy()
    taken = np.zeros(arcs.n_brands, dtype=bool)
    chosen = []
    for a in order.tolist():
        b, p = arcs.brand[a], arcs.provider[a]
        if not taken[b] and left[p] > 0:
            taken[b] = True
            left[p] -= 1
            chosen.append(a)
    return np.asarray(chosen, dtype=np.int64)


def solve_milp(arcs: Arcs) -> np.ndarray:
    """Reference optimum by mixed-integer programming (``scipy.optimize.milp``); small instances."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    m = arcs.brand.size
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    n_p = arcs.capacity.size
    rows = np.concatenate([arcs.brand, arcs.n_brands + arcs.provider])
    cols = np.concatenate([np.arange(m), np.arange(m)])
    a = coo_matrix((np.ones(2 * m), (rows, cols)), shape=(arcs.n_brands + n_p, m)).tocsr()
    upper = np.concatenate([np.ones(arcs.n_brands), arcs.capacity.astype(float)])
    res = milp(
        c=-arcs.benefit.astype(float),
        constraints=LinearConstraint(a, -np.inf, upper),
        integrality=np.ones(m),
        bounds=Bounds(0, 1),
    )
    if not res.success:
        raise RuntimeError(f"MILP reference failed: {res.message}")
    return np.flatnonzero(res.x > 0.5)


def total_benefit(arcs: Arcs, chosen: np.ndarray) -> int:
    return int(arcs.benefit[chosen].sum())


def match_brands(
    needs: pd.DataFrame,
    providers: pd.DataFrame,
    config: MatchingConfig,
    *,
    track_record: pd.DataFrame | None = None,
    existing: pd.DataFrame | None = None,
    exclusions: pd.DataFrame | None = None,
) -> MatchResult:
    """The optimal assignment with a reason per match and per unmatched brand."""
    arcs = build_arcs(
        needs,
        providers,
        config,
        track_record=track_record,
        existing=existing,
        exclusions=exclusions,
    )
    chosen = solve_min_cost_flow(arcs)
    n_track = pd.Series(dtype=float)
    if track_record is not None and not track_record.empty:
        n_track = track_record.dropna(subset=["uplift"]).groupby(["provider_id", "category"]).size()
    rows = []
    used = np.bincount(arcs.provider[chosen], minlength=arcs.capacity.size)
    brand_ids = needs["brand_id"].astype(str).to_numpy()
    categories = needs["category"].astype(str).to_numpy()
    bottlenecks = needs["bottleneck"].astype(str).to_numpy()
    provider_ids = providers["provider_id"].astype(str).to_numpy()
    counts = {(str(k[0]), str(k[1])): int(v) for k, v in n_track.items()}  # type: ignore[index]
    for a in chosen.tolist():
        b, p = int(arcs.brand[a]), int(arcs.provider[a])
        cap, cat, pid = bottlenecks[b], categories[b], provider_ids[p]
        n = counts.get((pid, cat), 0)
        u = float(arcs.uplift[a])
        benefit = float(arcs.benefit[a]) * config.benefit_unit
        on = bool(arcs.on_category[a])
        left = int(arcs.capacity[p] - used[p])
        category = {"name": "category", "code": cat}
        record = (
            {"reason": "matching.record", "params": {"n": n, "category": category}}
            if n
            else {"reason": "matching.no_record", "params": {"category": category}}
        )
        coverage = "matching.serves" if on else "matching.off_category"
        rows.append(
            (
                brand_ids[b],
                pid,
                cap,
                cat,
                u,
                benefit,
                "matching.match",
                json.dumps(
                    {
                        "capability": {"name": "capability", "code": cap},
                        "coverage": {"reason": coverage, "params": {"category": category}},
                        "record": record,
                        "uplift": u,
                        "benefit": benefit,
                        "left": left,
                    }
                ),
            )
        )
    matches = pd.DataFrame(
        rows,
        columns=[
            "brand_id",
            "provider_id",
            "bottleneck",
            "category",
            "predicted_uplift",
            "predicted_benefit",
            "reason_code",
            "reason_params",
        ],
    )
    matched = set(matches["brand_id"])
    with_arcs = set(needs["brand_id"].astype(str).to_numpy()[np.unique(arcs.brand)])
    served = (
        set(existing["brand_id"].astype(str))
        if existing is not None and not existing.empty
        else set()
    )
    unmatched = []
    for bid in needs["brand_id"].astype(str):
        if bid in matched:
            continue
        if bid in served:
            code = "matching.already_served"
        elif bid in with_arcs:
            code = "matching.capacity_taken"
        else:
            code = "matching.no_eligible"
        unmatched.append({"brand_id": bid, "reason_code": code, "reason_params": "{}"})
    return MatchResult(
        matches=matches,
        unmatched=pd.DataFrame(unmatched, columns=["brand_id", "reason_code", "reason_params"]),
        total_benefit=float(total_benefit(arcs, chosen)) * config.benefit_unit,
    )
