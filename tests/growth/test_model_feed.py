"""Lifetime value and traffic curves in the P and T indices and the plan, on a hand-made market.

Known answers: the model figures are set by hand (as ``mdl_clv_*`` / ``mdl_traffic_curves`` would
hold them), so the at-risk count, the expected value, the spend figures and the GMV change of the
actions are known; the curve's GMV is recomputed here from the Hill formula. Without model
tables the diagnosis must equal the metrics-only one frame for frame. The components and the
re-ranked scores are expressions: :func:`_scored` executes them on an in-memory DuckDB, as the
diagnose service does through the warehouse, and plain pandas gives the reference answers.
"""

from __future__ import annotations

import json

import ibis
import numpy as np
import pandas as pd
import pytest

from tests.growth.factories import filler, market
from windmaker.growth.config import LadderConfig, ModelRules
from windmaker.growth.diagnosis import Diagnosis, diagnose
from windmaker.growth.model_feed import (
    ModelFeed,
    blended_capability,
    feed_from_frames,
    score_expressions,
    spend_actions,
    traffic_expression,
)
from windmaker.growth.plan import Playbook
from windmaker.metrics.category import capabilities, midrank_percentile
from windmaker.metrics.config import CapabilityMetric, MetricsConfig, load_metrics_config

#: ``metrics.yaml`` → ``benchmark.index_decimals``: the rounding both indices are ranked by.
INDEX_DECIMALS = load_metrics_config().benchmark.index_decimals

ADVANCE = [1] * 6 + [2] * 3
SIZES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
LAST = pd.Timestamp("2026-07-01")  # the factories' 9th month: the model period
DAYS = 30


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    specs: list[tuple] = [(f"adv{s}", "beauty", ADVANCE, "private_domain", s) for s in SIZES]  # type: ignore[type-arg]
    # C and W fail the KA size criterion only and trail the advancers' playbook metrics by 20 %
    options = {"plant_criteria": True, "behind": 0.2}
    specs += [
        ("C", "beauty", [1] * 9, "traffic", 0.9, options),  # under-spending on traffic
        ("W", "beauty", [1] * 9, "traffic", 0.9, options),  # wasting spend
        ("P", "beauty", [1] * 9, "private_domain", 1.0),
    ]
    specs += filler("beauty", 40, 9)
    return market(specs)


def _feed(brands: list[str], rules: ModelRules) -> ModelFeed:
    end = pd.Timestamp("2026-07-28")
    others = [b for b in brands if b not in ("P", "C", "W")]
    clv = pd.DataFrame(
        {
            "brand_id": ["P", *others],
            "observation_end": end,
            # P's expected repeat value per buyer is the category's lowest
            "value": [20.0, *np.linspace(100.0, 300.0, len(others))],
            "segment_buyers": [37, *range(1, len(others) + 1)],
            "segment_value": [12_345.6, *[10.0] * len(others)],
        }
    )
    curves = pd.DataFrame(
        {
            "brand_id": ["C", "W", *others[:10]],
            "period_end": end,
            "saturation": "hill",
            "beta": 10_000.0,
            "half_saturation_spend": 2_000.0,
            "hill_shape": 1.0,
            "r2": 0.8,
            "current_spend": [1_000.0, 4_000.0, *[1_000.0] * 10],
            "marginal_roas": [4.4, 1.1, *[2.5] * 10],
            "break_even_roas": 2.5,
            "break_even_spend": [1_800.0, 400.0, *[1_000.0] * 10],
        }
    )
    # as the diagnose service reads mdl_traffic_curves: the log ROAS ratio is the engine's
    traffic = _run(traffic_expression(rules, ibis.memtable(curves)))
    return feed_from_frames(clv, traffic)


def _run(expr: ibis.Table) -> pd.DataFrame:
    """Execute ``expr`` on an in-memory DuckDB (the warehouse's default engine)."""
    return ibis.duckdb.connect().execute(expr)


