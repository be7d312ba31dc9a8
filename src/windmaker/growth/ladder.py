"""The growth ladder (四步阶梯): each brand's stage per period, with hysteresis and a written reason.

Pure functions over pandas frames: the caller executes the Ibis expressions of
:mod:`windmaker.growth.diagnosis` against ``m_brand_month`` and ``m_capability`` and passes the
frames in. Everything is vectorised: criteria are column arithmetic per category × period, the
hysteresis walks the periods once with numpy arrays over all brands at a time.

Stage rules (thresholds from ``ladder.yaml``, per-category overrides):

- ``zero_breaking`` when ``months_with_sales < min_months_with_sales`` or
  ``net_gmv_t30d < min_net_gmv_t30d``;
- otherwise ``ska`` when top share of ``net_gmv_t90d`` ≤ ska share, ``special_supply_share ≥``
  its minimum and the lowest of the five capability scores ≥ its minimum;
- otherwise ``ka`` when top share ≤ ka share, ``repurchase_rate_90d ≥ factor × category median``
  and ``self_share ≥`` its minimum;
- otherwise ``climbing``.

The top share of a brand is ``rank / n``: its rank by ``net_gmv_t90d`` in its category and
period (1 = largest, ties share the better rank) over the number of brands in that population.
A category with fewer brands than ``small_categories.min_brands`` of a stage cannot hold that
stage's top share (rank ÷ n ≤ 1 % needs 100 brands); its size criterion falls back to a 90-day
GMV floor or to the top share among every brand of the period.

Brands that joined before the data window are judged only once their windows fill
(:func:`history_gate`); a period the data ends inside is judged on the windows ending at its
as-of day and says so in its reason ("month to date").
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from windmaker.codes import Capability, Stage
from windmaker.growth.config import Hysteresis, LadderConfig

#: The stage codes by ordinal (0 = ``zero_breaking`` … 3 = ``ska``), as the plain strings the
#: result tables store.
STAGE_CODES: tuple[str, ...] = tuple(s.value for s in Stage)
ZERO_BREAKING, CLIMBING, KA, SKA = range(len(Stage))


#: Columns of ``m_brand_month`` the ladder reads.
LADDER_COLUMNS = (
    "brand_id",
    "category",
    "period",
    "as_of",
    "days_covered",
    "to_date",
    "months_with_sales",
    "net_gmv_t30d",
    "net_gmv_t90d",
    "repurchase_rate_90d",
    "self_share",
    "special_supply_share",
)

_THRESHOLDS = {
    "zb_min_months": ("zero_breaking", "min_months_with_sales"),
    "zb_min_gmv_t30d": ("zero_breaking", "min_net_gmv_t30d"),
    "ka_top_share": ("ka", "net_gmv_t90d_top_share"),
    "ka_repurchase_factor": ("ka", "repurchase_vs_category_median"),
    "ka_min_self_share": ("ka", "min_self_share"),
    "ska_top_share": ("ska", "net_gmv_t90d_top_share"),
    "ska_min_special_supply": ("ska", "min_special_supply_share"),
    "ska_min_score": ("ska", "min_capability_score"),
}


#: Status of a brand-month left unjudged (``g_unjudged``).
INSUFFICIENT_HISTORY = "insufficient_history"
UNJUDGED_COLUMNS = (
    "brand_id",
    "category",
    "period",
    "status",
    "joined_at",
    "data_start",
    "judged_from",
    "reason_code",
    "reason_params",
)


def history_gate(
    brand_month: pd.DataFrame, config: LadderConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split brand-months into those judged and those with insufficient history.

    The data's first day is where the earliest period's coverage starts (``as_of −
    days_covered + 1``). A brand that joined before it (or whose join date is unknown) sold
    before the data: until ``history.min_days`` days of data reach the period's as-of day its
    trailing windows and its months with sales hold only part of its history, and judging it
    would call an established brand zero-breaking. A brand that joined inside the data has no
    history outside it and is judged from its first month. Returns ``(judged, unjudged)``, the
    second with the columns of :data:`UNJUDGED_COLUMNS`.
    """
    needed = {"as_of", "days_covered", "joined_at"}
    if not needed <= set(brand_month.columns) or brand_month.empty:
        return brand_month, pd.DataFrame(columns=list(UNJUDGED_COLUMNS))
    as_of = pd.to_datetime(brand_month["as_of"]).astype("datetime64[s]")
    covered = pd.to_timedelta(brand_month["days_covered"].astype("float64") - 1, unit="D")
    data_start = (as_of - covered).min()
    history_days = (as_of - data_start).dt.days + 1
    joined = pd.to_datetime(brand_month["joined_at"]).astype("datetime64[s]")
    before = joined.isna() | (joined.dt.normalize() < data_start)
    short = before & (history_days < config.history.min_days)
    judged_from = data_start + pd.Timedelta(days=config.history.min_days - 1)
    out = brand_month.loc[short, ["brand_id", "category", "period"]].copy()
    out["status"] = INSUFFICIENT_HISTORY
    out["joined_at"] = joined[short].dt.date
    out["data_start"] = data_start.date()
    out["judged_from"] = judged_from.date()
    start, until = data_start.strftime("%Y-%m-%d"), judged_from.strftime("%Y-%m-%d")
    out["reason_code"] = "insufficient_history"
    out["reason_params"] = [
        json.dumps(
            {
                "start": start,
                "until": until,
                "days": config.history.min_days,
                "joined": {"reason": "joined_before"}
                if pd.isna(d)
                else {"reason": "joined_on", "params": {"date": f"{d:%Y-%m-%d}"}},
            }
        )
        for d in out["joined_at"]
    ]
    return brand_month.loc[~short].reset_index(drop=True), out.reset_index(drop=True)


