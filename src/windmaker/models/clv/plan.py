"""Which fits a market needs, and putting the fitted models together brand by brand.

:func:`plan_market` reads one row per brand (its category, buyers and repeat buyers) and decides
which brands are fitted on their own buyers and which categories (or the whole market) are
pooled for the thin ones; :func:`assemble` turns the fits made into one :class:`BrandClv` per
brand. Where the fits are made is the caller's choice: on this machine's cores
(:func:`windmaker.models.clv.fit_market`), or on a cluster's executors through the engine's own
per-group map, one brand per group (:func:`fit_group`, which returns its fits as one flat row,
:data:`FIT_ROW_COLUMNS`, read back by :func:`fits_from_rows`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from windmaker.models.clv.config import ClvConfig, FitLevel
from windmaker.models.clv.fitting import RepeatFit, SpendFit

#: The key of the whole market's pooled fits; brands are ("brand", id), categories
#: ("category", name).
MARKET = ("market", "")
Key = tuple[str, str]
Fits = tuple[RepeatFit | None, SpendFit | None]


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
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MarketPlan:
    """The fits a market needs.

    ``summary`` is indexed by brand_id (category, buyers, repeat_buyers); ``own_repeat`` and
    ``own_spend`` the brands fitted on their own buyers; ``repeat_key`` and ``spend_key`` the
    pooled fit (a category's or the market's) each thin category takes.
    """

    summary: pd.DataFrame
    own_repeat: frozenset[str]
    own_spend: frozenset[str]
    repeat_key: dict[str, Key]
    spend_key: dict[str, Key]

    @property
    def pooled_repeat(self) -> set[Key]:
        return set(self.repeat_key.values())

    @property
    def pooled_spend(self) -> set[Key]:
        return set(self.spend_key.values())


def brand_summary(cells: pd.DataFrame, spend: pd.DataFrame) -> pd.DataFrame:
    """One row per brand of ``cells`` (category, buyers, repeat_buyers), from the fit inputs."""
    cells = cells.assign(category=cells["category"].fillna(""))
    out = cells.groupby("brand_id").agg(category=("category", "first"), buyers=("buyers", "sum"))
    repeat = spend.groupby("brand_id").size()
    out["repeat_buyers"] = repeat.reindex(out.index, fill_value=0).astype("int64")
    return out


def plan_market(summary: pd.DataFrame, config: ClvConfig) -> MarketPlan:
    """The fits ``summary``'s brands need (its index is brand_id; columns category, buyers,
    repeat_buyers). A brand with ``min_buyers`` buyers is fitted on its own; a thinner one takes
    its category's pooled fit (every brand of the category), or the market's when even the
    category is below ``min_buyers``; the same for spend with ``min_repeat_buyers``."""
    summary = summary.assign(category=summary["category"].fillna(""))
    own_repeat = summary.index[summary["buyers"] >= config.min_buyers]
    own_spend = summary.index[summary["repeat_buyers"] >= config.min_repeat_buyers]
    by_cat = summary.groupby("category")[["buyers", "repeat_buyers"]].sum()
    thin = summary[summary["buyers"] < config.min_buyers]
    thin_spend = summary[summary["repeat_buyers"] < config.min_repeat_buyers]
    repeat_key = {
        cat: (("category", cat) if by_cat.at[cat, "buyers"] >= config.min_buyers else MARKET)
        for cat in sorted(set(thin["category"]))
    }
    spend_key = {
        cat: (
            ("category", cat)
            if by_cat.at[cat, "repeat_buyers"] >= max(config.min_repeat_buyers, 2)
            else MARKET
        )
        for cat in sorted(set(thin_spend["category"]))
    }
    return MarketPlan(
        summary,
        frozenset(str(b) for b in own_repeat),
        frozenset(str(b) for b in own_spend),
        repeat_key,
        spend_key,
    )


def assemble(plan: MarketPlan, fitted: Mapping[Key, Fits], config: ClvConfig) -> list[BrandClv]:
    """One :class:`BrandClv` per brand of the plan, from the fits made (``fitted``: own fits
    under ("brand", id), pooled ones under their category's key or :data:`MARKET`)."""
    out: list[BrandClv] = []
    for brand, row in plan.summary.iterrows():
        cat = str(row["category"])
        n, n_rep = int(row["buyers"]), int(row["repeat_buyers"])
        notes: list[str] = []
        rfit_own, sfit_own = fitted.get(("brand", str(brand)), (None, None))
        rfit: RepeatFit | None
        if str(brand) in plan.own_repeat:
            rfit, rlevel = rfit_own, "brand"
        else:
            key = plan.repeat_key[cat]
            rfit, rlevel = fitted[key][0], _level(key)
            notes.append(f"{n} buyers < min_buyers {config.min_buyers}: {rlevel}-level fit")
        assert rfit is not None
        sfit: SpendFit | None
        if str(brand) in plan.own_spend:
            sfit, slevel = sfit_own, "brand"
        else:
            key = plan.spend_key[cat]
            sfit, slevel = fitted[key][1], _level(key)
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


def _level(key: Key) -> FitLevel:
    return "market" if key == MARKET else "category"


# -- fits as flat rows (a cluster's per-group map returns rows) -------------------------------

_REPEAT_PARAMS = ("r", "alpha", "a", "b", "s", "beta")
#: The columns of one fitted row: the key, the repeat model and the spend model.
FIT_ROW_COLUMNS: dict[str, str] = {
    "kind": "string",
    "key": "string",
    "model": "string",
    **{p: "float64" for p in _REPEAT_PARAMS},
    "loglik": "float64",
    "loglik_bg_nbd": "float64",
    "loglik_pareto_nbd": "float64",
    "buyers": "int64",
    "converged": "bool",
    "gg_p": "float64",
    "gg_q": "float64",
    "gg_gamma": "float64",
    "gg_loglik": "float64",
    "gg_buyers": "int64",
    "gg_converged": "bool",
}


def fit_row(key: Key, repeat: RepeatFit | None, spend: SpendFit | None) -> dict[str, Any]:
    """One fit as a flat row (missing values as NaN, -1 or False)."""
    nan = math.nan
    row: dict[str, Any] = {"kind": key[0], "key": key[1], "model": repeat.model if repeat else ""}
    params = repeat.params if repeat else {}
    row.update({p: float(params.get(p, nan)) for p in _REPEAT_PARAMS})
    row["loglik"] = repeat.loglik if repeat else nan
    for name in ("loglik_bg_nbd", "loglik_pareto_nbd"):
        value = getattr(repeat, name) if repeat else None
        row[name] = nan if value is None else float(value)
    row["buyers"] = repeat.buyers if repeat else -1
    row["converged"] = bool(repeat.converged) if repeat else False
    row["gg_p"] = spend.p if spend else nan
    row["gg_q"] = spend.q if spend else nan
    row["gg_gamma"] = spend.gamma if spend else nan
    row["gg_loglik"] = spend.loglik if spend else nan
    row["gg_buyers"] = spend.buyers if spend else -1
    row["gg_converged"] = bool(spend.converged) if spend else False
    return row


def fits_from_rows(rows: pd.DataFrame) -> dict[Key, Fits]:
    """The fits of :func:`fit_row` rows, by key."""
    out: dict[Key, Fits] = {}
    for r in rows.to_dict("records"):
        repeat = None
        if r["model"]:
            names = (
                ("r", "alpha", "a", "b") if r["model"] == "bg_nbd" else ("r", "alpha", "s", "beta")
            )
            repeat = RepeatFit(
                r["model"],
                {p: float(r[p]) for p in names},
                float(r["loglik"]),
                int(r["buyers"]),
                bool(r["converged"]),
                _num(r["loglik_bg_nbd"]),
                _num(r["loglik_pareto_nbd"]),
            )
        spend = None
        if int(r["gg_buyers"]) >= 0:
            spend = SpendFit(
                float(r["gg_p"]),
                float(r["gg_q"]),
                float(r["gg_gamma"]),
                float(r["gg_loglik"]),
                int(r["gg_buyers"]),
                bool(r["gg_converged"]),
            )
        out[(str(r["kind"]), str(r["key"]))] = (repeat, spend)
    return out


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def fit_rows(fitted: Iterable[tuple[Key, RepeatFit | None, SpendFit | None]]) -> pd.DataFrame:
    """Fits as rows of :data:`FIT_ROW_COLUMNS`."""
    rows = [fit_row(key, rfit, sfit) for key, rfit, sfit in fitted]
    return pd.DataFrame(rows, columns=list(FIT_ROW_COLUMNS)).astype(FIT_ROW_COLUMNS)
