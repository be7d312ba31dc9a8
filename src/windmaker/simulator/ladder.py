"""The latent growth path of every brand: true stage, size, capability skills, bottleneck.

The path is planted first and everything observable is derived from it, so the diagnosis can
be checked against it:

1. stage per month: a Markov chain over ``zero_breaking → climbing → ka → ska`` with quotas per
   category (KA and SKA are at most the top 9 % / 1 % of the category's active brands);
2. monthly net GMV target per stage, from a per-brand level per stage (brands of higher
   potential are larger at every stage) so the ladder's size criteria hold with a margin;
3. skills: for each spell of months at one stage, a bottleneck capability is planted a clear
   gap below what the next stage requires and the others close to it; climbing brands big
   enough to rank among the top of their category are held back by self-operation or private
   domain (the KA criteria they then fail), KA brands by special supply most often;
4. provider effect: skills of served capabilities grow by ``provider_growth × skill`` a month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from windmaker.contract import CAPABILITIES, STAGES
from windmaker.simulator.brands import Brands
from windmaker.simulator.config import SimulatorParams, Window
from windmaker.simulator.ecosystem import Providers

ZB, CLIMBING, KA, SKA = 0, 1, 2, 3
NEXT_STAGE = ("climbing", "ka", "ska", "ska")


@dataclass(frozen=True)
class LadderPlan:
    """Per brand-month latent truth (−1 / NaN before the brand joins)."""

    stage: np.ndarray  # int8 [N, M]
    gmv: np.ndarray  # target net GMV of the month, yuan [N, M]
    skills: np.ndarray  # [N, M, 5] in CAPABILITIES order
    bottleneck: np.ndarray  # int8 [N, M] index into CAPABILITIES
    gated: np.ndarray  # bool [N, M]: climbing brand large enough for KA, held back by S or P
    provider: np.ndarray  # provider index acting on the brand-month, −1 for none

    @property
    def active(self) -> np.ndarray:
        return self.stage >= 0


def quota(potential: np.ndarray, share: float, market: np.ndarray, min_brands: int) -> int:
    """How many brands of a category may hold a stage that takes its top ``share``.

    ``floor(share × n)`` in a category of at least ``min_brands`` brands; below, the category's
    brands whose potential is in the top ``share`` of the whole ``market`` (a small category
    has its leaders too, and floor(1 % × 50) would give it none).
    """
    if len(potential) >= min_brands or len(market) == 0:
        return int(np.floor(share * len(potential)))
    return int((potential >= np.quantile(market, 1.0 - share)).sum())


def initial_stage(brands: Brands, params: SimulatorParams) -> np.ndarray:
    """Stage at the window start of the brands already on the platform (−1 for new ones), by
    rank of potential within the category (:func:`quota`)."""
    bp = params.brands
    out = np.full(brands.n, -1, dtype=np.int64)
    existing = brands.join_month < 0
    market = brands.potential[existing]
    small = bp.small_category
    for c in range(len(brands.categories)):
        idx = np.flatnonzero(existing & (brands.category == c))
        if len(idx) == 0:
            continue
        order = idx[np.argsort(-brands.potential[idx], kind="stable")]
        n = len(order)
        pot = brands.potential[idx]
        n_ska = quota(pot, bp.ska_share, market, small.ska)
        n_ka = max(quota(pot, bp.ka_share, market, small.ka) - n_ska, 0)
        n_zero = int(np.floor(bp.zero_breaking_share * n))
        out[order] = CLIMBING
        out[order[:n_ska]] = SKA
        out[order[n_ska : n_ska + n_ka]] = KA
        if n_zero:
            out[order[n - n_zero :]] = ZB
    return out


def _stage_paths(
    rng: np.random.Generator,
    brands: Brands,
    window: Window,
    params: SimulatorParams,
    start: np.ndarray,
    provider: np.ndarray,
    provider_skill: np.ndarray,
) -> np.ndarray:
    tp = params.transitions
    n, months = brands.n, window.months
    stage = np.full((n, months), -1, dtype=np.int64)
    stage[:, 0] = start
    stage[brands.join_month == 0, 0] = ZB
    pot_rank = np.zeros(n)
    for c in range(len(brands.categories)):
        idx = np.flatnonzero(brands.category == c)
        pot_rank[idx[np.argsort(brands.potential[idx])]] = (np.arange(len(idx)) + 0.5) / len(idx)
    u = rng.random((n, months))
    for m in range(1, months):
        prev = stage[:, m - 1].copy()
        cur = prev.copy()
        cur[brands.join_month == m] = ZB
        p = provider[:, m]
        boost = 1.0 + tp.provider_boost * np.where(p >= 0, provider_skill[np.maximum(p, 0)], 0.0)
        age = m - np.where(brands.join_month < 0, -99, brands.join_month)
        # falls first, then advances, then quotas of the top of each category
        fall = np.select(
            [prev == CLIMBING, prev == KA, prev == SKA],
            [tp.fall_climbing, tp.fall_ka, tp.fall_ska],
            0.0,
        )
        falling = (prev >= CLIMBING) & (u[:, m] < fall)
        cur[falling] = prev[falling] - 1
        adv_p = (
            np.select(
                [prev == ZB, prev == CLIMBING, prev == KA],
                [
                    tp.advance_zero_breaking * (0.5 + pot_rank),
                    tp.advance_climbing * 2.0 * pot_rank**2,
                    tp.advance_ka * 2.0 * pot_rank**2,
                ],
                0.0,
            )
            * boost
        )
        advancing = (prev >= ZB) & (prev < SKA) & ~falling & (u[:, m] > 1.0 - adv_p) & (age >= 3)
        active = brands.join_month <= m
        small = params.brands.small_category
        for c in range(len(brands.categories)):
            in_cat = brands.category == c
            pot = brands.potential[active & in_cat]
            market = brands.potential[active]
            caps = {
                KA: quota(pot, tp.max_ka_share, market, small.ka),
                SKA: quota(pot, tp.max_ska_share, market, small.ska),
            }
            zb_adv = np.flatnonzero(advancing & in_cat & (prev == ZB))
            cur[zb_adv] = CLIMBING
            for target in (SKA, KA):
                cands = np.flatnonzero(advancing & in_cat & (prev == target - 1))
                cands = cands[np.argsort(-brands.potential[cands], kind="stable")]
                held = (
                    int(((cur >= target) & in_cat).sum())
                    if target == SKA
                    else int(((cur >= KA) & in_cat).sum())
                )
                room = max(caps[target] - held, 0)
                cur[cands[:room]] = target
        stage[:, m] = cur
    return stage


def _levels(rng: np.random.Generator, brands: Brands, params: SimulatorParams) -> np.ndarray:
    """Per brand and stage monthly GMV level [N, 4]: lognormal(median, sigma) clipped, driven by
    0.8·potential + 0.6·noise so bigger brands are bigger at every stage."""
    out = np.zeros((brands.n, len(STAGES)))
    for s, name in enumerate(STAGES):
        lv = params.monthly_gmv.level(name)
        z = 0.8 * brands.potential + 0.6 * rng.standard_normal(brands.n)
        val = lv.median * np.exp(lv.sigma * z)
        out[:, s] = np.clip(val, lv.min, lv.max if lv.max is not None else np.inf)
    return out


def _gmv(
    rng: np.random.Generator,
    brands: Brands,
    window: Window,
    params: SimulatorParams,
    stage: np.ndarray,
    provider: np.ndarray,
    provider_skill: np.ndarray,
) -> np.ndarray:
    levels = _levels(rng, brands, params)
    n, months = stage.shape
    gmv = np.take_along_axis(levels, np.maximum(stage, 0), axis=1)
    gmv = gmv * np.exp(rng.normal(0.0, params.monthly_gmv.month_noise, (n, months)))
    # a new brand ramps up over its first months
    ramp = np.asarray(params.monthly_gmv.new_brand_ramp)
    age = np.arange(months)[None, :] - brands.join_month[:, None]
    new = (brands.join_month >= 0)[:, None] & (age >= 0) & (age < len(ramp))
    gmv = np.where(new, gmv * ramp[np.clip(age, 0, len(ramp) - 1)], gmv)
    # clients of skilled providers grow: +provider_growth × skill per month served, within the
    # stage band
    served = np.where(provider >= 0, provider_skill[np.maximum(provider, 0)], 0.0)
    growth = np.exp(np.cumsum(params.monthly_gmv.provider_growth * served, axis=1))
    caps = np.array([params.monthly_gmv.level(s).max or np.inf for s in STAGES])
    gmv = np.minimum(gmv * growth, caps[np.maximum(stage, 0)] * 1.05)
    return np.where(stage >= 0, gmv, 0.0)


def _gated(
    brands: Brands, params: SimulatorParams, stage: np.ndarray, gmv: np.ndarray
) -> np.ndarray:
    """Climbing brand-months whose expected trailing-90-day GMV ranks in the top
    ``gated_top_share`` of the category, extended over the whole climbing spell. A category
    below ``brands.small_category.ka`` has no such rank (its KA size is a GMV level that no
    climbing brand reaches), so none of its brands is gated."""
    _n, months = stage.shape
    t90 = gmv.copy()
    t90[:, 1:] += gmv[:, :-1]
    t90[:, 2:] += gmv[:, :-2]
    top = np.zeros_like(stage, dtype=bool)
    for c in range(len(brands.categories)):
        rows = brands.category == c
        for m in range(months):
            idx = np.flatnonzero(rows & (stage[:, m] >= 0))
            if len(idx) < params.brands.small_category.ka:
                continue
            k = max(int(np.ceil(params.skills.gated_top_share * len(idx))), 1)
            best = idx[np.argsort(-t90[idx, m], kind="stable")[:k]]
            top[best, m] = True
    gated = top & (stage == CLIMBING)
    # whole spell
    spell = _spells(stage, np.zeros_like(gated))
    spell_gated = np.zeros(spell.max() + 1, dtype=bool)
    np.logical_or.at(spell_gated, spell[gated], True)
    return spell_gated[spell] & (stage == CLIMBING)


def _spells(stage: np.ndarray, flag: np.ndarray) -> np.ndarray:
    """Id of each run of equal (stage, flag) along a brand's months."""
    key = stage * 2 + flag.astype(np.int64)
    change = np.ones_like(key, dtype=bool)
    change[:, 1:] = key[:, 1:] != key[:, :-1]
    return np.cumsum(change.ravel()).reshape(key.shape) - 1