def _scored(
    feed: ModelFeed, cap: pd.DataFrame, rules: ModelRules, index_decimals: int = INDEX_DECIMALS
) -> ModelFeed:
    """``feed`` with its components and ``g_model_scores`` executed over ``cap``."""
    exprs = score_expressions(rules, ibis.memtable(cap), feed, index_decimals=index_decimals)
    if exprs is None:
        return feed.scored(None, None)
    return feed.scored(_run(exprs[0]), _run(exprs[1]))


def _midrank(values: pd.Series) -> pd.Series:
    """Reference mid-rank percentile: 100 × (average rank − 1) / (n − 1)."""
    return 100.0 * (values.rank(method="average") - 1) / (values.count() - 1)


@pytest.fixture(scope="module")
def inputs(ladder: LadderConfig) -> tuple[pd.DataFrame, pd.DataFrame, ModelFeed]:
    assert ladder.models is not None
    bm, cap = _frames()
    feed = _feed(sorted(bm["brand_id"].unique()), ladder.models)
    return bm, cap, _scored(feed, cap, ladder.models)


@pytest.fixture(scope="module")
def plain(inputs, ladder: LadderConfig, playbook: Playbook) -> Diagnosis:  # type: ignore[no-untyped-def]
    bm, cap, _ = inputs
    return diagnose(bm, cap, ladder, playbook)


@pytest.fixture(scope="module")
def fed(inputs, ladder: LadderConfig, playbook: Playbook) -> Diagnosis:  # type: ignore[no-untyped-def]
    bm, cap, feed = inputs
    return diagnose(bm, cap, ladder, playbook, models=feed)


def _plan(d: Diagnosis, brand: str) -> pd.DataFrame:
    p = d.plans[(d.plans.brand_id == brand) & (d.plans.period == LAST)]
    return p.sort_values("rank").set_index("action_id")


def _equal(a: Diagnosis, b: Diagnosis) -> None:
    for name in ("stages", "bottlenecks", "plans", "portfolio", "transitions", "classified"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)


def test_without_models_the_diagnosis_is_unchanged(
    inputs, plain: Diagnosis, ladder: LadderConfig, playbook: Playbook
) -> None:  # type: ignore[no-untyped-def]
    bm, cap, feed = inputs
    empty = feed_from_frames(None, None)
    _equal(plain, diagnose(bm, cap, ladder, playbook, models=empty))
    # a ladder.yaml without the models section reads no model, even when models are fitted
    off = ladder.model_copy(update={"models": None})
    _equal(diagnose(bm, cap, off, playbook), diagnose(bm, cap, off, playbook, models=feed))
    assert plain.model_scores is None


def test_p_bottleneck_plan_names_the_at_risk_buyers(fed: Diagnosis, plain: Diagnosis) -> None:
    p = _plan(fed, "P")
    assert p.index[0] == "reengage_at_risk_buyers"
    row = p.loc["reengage_at_risk_buyers"]
    assert row["capability"] == "private_domain" and row["current"] == 37
    assert "37 at-risk buyers" in row["title_en"] and "¥12,346" in row["title_en"]
    assert "37 位" in row["title_zh"]
    ev = json.loads(row["evidence"])
    assert ev == {
        "source": "mdl_clv_buyers",
        "segment": "at_risk",
        "buyers": 37,
        "expected_value": 12345.6,
        "horizon_days": 180,
    }
    # only the model month gets model actions; the metric-only plan had none
    assert not fed.plans.loc[fed.plans.period < LAST, "action_id"].str.startswith("reengage").any()
    assert "reengage_at_risk_buyers" not in set(plain.plans["action_id"])


def _hill(s: float) -> float:
    return 10_000.0 * s / (s + 2_000.0)


