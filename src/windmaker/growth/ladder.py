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

import numpy as np
import pandas as pd

from windmaker import contract
from windmaker.growth.config import Hysteresis, LadderConfig
from windmaker.growth.text import Text, num_text
from windmaker.i18n import t

STAGE_CODES = contract.STAGES
ZERO_BREAKING, CLIMBING, KA, SKA = range(4)

#: Stage names in the reasons: the catalogue's, so the reason and the screen say the same.
STAGE_EN = tuple(t(f"stage.{s}", "en") for s in STAGE_CODES)
STAGE_ZH = tuple(t(f"stage.{s}", "zh-CN") for s in STAGE_CODES)

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
    "reason_en",
    "reason_zh",
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
    days = str(config.history.min_days)
    j = out["joined_at"].map(lambda d: "before it" if pd.isna(d) else f"on {d:%Y-%m-%d}")
    j_zh = out["joined_at"].map(lambda d: "早于数据起点" if pd.isna(d) else f"于{d:%Y-%m-%d}入驻")
    out["reason_en"] = (
        "Insufficient history: the data begins on "
        + start
        + " and the brand joined "
        + j
        + "; its "
        + days
        + "-day windows are full on "
        + until
        + ", when its stage is judged."
    )
    out["reason_zh"] = (
        "历史数据不足：数据起点为"
        + start
        + "，品牌"
        + j_zh
        + "；近"
        + days
        + "天窗口于"
        + until
        + "补满后判断阶段。"
    )
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
    out["min_score"] = out["min"].where(out["count"] >= len(contract.CAPABILITIES))
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
    for stage, top in (("ka", "ka_top_share"), ("ska", "ska_top_share")):
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
    """Stage per brand × period: criteria, hysteresis and the written reasons (en, zh).

    Returns the frame of :func:`evaluate_criteria` with ``stage``, ``promote_run``,
    ``demote_run`` (ordinals and runs), ``reason_en`` and ``reason_zh``.
    """
    df = evaluate_criteria(brand_month, capability, config)
    held = apply_hysteresis(df["brand_id"], df["candidate"], config.hysteresis)
    df = pd.concat([df, held], axis=1)
    df["reason_en"], df["reason_zh"] = _reasons(df, config.hysteresis)
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
            "reason_en": classified["reason_en"].to_numpy(),
            "reason_zh": classified["reason_zh"].to_numpy(),
            **{
                c: classified[c].to_numpy()
                for c in ("as_of", "days_covered", "to_date")
                if c in classified.columns
            },
        }
    )


# -- reasons ---------------------------------------------------------------------------------
def _money_en(x: pd.Series) -> Text:
    """¥12.3M, ¥450K, ¥800."""
    v = x.astype("float64").fillna(0.0)
    big = "¥" + num_text(v / 1e6, 1) + "M"
    mid = "¥" + num_text(v / 1e3, 1) + "K"
    small = "¥" + num_text(v, 0)
    return big.where(v.abs() >= 1e6, mid.where(v.abs() >= 1e3, small))


def _money_zh(x: pd.Series) -> Text:
    """¥1.23亿, ¥45.6万, ¥800."""
    v = x.astype("float64").fillna(0.0)
    yi = "¥" + num_text(v / 1e8, 2) + "亿"
    wan = "¥" + num_text(v / 1e4, 1) + "万"
    return yi.where(v.abs() >= 1e8, wan.where(v.abs() >= 1e4, "¥" + num_text(v, 0)))


def _pct(x: pd.Series) -> Text:
    v = x.astype("float64") * 100
    return (num_text(v, 1) + "%").where(v.notna(), "n/a")


def _cmp(ok: pd.Series) -> Text:
    return Text.of(np.where(ok, "≥", "<"))