def _skills(
    rng: np.random.Generator,
    params: SimulatorParams,
    stage: np.ndarray,
    gated: np.ndarray,
    provider: np.ndarray,
    provider_skill: np.ndarray,
    provider_caps: np.ndarray,
) -> np.ndarray:
    sp = params.skills
    spell = _spells(stage, gated)
    first = np.unique(spell.ravel(), return_index=True)[1]
    s_stage = np.maximum(stage.ravel()[first], 0)
    s_gated = gated.ravel()[first]
    k = len(first)
    n_cap = len(CAPABILITIES)
    req = np.stack([sp.vector(sp.requirements, NEXT_STAGE[s]) for s in range(4)])[s_stage]
    weights = np.stack([sp.vector(sp.bottleneck_weights, STAGES[s]) for s in range(4)])
    gated_w = np.zeros(n_cap)
    gated_w[[CAPABILITIES.index("self_operation"), CAPABILITIES.index("private_domain")]] = 0.5
    w = np.where(s_gated[:, None], gated_w[None, :], weights[s_stage])
    cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    bott = np.minimum((rng.random(k)[:, None] > cum).sum(axis=1), n_cap - 1)
    skill = req + rng.uniform(-sp.spread, sp.spread, (k, n_cap))
    gap = np.select(
        [s_gated, s_stage == KA],
        [rng.uniform(*sp.gated_gap, k), rng.uniform(*sp.ka_bottleneck_gap, k)],
        rng.uniform(*sp.bottleneck_gap, k),
    )
    rows = np.arange(k)
    skill[rows, bott] = req[rows, bott] - gap
    # KA brands meet the SKA special-supply share unless that is what holds them back
    ss = CAPABILITIES.index("special_supply")
    ka_ss = (s_stage == KA) & (bott != ss)
    skill[ka_ss, ss] = sp.ka_special_supply + rng.uniform(-0.04, 0.04, int(ka_ss.sum()))
    ka_b = (s_stage == KA) & (bott == ss)
    skill[ka_b, ss] = sp.ka_special_supply - rng.uniform(0.15, 0.25, int(ka_b.sum()))
    # SKA brands are strong everywhere; the weakest (planted) one is just at the requirement
    ska = s_stage == SKA
    skill[ska] = req[ska] + rng.uniform(0.06, 0.14, (int(ska.sum()), n_cap))
    skill[ska, bott[ska]] = req[ska, bott[ska]] - rng.uniform(0.0, 0.04, int(ska.sum()))
    out = skill[spell]
    out = out + rng.normal(0.0, sp.month_noise, out.shape)
    # provider effect: served capabilities grow while served, and the gain is kept
    served = np.where(provider >= 0, provider_skill[np.maximum(provider, 0)], 0.0)
    cap_mask = np.where(
        (provider >= 0)[..., None], provider_caps[np.maximum(provider, 0)], False
    ).astype(float)
    gain = np.cumsum(sp.provider_growth * served[..., None] * cap_mask, axis=1)
    out = out + np.minimum(gain, sp.provider_growth_cap)
    out = np.clip(out, 0.02, 0.98)
    return np.where((stage >= 0)[..., None], out, np.nan)


