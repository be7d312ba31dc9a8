"""Stage criteria, hysteresis, transitions and written reasons, on hand-made frames."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.growth.factories import brand_rows, filler, market
from windmaker.growth.config import Hysteresis, LadderConfig
from windmaker.growth.ladder import (
    apply_hysteresis,
    classify,
    history_gate,
    stage_table,
    transitions,
)
from windmaker.i18n import reason_text


def _en(row: pd.Series) -> str:
    """The row's reason as an English reader sees it."""
    return reason_text(row["reason_code"], row["reason_params"], "en")


def _zh(row: pd.Series) -> str:
    """The row's reason as a Chinese reader sees it."""
    return reason_text(row["reason_code"], row["reason_params"], "zh-CN")


def _walk(seq: list[int], promote: int = 2, demote: int = 3, warmup: int = 1) -> list[int]:
    out = apply_hysteresis(
        pd.Series(["b"] * len(seq)),
        pd.Series(seq),
        Hysteresis(
            promote_after_periods=promote, demote_after_periods=demote, warmup_periods=warmup
        ),
    )
    return out["stage"].tolist()


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        # promoted on the second period in a row meeting the next stage
        ([1, 2, 2, 2], [1, 1, 2, 2]),
        # an interrupted run starts again
        ([1, 2, 1, 2, 2], [1, 1, 1, 1, 2]),
        # demoted only after three periods in a row failing its own stage
        ([2, 1, 1, 2, 1, 1, 1], [2, 2, 2, 2, 2, 2, 1]),
        # a two-stage jump needs two confirmations: one stage at a time
        ([1, 3, 3, 3, 3], [1, 1, 2, 2, 3]),
        # a collapse falls one stage per three periods
        ([3, 0, 0, 0, 0, 0, 0], [3, 3, 3, 2, 2, 2, 1]),
        # the first period takes its criteria: there is no history to hold it
        ([2, 2], [2, 2]),
    ],
)
def test_hysteresis_sequences(candidates: list[int], expected: list[int]) -> None:
    assert _walk(candidates) == expected


def test_warmup_periods_follow_the_criteria() -> None:
    # months 1–3 of a brand's data: trailing windows fill, the stage follows the criteria
    assert _walk([0, 0, 2, 2, 1, 1, 1], warmup=3) == [0, 0, 2, 2, 2, 2, 1]
    assert _walk([0, 0, 2, 2, 1, 1, 1], warmup=1) == [0, 0, 0, 1, 1, 1, 1]


def test_hysteresis_follows_configuration() -> None:
    assert _walk([1, 2, 2], promote=1) == [1, 2, 2]
    assert _walk([2, 1, 1], demote=1) == [2, 1, 1]


def test_hysteresis_runs_each_brand_separately() -> None:
    brands = pd.Series(["a", "a", "a", "b", "b", "b"])
    cand = pd.Series([1, 2, 2, 2, 1, 1])
    out = apply_hysteresis(
        brands, cand, Hysteresis(promote_after_periods=2, demote_after_periods=3)
    )
    assert out["stage"].tolist() == [1, 1, 2, 2, 2, 2]
    assert out["demote_run"].tolist() == [0, 0, 0, 0, 1, 2]


def _ka_market() -> tuple[pd.DataFrame, pd.DataFrame]:
    specs = [("K", "beauty", [2] * 4, "private_domain"), *filler("beauty", 29, 4)]
    return market(specs)


def test_candidate_stage_from_criteria(ladder: LadderConfig) -> None:
    bm, cap = market(
        [
            ("Z", "food", [0] * 3, "traffic"),
            ("C", "food", [1] * 3, "traffic"),
            ("K", "food", [2] * 3, "traffic"),
            ("S", "food", [3] * 3, "traffic"),
            *filler("food", 196, 3),
        ]
    )
    df = classify(bm, cap, ladder)
    last = df.groupby("brand_id")["candidate"].last()
    assert last[["Z", "C", "K", "S"]].tolist() == [0, 1, 2, 3]