def _size_clause(
    df: pd.DataFrame,
    stage: str,
    label: str,
    gmv_en: Text,
    gmv_zh: Text,
    top: Text,
    cat: Text,
    need: Text,
) -> tuple[Text, Text]:
    """The size criterion of KA or SKA: the category rank, or its small-category fallback."""
    en = gmv_en + " is in the top " + top + " of " + cat + " (" + label + " needs top " + need + ")"
    zh = gmv_zh + " 位列" + cat + "类目前" + top + "（" + label + "需前" + need + "）"
    n = num_text(df["category_brands"], 0)
    few_en = " (" + cat + " has only " + n + " brands)"
    few_zh = "（" + cat + "类目仅" + n + "个品牌）"
    floor = _money_en(df[f"{stage}_gmv_floor"]), _money_zh(df[f"{stage}_gmv_floor"])
    ok = _cmp(df[f"{stage}_gmv_ok"])
    floor_en = gmv_en + " " + ok + " the " + label + " floor " + floor[0] + few_en
    floor_zh = gmv_zh + " " + ok + " " + label + "门槛 " + floor[1] + few_zh
    all_top = _pct(df["top_share_all"])
    pooled_en = (
        gmv_en + " is in the top " + all_top + " of all categories (" + label + " needs top "
    )
    pooled_en = pooled_en + need + ")" + few_en
    pooled_zh = gmv_zh + " 位列全部类目前" + all_top + "（" + label + "需前" + need + "）" + few_zh
    by_floor = (df["size_fallback"] == "gmv_floor").to_numpy()
    small = df[f"{stage}_small"].to_numpy()
    alt_en, alt_zh = floor_en.where(by_floor, pooled_en), floor_zh.where(by_floor, pooled_zh)
    return "90-day net GMV " + alt_en.where(small, en), "近90天净GMV " + alt_zh.where(small, zh)


def _clauses(df: pd.DataFrame) -> dict[str, tuple[Text, Text]]:
    """Every criterion as an (en, zh) sentence citing the value and the threshold."""
    top = _pct(df["top_share"])
    cat = Text.of(df["category"].astype(str).to_numpy(dtype=object))
    months = num_text(df["months_with_sales"].fillna(0), 0)
    zb_months = num_text(df["zb_min_months"], 0)
    rep, rep_med = _pct(df["repurchase_rate_90d"]), _pct(df["repurchase_median"])
    factor = df["ka_repurchase_factor"]
    factor_en = (num_text(factor, 2) + " × ").where(factor != 1.0, "")
    score = num_text(df["min_score"], 0)
    gmv90_en, gmv90_zh = _money_en(df["net_gmv_t90d"]), _money_zh(df["net_gmv_t90d"])
    ka_need, ska_need = _pct(df["ka_top_share"]), _pct(df["ska_top_share"])
    return {
        "zb_months": (
            months + " months with sales " + _cmp(df["zb_months_ok"]) + " " + zb_months,
            "有销售月数 " + months + " " + _cmp(df["zb_months_ok"]) + " " + zb_months,
        ),
        "zb_gmv": (
            "30-day net GMV "
            + _money_en(df["net_gmv_t30d"])
            + " "
            + _cmp(df["zb_gmv_ok"])
            + " "
            + _money_en(df["zb_min_gmv_t30d"]),
            "近30天净GMV "
            + _money_zh(df["net_gmv_t30d"])
            + " "
            + _cmp(df["zb_gmv_ok"])
            + " "
            + _money_zh(df["zb_min_gmv_t30d"]),
        ),
        "ka_gmv": _size_clause(df, "ka", "KA", gmv90_en, gmv90_zh, top, cat, ka_need),
        "ka_repurchase": (
            "returned within 90 days "
            + rep
            + " "
            + _cmp(df["ka_repurchase_ok"])
            + " "
            + factor_en
            + "category median "
            + rep_med,
            "90天内回购率 "
            + rep
            + " "
            + _cmp(df["ka_repurchase_ok"])
            + " "
            + factor_en
            + "类目中位数 "
            + rep_med,
        ),
        "ka_self": (
            "self-operation "
            + _pct(df["self_share"])
            + " "
            + _cmp(df["ka_self_ok"])
            + " "
            + _pct(df["ka_min_self_share"]),
            "自播占比 "
            + _pct(df["self_share"])
            + " "
            + _cmp(df["ka_self_ok"])
            + " "
            + _pct(df["ka_min_self_share"]),
        ),
        "ska_gmv": _size_clause(df, "ska", "SKA", gmv90_en, gmv90_zh, top, cat, ska_need),
        "ska_supply": (
            "special supply "
            + _pct(df["special_supply_share"])
            + " "
            + _cmp(df["ska_supply_ok"])
            + " "
            + _pct(df["ska_min_special_supply"]),
            "特供占比 "
            + _pct(df["special_supply_share"])
            + " "
            + _cmp(df["ska_supply_ok"])
            + " "
            + _pct(df["ska_min_special_supply"]),
        ),
        "ska_score": (
            "lowest capability score "
            + score
            + " "
            + _cmp(df["ska_score_ok"])
            + " "
            + num_text(df["ska_min_score"], 0),
            "最低能力分 "
            + score
            + " "
            + _cmp(df["ska_score_ok"])
            + " "
            + num_text(df["ska_min_score"], 0),
        ),
    }


