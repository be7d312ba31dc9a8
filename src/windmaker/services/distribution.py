"""Influencer distribution (达人分销): recommendations, hit products, horse race, concentration.

Four use cases, one function each, given the warehouse, the configs and a progress callback:
they fit the models of :mod:`windmaker.models` on the warehouse, store ``mdl_recommendations``,
``mdl_hits``, ``mdl_horse_race`` and ``mdl_concentration`` with the columns and types the
results contract declares, and return typed records; reasons stay codes with parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pyarrow as pa

from windmaker import contract
from windmaker.models import concentration as conc
from windmaker.models import hits as hit_model
from windmaker.models import horse_race as hr
from windmaker.models import matching
from windmaker.results import CONCENTRATION, HITS, HORSE_RACE, RECOMMENDATIONS, TRUST_SCORES
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError, not_found
from windmaker.services.result_tables import result_arrow
from windmaker.warehouse import Warehouse

#: ``progress(done, total)``; ``total`` 0 while the amount of work is not known yet.
Progress = Callable[[int, int], None]


def _quiet(_done: int, _total: int) -> None:
    return None


# -- records -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Recommendations:
    """The influencer lists of one run: the history cutoff, one list per brand, rows stored."""

    as_of: date
    lists: tuple[matching.RecommendationList, ...]
    stored: int


@dataclass(frozen=True)
class HitVerdict:
    """One recently launched SKU: its chance of being a hit and next week's decision."""

    sku_id: str
    brand_id: str
    first_sale: datetime
    orders: int
    p_hit: float
    decision: str
    reason_code: str
    reason_params: str


@dataclass(frozen=True)
class Hits:
    """The verdicts on SKUs first sold within ``days`` of ``as_of`` (the last order day)."""

    as_of: date
    verdicts: tuple[HitVerdict, ...]

    def count(self, decision: str) -> int:
        return sum(v.decision == decision for v in self.verdicts)


@dataclass(frozen=True)
class RaceEntry:
    """One matrix account in its brand's race: shrunk GMV per live hour, P(best), decision."""

    brand_id: str
    account_id: str
    weeks: int
    gmv_per_live_hour_shrunk: float
    p_best: float
    decision: str
    reason_code: str
    reason_params: str


@dataclass(frozen=True)
class HorseRace:
    """The race of every brand's matrix accounts over the last ``weeks`` weeks to ``as_of``."""

    as_of: date | None
    weeks: int
    min_accounts: int
    entries: tuple[RaceEntry, ...]


@dataclass(frozen=True)
class ConcentrationRisk:
    """One brand whose distribution GMV hangs on one influencer."""

    brand_id: str
    distribution_gmv: Decimal
    influencers: int
    top_influencer: str
    top_share: float
    hhi: float


@dataclass(frozen=True)
class Concentration:
    """Concentration over ``[start, end)``: the flagged brands, largest top share first."""

    start: date
    end: date
    brands: int
    flagged: tuple[ConcentrationRisk, ...]


# -- shared ------------------------------------------------------------------------------------
def _tables(wh: Warehouse) -> dict[str, object]:
    return {t.name: wh.table(t.name) for t in contract.TABLES}


def _last_order_day(wh: Warehouse) -> date:
    """The day of the last order; refuses when the warehouse has none."""
    last = wh.execute(wh.table(contract.ORDERS.name).paid_at.max())
    if last is None or pd.isna(last):
        raise ServiceError("no_data", 409, reason="the warehouse has no orders yet")
    return pd.Timestamp(last).date()


def _replace_rows(wh: Warehouse, name: str, new: pa.Table, key: str, keys: set[str]) -> None:
    """Write ``new`` into table ``name`` in place of its rows whose ``key`` is in ``keys``."""
    if wh.has_table(name):
        old = wh.to_arrow(wh.table(name))
        if old.schema.names == new.schema.names:
            old_df = old.to_pandas()
            kept = old_df[~old_df[key].astype(str).isin(keys)]
            new = pa.concat_tables([result_arrow(name, kept), new])
    wh.write(name, new)


# -- influencers recommend ---------------------------------------------------------------------
def recommend_influencers(
    wh: Warehouse,
    configs: Configs,
    *,
    brand: str | None = None,
    sku: str | None = None,
    top: int | None = None,
    as_of: date | None = None,
    progress: Progress = _quiet,
) -> Recommendations:
    """Rank the influencers each brand (or ``brand``, or its ``sku``) has not worked with by
    predicted cooperation GMV and store the lists in ``mdl_recommendations``.

    History before the month of ``as_of`` trains the model (all of it when left out). The trust
    module's scores gate the list when ``mdl_trust_scores`` exists (the proxy gate otherwise):
    an influencer below the gate is never recommended. Other brands' stored lists are kept.
    Refuses with ``no_data`` without orders or cooperation history, ``not_found`` for an
    unknown brand or SKU.
    """
    cfg = configs.distribution
    last = _last_order_day(wh)
    cutoff = (
        pd.Timestamp(as_of).to_period("M").to_timestamp()
        if as_of
        else (pd.Timestamp(last) + pd.offsets.MonthBegin(1)).normalize()
    )
    exprs = matching.source_expressions(_tables(wh))  # type: ignore[arg-type]
    frames = matching.MatchingFrames.from_results({k: wh.execute(e) for k, e in exprs.items()})
    scores = wh.execute(wh.table(TRUST_SCORES)) if wh.has_table(TRUST_SCORES) else None
    gate: matching.TrustGate = (
        matching.TrustModuleGate(scores, cutoff, configs.trust)
        if scores is not None and len(scores)
        else matching.ProxyTrustGate(cfg.matching.trust)
    )
    try:
        model = matching.fit_matching(frames.before(cutoff), cutoff, cfg.matching, gate)
    except ValueError as exc:
        raise ServiceError("no_data", 409, reason=str(exc)) from None
    brands = [brand] if brand else [str(b) for b in model.state.brand_ids]
    lists: list[matching.RecommendationList] = []
    progress(0, len(brands))
    for i, b in enumerate(brands, start=1):
        try:
            lists.append(matching.recommend(model, b, sku_id=sku, top_k=top))
        except KeyError as exc:
            raise not_found(str(exc.args[0])) from None
        progress(i, len(brands))
    recs = pd.DataFrame([r.__dict__ for rl in lists for r in rl.recommendations])
    if not recs.empty:
        recs["as_of"] = cutoff.date()
        _replace_rows(
            wh, RECOMMENDATIONS, result_arrow(RECOMMENDATIONS, recs), "brand_id", set(brands)
        )
    return Recommendations(cutoff.date(), tuple(lists), len(recs))


