"""The bottleneck (瓶颈): which STEPS capability holds a brand back from the next stage.

For a brand at stage *s* in category *c* and period *p*, for each capability *k*::

    gap(k) = target(c, s, k) − index(brand, p, k)

where ``index`` is the robust-standardised capability index of ``m_capability`` and ``target``
is the median index that brands which advanced from *s* to *s + 1* had in the period they left
*s* — the last period before they began meeting the next stage's criteria (learned from the
stage history, by category). All five gaps are reported and ranked
(rank 1 = the bottleneck):

1. **criterion first** — the bottleneck agrees with the stage. When the brand fails a criterion
   of the next stage that belongs to one capability (or of its own stage, which the hysteresis
   still holds it at), that capability ranks first, with the
   criterion's own numbers (``ranked_by = "criterion"``, :func:`criterion_failures`): a
   climbing brand failing the KA repurchase criterion → private domain, the KA self-operation
   share → self-operation; a KA brand failing the SKA special-supply share → special supply, the
   SKA "every score ≥ bar" → the capability with the lowest score. Size criteria (GMV rank,
   30-day GMV) belong to no single capability and name none. Several failed criteria rank by
   their relative shortfall ``(threshold − value) / threshold``, largest first;
2. **then the gaps** — the other capabilities by gap, largest first (``ranked_by = "gap"``);
3. a capability at or above its reference (gap ≤ 0) is never a weakness (``weakness`` false):
   it keeps its gap and its place after every positive gap, so it is rank 1 only when every
   capability is at or above its reference and no criterion fails ("no weakness against
   peers").

Each row also states its capability's headline metric in its own unit (``metric``,
``metric_value`` against ``metric_reference``, the metric's median among the same reference
brands: :func:`with_headline_metrics`), so a screen says "repurchase 25 % against 55 % for
brands that made the step" rather than an index.

Gaps are on the index, not on the percentile score: percentiles compress a brand far out in the
tail to the same few points as a brand slightly below the middle, and then name the wrong
capability.

Reference fallbacks, in order (``ladder.yaml`` → ``bottleneck``):

1. ``category`` / ``advancers``: the category has at least ``min_category_transitions``
   advancers out of *s*;
2. ``all`` / ``advancers``: advancers out of *s* in every category (again at least
   ``min_category_transitions``: one or two advancers are anecdotes, not a reference);
3. ``stage_top``: too few brands advanced out of *s* in the history (a young or small market):
   the target is the ``top_quantile`` of the index among brand-months at *s* itself, by
   category when it has ``min_reference_brands`` brands there, else all categories — the gap to
   the best of the brand's own stage. (The median of brands at *s + 1* would be the obvious
   alternative, but every capability index jumps with the stage, so that gap names the
   capability that jumps most, not the brand's weakness.)
4. SKA brands have no next stage: the target is the median index of SKA brand-months of the
   category (``ska_peers``; all categories when the category has fewer than
   ``min_reference_brands`` SKA brands), so the bottleneck is the capability where the brand
   trails its SKA peers most.

Plan targets with the ``next_stage_median`` rule use brand-months at *s + 1* (``next_stage``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from windmaker import contract
from windmaker.growth.config import LadderConfig
from windmaker.growth.ladder import CLIMBING, KA, SKA, transitions

CAPABILITY_ORDER = {c: i for i, c in enumerate(contract.CAPABILITIES)}

#: Capability criteria of the next stage: key → (stage the brand is at, capability, criterion
#: column of :func:`windmaker.growth.ladder.evaluate_criteria`, value column, threshold column).
#: The repurchase threshold is ``ka_repurchase_factor × repurchase_median``; the score criterion
#: names the capability with the lowest score (:func:`criterion_failures`).
CAPABILITY_CRITERIA = {
    "ka_repurchase": (
        CLIMBING,
        "private_domain",
        "ka_repurchase_ok",
        "repurchase_rate_90d",
        "ka_repurchase_factor",
    ),
    "ka_self": (CLIMBING, "self_operation", "ka_self_ok", "self_share", "ka_min_self_share"),
    "ska_supply": (
        KA,
        "special_supply",
        "ska_supply_ok",
        "special_supply_share",
        "ska_min_special_supply",
    ),
    "ska_score": (KA, "", "ska_score_ok", "min_score", "ska_min_score"),
}

FAILURE_COLUMNS = [
    "brand_id",
    "period",
    "capability",
    "criterion",
    "criterion_value",
    "criterion_threshold",
    "criterion_shortfall",
]


def advancer_rows(stages: pd.DataFrame, config: LadderConfig) -> pd.DataFrame:
    """One row per brand that advanced one stage, measured where it left the old stage.

    Columns of :func:`windmaker.growth.ladder.transitions`, restricted to ``to = from + 1``
    promotions confirmed after the brand's warm-up periods (a warm-up change reflects data
    filling in, not a step). ``measured_period`` is where the advancer's capabilities are read:
    ``promote_after_periods + measure_lead_periods`` periods before the confirmed promotion,
    but not before the brand entered the stage. The confirmation run, and the periods the
    trailing-90-day size criterion needs to show a step, already carry the next stage's
    capabilities and would inflate the reference.
    """
    h = config.hysteresis
    lookback = h.promote_after_periods + config.bottleneck.measure_lead_periods
    t = transitions(stages, lookback=lookback)
    keep = (t["to_stage"] == t["from_stage"] + 1) & (t["position"] >= h.warmup_periods)
    t = t.loc[keep].reset_index(drop=True)
    measured = t["measured_period"].fillna(t["entered_period"])
    t["measured_period"] = measured.where(measured >= t["entered_period"], t["entered_period"])
    return t


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
    ref = ref.rename(columns={"target": "target_index"})
    return ref.merge(gap_scales(stages, values, config), on=["stage", "capability"], how="left")


def gap_scales(stages: pd.DataFrame, values: pd.DataFrame, config: LadderConfig) -> pd.DataFrame:
    """The unit of each capability's gap per stage: stage, capability, scale.

    ``stage_std``: the standard deviation of the capability index over brand-months at the stage
    (all categories pooled; the index is already standardised within category), floored at
    ``min_gap_scale``. One index point means more on a capability whose metrics vary little
    than on one that swings widely; dividing by the spread puts the five gaps on one footing.
    ``none``: scale 1, the raw index gap.
    """
    rules = config.bottleneck
    keys = pd.MultiIndex.from_product(
        [range(4), contract.CAPABILITIES], names=["stage", "capability"]
    ).to_frame(index=False)
    if rules.gap_scale == "none":
        return keys.assign(scale=1.0)
    at_stage = stages[["brand_id", "period", "stage"]].merge(values, on=["brand_id", "period"])
    sd = at_stage.groupby(["stage", "capability"])["value"].std().rename("scale").reset_index()
    out = keys.merge(sd, on=["stage", "capability"], how="left")
    out["scale"] = out["scale"].fillna(1.0).clip(lower=rules.min_gap_scale)
    return out


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
    candidates = _reference_candidates(stages, values, key, config, advancers)
    return _chosen(candidates, key, config, from_advancers)


def reference_values_both(
    stages: pd.DataFrame,
    values: pd.DataFrame,
    key: str,
    config: LadderConfig,
    *,
    advancers: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`reference_values` with and without ``from_advancers``, the medians and quantiles
    behind both grouped once (a plan's action targets need both: 0.9 s for the two at 3,300
    brands × 12 months, half of it grouping the same values twice)."""
    candidates = _reference_candidates(stages, values, key, config, advancers)
    return _chosen(candidates, key, config, True), _chosen(candidates, key, config, False)