def thresholds_by_category(config: LadderConfig, categories: pd.Index) -> pd.DataFrame:
    """One row per category: every threshold of the criteria, overrides applied."""
    rows = []
    for category in categories:
        crit = config.criteria_for(str(category)).model_dump()
        rows.append({k: float(crit[s][f]) for k, (s, f) in _THRESHOLDS.items()})
    return pd.DataFrame(rows, index=pd.Index(categories, name="category"))


def min_capability_score(capability: pd.DataFrame) -> pd.DataFrame:
    """Per brand × period the lowest capability score; NaN unless all five are present.

    ``capability`` is the long ``m_capability`` frame (brand_id, period, capability, score).
    """
    g = capability.groupby(["brand_id", "period"], sort=False)["score"]
    out = g.agg(["min", "count"]).reset_index()
    out["min_score"] = out["min"].where(out["count"] >= len(Capability))
    return out[["brand_id", "period", "min_score"]]


def evaluate_criteria(
    brand_month: pd.DataFrame, capability: pd.DataFrame, config: LadderConfig
) -> pd.DataFrame:
    """Each criterion per brand × period, the numbers it compared, and the candidate stage.

    Returns ``brand_month`` sorted by brand and period with added columns: the thresholds
    (``zb_min_months`` …), ``top_share``, ``category_brands``, ``repurchase_median``,
    ``min_score``, the boolean criteria (``zb_months_ok``, ``zb_gmv_ok``, ``ka_gmv_ok``,
    ``ka_repurchase_ok``, ``ka_self_ok``, ``ska_gmv_ok``, ``ska_supply_ok``, ``ska_score_ok``)
    and ``candidate`` (stage ordinal, 0 = zero_breaking … 3 = ska).
    """
    df = brand_month.loc[:, [c for c in LADDER_COLUMNS if c in brand_month.columns]].copy()
    df = df.merge(min_capability_score(capability), on=["brand_id", "period"], how="left")
    thr = thresholds_by_category(config, pd.Index(df["category"].unique()))
    df = df.join(thr, on="category")

    keys = [df["category"], df["period"]]
    gmv = df["net_gmv_t90d"].astype("float64")
    in_population = gmv.notna()
    if config.rank_population == "with_sales":
        in_population &= gmv > 0
    ranked = gmv.where(in_population)
    df["category_brands"] = in_population.groupby(keys).transform("sum").astype("int64")
    rank = ranked.groupby(keys).rank(ascending=False, method="min")
    df["top_share"] = rank / df["category_brands"].where(df["category_brands"] > 0)
    df["repurchase_median"] = df["repurchase_rate_90d"].groupby(keys).transform("median")

    df["zb_months_ok"] = df["months_with_sales"].fillna(0) >= df["zb_min_months"]
    df["zb_gmv_ok"] = df["net_gmv_t30d"].fillna(0) >= df["zb_min_gmv_t30d"]
    all_brands = in_population.groupby(df["period"]).transform("sum").astype("int64")
    rank_all = ranked.groupby(df["period"]).rank(ascending=False, method="min")
    df["top_share_all"] = rank_all / all_brands.where(all_brands > 0)
    small = config.small_categories
    df["size_fallback"] = small.fallback
    for stage, top in ((Stage.KA.value, "ka_top_share"), (Stage.SKA.value, "ska_top_share")):
        floor = float(getattr(small.gmv_floor, stage))
        df[f"{stage}_gmv_floor"] = floor
        df[f"{stage}_small"] = df["category_brands"] < int(getattr(small.min_brands, stage))
        by_rank = df["top_share"] <= df[top]
        by_floor = small.fallback == "gmv_floor"
        fallback = gmv >= floor if by_floor else df["top_share_all"] <= df[top]
        df[f"{stage}_gmv_ok"] = fallback.where(df[f"{stage}_small"], by_rank)
    df["ka_gmv_ok"] = df["ka_gmv_ok"].astype(bool)
    df["ka_repurchase_ok"] = df["repurchase_rate_90d"] >= (
        df["ka_repurchase_factor"] * df["repurchase_median"]
    )
    df["ka_self_ok"] = df["self_share"] >= df["ka_min_self_share"]
    df["ska_gmv_ok"] = df["ska_gmv_ok"].astype(bool)
    df["ska_supply_ok"] = df["special_supply_share"] >= df["ska_min_special_supply"]
    df["ska_score_ok"] = df["min_score"] >= df["ska_min_score"]
    for col in _CRITERIA:
        df[col] = df[col].fillna(False).astype(bool)

    out_of_zero = df["zb_months_ok"] & df["zb_gmv_ok"]
    ska = df["ska_gmv_ok"] & df["ska_supply_ok"] & df["ska_score_ok"]
    ka = df["ka_gmv_ok"] & df["ka_repurchase_ok"] & df["ka_self_ok"]
    df["candidate"] = np.select(
        [~out_of_zero, ska, ka], [ZERO_BREAKING, SKA, KA], default=CLIMBING
    ).astype("int8")
    return df.sort_values(["brand_id", "period"], kind="stable").reset_index(drop=True)


