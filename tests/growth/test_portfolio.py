"""Operator portfolio: attention per brand, GMV at stake and priority on a hand-made market."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.growth.factories import filler, market
from windmaker.growth.config import LadderConfig
from windmaker.growth.ladder import classify
from windmaker.growth.portfolio import attention_table

LAST = pd.Timestamp("2026-04-01")


@pytest.fixture(scope="module")
def classified(ladder: LadderConfig) -> pd.DataFrame:
    specs = [
        ("R", "food", [1, 1, 1, 1, 1, 2], "traffic"),  # meets KA once in the last month
        ("F", "food", [2, 2, 2, 1, 1, 1], "traffic"),  # demoted in the last month
        ("K", "food", [2] * 6, "traffic"),
        *filler("food", 90, 6),
    ]
    bm, cap = market(specs)
    return classify(bm, cap, ladder)


def _last(table: pd.DataFrame) -> pd.DataFrame:
    return table[table.period == LAST].set_index("brand_id")


def test_attentions(classified: pd.DataFrame, ladder: LadderConfig) -> None:
    p = _last(attention_table(classified, ladder))
    assert p.loc["R", "attention"] == "ready"
    assert p.loc["F", "attention"] == "falling"
    assert p.loc["F", "stage"] == "climbing"
    # six months at the same stage with a flat GMV
    assert ladder.portfolio.stalled_after_periods == 6
    assert p.loc["food-f0", "attention"] == "stalled"
    assert p.loc["K", "attention"] == "stalled"


def test_gmv_at_stake_and_priority(classified: pd.DataFrame, ladder: LadderConfig) -> None:
    p = _last(attention_table(classified, ladder))
    # falling: the 90-day GMV lost over the last three months (9M → 1.2M), lost again at that pace
    assert p.loc["F", "gmv_at_stake"] == pytest.approx(9_000_000 - 1_200_000)
    # ready: the gap to the median KA brand of the category (K at 9M); R sells like one already
    assert p.loc["R", "gmv_at_stake"] == 0
    # stalled: the upside to the median KA brand of the category (K; R is still climbing)
    assert p.loc["food-f0", "gmv_at_stake"] == pytest.approx(9_000_000 - 1_200_000)
    # stalled at KA with no SKA brand in the period: nothing to measure the upside against
    assert p.loc["K", "gmv_at_stake"] == 0
    # weight × stake: falling 3 × 7.8M beats stalled 1 × 7.8M, which beats ready 2 × 0
    assert p.loc["F", "priority"] == 1
    assert p.loc["F", "priority"] < p.loc["food-f0", "priority"] < p.loc["R", "priority"]
    assert sorted(p["priority"]) == list(range(1, len(p) + 1))


def test_trust_alert_comes_first(classified: pd.DataFrame, ladder: LadderConfig) -> None:
    alerts = pd.DataFrame({"brand_id": ["food-f3"], "period": [LAST]})
    p = _last(attention_table(classified, ladder, alerts))
    assert p.loc["food-f3", "attention"] == "trust_alert"
    # without a period the alert applies to the latest period only
    every = attention_table(classified, ladder, pd.DataFrame({"brand_id": ["food-f3"]}))
    flagged = every[every.attention == "trust_alert"]
    assert flagged["period"].tolist() == [LAST]


def test_attention_order_from_configuration(classified: pd.DataFrame, ladder: LadderConfig) -> None:
    rules = ladder.portfolio.model_copy(
        update={"attention_order": ("stalled", "ready", "falling", "trust_alert")}
    )
    cfg = ladder.model_copy(update={"portfolio": rules})
    p = _last(attention_table(classified, cfg))
    # F was just demoted: it cannot be stalled, whatever the order
    assert p.loc["F", "attention"] == "falling"
    assert p.loc["K", "attention"] == "stalled"