def _reference_candidates(
    stages: pd.DataFrame,
    values: pd.DataFrame,
    key: str,
    config: LadderConfig,
    advancers: pd.DataFrame | None,
) -> pd.DataFrame:
    """Per category × stage × ``key``: every median and quantile a reference may come from, with
    the brands behind each (``n_*``)."""
    rules = config.bottleneck
    if advancers is None:
        advancers = advancer_rows(stages, config)
    adv = advancers[["brand_id", "category", "from_stage", "measured_period"]].merge(
        values, left_on=["brand_id", "measured_period"], right_on=["brand_id", "period"]
    )
    adv_cat = _median(adv, ["category", "from_stage", key])
    adv_all = _median(adv, ["from_stage", key])

    at_stage = stages[["brand_id", "category", "period", "stage"]].merge(
        values, on=["brand_id", "period"]
    )
    peers_cat = _median(at_stage, ["category", "stage", key])
    peers_all = _median(at_stage, ["stage", key])
    q = rules.top_quantile
    top_cat = _quantile(at_stage, ["category", "stage", key], q)
    top_all = _quantile(at_stage, ["stage", key], q)

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
    g = g.merge(
        top_cat.rename(columns={"value": "top_cat", "n": "n_top_cat"}),
        on=["category", "stage", key],
        how="left",
    ).merge(
        top_all.rename(columns={"value": "top_all", "n": "n_top_all"}),
        on=["stage", key],
        how="left",
    )
    for col in ("n_adv_cat", "n_adv_all", "n_peer_cat", "n_peer_all", "n_top_cat", "n_top_all"):
        g[col] = g[col].fillna(0).astype("int64")
    return g