_CRITERIA = (
    "zb_months_ok",
    "zb_gmv_ok",
    "ka_gmv_ok",
    "ka_repurchase_ok",
    "ka_self_ok",
    "ska_gmv_ok",
    "ska_supply_ok",
    "ska_score_ok",
)


def apply_hysteresis(brand_ids: pd.Series, candidate: pd.Series, rules: Hysteresis) -> pd.DataFrame:
    """Confirmed stage per row from the candidate stages of each brand's consecutive periods.

    Rows must be sorted by brand and period. A brand's first ``warmup_periods`` periods take
    their candidate (its trailing windows are still filling: there is no settled stage to hold).
    Afterwards, with ``up`` the run of periods whose candidate is above the stage and ``down``
    the run below it:

    - ``up ≥ promote_after_periods`` → stage + 1, run reset;
    - ``down ≥ demote_after_periods`` → stage − 1, run reset.

    A brand moves at most one stage per confirmation, so a jump of two stages needs two
    confirmations. Returns columns ``stage``, ``promote_run``, ``demote_run``.

    The loop runs over period positions (at most the number of periods), each step a numpy
    operation over all brands at once.
    """
    codes, _ = pd.factorize(brand_ids, sort=False)
    n = len(codes)
    position = pd.Series(np.arange(n)).groupby(codes).cumcount().to_numpy()
    n_brands = int(codes.max()) + 1 if n else 0
    length = int(position.max()) + 1 if n else 0
    grid = np.full((n_brands, length), -1, dtype=np.int8)
    grid[codes, position] = candidate.to_numpy(dtype=np.int8)

    stage_grid = np.full_like(grid, -1)
    up_grid = np.zeros_like(grid)
    down_grid = np.zeros_like(grid)
    if length:
        stage = grid[:, 0].copy()
        up = np.zeros(n_brands, dtype=np.int8)
        down = np.zeros(n_brands, dtype=np.int8)
        stage_grid[:, 0] = stage
        for t in range(1, length):
            c = grid[:, t]
            valid = c >= 0
            if t < rules.warmup_periods:
                stage = np.where(valid, c, stage).astype(np.int8)
                stage_grid[:, t] = np.where(valid, stage, -1)
                continue
            up = np.where(valid & (c > stage), up + 1, 0).astype(np.int8)
            down = np.where(valid & (c < stage), down + 1, 0).astype(np.int8)
            promote = up >= rules.promote_after_periods
            demote = down >= rules.demote_after_periods
            stage = (stage + promote - demote).astype(np.int8)
            up[promote] = 0
            down[demote] = 0
            stage_grid[:, t] = np.where(valid, stage, -1)
            up_grid[:, t] = up
            down_grid[:, t] = down
    return pd.DataFrame(
        {
            "stage": stage_grid[codes, position],
            "promote_run": up_grid[codes, position],
            "demote_run": down_grid[codes, position],
        },
        index=candidate.index,
    )