def test_t_action_spend_figures_are_the_curves(fed: Diagnosis) -> None:
    up = _plan(fed, "C").loc["raise_paid_spend"]
    assert up["capability"] == "traffic" and up["direction"] == "higher"
    assert up["current"] == pytest.approx(1_000.0 * DAYS)
    assert up["target"] == pytest.approx(1_800.0 * DAYS)  # the break-even spend, within 3×
    gain = (_hill(1_800.0) - _hill(1_000.0)) * DAYS
    ev = json.loads(up["evidence"])
    assert ev["gmv_change_month"] == pytest.approx(gain, abs=0.01)
    assert "¥30,000 to ¥54,000 a month" in up["title_en"]
    assert f"+¥{gain:,.0f} GMV" in up["title_en"]

    cut = _plan(fed, "W").loc["cut_paid_spend"]
    # break-even 400 a day is below 0.25 × 4,000: the cut stops at 1,000 a day
    assert cut["current"] == pytest.approx(4_000.0 * DAYS)
    assert cut["target"] == pytest.approx(1_000.0 * DAYS)
    assert cut["direction"] == "lower"
    assert f"saves ¥{3_000 * DAYS:,}" in cut["title_en"]


def test_model_actions_only_for_top_gaps(fed: Diagnosis, ladder: LadderConfig) -> None:
    assert ladder.models is not None
    model_ids = {"reengage_at_risk_buyers", "raise_paid_spend", "cut_paid_spend"}
    acts = fed.plans.loc[fed.plans["action_id"].isin(model_ids)]
    assert len(acts) > 0
    gaps = fed.bottlenecks[["brand_id", "period", "capability", "rank"]]
    ranks = acts[["brand_id", "period", "capability"]].merge(gaps)["rank"]
    assert len(ranks) == len(acts)
    assert (ranks <= ladder.models.actions.max_gap_rank).all()
    sizes = fed.plans.groupby(["brand_id", "period"]).size()
    assert (sizes <= ladder.plan.max_actions).all()
    # a target must improve on the current value, so the factories' flat brands (every metric
    # at the advancers' level) have short plans; C and W trail the advancers and have full ones
    assert sizes.loc[["C", "W"]].between(ladder.plan.min_actions, ladder.plan.max_actions).all()


def test_p_index_blends_lifetime_value(inputs, ladder: LadderConfig) -> None:  # type: ignore[no-untyped-def]
    """Known answer: P's hand-set lifetime value (20, the category's lowest) standardised by the
    pandas median and IQR of the hand-set values, blended with the configured weight and
    rounded to ``index_decimals``."""
    _, cap, feed = inputs
    assert ladder.models is not None
    cap = cap.assign(period=cap["period"].astype("datetime64[s]"))
    comps, stored = feed.components, feed.scores
    enriched = blended_capability(cap, stored)
    pd_rows = comps[comps.capability == "private_domain"].set_index("brand_id")
    v = pd_rows["model_value"]
    iqr = v.quantile(0.75) - v.quantile(0.25)
    assert pd_rows.loc["P", "model_z"] == pytest.approx((20.0 - v.median()) / iqr)
    w = ladder.models.private_domain.weight
    key = (cap.brand_id == "P") & (cap.period == LAST) & (cap.capability == "private_domain")
    expected = (1 - w) * cap.loc[key, "index"].iloc[0] + w * pd_rows.loc["P", "model_z"]
    assert enriched.loc[key, "index"].iloc[0] == round(expected, INDEX_DECIMALS)
    # P's lifetime value is the lowest: its P index only falls
    assert enriched.loc[key, "index"].iloc[0] < cap.loc[key, "index"].iloc[0]
    # scores re-ranked within the category and month; other months untouched
    grp = enriched.loc[(enriched.period == LAST) & (enriched.capability == "private_domain")]
    assert grp["score"].to_numpy() == pytest.approx(_midrank(grp["index"]).to_numpy())
    before = enriched.period < LAST
    pd.testing.assert_frame_equal(enriched.loc[before], cap.loc[before])
    assert set(stored["capability"]) == {"private_domain", "traffic"}
    # every row of a re-ranked group is stored, with the metrics-only figures beside
    assert len(stored) == len(cap.loc[cap.period == LAST, "brand_id"].unique()) * 2
    row = stored.set_index(["brand_id", "capability"]).loc[("P", "private_domain")]
    assert row["metric_index"] == cap.loc[key, "index"].iloc[0]
    assert row["metric_score"] == cap.loc[key, "score"].iloc[0]


