"""Bottleneck gaps on the capability index against the brands that advanced, with fallbacks.

Known answer: the factories plant each brand's weakest capability 1.5 index points below the
others (and, with ``plant_criteria``, make the next stage's capability criteria fail only there); an advancer is read where it left climbing (``promote_after_periods +
measure_lead_periods`` = 4 periods before its confirmed promotion, here its first month), with
index 1.0 on four capabilities and −0.5 on its weakest.
"""

from __future__ import annotations

import pandas as pd
import pytest

from tests.growth.factories import CAPS, filler, market
from windmaker.growth.bottleneck import criterion_failures, gaps
from windmaker.growth.config import LadderConfig, load_ladder_config
from windmaker.growth.diagnosis import diagnose
from windmaker.growth.plan import Playbook
from windmaker.i18n import reason_text

ADVANCE = [1, 1, 1, 2, 2, 2]


@pytest.fixture(scope="module")
def result(ladder: LadderConfig, playbook: Playbook):
    specs = [(f"adv{i}", "beauty", ADVANCE, "private_domain") for i in range(6)]
    # X fails the KA size criterion only (a little smaller than the fillers), so its planted
    # traffic weakness, not a failed criterion, ranks first
    x_options = {"plant_criteria": True}
    specs += [("X", "beauty", [1] * 6, "traffic", 0.9, x_options), *filler("beauty", 80, 6)]
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


# -- the bottleneck agrees with the stage -----------------------------------------------------
# Known answer: the factories' criteria metrics (``plant_criteria``) fail the next stage's
# capability criteria exactly where planted; the capability indices plant traffic weakest.


@pytest.fixture(scope="module")
def staged(ladder: LadderConfig, playbook: Playbook):
    plant = {"plant_criteria": True}
    specs = [(f"adv{i}", "beauty", ADVANCE, "private_domain") for i in range(6)]
    specs += [
        # climbing, index weakest on traffic, but self share 20 % < 30 %: self-operation first
        ("CS", "beauty", [1] * 6, "self_operation", 0.9, plant),
        # climbing, repurchase 7 % below the category median 10 %
        ("CP", "beauty", [1] * 6, "private_domain", 0.9, plant),
        # KA, special supply 1 % < 5 % (and its special-supply score 40 < 60)
        ("KS", "home", [2] * 6, "special_supply", 1.0, plant),
        # KA, special supply 6 % passes; its traffic score 40 < 60 fails the score criterion
        ("KT", "home", [2] * 6, "traffic", 1.0, plant),
    ]
    specs += filler("beauty", 80, 6) + filler("home", 40, 6, seed=3)
    bm, cap = market(specs)
    # CS's index is weakest on traffic, not on self-operation: the criterion must win
    cs = (cap.brand_id == "CS") & (cap.capability == "traffic")
    cap.loc[cs, "index"] = cap.loc[cs, "index"] - 3.0
    return diagnose(bm, cap, ladder, playbook)


def test_failed_criterion_ranks_its_capability_first(staged) -> None:
    """The issue's case: the capability named in the reason ("self-operation 20% < 30%") is
    rank 1 even when another capability has the larger index gap."""
    cs = _last(staged.bottlenecks, "CS")
    assert cs["rank"].idxmin() == "self_operation"
    first = cs.loc["self_operation"]
    assert first["ranked_by"] == "criterion" and first["criterion"] == "ka_self"
    assert first["criterion_value"] == pytest.approx(0.20)
    assert first["criterion_threshold"] == pytest.approx(0.30)
    assert first["criterion_shortfall"] == pytest.approx((0.30 - 0.20) / 0.30)
    # traffic has the largest gap and comes next, ranked by the gap
    assert cs.loc["traffic", "rank"] == 2 and cs.loc["traffic", "ranked_by"] == "gap"
    assert cs.loc["traffic", "gap"] > cs.loc["self_operation", "gap"]
    row = staged.stages.set_index(["brand_id", "period"]).loc[("CS", cs["period"].iloc[0])]
    reason = reason_text(row["reason_code"], row["reason_params"], "en")
    assert "self-operation 20% < 30%" in reason