def transitions(stages: pd.DataFrame, lookback: int = 1) -> pd.DataFrame:
    """Every confirmed stage change of every brand, with how long the brand held the old stage.

    ``stages`` has brand_id, category, period, stage (ordinal), sorted by brand and period.
    Returns brand_id, category, from_stage, to_stage, entered_period (first period at the old
    stage), left_period (last period at the old stage), period (first period at the new stage),
    measured_period (``lookback`` periods before the new stage: with ``lookback =
    promote_after_periods`` the last period before the brand began meeting the next stage's
    criteria, i.e. its last period wholly in the old stage; missing when the brand's data does
    not reach back that far), position (0-based index of ``period`` among the brand's periods),
    months_in_stage (periods spent at the old stage), censored (the old stage was already held
    at the brand's first observed period, so the true duration is at least months_in_stage).
    """
    s = stages[["brand_id", "category", "period", "stage"]].reset_index(drop=True)
    same_brand = s["brand_id"].eq(s["brand_id"].shift())
    back_same = s["brand_id"].eq(s["brand_id"].shift(lookback))
    s["measured_period"] = s["period"].shift(lookback).where(back_same)
    s["position"] = s.groupby("brand_id", sort=False).cumcount()
    changed = ~same_brand | s["stage"].ne(s["stage"].shift())
    run = changed.cumsum()
    grouped = s.groupby(run, sort=False)
    s["run_start"] = grouped["period"].transform("first")
    s["run_length"] = grouped["period"].transform("size")
    s["first_run"] = ~s["brand_id"].eq(s["brand_id"].shift()).groupby(run).transform("first")
    prev = s.shift()
    is_transition = same_brand & s["stage"].ne(prev["stage"])
    t = s.loc[
        is_transition, ["brand_id", "category", "period", "stage", "measured_period", "position"]
    ].copy()
    t["from_stage"] = prev.loc[is_transition, "stage"].astype("int8")
    t["to_stage"] = t.pop("stage").astype("int8")
    t["entered_period"] = prev.loc[is_transition, "run_start"]
    t["left_period"] = prev.loc[is_transition, "period"]
    t["months_in_stage"] = prev.loc[is_transition, "run_length"].astype("int64")
    t["censored"] = prev.loc[is_transition, "first_run"].astype(bool)
    return t.reset_index(drop=True)


def classify(
    brand_month: pd.DataFrame, capability: pd.DataFrame, config: LadderConfig
) -> pd.DataFrame:
    """Stage per brand × period: criteria, hysteresis and the reason (a code and its numbers).

    Returns the frame of :func:`evaluate_criteria` with ``stage``, ``promote_run``,
    ``demote_run`` (ordinals and runs), ``reason_code`` (``ladder.<stage>``) and
    ``reason_params`` (JSON: the numbers and thresholds of the criteria cited), which
    :func:`windmaker.i18n.reason_text` renders in either language.
    """
    df = evaluate_criteria(brand_month, capability, config)
    held = apply_hysteresis(df["brand_id"], df["candidate"], config.hysteresis)
    df = pd.concat([df, held], axis=1)
    df["reason_code"], df["reason_params"] = _reasons(df, config.hysteresis)
    return df