def test_t_index_penalises_distance_from_break_even(inputs, ladder: LadderConfig) -> None:  # type: ignore[no-untyped-def]
    """Known answer: ln of the hand-set marginal / break-even ROAS of C and W."""
    _, _, feed = inputs
    assert ladder.models is not None
    t = feed.components
    t = t[t.capability == "traffic"].set_index("brand_id")
    # at break-even the component is 0 (the best); C (4.4 vs 2.5) and W (1.1) are below it
    assert t.loc["C", "model_value"] == pytest.approx(-np.log(4.4 / 2.5))
    assert t.loc["W", "model_value"] == pytest.approx(-np.log(2.5 / 1.1))
    assert t.loc["W", "model_z"] < t.loc["C", "model_z"] < t.drop(["C", "W"])["model_z"].min()


def test_midrank_percentile_matches_its_formula() -> None:
    """Known answer: 100 × (#below + ½(#equal − 1)) / (n − 1) worked by hand."""
    t = ibis.memtable(pd.DataFrame({"g": ["a"] * 4 + ["b"], "x": [1.0, 2.0, 2.0, 5.0, 7.0]}))
    out = _run(t.mutate(p=midrank_percentile(t.x, ["g"])).order_by(["g", "x"]))
    assert out["p"].tolist() == pytest.approx([0.0, 100 * 1.5 / 3, 100 * 1.5 / 3, 100.0, 50.0])


def test_zero_iqr_rule_equals_m_capability(ladder: LadderConfig) -> None:
    """Known answer: six brands at 1 and one at 5 have IQR 0, so the unit is the range 4 and
    z = (5 − 1) / 4 = 1; a group that does not vary is z = 0. ``m_capability`` (one metric of
    weight 1 per capability) gives the same z for the same values."""
    assert ladder.models is not None
    july = pd.Timestamp("2026-07-01")
    values = {"beauty": [1.0] * 6 + [5.0], "food": [3.0] * 7}
    rows = [(f"{c[0]}{i}", c, v) for c, vs in values.items() for i, v in enumerate(vs)]
    brands = pd.DataFrame(rows, columns=["brand_id", "category", "value"])
    cap = brands[["brand_id", "category"]].assign(
        period=july, capability="private_domain", index=0.0, score=50.0, benchmark="category"
    )
    feed = feed_from_frames(
        brands[["brand_id", "value"]].assign(
            observation_end=july, segment_buyers=0, segment_value=0.0
        ),
        None,
    )
    comps = _scored(feed, cap, ladder.models).components
    assert comps is not None
    z = comps.set_index("brand_id")["model_z"]
    assert z["b6"] == pytest.approx(1.0)
    assert z[[f"b{i}" for i in range(6)]].tolist() == pytest.approx([0.0] * 6)
    assert z[[f"f{i}" for i in range(7)]].tolist() == pytest.approx([0.0] * 7)

    one = (CapabilityMetric(metric="repurchase_rate_90d", weight=1.0),)
    metrics = MetricsConfig(
        capabilities={
            c: one
            for c in (
                "self_operation",
                "traffic",
                "distribution",
                "private_domain",
                "special_supply",
            )
        },
        benchmark={"min_category_brands": 1},  # type: ignore[arg-type]
        standardise={"clip": 100.0},  # type: ignore[arg-type]
    )
    month = brands.rename(columns={"value": "repurchase_rate_90d"}).assign(period=july.date())
    m = _run(capabilities(ibis.memtable(month), metrics))
    m_z = m[m.capability == "private_domain"].set_index("brand_id")["index"]
    assert m_z.sort_index().to_numpy() == pytest.approx(z.sort_index().to_numpy())


