"""Bottleneck gaps on the capability index against the brands that advanced, with fallbacks.

Known answer: the factories plant each brand's weakest capability 1.5 index points below the
others, and advancers leave climbing with index 2.0 (their weakest at 0.5).
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
    # advancers left climbing at index 2.0 on traffic; X is at 1 − 1.5
    assert x.loc["traffic", "gap"] == pytest.approx(2.0 - (-0.5))
    assert x.loc["traffic", "target_index"] == pytest.approx(2.0)
    # every advancer was weakest on private domain: its target is 0.5, below X's 1.0
    assert x.loc["private_domain", "gap"] == pytest.approx(0.5 - 1.0)
    assert set(x["reference"]) == {"category"} and set(x["basis"]) == {"advancers"}


def test_gap_is_target_minus_index_not_score(result) -> None:
    b = result.bottlenecks.dropna(subset=["gap"])
    assert (b["gap"] - (b["target_index"] - b["brand_index"])).abs().max() < 1e-12


def test_thin_category_falls_back_to_all_categories(result, ladder: LadderConfig) -> None:
    assert ladder.bottleneck.min_category_transitions > 1
    y = _last(result.bottlenecks, "Y")
    assert set(y["reference"]) == {"all"}
    # 7 advancers in all: 6 weakest on private domain (0.5), 1 on distribution (0.5)
    assert y.loc["private_domain", "target_index"] == pytest.approx(0.5)
    assert y.loc["distribution", "target_index"] == pytest.approx(2.0)
    assert y["rank"].idxmin() == "self_operation"


def test_ska_brands_compare_with_ska_peers(result) -> None:
    s = _last(result.bottlenecks, "S0")
    assert set(s["basis"]) == {"ska_peers"}
    # two SKA brands × 6 months = 12 SKA brand-months in home, enough for a category reference
    assert set(s["reference"]) == {"category"}
    assert s["rank"].idxmin() == "traffic"


def test_advancer_in_its_leaving_month_sits_on_the_target(result) -> None:
    # criteria met from 2026-02 (still climbing), promoted 2026-03: 2026-02 is the leaving month
    adv = result.bottlenecks[(result.bottlenecks.brand_id == "adv0")]
    leaving = adv[adv.period == pd.Timestamp("2026-02-01")].set_index("capability")
    assert leaving.loc["self_operation", "gap"] == pytest.approx(0.0)
    assert leaving.loc["private_domain", "gap"] == pytest.approx(0.0)