# -- hits --------------------------------------------------------------------------------------
def detect_hits(
    wh: Warehouse, configs: Configs, *, days: int = 28, progress: Progress = _quiet
) -> Hits:
    """Hit-product detection (测款/打爆款): P(hit) of every SKU first sold in the last ``days``
    days and push / keep testing / drop; stored in ``mdl_hits`` (replacing the last run).

    Nothing is stored when fewer than two SKUs have sales (no prior can be fitted).
    """
    cfg = configs.distribution.hits
    last = _last_order_day(wh)
    progress(0, 1)
    launches = wh.execute(
        hit_model.launch_window_expression(_tables(wh), cfg.window_days)  # type: ignore[arg-type]
    )
    if len(launches) < 2:
        progress(1, 1)
        return Hits(last, ())
    scored = hit_model.score_hits(launches, cfg)
    since = pd.Timestamp(last) - pd.Timedelta(days=days)
    recent = scored[pd.to_datetime(scored["first_sale"]) >= since].copy()
    recent["as_of"] = last
    recent["exposure"] = hit_model.sales_and_exposure(recent, cfg)[1]
    wh.write(HITS, result_arrow(HITS, recent))
    progress(1, 1)
    return Hits(
        last,
        tuple(
            HitVerdict(
                sku_id=str(r.sku_id),
                brand_id=str(r.brand_id),
                first_sale=pd.Timestamp(r.first_sale).to_pydatetime(),
                orders=int(r.orders),
                p_hit=float(r.p_hit),
                decision=str(r.decision),
                reason_code=str(r.reason_code),
                reason_params=str(r.reason_params),
            )
            for r in recent.itertuples()
        ),
    )


# -- horse race --------------------------------------------------------------------------------
def race_matrix_accounts(
    wh: Warehouse, configs: Configs, *, progress: Progress = _quiet
) -> HorseRace:
    """The matrix-account horse race (矩阵号赛马): every brand's own accounts over the last
    ``weeks`` weeks, to scale, keep or stop; stored in ``mdl_horse_race``.

    Nothing is stored when no brand account has live sessions.
    """
    cfg = configs.distribution.horse_race
    progress(0, 1)
    weeks = wh.execute(hr.account_week_expression(_tables(wh)))  # type: ignore[arg-type]
    if weeks.empty:
        progress(1, 1)
        return HorseRace(None, cfg.weeks, cfg.min_accounts, ())
    weeks["week"] = pd.to_datetime(weeks["week"])
    last = weeks["week"].max()
    res = hr.race(weeks[weeks["week"] > last - pd.Timedelta(weeks=cfg.weeks)], cfg)
    res["as_of"] = last.date()
    wh.write(HORSE_RACE, result_arrow(HORSE_RACE, res))
    progress(1, 1)
    entries = tuple(
        RaceEntry(
            brand_id=str(r.brand_id),
            account_id=str(r.account_id),
            weeks=int(r.weeks),
            gmv_per_live_hour_shrunk=float(r.gmv_per_live_hour_shrunk),
            p_best=float(r.p_best),
            decision=str(r.decision),
            reason_code=str(r.reason_code),
            reason_params=str(r.reason_params),
        )
        for r in res.sort_values(["brand_id", "p_best"], ascending=[True, False]).itertuples()
    )
    return HorseRace(last.date(), cfg.weeks, cfg.min_accounts, entries)


# -- concentration -----------------------------------------------------------------------------
def concentration_risk(
    wh: Warehouse, configs: Configs, *, progress: Progress = _quiet
) -> Concentration:
    """Concentration risk (达人依赖风险) over the last ``window_days`` days of orders: each
    brand's top-influencer share and HHI of distribution GMV; stored in ``mdl_concentration``."""
    cfg = configs.distribution.concentration
    end = _last_order_day(wh) + timedelta(days=1)
    start = end - timedelta(days=cfg.window_days)
    progress(0, 1)
    wh.write(CONCENTRATION, conc.concentration_expression(_tables(wh), start, end, cfg))  # type: ignore[arg-type]
    stored = wh.table(CONCENTRATION)
    flagged = wh.execute(stored.filter(stored.flagged).order_by(stored.top_share.desc()))
    progress(1, 1)
    return Concentration(
        start,
        end,
        int(wh.execute(stored.count())),
        tuple(
            ConcentrationRisk(
                brand_id=str(r.brand_id),
                distribution_gmv=Decimal(str(r.distribution_gmv)),
                influencers=int(r.influencers),
                top_influencer=str(r.top_influencer),
                top_share=float(r.top_share),
                hhi=float(r.hhi),
            )
            for r in flagged.itertuples()
        ),
    )
