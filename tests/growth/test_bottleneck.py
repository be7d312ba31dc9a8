"""Bottleneck gaps on the capability index against the brands that advanced, with fallbacks.

Known answer: the factories plant each brand's weakest capability 1.5 index points below the
others; an advancer is read where it left climbing (``promote_after_periods +
measure_lead_periods`` = 4 periods before its confirmed promotion, here its first month), with
index 1.0 on four capabilities and −0.5 on its weakest.
"""

from __future__ import annotations

import pandas as pd
import pytest

from tests.growth.factories import filler, market
from windmaker.growth.config import LadderConfig
from windmaker.growth.diagnosis import diagnose
from windmaker.growth.plan import Playbook

ADVANCE = [1, 1, 1, 2, 2, 2]


@pytest.fixture(scope="module")
def result(ladder: LadderConfig, playbook: Playbook):
    specs = [(f"adv{i}", "beauty", ADVANCE, "private_domain") for i in range(6)]
    specs += [("X", "beauty", [1] * 6, "traffic"), *filler("beauty", 80, 6)]
    specs += [
        ("food-adv", "food", ADVANCE, "distribution"),
        ("Y", "food", [1] * 6, "self_operation"),
    ]
    specs += filler("food", 80, 6, seed=1)
    specs += [(f"S{i}", "home", [3] * 6, "special_supply" if i else "traffic") for i in range(2)]
    specs += filler("home", 200, 6, seed=2)
    bm, cap = market(specs)
    return diagnose(bm, cap, ladder, playbook)


def _last(frame: pd.DataFrame, brand: str) -> pd.DataFrame:
    rows = frame[frame.brand_id == brand]
    return rows[rows.period == rows.period.max()].set_index("capability")


def test_planted_weakest_capability_is_the_bottleneck(result) -> None:
    x = _last(result.bottlenecks, "X")
    assert x["rank"].idxmin() == "traffic"
    assert sorted(x["rank"]) == [1, 2, 3, 4, 5]
    # advancers left climbing at index 1.0 on traffic; X is at 1 − 1.5
    assert x.loc["traffic", "raw_gap"] == pytest.approx(1.0 - (-0.5))
    assert x.loc["traffic", "target_index"] == pytest.approx(1.0)
    # every advancer was weakest on private domain: its target is −0.5, below X's 1.0
    assert x.loc["private_domain", "raw_gap"] == pytest.approx(-0.5 - 1.0)
    assert set(x["reference"]) == {"category"} and set(x["basis"]) == {"advancers"}


def test_gap_is_index_gap_over_stage_spread(result) -> None:
    b = result.bottlenecks.dropna(subset=["gap"])
    assert (b["raw_gap"] - (b["target_index"] - b["brand_index"])).abs().max() < 1e-12
    assert (b["gap"] - b["raw_gap"] / b["scale"]).abs().max() < 1e-12
    # the scale is the spread of the index among brand-months at the stage
    classified = result.classified[["brand_id", "period", "stage"]]
    cap = b.merge(classified, on=["brand_id", "period"])
    climbing = cap[(cap.stage == 1) & (cap.capability == "traffic")]
    assert climbing["scale"].iloc[0] > 0.05


def test_scores_do_not_move_the_gaps(ladder: LadderConfig, playbook: Playbook) -> None:
    specs = [(f"adv{i}", "beauty", ADVANCE, "private_domain") for i in range(6)]
    specs += [("X", "beauty", [1] * 6, "traffic"), *filler("beauty", 80, 6)]
    bm, cap = market(specs)
    before = diagnose(bm, cap, ladder, playbook).bottlenecks
    cap["score"] = 100.0 - cap["score"]
    after = diagnose(bm, cap, ladder, playbook).bottlenecks
    pd.testing.assert_series_equal(before["gap"], after["gap"])


def test_thin_category_falls_back_to_all_categories(result, ladder: LadderConfig) -> None:
    assert ladder.bottleneck.min_category_transitions > 1
    y = _last(result.bottlenecks, "Y")
    assert set(y["reference"]) == {"all"}
    # 7 advancers in all: 6 weakest on private domain (−0.5), 1 on distribution
    assert y.loc["private_domain", "target_index"] == pytest.approx(-0.5)
    assert y.loc["distribution", "target_index"] == pytest.approx(1.0)
    assert y["rank"].idxmin() == "self_operation"


def test_ska_brands_compare_with_ska_peers(result) -> None:
    s = _last(result.bottlenecks, "S0")
    assert set(s["basis"]) == {"ska_peers"}
    # two SKA brands in home, fewer than min_reference_brands: all categories (same two)
    assert set(s["reference"]) == {"all"}
    assert s["rank"].idxmin() == "traffic"


def test_advancer_where_it_left_sits_on_the_target(result) -> None:
    # promoted 2026-03; read 4 periods earlier, clamped to its first climbing month 2025-11
    adv = result.transitions.set_index("brand_id").loc["adv0"]
    assert adv["measured_period"] == pd.Timestamp("2025-11-01")
    rows = result.bottlenecks[(result.bottlenecks.brand_id == "adv0")]
    leaving = rows[rows.period == pd.Timestamp("2026-01-01")].set_index("capability")
    assert leaving.loc["self_operation", "gap"] == pytest.approx(0.0)
    assert leaving.loc["private_domain", "gap"] == pytest.approx(0.0)


def test_index_is_smoothed_over_the_stage_run(ladder: LadderConfig, playbook: Playbook) -> None:
    specs = [("N", "beauty", [1] * 6, "traffic"), *filler("beauty", 40, 6)]
    bm, cap = market(specs)
    noisy = (cap.brand_id == "N") & (cap.capability == "traffic")
    cap.loc[noisy, "index"] = [0.0, 0.0, 0.0, 0.0, 3.0, 0.0]
    b = diagnose(bm, cap, ladder, playbook).bottlenecks
    n = b[(b.brand_id == "N") & (b.capability == "traffic")].sort_values("period")
    assert n["brand_index"].round(6).tolist() == [0.0, 0.0, 0.0, 0.0, 0.75, 0.75]