def _chosen(
    candidates: pd.DataFrame, key: str, config: LadderConfig, from_advancers: bool
) -> pd.DataFrame:
    """The reference of each row of :func:`_reference_candidates`: the first candidate with
    enough brands behind it (:func:`reference_values`)."""
    rules = config.bottleneck
    g = candidates.copy()
    is_ska = g["stage"] == SKA
    learn = ~is_ska & from_advancers
    # Without enough advancers: the best of the brand's own stage (below SKA) when the target
    # is learned from advancers, brand-months at the next stage (SKA: SKA peers) otherwise.
    peer = is_ska | (not from_advancers)
    use = [
        learn & (g["n_adv_cat"] >= rules.min_category_transitions),
        learn & (g["n_adv_all"] >= rules.min_category_transitions),
        peer & (g["n_peer_cat"] >= rules.min_reference_brands),
        peer & (g["n_peer_all"] >= 1),
        g["n_top_cat"] >= rules.min_reference_brands,
        g["n_top_all"] >= 1,
    ]
    g["target"] = np.select(
        use,
        [g["adv_cat"], g["adv_all"], g["peer_cat"], g["peer_all"], g["top_cat"], g["top_all"]],
        default=np.nan,
    )
    scope = ["category", "all"] * 3
    g["reference"] = np.select(use, scope, default="none")
    peer_basis = np.where(is_ska, "ska_peers", "next_stage")
    basis: list[np.ndarray] = [
        np.full(len(g), "advancers"),
        np.full(len(g), "advancers"),
        peer_basis,
        peer_basis,
        np.full(len(g), "stage_top"),
        np.full(len(g), "stage_top"),
    ]
    g["basis"] = np.select(use, basis, default="")
    g["n"] = np.select(
        use,
        [g[c] for c in ("n_adv_cat", "n_adv_all", "n_peer_cat", "n_peer_all")]
        + [g["n_top_cat"], g["n_top_all"]],
        default=0,
    )
    return g[["category", "stage", key, "target", "reference", "basis", "n"]]


def _distinct_brands(f: pd.DataFrame, keys: list[str]) -> pd.Series:
    codes = pd.Series(pd.factorize(f["brand_id"])[0], index=f.index, name="_b")
    pairs = pd.concat([f[keys], codes], axis=1).drop_duplicates()
    return pairs.groupby(keys, sort=False, observed=True).size()


