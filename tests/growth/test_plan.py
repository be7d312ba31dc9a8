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
    # C fails the KA size criterion only (a little smaller than the fillers) and trails the
    # advancers by 20 % on the playbook metrics the factories let move (``behind``)
    c_options = {"plant_criteria": True, "behind": 0.2}
    specs += [("C", "beauty", [1] * 9, "traffic", 0.9, c_options)]
    specs += [("Z", "beauty", [0] * 9, "distribution")]
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


# -- every target improves on the current value ----------------------------------------------
# Known answer: the factories set every metric of a stage to one level, so the advancers'
# median equals the flat brands' own value; ``behind`` moves a brand below or above it.


@pytest.fixture(scope="module")
def flat_market(ladder: LadderConfig, playbook: Playbook) -> pd.DataFrame:
    specs = [(f"adv{s}", "beauty", ADVANCE, "private_domain", s) for s in SIZES]
    specs += [
        # ahead of the advancers on every metric that moves: nearly nothing left to improve
        ("A", "beauty", [1] * 9, "traffic", 0.9, {"plant_criteria": True, "behind": -0.3}),
        ("C", "beauty", [1] * 9, "traffic", 0.9, {"plant_criteria": True, "behind": 0.2}),
    ]
    specs += filler("beauty", 80, 9)
    return diagnose(*market(specs), ladder, playbook).plans


def test_every_target_is_strictly_better(plans: pd.DataFrame, flat_market: pd.DataFrame) -> None:
    for p in (plans, flat_market):
        higher = p["direction"] == "higher"
        assert (p.loc[higher, "target"] > p.loc[higher, "current"]).all()
        assert (p.loc[~higher, "target"] < p.loc[~higher, "current"]).all()
        # special-supply SKUs are 0 for every climbing brand and advancer: 0 → 0 is no action
        assert "cl_channel_sku" not in set(p["action_id"])


def test_a_falling_target_is_replaced_by_the_next_entry(plans: pd.DataFrame) -> None:
    """C's self share (35 %) is above the advancers' (20 %): "build the live room" would lower
    it, so the self-operation slot goes to live efficiency (806 → 1,003 an hour)."""
    p = _plan(plans, "C").set_index("action_id")
    assert "cl_build_live_room" not in p.index
    row = p.loc["cl_live_efficiency"]
    assert row["capability"] == "self_operation"
    assert (row["current"], row["target"]) == (pytest.approx(0.8 * 1008), pytest.approx(1003))


def test_plan_is_short_only_when_nothing_else_improves(
    flat_market: pd.DataFrame, ladder: LadderConfig
) -> None:
    """A, ahead of the advancers everywhere but public share, keeps only that action; C keeps a
    full plan from the entries whose targets improve."""
    a = _plan(flat_market, "A")
    assert a["action_id"].tolist() == ["cl_paid_traffic"]
    assert a.loc[0, "current"] < a.loc[0, "target"]
    c = _plan(flat_market, "C")
    assert ladder.plan.min_actions <= len(c) <= ladder.plan.max_actions


def test_next_stage_threshold_target(plans: pd.DataFrame, ladder: LadderConfig) -> None:
    """Zero-breaking Z (30-day GMV ¥50,000) is given the climbing threshold as its target."""
    p = _plan(plans, "Z").set_index("action_id")
    row = p.loc["zb_first_sales"]
    assert row["current"] == pytest.approx(50_000)
    assert row["target"] == ladder.criteria.zero_breaking.min_net_gmv_t30d
