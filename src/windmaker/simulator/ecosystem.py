"""Service providers (服务商): kinds, capabilities, categories, capacity, true skill, clients.

A brand has at most one provider at a time. Providers with a higher true skill make the skills
of their clients grow faster (on the capabilities they serve) and raise their clients' chance
to advance on the ladder (see ``ladder``), so evaluating providers on the data can recover it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from windmaker.contract import CAPABILITIES, STAGES
from windmaker.simulator.config import SECONDS_PER_DAY, SimulatorParams, Window

_NAMES = list("星火启航聚力智联鲸选风向远帆优品同舟锐思")


@dataclass(frozen=True)
class Providers:
    """Providers and their assignments (one row per assignment)."""

    kind: np.ndarray  # object: kind code
    capabilities: np.ndarray  # bool [P, 5]
    categories: list[list[str]]
    capacity: np.ndarray
    team_size: np.ndarray
    skill: np.ndarray  # true skill 0..1
    founded_day: np.ndarray  # datetime64[D]
    names: list[str]
    # assignments
    a_provider: np.ndarray
    a_brand: np.ndarray
    a_start_month: np.ndarray  # first month the assignment acts on (may be 0 for earlier starts)
    a_end_month: np.ndarray  # last month it acts on; -1 = ongoing
    a_started: np.ndarray  # datetime64[D]
    a_ended: np.ndarray  # datetime64[D], NaT = ongoing

    @property
    def n(self) -> int:
        return len(self.kind)

    def provider_of(self, n_brands: int, months: int) -> np.ndarray:
        """Provider index acting on each brand-month, −1 for none: int [brands, months]."""
        out = np.full((n_brands, months), -1, dtype=np.int64)
        for p, b, s, e in zip(
            self.a_provider, self.a_brand, self.a_start_month, self.a_end_month, strict=True
        ):
            out[b, s : (months if e < 0 else e + 1)] = p
        return out


def make_providers(
    rng: np.random.Generator,
    window: Window,
    params: SimulatorParams,
    categories: list[str],
    brand_category: np.ndarray,
    brand_join_month: np.ndarray,
    brand_joined_day: np.ndarray,
    initial_stage: np.ndarray,
) -> Providers:
    """Draw providers and their client brands over the window.

    At the window start a brand of stage s has a provider with probability ``start_share[s]``;
    every month a brand without one takes one on with probability ``take_on``, and an
    assignment ends with probability ``churn × (1.5 − provider skill)``. A provider is chosen
    among those serving the brand's category with capacity left, with weight 0.5 + skill.
    """
    pp = params.providers
    n_brands = len(brand_category)
    n = max(pp.minimum, n_brands // pp.per_brands)
    kinds = list(pp.kinds)
    kw = np.array([pp.kinds[k].weight for k in kinds])
    kind_idx = rng.choice(len(kinds), n, p=kw / kw.sum())
    kind_idx[: min(n, len(kinds))] = np.arange(min(n, len(kinds)))  # every kind exists
    caps = np.zeros((n, len(CAPABILITIES)), dtype=bool)
    for i, k in enumerate(kind_idx):
        for c in pp.kinds[kinds[k]].capabilities:
            caps[i, CAPABILITIES.index(c)] = True
    cat_w = np.array([params.categories[c].weight for c in categories])
    cat_w = cat_w / cat_w.sum()
    prov_cats: list[list[str]] = []
    serves = np.zeros((n, len(categories)), dtype=bool)
    for i in range(n):
        k = int(rng.integers(1, min(3, len(categories)) + 1))
        chosen = np.sort(rng.choice(len(categories), k, replace=False, p=cat_w))
        serves[i, chosen] = True
        prov_cats.append([categories[j] for j in chosen])
    # each category is served by at least one provider
    for j in range(len(categories)):
        if not serves[:, j].any():
            i = int(rng.integers(0, n))
            serves[i, j] = True
            prov_cats[i] = [c for c in categories if serves[i, categories.index(c)]]
    skill = rng.beta(2.0, 2.0, n)
    capacity = rng.integers(pp.capacity[0], pp.capacity[1] + 1, n)
    team = np.maximum(3, (capacity * rng.uniform(2, 12, n)).astype(np.int64))
    founded = np.datetime64("2012-01-01") + rng.integers(0, 12 * 365, n).astype("timedelta64[D]")
    names = [
        f"{_NAMES[a]}{_NAMES[b]}{k}"
        for a, b, k in zip(
            rng.integers(0, len(_NAMES), n).tolist(),
            rng.integers(0, len(_NAMES), n).tolist(),
            ["运营", "MCN", "投放", "供应链", "全案"] * (n // 5 + 1),
            strict=False,
        )
    ]
    load = np.zeros(n, dtype=np.int64)
    months = window.months
    current = np.full(n_brands, -1, dtype=np.int64)
    cur_start = np.zeros(n_brands, dtype=np.int64)
    cur_started = np.full(n_brands, np.datetime64("NaT"), dtype="datetime64[D]")
    rows: list[tuple[int, int, int, int, np.datetime64, np.datetime64]] = []
    start_share = np.array([pp.start_share.get(s, 0.0) for s in STAGES])

    def choose(b: int) -> int:
        ok = serves[:, brand_category[b]] & (load < capacity)
        if not ok.any():
            return -1
        w = np.where(ok, 0.5 + skill, 0.0)
        return int(rng.choice(n, p=w / w.sum()))

    u_start = rng.random(n_brands)
    for b in range(n_brands):
        if brand_join_month[b] < 0 and u_start[b] < start_share[max(initial_stage[b], 0)]:
            p = choose(b)
            if p >= 0:
                back = int(rng.integers(0, 540))
                started = max(window.start_day - back, brand_joined_day[b])
                current[b], cur_start[b], cur_started[b] = p, 0, started
                load[p] += 1
    u_take = rng.random((n_brands, months))
    u_churn = rng.random((n_brands, months))
    day_in_month = rng.integers(0, 28, (n_brands, months))
    for m in range(1, months):
        first = window.month_starts[m]
        for b in range(n_brands):
            p = int(current[b])
            if p >= 0 and u_churn[b, m] < pp.churn * (1.5 - skill[p]):
                ended = first - 1 - int(day_in_month[b, m]) % 10
                rows.append(
                    (p, b, int(cur_start[b]), m - 1, cur_started[b], max(ended, cur_started[b]))
                )
                load[p] -= 1
                current[b] = -1
            elif p < 0 and brand_join_month[b] < m and u_take[b, m] < pp.take_on:
                p = choose(b)
                if p >= 0:
                    current[b], cur_start[b] = p, m
                    cur_started[b] = first + int(day_in_month[b, m]) % 5
                    load[p] += 1
    for bb in np.flatnonzero(current >= 0).tolist():
        rows.append(
            (int(current[bb]), bb, int(cur_start[bb]), -1, cur_started[bb], np.datetime64("NaT"))
        )
    rows.sort(key=lambda r: (r[1], r[2]))
    return Providers(
        kind=np.asarray(kinds, dtype=object)[kind_idx],
        capabilities=caps,
        categories=prov_cats,
        capacity=capacity,
        team_size=team,
        skill=skill,
        founded_day=founded,
        names=names,
        a_provider=np.array([r[0] for r in rows], dtype=np.int64),
        a_brand=np.array([r[1] for r in rows], dtype=np.int64),
        a_start_month=np.array([r[2] for r in rows], dtype=np.int64),
        a_end_month=np.array([r[3] for r in rows], dtype=np.int64),
        a_started=np.array([r[4] for r in rows], dtype="datetime64[D]"),
        a_ended=np.array([r[5] for r in rows], dtype="datetime64[D]"),
    )


def joined_day(joined_s: np.ndarray) -> np.ndarray:
    """Calendar day of a seconds timestamp."""
    return (joined_s // SECONDS_PER_DAY).astype("datetime64[D]")