def test_reason_cites_numbers_and_thresholds(ladder: LadderConfig) -> None:
    bm, cap = _ka_market()
    g = stage_table(classify(bm, cap, ladder))
    row = g[(g.brand_id == "K")].iloc[-1]
    assert row["stage"] == "ka"
    # K is the largest of 30 beauty brands: rank 1 / 30 = top 3.3%
    assert "90-day net GMV ¥9M is in the top 3.3% of Beauty (KA needs top 10%)" in _en(row)
    assert "returned within 90 days 30% ≥ category median 10%" in _en(row)
    assert "self-operation 45% ≥ 30%" in _en(row)
    assert "For SKA: " in _en(row) and "special supply 1% < 5%" in _en(row)
    assert "自播占比 45% ≥ 30%" in _zh(row)
    assert "位列美妆类目前3.3%（KA需前10%）" in _zh(row)


def test_reason_says_when_hysteresis_holds(ladder: LadderConfig) -> None:
    bm, cap = market([("K", "beauty", [1, 1, 1, 2], "traffic"), *filler("beauty", 29, 4)])
    g = stage_table(classify(bm, cap, ladder))
    row = g[g.brand_id == "K"].iloc[-1]
    assert (row["stage"], row["candidate_stage"]) == ("climbing", "ka")
    assert (
        "Meets Category KA criteria this period (1 of 2 periods in a row needed to promote)"
        in _en(row)
    )
    assert "连续1/2期" in _zh(row)


def test_category_override_changes_stage_without_code(
    ladder: LadderConfig, tmp_path: pytest.TempPathFactory
) -> None:
    bm, cap = _ka_market()
    strict = ladder.model_copy(
        update={
            "category_overrides": LadderConfig.model_validate(
                {
                    **ladder.model_dump(),
                    "category_overrides": {"beauty": {"ka": {"min_self_share": 0.5}}},
                }
            ).category_overrides
        }
    )
    df = classify(bm, cap, strict)
    row = df[df.brand_id == "K"].iloc[-1]
    assert row["candidate"] == 1
    assert "self-operation 45% < 50%" in _en(row)


def test_transitions_record_duration_and_censoring(ladder: LadderConfig) -> None:
    bm, cap = market([("A", "home", [1, 1, 1, 2, 2, 2], "traffic"), *filler("home", 29, 6)])
    df = classify(bm, cap, ladder)
    t = transitions(df[df.brand_id == "A"])
    assert len(t) == 1
    row = t.iloc[0]
    # criteria met from month 4, confirmed in month 5 (two periods in a row)
    assert (row["from_stage"], row["to_stage"]) == (1, 2)
    assert row["period"] == pd.Timestamp("2026-03-01")
    assert row["left_period"] == pd.Timestamp("2026-02-01")
    assert row["months_in_stage"] == 4
    assert bool(row["censored"])


def test_small_category_can_have_a_ka_by_the_gmv_floor(ladder: LadderConfig) -> None:
    """Rank ÷ n ≤ 10 % is out of reach in a category of 5 brands: the size criterion falls back
    to the configured 90-day GMV floor (¥1M), so its ¥9M leader is KA and a ¥0.9M brand is not."""
    bm, cap = market(
        [
            ("K", "tea", [2] * 4, "traffic"),
            ("c", "tea", [1] * 4, "traffic", 0.75),  # ¥0.9M in 90 days: below the floor
            *filler("tea", 3, 4),
        ]
    )
    df = classify(bm, cap, ladder)
    last = df.groupby("brand_id").last()
    assert last.loc["K", "category_brands"] == 5
    assert bool(last.loc["K", "ka_gmv_ok"]) and last.loc["K", "candidate"] == 2
    assert not last.loc["c", "ka_gmv_ok"]
    g = stage_table(df)
    reason = _en(g[g.brand_id == "K"].iloc[-1])
    assert "90-day net GMV ¥9M ≥ the KA floor ¥1M (Tea has only 5 brands)" in reason
    zh = _zh(g[g.brand_id == "K"].iloc[-1])
    assert "KA门槛 ¥100万（Tea类目仅5个品牌）" in zh