def _join(parts: list[Text], sep: str) -> Text:
    out = parts[0]
    for p in parts[1:]:
        out = out + sep + p
    return out


def _reasons(df: pd.DataFrame, rules: Hysteresis) -> tuple[pd.Series, pd.Series]:
    """The written reason of every row's stage, in English and Chinese.

    Each stage cites its own criteria with the numbers and thresholds; below SKA it also cites
    the next stage's criteria (what is missing). When hysteresis holds the stage away from this
    period's criteria, the reason says so and how many periods the confirmation still needs.
    """
    c = _clauses(df)
    en_parts: dict[int, list[Text]] = {}
    zh_parts: dict[int, list[Text]] = {}

    def side(keys: tuple[str, ...], lang: int) -> Text:
        return _join([c[k][lang] for k in keys], "; " if lang == 0 else "；")

    zb, ka, ska = (
        ("zb_months", "zb_gmv"),
        ("ka_gmv", "ka_repurchase", "ka_self"),
        (
            "ska_gmv",
            "ska_supply",
            "ska_score",
        ),
    )
    en_parts[ZERO_BREAKING] = [side(zb, 0)]
    zh_parts[ZERO_BREAKING] = [side(zb, 1)]
    en_parts[CLIMBING] = [side(zb, 0) + ". Not yet KA: " + side(ka, 0)]
    zh_parts[CLIMBING] = [side(zb, 1) + "。尚未达到KA：" + side(ka, 1)]
    en_parts[KA] = [side(ka, 0) + ". For SKA: " + side(ska, 0)]
    zh_parts[KA] = [side(ka, 1) + "。距SKA：" + side(ska, 1)]
    en_parts[SKA] = [side(ska, 0)]
    zh_parts[SKA] = [side(ska, 1)]

    stage = df["stage"].to_numpy()
    en = Text.of(np.full(len(df), "", dtype=object))
    zh = Text.of(np.full(len(df), "", dtype=object))
    for s in range(4):
        mask = stage == s
        if mask.any():
            en = (STAGE_EN[s] + ": " + en_parts[s][0]).where(mask, en)
            zh = (STAGE_ZH[s] + "：" + zh_parts[s][0]).where(mask, zh)

    cand_en = Text.of(np.asarray(STAGE_EN, dtype=object)[df["candidate"].to_numpy()])
    cand_zh = Text.of(np.asarray(STAGE_ZH, dtype=object)[df["candidate"].to_numpy()])
    up, down = num_text(df["promote_run"], 0), num_text(df["demote_run"], 0)
    p, d = str(rules.promote_after_periods), str(rules.demote_after_periods)
    higher = (df["candidate"] > df["stage"]).to_numpy()
    lower = (df["candidate"] < df["stage"]).to_numpy()
    en = en + "."
    zh = zh + "。"
    if "to_date" in df.columns:
        # a period the data ends inside is judged on the windows ending at its as-of day
        to_date = df["to_date"].fillna(False).astype(bool).to_numpy()
        as_of = pd.to_datetime(df["as_of"])
        day = Text.of(as_of.dt.strftime("%Y-%m-%d").fillna("").to_numpy(dtype=object))
        n = num_text(df["days_covered"], 0)
        en = ("To date (" + n + " days, to " + day + "): " + en).where(to_date, en)
        zh = ("本月至今（" + n + "天，截至" + day + "）：" + zh).where(to_date, zh)
    en = en.where(
        ~higher,
        en
        + " Meets "
        + cand_en
        + " criteria this period ("
        + up
        + " of "
        + p
        + " periods in a row needed to promote).",
    )
    zh = zh.where(
        ~higher,
        zh + "本期满足" + cand_zh + "标准（连续" + up + "/" + p + "期，满" + p + "期晋级）。",
    )
    en = en.where(
        ~lower,
        en
        + " Held by hysteresis: this period's criteria point to "
        + cand_en
        + " ("
        + down
        + " of "
        + d
        + " failing periods in a row before demotion).",
    )
    zh = zh.where(
        ~lower,
        zh
        + "迟滞保持：本期标准对应"
        + cand_zh
        + "（连续"
        + down
        + "/"
        + d
        + "期未达标，满"
        + d
        + "期降级）。",
    )
    return (
        pd.Series(en.to_numpy(), index=df.index, dtype=object),
        pd.Series(zh.to_numpy(), index=df.index, dtype=object),
    )