def _quantile(frame: pd.DataFrame, keys: list[str], q: float) -> pd.DataFrame:
    """``q``-quantile of ``value`` per group and ``n``, the distinct brands behind it."""
    f = frame.dropna(subset=["value"])
    out = f.groupby(keys, sort=False, observed=True)["value"].quantile(q).rename("value")
    out = out.to_frame()
    out["n"] = _distinct_brands(f, keys)
    return out.reset_index()


def _median(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Median of ``value`` per group and ``n``, the distinct brands behind it."""
    f = frame.dropna(subset=["value"])
    out = f.groupby(keys, sort=False, observed=True)["value"].median().rename("median")
    out = out.to_frame()
    out["n"] = _distinct_brands(f, keys)
    return out.reset_index()


def smoothed_index(stages: pd.DataFrame, capability: pd.DataFrame, periods: int) -> pd.DataFrame:
    """The capability index averaged over the brand's last ``periods`` periods at its stage.

    ``mean(index[t−periods+1 .. t])`` over the consecutive run of periods the brand has held its
    current (confirmed) stage, ignoring missing values; fewer periods at the start of a run.
    Computed with cumulative sums per run, no per-brand loop. Returns brand_id, category,
    period, stage, capability, index.
    """
    df = stages[["brand_id", "category", "period", "stage"]].merge(
        capability[["brand_id", "period", "capability", "index"]], on=["brand_id", "period"]
    )
    df = df.sort_values(["brand_id", "capability", "period"], kind="stable").reset_index(drop=True)
    if periods <= 1 or df.empty:
        return df
    new_run = (
        df["brand_id"].ne(df["brand_id"].shift())
        | df["capability"].ne(df["capability"].shift())
        | df["stage"].ne(df["stage"].shift())
    )
    run = new_run.cumsum().to_numpy()
    value = df["index"].to_numpy(dtype="float64")
    present = ~np.isnan(value)
    cs_v = pd.Series(np.where(present, value, 0.0)).groupby(run).cumsum().to_numpy()
    cs_c = pd.Series(present.astype("float64")).groupby(run).cumsum().to_numpy()
    pos = pd.Series(run).groupby(run).cumcount().to_numpy()
    back = np.arange(len(df)) - periods
    has_back = pos >= periods
    sum_v = cs_v - np.where(has_back, cs_v[np.maximum(back, 0)], 0.0)
    sum_c = cs_c - np.where(has_back, cs_c[np.maximum(back, 0)], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        df["index"] = np.where(sum_c > 0, sum_v / sum_c, np.nan)
    return df


def criterion_failures(classified: pd.DataFrame, capability: pd.DataFrame) -> pd.DataFrame:
    """The capabilities behind the failed criteria of each brand-month's next stage, and of its
    own stage when the hysteresis holds it there while it fails them (a KA brand whose
    repurchase fell below the median, an SKA brand whose lowest score fell below 60).

    ``classified``: :func:`windmaker.growth.ladder.classify` (confirmed ``stage``, the boolean
    criteria, the compared values and thresholds). ``capability``: the long scores the criteria
    were judged on (brand_id, period, capability, score). The KA criteria concern brands at
    climbing and KA, the SKA criteria brands at KA and SKA; the size criteria name no capability (see
    ``CAPABILITY_CRITERIA``). The score criterion names the capability with the lowest score
    when it is below the bar (ties: STEPS order).

    ``criterion_shortfall = (threshold − value) / threshold`` — how far the brand is from the
    threshold relative to the threshold (1 when the value is missing: nothing measured; 1 when
    the threshold is 0 and the criterion still fails), so criteria in different units compare.
    A capability named by two criteria keeps the one with the larger shortfall.

    Returns brand_id, period, capability, criterion, criterion_value, criterion_threshold,
    criterion_shortfall.
    """
    out = []
    for key, (stage, cap, ok, value, threshold) in CAPABILITY_CRITERIA.items():
        # brands below the criterion's stage (it is their next one), and brands at it that the
        # hysteresis holds there while they fail it (it is what they are about to lose)
        concerned = classified["stage"].isin([stage, stage + 1])
        rows = classified.loc[concerned & ~classified[ok].astype(bool)]
        f = pd.DataFrame(
            {
                "brand_id": rows["brand_id"].to_numpy(),
                "period": rows["period"].to_numpy(),
                "capability": cap,
                "criterion": key,
                "criterion_value": rows[value].astype("float64").to_numpy(),
                "criterion_threshold": rows[threshold].astype("float64").to_numpy(),
            }
        )
        if key == "ka_repurchase":
            f["criterion_threshold"] *= rows["repurchase_median"].astype("float64").to_numpy()
        if key == "ska_score":
            f = _lowest_score(f.drop(columns=["capability", "criterion_value"]), capability)
        out.append(f)
    f = pd.concat(out, ignore_index=True)
    thr, val = f["criterion_threshold"], f["criterion_value"]
    with np.errstate(invalid="ignore", divide="ignore"):
        short = ((thr - val) / thr).where(thr > 0, 1.0)
    f["criterion_shortfall"] = short.where(val.notna(), 1.0).astype("float64")
    f = f.sort_values(
        ["brand_id", "period", "capability", "criterion_shortfall"],
        ascending=[True, True, True, False],
        kind="stable",
    )
    f = f.drop_duplicates(["brand_id", "period", "capability"])
    return f[FAILURE_COLUMNS].reset_index(drop=True)


def _lowest_score(rows: pd.DataFrame, capability: pd.DataFrame) -> pd.DataFrame:
    """The capability with the lowest score of each failing row, kept when below the bar."""
    s = capability[["brand_id", "period", "capability", "score"]].dropna(subset=["score"])
    s = s.assign(_order=s["capability"].map(CAPABILITY_ORDER))
    s = s.sort_values(["brand_id", "period", "score", "_order"], kind="stable")
    lowest = s.drop_duplicates(["brand_id", "period"]).drop(columns="_order")
    f = rows.merge(lowest, on=["brand_id", "period"])
    f = f.rename(columns={"score": "criterion_value"})
    return f.loc[f["criterion_value"].astype("float64") < f["criterion_threshold"]]


def gaps(
    stages: pd.DataFrame,
    capability: pd.DataFrame,
    references: pd.DataFrame,
    config: LadderConfig,
    adjust: pd.DataFrame | None = None,
    failures: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ``g_bottleneck`` table: every capability's gap per brand × period, ranked.

    ``adjust`` (brand_id, period, capability, model_z, weight; from
    :func:`windmaker.growth.model_feed.components`) blends a model component into the smoothed
    index, ``(1 − weight) · brand_index + weight · model_z``: a fitted model already summarises
    the brand's history, so it enters after the smoothing, at its full weight.

    ``gap = (target_index − brand_index) / scale`` with ``brand_index`` the index averaged over
    the brand's last ``smooth_periods`` periods at its stage (the planted weakness of a brand
    persists while month-to-month noise does not) and ``scale`` the capability's spread at the
    stage (:func:`gap_scales`).

    Ranking (module docstring): the capabilities of ``failures`` (:func:`criterion_failures`)
    first, by shortfall; then the rest by gap, largest first (ties by STEPS order). A
    capability without an index (or without a reference) has a missing gap and ranks last.

    Columns: brand_id, category, period, capability, gap, rank (1 = bottleneck), reference,
    and, beyond the shared interface, brand_index, target_index, basis, raw_gap (target_index −
    brand_index), scale, weakness (gap > 0: the brand trails the reference), ranked_by
    (``criterion`` | ``gap``), criterion, criterion_value, criterion_threshold,
    criterion_shortfall (missing unless ranked by a criterion).
    """
    df = smoothed_index(stages, capability, config.bottleneck.smooth_periods)
    if adjust is not None and len(adjust):
        z = adjust[["brand_id", "period", "capability", "model_z", "weight"]]
        df = df.merge(z, on=["brand_id", "period", "capability"], how="left")
        both = df["index"].notna() & df["model_z"].notna()
        df["index"] = df["index"].where(
            ~both, (1 - df["weight"]) * df["index"] + df["weight"] * df["model_z"]
        )
        df = df.drop(columns=["model_z", "weight"])
    df = df.merge(references, on=["category", "stage", "capability"], how="left")
    df["raw_gap"] = df["target_index"] - df["index"]
    df["gap"] = df["raw_gap"] / df["scale"]
    if failures is None:
        failures = pd.DataFrame(columns=FAILURE_COLUMNS)
    f = failures[FAILURE_COLUMNS].astype({"criterion": "object"})
    df = df.merge(f, on=["brand_id", "period", "capability"], how="left")
    by_criterion = df["criterion"].notna()
    df["weakness"] = (df["gap"] > 0).astype(bool)
    df["ranked_by"] = np.where(by_criterion, "criterion", "gap")
    # text even when no row fails a criterion, so the stored column is never of null type
    df["criterion"] = df["criterion"].astype("string")
    df["_order"] = df["capability"].map(CAPABILITY_ORDER)
    df["_first"] = np.where(by_criterion, 0, 1)
    df["_neg_short"] = -df["criterion_shortfall"].fillna(0.0)
    df["_neg_gap"] = -df["gap"]
    df = df.sort_values(
        ["brand_id", "period", "_first", "_neg_short", "_neg_gap", "_order"],
        na_position="last",
        kind="stable",
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
            "raw_gap",
            "scale",
            "weakness",
            "ranked_by",
            "criterion",
            "criterion_value",
            "criterion_threshold",
            "criterion_shortfall",
        ]
    ].reset_index(drop=True)


