"""The bottleneck (瓶颈): which STEPS capability holds a brand back from the next stage.

For a brand at stage *s* in category *c* and period *p*, for each capability *k*::

    gap(k) = target(c, s, k) − index(brand, p, k)

where ``index`` is the robust-standardised capability index of ``m_capability`` and ``target``
is the median index that brands which advanced from *s* to *s + 1* had in the last period they
spent at *s* (learned from the stage history, by category). The capability with the largest gap
is the bottleneck (rank 1); all five gaps are reported.

Gaps are on the index, not on the percentile score: percentiles compress a brand far out in the
tail to the same few points as a brand slightly below the middle, and then name the wrong
capability.

Reference fallbacks, in order (``ladder.yaml`` → ``bottleneck``):

1. ``category`` / ``advancers``: the category has at least ``min_category_transitions``
   advancers out of *s*;
2. ``all`` / ``advancers``: advancers out of *s* in every category (at least one);
3. ``category`` / ``next_stage`` then ``all`` / ``next_stage``: no brand advanced out of *s*
   anywhere in the history, so the target is the median index of brand-months at *s + 1*
   (category when it has at least ``min_reference_brand_months`` of them);
4. SKA brands have no next stage: the target is the median index of SKA brand-months of the
   category (``ska_peers``; all categories when the category has fewer than
   ``min_reference_brand_months``), so the bottleneck is the capability where the brand trails
   its SKA peers most.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from windmaker import contract
from windmaker.growth.config import LadderConfig
from windmaker.growth.ladder import SKA, transitions

CAPABILITY_ORDER = {c: i for i, c in enumerate(contract.CAPABILITIES)}


def advancer_rows(stages: pd.DataFrame) -> pd.DataFrame:
    """One row per brand that advanced one stage: the transition and its leaving period.

    Columns of :func:`windmaker.growth.ladder.transitions`, restricted to ``to = from + 1``.
    """
    t = transitions(stages)
    return t.loc[t["to_stage"] == t["from_stage"] + 1].reset_index(drop=True)


def reference_indices(
    stages: pd.DataFrame,
    capability: pd.DataFrame,
    config: LadderConfig,
    advancers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Target index per category × stage × capability, with where it was learned.

    ``stages``: brand_id, category, period, stage (ordinal), sorted by brand and period.
    ``capability``: long ``m_capability`` (brand_id, period, capability, index).
    Returns category, stage, capability, target_index, reference ("category"|"all"),
    basis ("advancers"|"next_stage"|"ska_peers"), n (observations behind the median).
    """
    values = capability[["brand_id", "period", "capability", "index"]].rename(
        columns={"index": "value"}
    )
    ref = reference_values(stages, values, "capability", config, advancers=advancers)
    return ref.rename(columns={"target": "target_index"})


