"""A whole market: every brand fitted (or given its category's or the market's fit when thin),
its buyers scored, and the per-brand table of parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from windmaker.models.clv.config import SEGMENTS, ClvConfig, FitLevel
from windmaker.models.clv.fitting import (
    RepeatFit,
    SpendFit,
    fit_gamma_gamma,
    fit_repeat,
    warm_up,
)
from windmaker.models.clv.scoring import (
    expected_purchases,
    gamma_gamma_expected_spend,
    p_alive,
    segment_buyers,
)
from windmaker.models.parallel import on_cores


@dataclass(frozen=True)
class BrandClv:
    """One brand's fitted models and where they come from (brand, category or market level)."""

    brand_id: str
    category: str | None
    buyers: int
    repeat_buyers: int
    repeat: RepeatFit
    repeat_level: FitLevel
    spend: SpendFit | None
    spend_level: FitLevel
    notes: tuple[str, ...] = field(default=())


def fit_market(
    cells: pd.DataFrame,
    spend: pd.DataFrame,
    config: ClvConfig,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[BrandClv]:
    """Fit every brand with at least ``min_buyers`` buyers; the rest get their category's fit.

    ``cells`` is :func:`rfm_cells` executed (brand_id, category, frequency, recency, T, buyers);
    ``spend`` is :func:`repeat_spend` executed. A category with too few buyers in total falls back
    to the whole market's fit. Every fit reuses the same compiled likelihoods.
    """
    cells = cells.assign(category=cells["category"].fillna("")).reset_index(drop=True)
    spend = spend.assign(category=spend["category"].fillna("")).reset_index(drop=True)
    buyers = cells.groupby("brand_id")["buyers"].sum()
    cat_of = cells.groupby("brand_id")["category"].first()
    repeat_n = spend.groupby("brand_id").size().reindex(buyers.index, fill_value=0)
    big = [b for b in buyers.index if buyers[b] >= config.min_buyers]
    small_cats = sorted({cat_of[b] for b in buyers.index if buyers[b] < config.min_buyers})
    spend_small_cats = sorted(
        {cat_of[b] for b in buyers.index if repeat_n[b] < config.min_repeat_buyers}
    )

    def task(key: tuple[str, str], c: pd.DataFrame | None, s: pd.DataFrame | None) -> _FitTask:
        return _FitTask(key, c, s, config.pareto_nbd, config.pareto_min_loglik_gain)

    # The fallback fits of thin categories (their pooled buyers, or the whole market's when a
    # category is too thin even pooled) go to the same workers as the brands' own fits, the
    # largest first: the market's pooled fit is the longest single fit.
    pooled: list[_FitTask] = []
    cat_repeat_key: dict[str, tuple[str, str]] = {}
    for cat in small_cats:
        part = cells[cells["category"] == cat]
        if part["buyers"].sum() >= config.min_buyers:
            cat_repeat_key[cat] = ("category", cat)
            pooled.append(task(("category", cat), part, None))
        else:
            cat_repeat_key[cat] = _MARKET
    cat_spend_key: dict[str, tuple[str, str]] = {}
    for cat in spend_small_cats:
        part = spend[spend["category"] == cat]
        if len(part) >= config.min_repeat_buyers and len(part) >= 2:
            cat_spend_key[cat] = ("category", cat)
            pooled.append(task(("category", cat), None, part))
        else:
            cat_spend_key[cat] = _MARKET
    market_repeat = _MARKET in cat_repeat_key.values()
    market_spend = _MARKET in cat_spend_key.values()
    if market_repeat or market_spend:
        pooled.insert(
            0, task(_MARKET, cells if market_repeat else None, spend if market_spend else None)
        )
    # Same-category tasks (a repeat fit and a spend fit) are merged into one.
    merged: dict[tuple[str, str], _FitTask] = {}
    for t in pooled:
        had = merged.get(t.key)
        merged[t.key] = (
            t
            if had is None
            else task(
                t.key,
                had.cells if had.cells is not None else t.cells,
                had.spend if had.spend is not None else t.spend,
            )
        )

    by_brand_cells = dict(tuple(cells.groupby("brand_id", sort=False)))
    by_brand_spend = dict(tuple(spend.groupby("brand_id", sort=False)))
    # Every fit is independent of the others: they run on every core (config.workers).
    tasks = list(merged.values()) + [
        task(
            ("brand", str(b)),
            by_brand_cells[b] if buyers[b] >= config.min_buyers else None,
            by_brand_spend[b] if repeat_n[b] >= config.min_repeat_buyers else None,
        )
        for b in buyers.index
    ]
    heavy = sum(t.cells is not None for t in tasks)
    total = len(big) + len(merged)
    done = 0
    fitted: dict[tuple[str, str], tuple[RepeatFit | None, SpendFit | None]] = {}
    for key, rfit_one, sfit_one in on_cores(
        _fit_one, tasks, config.workers, heavy=heavy, warm=warm_up
    ):
        fitted[key] = (rfit_one, sfit_one)
        if key[0] != "brand" or rfit_one is not None:
            done += 1
            if progress is not None:
                progress(done, total)
    cat_repeat: dict[str, tuple[RepeatFit, FitLevel]] = {}
    for cat, key in cat_repeat_key.items():
        rfit_cat = fitted[key][0]
        assert rfit_cat is not None
        cat_repeat[cat] = (rfit_cat, "market" if key == _MARKET else "category")
    cat_spend: dict[str, tuple[SpendFit | None, FitLevel]] = {
        cat: (fitted[key][1], "market" if key == _MARKET else "category")
        for cat, key in cat_spend_key.items()
    }
    own = {key[1]: fit for key, fit in fitted.items() if key[0] == "brand"}
    out: list[BrandClv] = []
    for brand in buyers.index:
        cat = cat_of[brand]
        n, n_rep = int(buyers[brand]), int(repeat_n[brand])
        notes: list[str] = []
        rfit_own, sfit_own = own[str(brand)]
        if rfit_own is not None:
            rfit, rlevel = rfit_own, "brand"
        else:
            rfit, rlevel = cat_repeat[cat]
            notes.append(f"{n} buyers < min_buyers {config.min_buyers}: {rlevel}-level fit")
        sfit: SpendFit | None
        if n_rep >= config.min_repeat_buyers:
            sfit, slevel = sfit_own, "brand"
        else:
            sfit, slevel = cat_spend[cat]
            notes.append(f"{n_rep} repeat buyers: {slevel}-level spend model")
        if sfit is not None and sfit.q <= 1:
            notes.append("Gamma-Gamma q <= 1: mean spend unbounded, observed mean used")
        out.append(
            BrandClv(
                str(brand),
                cat or None,
                n,
                n_rep,
                rfit,
                rlevel,  # type: ignore[arg-type]
                sfit,
                slevel,  # type: ignore[arg-type]
                tuple(notes),
            )
        )
    return out


#: The key of the whole market's pooled fits.
_MARKET = ("market", "")


@dataclass(frozen=True)
class _FitTask:
    """One brand's own fits, or a thin category's (or the market's) pooled fits: the RFM cells
    to fit the repeat model on and the repeat buyers' spend, each None when not fitted here.
    ``key`` is ("brand", id), ("category", name) or ("market", "")."""

    key: tuple[str, str]
    cells: pd.DataFrame | None
    spend: pd.DataFrame | None
    try_pareto: bool
    min_gain: float


def _repeat_fit(df: pd.DataFrame, try_pareto: bool, min_gain: float) -> RepeatFit:
    g = df.groupby(["frequency", "recency", "T"], as_index=False)["buyers"].sum()
    return fit_repeat(
        g["frequency"].to_numpy(),
        g["recency"].to_numpy(),
        g["T"].to_numpy(),
        g["buyers"].to_numpy(),
        try_pareto=try_pareto,
        min_gain=min_gain,
    )


def _spend_fit(df: pd.DataFrame) -> SpendFit | None:
    if len(df) < 2:
        return None
    return fit_gamma_gamma(df["frequency"].to_numpy(), df["monetary_value"].to_numpy())


def _fit_one(task: _FitTask) -> tuple[tuple[str, str], RepeatFit | None, SpendFit | None]:
    """One task's fits (in a worker process when the market is fitted on several cores)."""
    rfit = (
        _repeat_fit(task.cells, task.try_pareto, task.min_gain) if task.cells is not None else None
    )
    sfit = _spend_fit(task.spend) if task.spend is not None else None
    return task.key, rfit, sfit


def score_buyers(
    rfm: pd.DataFrame, fits: Sequence[BrandClv], config: ClvConfig, observation_end: date
) -> pd.DataFrame:
    """Per buyer: P(alive), expected purchases and value over each horizon, and the segment.

    ``rfm`` is :func:`rfm_summary` executed. Expected value over h days = expected purchases
    × Gamma-Gamma expected spend per occasion (undiscounted yuan).
    """
    unit = config.unit_days
    by_brand = {f.brand_id: f for f in fits}
    parts = []
    for brand, df in rfm.groupby("brand_id", sort=False):
        fit = by_brand.get(str(brand))
        if fit is None:
            continue
        x = df["frequency"].to_numpy(dtype=float)
        tx = df["recency"].to_numpy(dtype=float)
        tt = df["T"].to_numpy(dtype=float)
        mv = df["monetary_value"].to_numpy(dtype=float)
        alive = p_alive(fit.repeat, x, tx, tt)
        if fit.spend is not None and fit.spend.q > 1:
            spend = gamma_gamma_expected_spend(x, mv, fit.spend.p, fit.spend.q, fit.spend.gamma)
        else:
            first = df["net_gmv"].astype(float).to_numpy() - np.nan_to_num(mv) * x
            spend = np.where(x > 0, mv, first)
        out = pd.DataFrame(
            {
                "brand_id": df["brand_id"].to_numpy(),
                "buyer_id": df["buyer_id"].to_numpy(),
                "frequency": x.astype(np.int64),
                "recency": tx,
                "T": tt,
                "monetary_value": mv,
                "p_alive": alive,
            }
        )
        for h in config.horizons_days:
            e = expected_purchases(fit.repeat, h / unit, x, tx, tt)
            out[f"expected_purchases_{h}d"] = e
            out[f"expected_value_{h}d"] = e * spend
        days_since_first = tt * unit
        out["segment"] = segment_buyers(x, alive, days_since_first, config.segments)
        out["last_purchase"] = pd.to_datetime(df["last_purchase"]).dt.date.to_numpy()
        parts.append(out)
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True)