def bottleneck_of(params: SimulatorParams, stage: np.ndarray, skills: np.ndarray) -> np.ndarray:
    """Capability index with the largest gap ``requirement(next stage) − skill`` (−1 inactive)."""
    sp = params.skills
    req = np.stack([sp.vector(sp.requirements, NEXT_STAGE[s]) for s in range(4)])
    gap = req[np.maximum(stage, 0)] - np.nan_to_num(skills, nan=0.0)
    return np.where(stage >= 0, np.argmax(gap, axis=-1), -1).astype(np.int8)


def plan_ladder(
    rng: np.random.Generator,
    brands: Brands,
    providers: Providers,
    window: Window,
    params: SimulatorParams,
    start: np.ndarray,
) -> LadderPlan:
    """Plant the stage path, GMV targets, skills and bottleneck of every brand-month."""
    provider = providers.provider_of(brands.n, window.months)
    provider[brands.join_month[:, None] > np.arange(window.months)[None, :]] = -1
    stage = _stage_paths(rng, brands, window, params, start, provider, providers.skill)
    gmv = _gmv(rng, brands, window, params, stage, provider, providers.skill)
    gated = _gated(brands, params, stage, gmv)
    skills = _skills(rng, params, stage, gated, provider, providers.skill, providers.capabilities)
    return LadderPlan(
        stage=stage.astype(np.int8),
        gmv=gmv,
        skills=skills,
        bottleneck=bottleneck_of(params, stage, skills),
        gated=gated,
        provider=provider,
    )
