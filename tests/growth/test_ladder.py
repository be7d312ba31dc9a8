"""Stage criteria, hysteresis, transitions and written reasons, on hand-made frames."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.growth.factories import filler, market
from windmaker.growth.config import Hysteresis, LadderConfig
from windmaker.growth.ladder import apply_hysteresis, classify, stage_table, transitions


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
    assert "90-day net GMV ¥9M is in the top 3.3% of beauty (KA needs top 10%)" in row["reason_en"]
    assert "repurchase 30% ≥ category median 10%" in row["reason_en"]
    assert "self-operation 45% ≥ 30%" in row["reason_en"]
    assert "For SKA: " in row["reason_en"] and "special supply 1% < 5%" in row["reason_en"]
    assert "自播占比 45% ≥ 30%" in row["reason_zh"]
    assert "位列beauty类目前3.3%（KA需前10%）" in row["reason_zh"]


def test_reason_says_when_hysteresis_holds(ladder: LadderConfig) -> None:
    bm, cap = market([("K", "beauty", [1, 1, 1, 2], "traffic"), *filler("beauty", 29, 4)])
    g = stage_table(classify(bm, cap, ladder))
    row = g[g.brand_id == "K"].iloc[-1]
    assert (row["stage"], row["candidate_stage"]) == ("climbing", "ka")
    assert (
        "Meets KA criteria this period (1 of 2 periods in a row needed to promote)"
        in row["reason_en"]
    )
    assert "连续1/2期" in row["reason_zh"]


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
    assert "self-operation 45% < 50%" in row["reason_en"]


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
