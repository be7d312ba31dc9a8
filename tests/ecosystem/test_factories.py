"""Source factories (源头工厂) and industrial belts (产业带).

- ``test_ranking_beats_sku_count_on_held_out_launches``: planted truth. A 1,000-brand market
  (the demo's size) whose factories carry a planted quality that their goods' refunds, reviews,
  complaints and hit propensity answer to (``truth/factories.parquet``). Factories are ranked on
  the first six months; the relevance is what the special-supply SKUs launched in the last six
  months did (their refunds and low reviews against their brand's other goods, graded by
  quartile in the category). Bar (issue 22): NDCG@10 at least 20 % above ranking by SKU count,
  in the same run; measured 0.786 against 0.549 (1.43×) on seed 1 (the quality weights were
  chosen on seeds 2 and 3: 1.31×, 1.24×; ``make bench BENCH=factories``). The quality index
  itself orders the factories as their planted quality does: Spearman ≥ 0.7 (0.90 measured).
- The rest hold each formula to a hand-computed answer on a few rows.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from windmaker.ecosystem import factories as fx
from windmaker.metrics.factories import sku_months

CONFIG = fx.load_factory_config()


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    from windmaker.simulator import MarketConfig, simulate

    out = tmp_path_factory.mktemp("factories")
    simulate(MarketConfig(brands=1000, months=12, seed=1), out)
    con = ibis.duckdb.connect()
    t = {
        n: con.read_parquet(out / f"{n}.parquet", table_name=n)
        for n in ("orders", "skus", "reviews", "factories")
    }
    sm = sku_months(t["orders"], t["skus"], t["reviews"]).execute()
    sm["period"] = pd.to_datetime(sm["period"]).dt.date
    return sm, t["factories"].execute(), out


def test_ranking_beats_sku_count_on_held_out_launches(
    market: tuple[pd.DataFrame, pd.DataFrame, Path],
) -> None:
    sm, factories, folder = market
    periods = sorted(sm["period"].unique())
    split = periods[len(periods) // 2]
    profiles = fx.factory_profiles(sm, factories, CONFIG, before=split)
    relevance = fx.holdout_relevance(sm, split, CONFIG)
    assert relevance["launches"].sum() >= 150  # enough held-out launches to judge by
    score = fx.rank_scores(profiles, CONFIG)
    ours, by_count = [], []
    for _, g in relevance.groupby("category"):
        if len(g) < 3:
            continue
        rel = dict(zip(g["factory_id"], g["relevance"], strict=True))
        candidates = list(g["factory_id"])
        ranked = sorted(candidates, key=lambda f: (-score[f], f))
        counted = sorted(candidates, key=lambda f: (-profiles.loc[f, "skus"], f))
        ours.append(fx.ndcg_at(ranked, rel))
        by_count.append(fx.ndcg_at(counted, rel))
    assert len(ours) >= 5
    assert np.mean(ours) >= 1.2 * np.mean(by_count), (np.mean(ours), np.mean(by_count))

    truth = pd.read_parquet(folder / "truth" / "factories.parquet").set_index("factory_id")
    judged = profiles[profiles["orders"] >= CONFIG.ranking.min_orders].join(truth)
    rho = spearmanr(judged["quality_index"], judged["true_quality"]).statistic
    assert rho >= 0.7, rho


def test_the_gate_keeps_the_worst_factories_out(
    market: tuple[pd.DataFrame, pd.DataFrame, Path],
) -> None:
    sm, factories, folder = market
    profiles = fx.factory_profiles(sm, factories, CONFIG)
    truth = pd.read_parquet(folder / "truth" / "factories.parquet")["true_quality"]
    truth.index = pd.read_parquet(folder / "truth" / "factories.parquet")["factory_id"]
    out = fx.gated(profiles, CONFIG)
    assert out.any()
    # the gate catches factories of low planted quality, not a random draw of them
    assert truth[out[out].index].mean() < truth[out[~out].index].mean() - 0.1
    for category in profiles["category"].unique():
        picks = fx.rank_for_brand(profiles, str(category), CONFIG)
        assert not {p.factory_id for p in picks} & set(out[out].index)
        assert [p.rank for p in picks] == list(range(1, len(picks) + 1))


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    base = {
        "launched_at": pd.Timestamp("2025-01-01"),
        "special_supply": False,
        "units": 0,
        "net_gmv": 0.0,
        "reviews": 0,
        "low_reviews": 0,
        "quality_complaints": 0,
    }
    return pd.DataFrame([base | r for r in rows])


FACTORIES = pd.DataFrame(
    {
        "factory_id": ["F1", "F2", "F3"],
        "name": ["一厂", "二厂", "三厂"],
        "region": ["浙江义乌", "浙江义乌", "广东广州"],
        "category": ["beauty", "beauty", "beauty"],
    }
)


def test_refund_ratio_is_against_the_brands_own_rate() -> None:
    p1, p2 = date(2026, 1, 1), date(2026, 2, 1)
    sm = _frame(
        [
            # brand A: 1,000 orders in January, 100 refunded, 400 of them F1's goods (60 refunded)
            {"sku_id": "K1", "brand_id": "A", "factory_id": "F1", "category": "beauty",
             "period": p1, "orders": 400, "refunded": 60, "quality_complaints": 2, "units": 500},
            {"sku_id": "K2", "brand_id": "A", "factory_id": None, "category": "beauty",
             "period": p1, "orders": 600, "refunded": 40},
            # brand B sells F2's goods at its own (higher) refund rate
            {"sku_id": "K3", "brand_id": "B", "factory_id": "F2", "category": "beauty",
             "period": p2, "orders": 200, "refunded": 40, "units": 250, "special_supply": True},
        ]
    )  # fmt: skip
    prof = fx.factory_profiles(sm, FACTORIES, CONFIG)
    k = CONFIG.quality.prior_refunds
    # F1: expected = 400 × (100 / 1000) = 40 refunds; ratio (60 + k) / (40 + k)
    assert prof.loc["F1", "refund_ratio"] == pytest.approx((60 + k) / (40 + k))
    # F2 is all of brand B's goods that month: refunded as its brand is, ratio 1
    assert prof.loc["F2", "refund_ratio"] == pytest.approx(1.0)
    assert prof.loc["F3", "orders"] == 0 and prof.loc["F3", "refund_ratio"] == pytest.approx(1.0)
    m = CONFIG.quality.prior_orders
    rate = 2 / 600  # the category's quality complaints per order (F1's 2 over F1 and F2's 600)
    assert prof.loc["F1", "quality_complaints_per_1k"] == pytest.approx(
        1000 * (2 + m * rate) / (400 + m)
    )
    assert prof.loc["F2", "special_skus"] == 1 and prof.loc["F1", "special_skus"] == 0
    assert prof.loc["F1", "peak_monthly_units"] == 500
    assert list(prof.loc[["F1", "F2", "F3"], "brands"]) == [1, 1, 0]


def test_profiles_see_only_the_months_before_the_cut() -> None:
    p1, p2 = date(2026, 1, 1), date(2026, 2, 1)
    sm = _frame(
        [
            {"sku_id": "K1", "brand_id": "A", "factory_id": "F1", "category": "beauty",
             "period": p1, "orders": 10, "refunded": 1},
            {"sku_id": "K1", "brand_id": "A", "factory_id": "F1", "category": "beauty",
             "period": p2, "orders": 90, "refunded": 50},
        ]
    )  # fmt: skip
    assert fx.factory_profiles(sm, FACTORIES, CONFIG, before=p2).loc["F1", "orders"] == 10
    assert fx.factory_profiles(sm, FACTORIES, CONFIG).loc["F1", "orders"] == 100


def test_belts_sum_their_factories_goods_and_grow_by_the_stated_windows() -> None:
    months = [date(2026, m, 1) for m in range(1, 7)]
    rows = []
    for i, p in enumerate(months):
        rows.append({"sku_id": "K1", "brand_id": "A", "factory_id": "F1", "category": "beauty",
                     "period": p, "orders": 1, "refunded": 0, "net_gmv": 100.0 * (i + 1)})  # fmt: skip
        rows.append({"sku_id": "K2", "brand_id": "B", "factory_id": "F3", "category": "beauty",
                     "period": p, "orders": 1, "refunded": 0, "net_gmv": 50.0})  # fmt: skip
    out = fx.belts(_frame(rows), FACTORIES, CONFIG).set_index(["region", "category"])
    yiwu = out.loc[("浙江义乌", "beauty")]
    assert yiwu["net_gmv"] == pytest.approx(100.0 * sum(range(1, 7)))
    assert yiwu["factories"] == 1 and yiwu["factories_listed"] == 2 and yiwu["brands"] == 1
    # last 3 months (400 + 500 + 600) against the 3 before (100 + 200 + 300)
    assert yiwu["growth"] == pytest.approx(1500 / 600 - 1)
    assert out.loc[("广东广州", "beauty"), "growth"] == pytest.approx(0.0)


def test_origin_climb_counts_steps_and_their_months() -> None:
    months = [date(2026, m, 1) for m in range(1, 8)]
    path = {
        "U": ["zero_breaking", "zero_breaking", "climbing", "climbing", "climbing", "ka", "ka"],
        "T": ["climbing"] * 7,
        "S": ["climbing", "climbing", "climbing", "climbing", "ka", "ka", "ka"],
    }
    stages = pd.DataFrame(
        [{"brand_id": b, "period": p, "stage": s} for b, v in path.items() for p, s in zip(months, v, strict=True)]
    )  # fmt: skip
    brands = pd.DataFrame(
        {"brand_id": ["U", "T", "S"], "origin": ["factory_upgraded", "traditional", "traditional"]}
    )
    out = fx.origin_climb(stages, brands).set_index("origin")
    up = out.loc["factory_upgraded"]
    # U: zero-breaking for 2 months, then climbing for 3: steps of 2 and 3 months
    assert up["brands"] == 1 and up["moved_up_share"] == 1.0
    assert up["median_step_months"] == pytest.approx(2.5) and up["ka_or_above_share"] == 1.0
    trad = out.loc["traditional"]
    assert trad["brands"] == 2 and trad["moved_up_share"] == 0.5
    assert trad["median_step_months"] == pytest.approx(4.0)
    assert trad["ka_or_above_share"] == 0.5


def test_ndcg_is_one_for_the_ideal_order_and_less_otherwise() -> None:
    rel = {"a": 3.0, "b": 1.0, "c": 0.0}
    assert fx.ndcg_at(["a", "b", "c"], rel) == pytest.approx(1.0)
    worst = fx.ndcg_at(["c", "b", "a"], rel)
    # DCG = 0 + 1/log2(3) + 7/log2(4); IDCG = 7 + 1/log2(3)
    assert worst == pytest.approx((1 / np.log2(3) + 7 / 2) / (7 + 1 / np.log2(3)))