def test_pooled_small_category_is_ranked_among_all_brands(ladder: LadderConfig) -> None:
    """Known answer: pandas ranks of the blended index. Beauty has 5 brands, under the metrics'
    ``min_category_brands`` (10), so ``m_capability`` ranked its P index among all 19 brands of
    the month (``benchmark = 'all'``); the blended score must be ranked there too, and its model
    z standardised among every brand's model value. Food (14 brands) stays in its category."""
    rules = ladder.models
    assert rules is not None
    july = pd.Timestamp("2026-07-01")
    ids = [f"b{i}" for i in range(5)] + [f"f{i}" for i in range(14)]
    cats = ["beauty"] * 5 + ["food"] * 14
    index = np.concatenate([[0.5, -1.0, -0.2, 0.1, 0.9], np.linspace(-1.5, 1.5, 14)])
    value = np.concatenate([[150.0, 40.0, 90.0, 60.0, 300.0], np.linspace(50.0, 250.0, 14)])
    cap = pd.DataFrame(
        {
            "brand_id": ids,
            "category": cats,
            "period": july,
            "capability": "private_domain",
            "index": index,
            "benchmark": ["all"] * 5 + ["category"] * 14,
        }
    )
    food = cap.category == "food"
    cap["score"] = _midrank(cap["index"])
    cap.loc[food, "score"] = _midrank(cap.loc[food, "index"])
    clv = pd.DataFrame(
        {"brand_id": ids, "observation_end": july, "value": value, "segment_buyers": 0}
    ).assign(segment_value=0.0)
    feed = _scored(feed_from_frames(clv, None), cap, rules)

    # reference: z among every brand (beauty) or within food, blended, ranked where m_capability ranked
    v = pd.Series(value, index=ids)

    def z(x: pd.Series, ref: pd.Series) -> pd.Series:
        return (x - ref.median()) / (ref.quantile(0.75) - ref.quantile(0.25))

    ref_z = pd.concat([z(v[:5], v), z(v[5:], v[5:])])
    w = rules.private_domain.weight
    blended = ((1 - w) * pd.Series(index, index=ids) + w * ref_z).round(INDEX_DECIMALS)
    expected = _midrank(blended)
    expected[5:] = _midrank(blended[5:])

    assert feed.scores is not None
    got = feed.scores.set_index("brand_id")
    assert len(got) == 19  # every row of both re-ranked groups
    assert got.loc[ids, "model_z"].to_numpy() == pytest.approx(ref_z.to_numpy())
    assert got.loc[ids, "index"].to_numpy() == pytest.approx(blended.to_numpy())
    assert got.loc[ids, "score"].to_numpy() == pytest.approx(expected.to_numpy())
    # b1, the lowest of beauty and the 3rd lowest of all 19, is not at 0 of its 5-brand category
    assert blended[:5].idxmin() == "b1"
    assert got.loc["b1", "score"] == pytest.approx(100 * 2 / 18)
    assert got.loc["b1", "metric_score"] == pytest.approx(cap.loc[1, "score"])
    # the diagnosis reads the same scores
    moved = blended_capability(cap, feed.scores).set_index("brand_id")
    assert moved.loc[ids, "score"].to_numpy() == pytest.approx(expected.to_numpy())


def test_unscored_feed_is_refused(inputs, ladder: LadderConfig, playbook: Playbook) -> None:  # type: ignore[no-untyped-def]
    bm, cap, feed = inputs
    raw = ModelFeed(feed.clv, feed.traffic)
    with pytest.raises(ValueError, match="not scored"):
        diagnose(bm, cap, ladder, playbook, models=raw)


def test_model_action_counts_against_the_capability_limit(
    fed: Diagnosis, plain: Diagnosis, ladder: LadderConfig
) -> None:
    # C's bottleneck is traffic: the plain plan has both climbing traffic actions, the fed plan
    # the model's spend action first and then only the first playbook one
    limit = ladder.plan.bottleneck_actions
    assert limit == 2
    before = _plan(plain, "C")
    after = _plan(fed, "C")
    assert before.loc[before.capability == "traffic"].index.tolist() == [
        "cl_paid_traffic",
        "cl_roas",
    ]
    assert after.loc[after.capability == "traffic"].index.tolist() == [
        "raise_paid_spend",
        "cl_paid_traffic",
    ]