def test_small_category_can_fall_back_to_the_rank_among_all_brands(ladder: LadderConfig) -> None:
    """With ``fallback: all_categories`` the small category's leader is ranked among every brand
    of the period: 1st of 35 is the top 2.9 %, within KA's 10 %."""
    pooled = ladder.model_copy(
        update={
            "small_categories": ladder.small_categories.model_copy(
                update={"fallback": "all_categories"}
            )
        }
    )
    bm, cap = market(
        [("K", "tea", [2] * 4, "traffic"), *filler("tea", 4, 4), *filler("food", 30, 4)]
    )
    df = classify(bm, cap, pooled)
    k = df[df.brand_id == "K"].iloc[-1]
    assert k["candidate"] == 2
    assert "is in the top 2.9% of all categories (KA needs top 10%) (Tea has only 5 brands)" in _en(
        stage_table(df)[lambda g: g.brand_id == "K"].iloc[-1]
    )


def _with_coverage(bm: pd.DataFrame, joined: dict[str, str], as_of_day: int = 0) -> pd.DataFrame:
    """The coverage columns of the metric table: whole months, the last one to ``as_of_day``."""
    out = bm.copy()
    ends = out["period"] + pd.offsets.MonthEnd(0)
    out["as_of"], out["days_covered"], out["to_date"] = ends, ends.dt.day, False
    if as_of_day:
        last = out["period"] == out["period"].max()
        out.loc[last, "as_of"] = out.loc[last, "period"] + pd.Timedelta(days=as_of_day - 1)
        out.loc[last, "days_covered"] = as_of_day
        out.loc[last, "to_date"] = True
    out["joined_at"] = out["brand_id"].map(lambda b: pd.Timestamp(joined.get(b, "2020-01-01")))
    return out


def test_established_brand_is_not_zero_breaking_before_its_windows_fill(
    ladder: LadderConfig,
) -> None:
    """A brand on the platform for years has only 1–2 months "with sales" in the first months of
    the data: it is left unjudged (insufficient history) until 90 days of data reach the as-of
    day, never called zero-breaking. A brand that joined inside the data is judged from its
    first month."""
    bm, cap = market([("K", "beauty", [2] * 5, "traffic"), *filler("beauty", 29, 5)])
    # the months_with_sales a metrics engine would count from the data alone
    bm["months_with_sales"] = bm.groupby("brand_id").cumcount() + 1
    new = brand_rows("N", "beauty", [0] * 3, start="2026-01-01")[0]
    bm = pd.concat([bm, pd.DataFrame(new)], ignore_index=True)
    bm = _with_coverage(bm, {"N": "2026-01-05"})
    judged, unjudged = history_gate(bm, ladder)
    # data from 2025-11-01: 90 days are reached on 2026-01-29, inside January
    assert sorted(unjudged[unjudged.brand_id == "K"].period.dt.strftime("%Y-%m")) == [
        "2025-11",
        "2025-12",
    ]
    assert set(unjudged.status) == {"insufficient_history"}
    row = unjudged[unjudged.brand_id == "K"].iloc[0]
    assert str(row["judged_from"]) == "2026-01-29"
    assert "Insufficient history" in _en(row) and "2026-01-29" in _en(row)
    assert "历史数据不足" in _zh(row)
    assert (judged[judged.brand_id == "N"].period.dt.strftime("%Y-%m") == "2026-01").any()
    df = classify(judged, cap, ladder)
    k = df[df.brand_id == "K"]
    assert (k["stage"] == 2).all()  # KA from its first judged month, never zero-breaking
    assert df[df.brand_id == "N"]["stage"].iloc[0] == 0


def test_to_date_month_says_so_in_its_reason(ladder: LadderConfig) -> None:
    bm, cap = _ka_market()
    bm = _with_coverage(bm, {}, as_of_day=16)
    g = stage_table(classify(bm, cap, ladder))
    row = g[g.brand_id == "K"].iloc[-1]
    assert row["to_date"] and row["days_covered"] == 16
    assert _en(row).startswith("To date (16 days, to 2026-02-16): Category KA: ")
    assert _zh(row).startswith("本月至今（16天，截至2026-02-16）：行业KA品牌：")
    earlier = g[g.brand_id == "K"].iloc[0]
    assert not earlier["to_date"] and _en(earlier).startswith("Category KA: ")