def reference_values(
    stages: pd.DataFrame,
    values: pd.DataFrame,
    key: str,
    config: LadderConfig,
    *,
    advancers: pd.DataFrame | None = None,
    from_advancers: bool = True,
) -> pd.DataFrame:
    """Median ``value`` per category × stage × ``key`` among the brands that made the next step.

    ``values``: brand_id, period, ``key``, value (long). With ``from_advancers`` the median is
    taken over advancers out of the stage in their last period at it (fallbacks as in the module
    docstring); without, over brand-months at the next stage (SKA: at SKA). Returns category,
    stage, ``key``, target, reference, basis, n.
    """
    rules = config.bottleneck
    if advancers is None:
        advancers = advancer_rows(stages)
    adv = advancers[["brand_id", "category", "from_stage", "left_period"]].merge(
        values, left_on=["brand_id", "left_period"], right_on=["brand_id", "period"]
    )
    adv_cat = _median(adv, ["category", "from_stage", key])
    adv_all = _median(adv, ["from_stage", key])

    at_stage = stages[["brand_id", "category", "period", "stage"]].merge(
        values, on=["brand_id", "period"]
    )
    peers_cat = _median(at_stage, ["category", "stage", key])
    peers_all = _median(at_stage, ["stage", key])

    categories = pd.Index(stages["category"].unique(), name="category")
    keys = pd.Index(values[key].unique(), name=key)
    grid = pd.MultiIndex.from_product(
        [categories, range(4), keys], names=["category", "stage", key]
    ).to_frame(index=False)
    grid["next_stage"] = np.minimum(grid["stage"] + 1, SKA)
    g = grid.merge(
        adv_cat.rename(columns={"from_stage": "stage", "median": "adv_cat", "n": "n_adv_cat"}),
        on=["category", "stage", key],
        how="left",
    ).merge(
        adv_all.rename(columns={"from_stage": "stage", "median": "adv_all", "n": "n_adv_all"}),
        on=["stage", key],
        how="left",
    )
    g = g.merge(
        peers_cat.rename(columns={"stage": "next_stage", "median": "peer_cat", "n": "n_peer_cat"}),
        on=["category", "next_stage", key],
        how="left",
    ).merge(
        peers_all.rename(columns={"stage": "next_stage", "median": "peer_all", "n": "n_peer_all"}),
        on=["next_stage", key],
        how="left",
    )
    for col in ("n_adv_cat", "n_adv_all", "n_peer_cat", "n_peer_all"):
        g[col] = g[col].fillna(0).astype("int64")

    learn = (g["stage"] != SKA) & from_advancers
    use = [
        learn & (g["n_adv_cat"] >= rules.min_category_transitions),
        learn & (g["n_adv_all"] >= 1),
        g["n_peer_cat"] >= rules.min_reference_brand_months,
        g["n_peer_all"] >= 1,
    ]
    g["target"] = np.select(
        use, [g["adv_cat"], g["adv_all"], g["peer_cat"], g["peer_all"]], default=np.nan
    )
    g["reference"] = np.select(use, ["category", "all", "category", "all"], default="none")
    peer_basis = np.where(g["stage"] == SKA, "ska_peers", "next_stage")
    g["basis"] = np.select(use, ["advancers", "advancers", peer_basis, peer_basis], default="")
    g["n"] = np.select(
        use, [g["n_adv_cat"], g["n_adv_all"], g["n_peer_cat"], g["n_peer_all"]], default=0
    )
    return g[["category", "stage", key, "target", "reference", "basis", "n"]]


def _median(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = frame.groupby(keys, sort=False)["value"].agg(["median", "count"]).reset_index()
    return out.rename(columns={"count": "n"})


def gaps(stages: pd.DataFrame, capability: pd.DataFrame, references: pd.DataFrame) -> pd.DataFrame:
    """The ``g_bottleneck`` table: every capability's gap per brand × period, ranked.

    Columns: brand_id, category, period, capability, gap, rank (1 = bottleneck), reference,
    and, beyond the shared interface, brand_index, target_index, basis. A capability without an
    index (or without a reference) has a missing gap and ranks last.
    """
    df = stages[["brand_id", "category", "period", "stage"]].merge(
        capability[["brand_id", "period", "capability", "index"]], on=["brand_id", "period"]
    )
    df = df.merge(references, on=["category", "stage", "capability"], how="left")
    df["gap"] = df["target_index"] - df["index"]
    df["_order"] = df["capability"].map(CAPABILITY_ORDER)
    df["_neg_gap"] = -df["gap"]
    df = df.sort_values(
        ["brand_id", "period", "_neg_gap", "_order"], na_position="last", kind="stable"
    )
    df["rank"] = df.groupby(["brand_id", "period"], sort=False).cumcount().astype("int64") + 1
    df = df.rename(columns={"index": "brand_index"})
    return df[
        [
            "brand_id",
            "category",
            "period",
            "capability",
            "gap",
            "rank",
            "reference",
            "brand_index",
            "target_index",
            "basis",
        ]
    ].reset_index(drop=True)


def bottleneck_of(gap_table: pd.DataFrame) -> pd.DataFrame:
    """The rank-1 row of every brand × period."""
    return gap_table.loc[gap_table["rank"] == 1].reset_index(drop=True)