def test_repurchase_criterion_names_private_domain(staged) -> None:
    cp = _last(staged.bottlenecks, "CP").loc["private_domain"]
    assert (cp["rank"], cp["criterion"]) == (1, "ka_repurchase")
    # threshold = 1.0 × the category median (the fillers' 10 %)
    assert cp["criterion_value"] == pytest.approx(0.07)
    assert cp["criterion_threshold"] == pytest.approx(0.10)


def test_ka_brand_short_of_special_supply_gets_special_supply(staged) -> None:
    ks = _last(staged.bottlenecks, "KS")
    assert ks["rank"].idxmin() == "special_supply"
    # both SKA criteria name special supply; the larger shortfall is the one stated
    row = ks.loc["special_supply"]
    assert row["criterion"] == "ska_supply"
    assert row["criterion_shortfall"] == pytest.approx((0.05 - 0.01) / 0.05)
    assert (ks["ranked_by"] == "criterion").sum() == 1


def test_score_criterion_names_the_lowest_score(staged) -> None:
    kt = _last(staged.bottlenecks, "KT")
    row = kt.loc["traffic"]
    assert (row["rank"], row["criterion"]) == (1, "ska_score")
    assert (row["criterion_value"], row["criterion_threshold"]) == (40.0, 60.0)


def test_several_failed_criteria_rank_by_relative_shortfall() -> None:
    """Shortfall = (threshold − value) / threshold: repurchase 2 % against 10 % (0.8) comes
    before self share 20 % against 30 % (0.33); the score criterion names no capability when
    the lowest score clears the bar."""
    classified = pd.DataFrame(
        {
            "brand_id": ["b", "k"],
            "period": pd.Timestamp("2026-01-01"),
            "stage": [1, 2],
            "ka_repurchase_ok": [False, True],
            "ka_self_ok": [False, True],
            "ska_supply_ok": [True, True],
            "ska_score_ok": [True, False],
            "repurchase_rate_90d": [0.02, 0.5],
            "repurchase_median": [0.10, 0.1],
            "ka_repurchase_factor": [1.0, 1.0],
            "self_share": [0.20, 0.5],
            "ka_min_self_share": [0.30, 0.3],
            "special_supply_share": [0.0, 0.1],
            "ska_min_special_supply": [0.05, 0.05],
            "min_score": [10.0, 61.0],
            "ska_min_score": [60.0, 60.0],
        }
    )
    scores = pd.DataFrame(
        {
            "brand_id": "k",
            "period": pd.Timestamp("2026-01-01"),
            "capability": list(CAPS),
            "score": [61.0, 70.0, 80.0, 90.0, 95.0],
        }
    )
    f = criterion_failures(classified, scores)
    assert f["brand_id"].tolist() == ["b", "b"]
    assert f.set_index("capability")["criterion_shortfall"].to_dict() == pytest.approx(
        {"private_domain": 0.8, "self_operation": 1 / 3}
    )
    ref = pd.DataFrame(
        {
            "category": "c",
            "stage": 1,
            "capability": list(CAPS),
            "target_index": 0.0,
            "reference": "category",
            "basis": "advancers",
            "n": 5,
            "scale": 1.0,
        }
    )
    stages = classified.loc[[0], ["brand_id", "period", "stage"]].assign(category="c")
    cap = pd.DataFrame(
        {
            "brand_id": "b",
            "period": pd.Timestamp("2026-01-01"),
            "capability": list(CAPS),
            "index": [-1.0, -2.0, -0.5, -0.1, 0.5],
        }
    )
    g = gaps(stages, cap, ref, load_ladder_config(), failures=f).set_index("capability")
    order = g.sort_values("rank").index.tolist()
    assert order == [
        "private_domain",
        "self_operation",
        "traffic",
        "distribution",
        "special_supply",
    ]


def test_at_or_above_reference_is_never_a_weakness(result) -> None:
    """A gap ≤ 0 keeps its value but is not a weakness; rank 1 goes to it only when every
    capability is at or above the reference and no criterion fails."""
    b = result.bottlenecks.dropna(subset=["gap"])
    assert (b["weakness"] == (b["gap"] > 0)).all()
    x = _last(result.bottlenecks, "X")
    assert not x.loc["private_domain", "weakness"] and x.loc["private_domain", "gap"] < 0
    assert x.loc["traffic", "weakness"]
    # no criterion-free brand-month has a non-weakness at rank 1 while another capability trails
    first = b[(b["rank"] == 1) & (b["ranked_by"] == "gap")]
    any_weak = b.groupby(["brand_id", "period"])["weakness"].any()
    no_weak_first = first.loc[~first["weakness"]].set_index(["brand_id", "period"]).index
    assert not any_weak.reindex(no_weak_first).any()