def test_spend_actions_read_the_engines_log_roas_ratio(
    ladder: LadderConfig, playbook: Playbook
) -> None:
    """Known answers: ``ln(marginal / break-even ROAS)`` of hand-set curves, worked by hand.
    ``X`` (3.0 vs 2.0) is ln 1.5 = 0.405 above break-even; ``F`` is flat (marginal ROAS 0), so
    −``max_log_ratio``; ``Z`` has no positive break-even ROAS, so no ratio and no action; ``E``
    sits at break-even. The spend actions act where |ratio| reaches ``min_log_roas_gap``."""
    rules = ladder.models
    assert rules is not None and playbook.model_actions is not None
    curves = pd.DataFrame(
        {
            "brand_id": ["X", "F", "Z", "E"],
            "period_end": pd.Timestamp("2026-07-28"),
            "saturation": "hill",
            "beta": 10_000.0,
            "half_saturation_spend": 2_000.0,
            "hill_shape": 1.0,
            "r2": 0.8,
            "current_spend": 1_000.0,
            "marginal_roas": [3.0, 0.0, 3.0, 2.0],
            "break_even_roas": [2.0, 2.0, 0.0, 2.0],
            "break_even_spend": [1_500.0, 500.0, 1_500.0, 1_000.0],
        }
    )
    feed = feed_from_frames(None, _run(traffic_expression(rules, ibis.memtable(curves))))
    ratio = feed.traffic.set_index("brand_id")["log_roas_ratio"]
    cap = rules.traffic.max_log_ratio
    assert ratio["X"] == pytest.approx(np.log(1.5))
    assert ratio["F"] == -cap
    assert np.isnan(ratio["Z"])
    assert ratio["E"] == pytest.approx(0.0)
    gap = rules.actions.min_log_roas_gap
    expected = {b for b, r in ratio.items() if np.isfinite(r) and abs(r) >= gap}
    acts = spend_actions(feed.traffic, rules, playbook.model_actions).set_index("brand_id")
    assert set(acts.index) == expected and {"X", "F"} <= expected
    assert acts.loc["X", "direction"] == "higher" and acts.loc["F", "direction"] == "lower"


def test_blended_indices_equal_but_for_rounding_share_a_score(ladder: LadderConfig) -> None:
    """Known answer: the mid-rank percentile of pandas-blended indices rounded to
    ``index_decimals``. A and B have the same lifetime value and metric indices 1e-12 apart (two
    sums of the same terms in another order), so their blended indices differ by about 1e-12:
    rounded as ``m_capability``'s index is, they tie and share the mean of their two ranks.
    Unrounded (15 decimals keep the difference) the percentile would split them."""
    rules = ladder.models
    assert rules is not None
    july = pd.Timestamp("2026-07-01")
    ids = ["A", "B", *[f"f{i}" for i in range(8)]]
    index = np.concatenate([[0.3, 0.3 + 1e-12], np.linspace(-1.0, 1.0, 8)])
    value = np.concatenate([[120.0, 120.0], np.linspace(50.0, 250.0, 8)])
    cap = pd.DataFrame(
        {
            "brand_id": ids,
            "category": "beauty",
            "period": july,
            "capability": "private_domain",
            "index": index,
            "score": _midrank(pd.Series(index)).to_numpy(),
            "benchmark": "category",
        }
    )
    clv = pd.DataFrame(
        {"brand_id": ids, "observation_end": july, "value": value, "segment_buyers": 0}
    ).assign(segment_value=0.0)
    feed = feed_from_frames(clv, None)
    got = _scored(feed, cap, rules).scores
    assert got is not None
    got = got.set_index("brand_id")
    v = pd.Series(value, index=ids)
    z = (v - v.median()) / (v.quantile(0.75) - v.quantile(0.25))
    w = rules.private_domain.weight
    blended = (1 - w) * pd.Series(index, index=ids) + w * z
    assert 0 < abs(blended["B"] - blended["A"]) < 1e-11
    expected = _midrank(blended.round(INDEX_DECIMALS))
    assert got.loc["A", "index"] == got.loc["B", "index"]
    assert got.loc["A", "score"] == got.loc["B", "score"]
    assert got.loc[ids, "score"].to_numpy() == pytest.approx(expected.to_numpy())
    assert got.loc["A", "score"] == pytest.approx((expected["A"] + expected["B"]) / 2)
    split = _scored(feed, cap, rules, index_decimals=15).scores
    assert split is not None
    split = split.set_index("brand_id")
    assert split.loc["A", "score"] != split.loc["B", "score"]