def brand_table(
    fits: Sequence[BrandClv], buyers: pd.DataFrame, config: ClvConfig, observation_end: date
) -> pd.DataFrame:
    """One row per brand: fitted parameters, fit level, per-buyer predictions and segment counts.

    This is ``mdl_clv_brand``; money columns are per buyer (yuan).
    """
    rows = []
    agg = {}
    seg_value = pd.DataFrame(columns=list(SEGMENTS), dtype=float)
    if len(buyers):
        g = buyers.groupby("brand_id")
        agg = {
            "p_alive_mean": g["p_alive"].mean(),
            **{
                f"expected_purchases_{h}d": g[f"expected_purchases_{h}d"].mean()
                for h in config.horizons_days
            },
            **{
                f"value_per_buyer_{h}d": g[f"expected_value_{h}d"].mean()
                for h in config.horizons_days
            },
        }
        seg = buyers.groupby(["brand_id", "segment"]).size().unstack(fill_value=0)
        # What each segment is expected to spend over the next year (the business view's value).
        if "expected_value_365d" in buyers.columns:
            seg_value = (
                buyers.groupby(["brand_id", "segment"])["expected_value_365d"]
                .sum()
                .unstack(fill_value=0.0)
                .reindex(columns=list(SEGMENTS), fill_value=0.0)
            )
    for f in fits:
        row: dict[str, Any] = {
            "brand_id": f.brand_id,
            "category": f.category,
            "observation_end": observation_end,
            "time_unit": config.time_unit,
            "buyers": f.buyers,
            "repeat_buyers": f.repeat_buyers,
            "repeat_model": f.repeat.model,
            "fit_level": f.repeat_level,
            "r": f.repeat.params["r"],
            "alpha": f.repeat.params["alpha"],
            "a": f.repeat.params.get("a"),
            "b": f.repeat.params.get("b"),
            "s": f.repeat.params.get("s"),
            "beta": f.repeat.params.get("beta"),
            "loglik": f.repeat.loglik,
            "loglik_bg_nbd": f.repeat.loglik_bg_nbd,
            "loglik_pareto_nbd": f.repeat.loglik_pareto_nbd,
            "spend_fit_level": f.spend_level,
            "gg_p": f.spend.p if f.spend else None,
            "gg_q": f.spend.q if f.spend else None,
            "gg_gamma": f.spend.gamma if f.spend else None,
            "notes": "; ".join(f.notes),
        }
        for name, series in agg.items():
            row[name] = float(series.get(f.brand_id, np.nan))
        for s in SEGMENTS:
            row[f"{s}_buyers"] = (
                int(seg[s].get(f.brand_id, 0)) if len(buyers) and s in seg.columns else 0
            )
            row[f"{s}_value_365d"] = float(seg_value[s].get(f.brand_id, np.nan))
        rows.append(row)
    out = pd.DataFrame(rows)
    # Typed columns even when every brand leaves one empty (e.g. no Pareto/NBD fit anywhere).
    for col in ("a", "b", "s", "beta", "loglik_bg_nbd", "loglik_pareto_nbd", "gg_p", "gg_q"):
        out[col] = out[col].astype(float)
    out["gg_gamma"] = out["gg_gamma"].astype(float)
    out["category"] = out["category"].astype("string")
    return out