def test_no_weakness_against_peers_says_so(ladder: LadderConfig, playbook: Playbook) -> None:
    """An advancer measured where it left (gaps exactly 0 on every capability) has no weakness:
    rank 1 is still stored, flagged ``weakness`` false."""
    specs = [(f"adv{i}", "beauty", ADVANCE, "private_domain") for i in range(6)]
    specs += filler("beauty", 80, 6)
    d = diagnose(*market(specs), ladder, playbook)
    b = d.bottlenecks
    row = b[(b.brand_id == "adv0") & (b.period == pd.Timestamp("2025-11-01"))]
    assert (row["gap"].abs() < 1e-12).all()
    assert not row["weakness"].any()


def test_gap_stated_in_the_headline_metric(staged, ladder: LadderConfig) -> None:
    """The headline metric's value against the median of the brands that made the step: CP's
    repurchase 7 % against the advancers' 10 % where they left climbing."""
    cp = _last(staged.bottlenecks, "CP")
    headline = ladder.bottleneck.headline_metrics
    assert (cp["metric"] == cp.index.map(headline)).all()
    row = cp.loc["private_domain"]
    assert row["metric"] == "repurchase_rate_90d"
    assert row["metric_value"] == pytest.approx(0.07)
    assert row["metric_reference"] == pytest.approx(0.10)
    assert row["metric_basis"] == "advancers"
    # self share: CP's planted 35 % against the advancers' default 20 % where they left
    assert cp.loc["self_operation", "metric_value"] == pytest.approx(0.35)
    assert cp.loc["self_operation", "metric_reference"] == pytest.approx(0.20)


def test_bottleneck_table_stores_with_text_columns(result) -> None:
    from windmaker.growth.diagnosis import G_BOTTLENECK, result_tables

    table = result_tables(result)[G_BOTTLENECK]
    assert str(table.schema.field("criterion").type) == "string"
    assert str(table.schema.field("weakness").type) == "bool"


def test_a_brand_held_at_its_stage_is_told_what_it_is_losing() -> None:
    """An SKA brand the hysteresis still holds while its lowest score (38, distribution) fell
    below the SKA bar, and a KA brand whose self share fell below 30 %: the capability behind
    their own stage's failed criterion is named, with its numbers (the stage reason cites the
    same criterion). A KA brand meeting its own criteria is not named for them."""
    classified = pd.DataFrame(
        {
            "brand_id": ["s", "k", "ok"],
            "period": pd.Timestamp("2026-01-01"),
            "stage": [3, 2, 2],
            "ka_repurchase_ok": [True, True, True],
            "ka_self_ok": [True, False, True],
            "ska_supply_ok": [True, True, True],
            "ska_score_ok": [False, True, True],
            "repurchase_rate_90d": [0.5, 0.5, 0.5],
            "repurchase_median": [0.1, 0.1, 0.1],
            "ka_repurchase_factor": [1.0, 1.0, 1.0],
            "self_share": [0.6, 0.24, 0.5],
            "ka_min_self_share": [0.3, 0.3, 0.3],
            "special_supply_share": [0.1, 0.08, 0.08],
            "ska_min_special_supply": [0.05, 0.05, 0.05],
            "min_score": [38.0, 70.0, 70.0],
            "ska_min_score": [60.0, 60.0, 60.0],
        }
    )
    scores = pd.DataFrame(
        {
            "brand_id": "s",
            "period": pd.Timestamp("2026-01-01"),
            "capability": list(CAPS),
            "score": [100.0, 100.0, 38.0, 100.0, 94.0],
        }
    )
    f = criterion_failures(classified, scores).set_index("brand_id")
    assert set(f.index) == {"s", "k"}
    assert (f.loc["s", "capability"], f.loc["s", "criterion"]) == ("distribution", "ska_score")
    assert (f.loc["s", "criterion_value"], f.loc["s", "criterion_threshold"]) == (38.0, 60.0)
    assert (f.loc["k", "capability"], f.loc["k", "criterion"]) == ("self_operation", "ka_self")
