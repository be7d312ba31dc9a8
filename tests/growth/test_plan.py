"""Action plans from the playbook: order, targets and peer evidence on a hand-made market.

Known answer: the factories give public_share = 0.25 + 0.005 × month for climbing brands not
weak on traffic (0.20 + … for those that are); advancers climb for 7 months (promoted in month
8) and are read 4 months before the promotion (month 4: 0.265); net_gmv_t90d ∝ size, so the
nearest peers are known.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.growth.factories import filler, market
from windmaker.growth.config import LadderConfig
from windmaker.growth.diagnosis import diagnose
from windmaker.growth.plan import Playbook

ADVANCE = [1] * 6 + [2] * 3
SIZES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


@pytest.fixture(scope="module")
def plans(ladder: LadderConfig, playbook: Playbook) -> pd.DataFrame:
    specs = [(f"adv{s}", "beauty", ADVANCE, "private_domain", s) for s in SIZES]
    specs += [("C", "beauty", [1] * 9, "traffic", 1.0), ("Z", "beauty", [0] * 9, "distribution")]
    # other zero-breaking brands: no brand advanced out of zero-breaking, so Z is compared with
    # the best of its own stage, where only Z is weak on distribution
    specs += [
        (f"Z{c}", "beauty", [0] * 9, c) for c in ("traffic", "self_operation", "private_domain")
    ]
    specs += filler("beauty", 80, 9)
    bm, cap = market(specs)
    return diagnose(bm, cap, ladder, playbook).plans


def _plan(plans: pd.DataFrame, brand: str) -> pd.DataFrame:
    p = plans[plans.brand_id == brand]
    return p[p.period == p.period.max()].sort_values("rank").reset_index(drop=True)


def test_bottleneck_actions_come_first(plans: pd.DataFrame, ladder: LadderConfig) -> None:
    p = _plan(plans, "C")
    assert ladder.plan.min_actions <= len(p) <= ladder.plan.max_actions
    assert p["rank"].tolist() == list(range(1, len(p) + 1))
    # traffic is C's bottleneck: both climbing traffic actions of the playbook lead the plan
    assert p["action_id"].tolist()[:2] == ["cl_paid_traffic", "cl_roas"]
    assert p["capability"].nunique() == len(p) - 1


def test_zero_breaking_brand_gets_influencer_testing(plans: pd.DataFrame) -> None:
    p = _plan(plans, "Z")
    assert p.loc[0, "action_id"] == "zb_influencer_testing"
    assert p.loc[0, "stage"] == "zero_breaking"


def test_current_and_target_values(plans: pd.DataFrame) -> None:
    p = _plan(plans, "C").set_index("action_id")
    # C, weak on traffic, in its 9th month: 0.20 + 0.04
    assert p.loc["cl_paid_traffic", "current"] == pytest.approx(0.24)
    # median public_share of the six advancers where they left climbing
    assert p.loc["cl_paid_traffic", "target"] == pytest.approx(0.265)


def test_evidence_quotes_nearest_peers_and_their_move(plans: pd.DataFrame) -> None:
    p = _plan(plans, "C").set_index("action_id")
    ev = json.loads(p.loc["cl_paid_traffic", "evidence"])
    assert ev["step"] == "climbing→ka"
    assert ev["reference"] == "category" and ev["advancers"] == len(SIZES)
    peers = ev["peers"]
    assert peers[0]["brand_id"] == "adv1.0"
    assert {q["brand_id"] for q in peers} == {"adv1.0", "adv0.5", "adv2.0"}
    first = peers[0]
    assert (first["from"], first["to"]) == (pytest.approx(0.25), pytest.approx(0.265))
    # climbing for months 1–7 before the promotion was confirmed in month 8
    assert first["months"] == 7 and first["censored"] is True


def test_plans_stored_for_latest_periods(plans: pd.DataFrame, ladder: LadderConfig) -> None:
    assert plans["period"].nunique() == ladder.plan.store_periods