def stage_table(classified: pd.DataFrame) -> pd.DataFrame:
    """The ``g_stage`` table: brand_id, category, period, stage, candidate_stage, reasons."""
    codes = np.asarray(STAGE_CODES, dtype=object)
    return pd.DataFrame(
        {
            "brand_id": classified["brand_id"].to_numpy(),
            "category": classified["category"].to_numpy(),
            "period": classified["period"].to_numpy(),
            "stage": codes[classified["stage"].to_numpy()],
            "candidate_stage": codes[classified["candidate"].to_numpy()],
            "reason_code": classified["reason_code"].to_numpy(),
            "reason_params": classified["reason_params"].to_numpy(),
            **{
                c: classified[c].to_numpy()
                for c in ("as_of", "days_covered", "to_date")
                if c in classified.columns
            },
        }
    )


# -- reasons ---------------------------------------------------------------------------------
#: The columns each stage's reason cites: its own criteria and, below SKA, the next stage's.
_ZB_PARAMS = (
    "months_with_sales",
    "zb_min_months",
    "zb_months_ok",
    "net_gmv_t30d",
    "zb_min_gmv_t30d",
    "zb_gmv_ok",
)
_SIZE_PARAMS = ("net_gmv_t90d", "top_share", "top_share_all", "category_brands", "size_fallback")
_KA_PARAMS = (
    *_SIZE_PARAMS,
    "ka_top_share",
    "ka_gmv_floor",
    "ka_small",
    "ka_gmv_ok",
    "repurchase_rate_90d",
    "repurchase_median",
    "ka_repurchase_factor",
    "ka_repurchase_ok",
    "self_share",
    "ka_min_self_share",
    "ka_self_ok",
)
_SKA_PARAMS = (
    *_SIZE_PARAMS,
    "ska_top_share",
    "ska_gmv_floor",
    "ska_small",
    "ska_gmv_ok",
    "special_supply_share",
    "ska_min_special_supply",
    "ska_supply_ok",
    "min_score",
    "ska_min_score",
    "ska_score_ok",
)
_STAGE_PARAMS = {
    ZERO_BREAKING: _ZB_PARAMS,
    CLIMBING: (*_ZB_PARAMS, *_KA_PARAMS),
    KA: tuple(dict.fromkeys((*_KA_PARAMS, *_SKA_PARAMS))),
    SKA: _SKA_PARAMS,
}
_COMMON_PARAMS = (
    "category",
    "candidate",
    "promote_run",
    "demote_run",
    "promote_after",
    "demote_after",
)


def _reasons(df: pd.DataFrame, rules: Hysteresis) -> tuple[pd.Series, pd.Series]:
    """The reason of every row's stage: ``ladder.<stage>`` and the numbers it cites, as JSON.

    Each stage cites its own criteria with the numbers and thresholds; below SKA also the next
    stage's (what is missing). The candidate stage and the hysteresis runs say when the stage is
    held away from this period's criteria; a period the data ends inside carries its as-of day.
    One JSON encoding per stage keeps this vectorised.
    """
    codes = np.asarray(STAGE_CODES, dtype=object)
    stage = df["stage"].to_numpy()
    frame = df.copy()
    frame["candidate"] = codes[df["candidate"].to_numpy()]
    frame["promote_after"] = rules.promote_after_periods
    frame["demote_after"] = rules.demote_after_periods
    common = list(_COMMON_PARAMS)
    if "to_date" in frame.columns:
        frame["to_date"] = frame["to_date"].fillna(False).astype(bool)
        frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.strftime("%Y-%m-%d")
        common += ["to_date", "as_of", "days_covered"]
    params = pd.Series("", index=df.index, dtype=object)
    for s, cited in _STAGE_PARAMS.items():
        mask = stage == s
        if mask.any():
            cols = [c for c in (*common, *cited) if c in frame.columns]
            rows = frame.loc[mask, cols].to_json(orient="records", lines=True, double_precision=15)
            params[mask] = rows.splitlines()
    return pd.Series("ladder." + codes[stage], index=df.index, dtype=object), params