def metric_long(brand_month: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """brand_id, period, metric, value for the named metric columns."""
    present = [m for m in metrics if m in brand_month.columns]
    long = brand_month[["brand_id", "period", *present]].melt(
        id_vars=["brand_id", "period"], var_name="metric", value_name="value"
    )
    long["value"] = long["value"].astype("float64")
    return long


def with_headline_metrics(
    gap_table: pd.DataFrame,
    stages: pd.DataFrame,
    brand_month: pd.DataFrame,
    config: LadderConfig,
    advancers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``gap_table`` with each capability's gap stated in its headline metric's own unit.

    Adds ``metric`` (``bottleneck.headline_metrics``), ``metric_value`` (the brand's value in
    the period) and ``metric_reference`` with ``metric_basis``: the metric's median among the
    brands that advanced from the brand's stage, where they left it — the reference of the
    index, with the same fallbacks (:func:`reference_values`; SKA: SKA peers). A metric missing
    from ``brand_month`` leaves both values missing.
    """
    headline = config.bottleneck.headline_metrics
    values = metric_long(brand_month, sorted(set(headline.values())))
    ref = reference_values(stages, values, "metric", config, advancers=advancers)
    ref = ref.rename(columns={"target": "metric_reference", "basis": "metric_basis"})
    out = gap_table.assign(metric=gap_table["capability"].map(headline))
    out = out.merge(stages[["brand_id", "period", "stage"]], on=["brand_id", "period"], how="left")
    out = out.merge(
        values.rename(columns={"value": "metric_value"}),
        on=["brand_id", "period", "metric"],
        how="left",
    ).merge(
        ref[["category", "stage", "metric", "metric_reference", "metric_basis"]],
        on=["category", "stage", "metric"],
        how="left",
    )
    return out.drop(columns="stage")


def bottleneck_of(gap_table: pd.DataFrame) -> pd.DataFrame:
    """The rank-1 row of every brand × period."""
    return gap_table.loc[gap_table["rank"] == 1].reset_index(drop=True)
