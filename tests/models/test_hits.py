"""Hit detection (测款): the Gamma–Poisson model against planted answers.

Two kinds of planted truth: synthetic SKUs whose sales rates are drawn from a known Gamma prior
(the empirical-Bayes fit must recover it, and P(hit) must be calibrated), and the simulator's
planted hit SKUs (``truth/hit_skus.parquet``), where the model's push calls after 7 days must be
at least as good as the rule "top 10% by 7-day sales" on both precision and recall.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from windmaker import contract
from windmaker.i18n import reason_text
from windmaker.models.hits import (
    HitConfig,
    evaluate_hits,
    fit_gamma_prior,
    launch_window_expression,
    score_hits,
    top_share_rule,
)
from windmaker.simulator import small_market

ALPHA, BETA = 3.0, 2.0


def _planted(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """SKUs with λ ~ Gamma(3, rate 2), exposures 1–20, y ~ Poisson(λ·E); returns (launches, λ)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(ALPHA, 1 / BETA, n)
    exposure = rng.uniform(1, 20, n)
    y = rng.poisson(lam * exposure)
    df = pd.DataFrame(
        {
            "sku_id": [f"K{i}" for i in range(n)],
            "category": "food",
            "orders": y,
            "live_orders": y,
            "exposure_k": exposure,
            "brand_orders": exposure * 10,
            "brand_skus": 10,
        }
    )
    return df, lam


def test_empirical_bayes_recovers_the_planted_prior() -> None:
    df, _ = _planted()
    prior = fit_gamma_prior(df["orders"].to_numpy(), df["brand_orders"].to_numpy() / 10)
    assert prior.alpha == pytest.approx(ALPHA, rel=0.15)
    assert prior.beta == pytest.approx(BETA, rel=0.15)


def test_hit_probability_is_calibrated() -> None:
    """Σ P(hit) matches the count of SKUs whose planted rate is above the bar, and the push calls'
    realised hit share matches their mean P(hit)."""
    df, lam = _planted(seed=1)
    scored = score_hits(df, HitConfig(min_skus_per_category=30))
    hit = lam > scored["hit_rate_threshold"].to_numpy()
    assert scored["p_hit"].sum() == pytest.approx(hit.sum(), rel=0.15)
    pushed = (scored["decision"] == "push").to_numpy()
    assert hit[pushed].mean() == pytest.approx(scored["p_hit"][pushed].mean(), abs=0.08)
    lo, hi = scored["rate_low"].to_numpy(), scored["rate_high"].to_numpy()
    assert ((lam >= lo) & (lam <= hi)).mean() == pytest.approx(0.8, abs=0.05)


def test_decisions_follow_the_evidence() -> None:
    df = pd.DataFrame(
        {
            "sku_id": ["strong", "weak_tested", "weak_untested"],
            "category": "food",
            "orders": [60, 0, 0],
            "live_orders": [60, 0, 0],
            "exposure_k": [10.0, 30.0, 0.5],
            "brand_orders": [100.0, 300.0, 2.0],
            "brand_skus": [10, 10, 10],
        }
    )
    background, _ = _planted(n=500, seed=2)
    scored = score_hits(pd.concat([background, df], ignore_index=True)).set_index("sku_id")
    assert scored.loc["strong", "decision"] == "push"
    assert scored.loc["weak_tested", "decision"] == "drop"
    assert scored.loc["weak_untested", "decision"] == "keep_testing"
    weak = scored.loc["weak_untested"]
    assert "继续测款" in reason_text(weak["reason_code"], weak["reason_params"], "zh-CN")


def test_top_share_rule_takes_the_top_of_each_category() -> None:
    df = pd.DataFrame({"category": ["a"] * 10 + ["b"] * 10, "orders": list(range(20))})
    called = top_share_rule(df, 0.1)
    assert called.sum() == 2
    assert set(df.orders[called]) == {9, 19}


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """240 brands × 9 months (seed 0, every category): about 1,500 launched SKUs and 160 planted
    hits. On the shared 120-brand market (82 hits) the model's and the rule's precision differ
    by one or two SKUs, less than the sampling noise of either; the comparison with the rule is
    judged on four such markets pooled (:func:`pooled_launches`)."""
    folder = tmp_path_factory.mktemp("hit_market")
    small_market(folder, seed=0, brands=240, months=9, categories=None)
    return folder


@pytest.fixture(scope="module")
def launches(market: Path) -> tuple[pd.DataFrame, pd.Series]:
    return _launches(market)


def _launches(market: Path) -> tuple[pd.DataFrame, pd.Series]:
    con = ibis.duckdb.connect()
    tables = {
        t.name: con.read_parquet(market / f"{t.name}.parquet", table_name=t.name)
        for t in (contract.ORDERS, contract.SKUS, contract.LIVE_SESSIONS)
    }
    out = con.to_pyarrow(launch_window_expression(tables, 7)).to_pandas()
    con.disconnect()
    # SKUs launched inside the window (not already selling when the data starts).
    out = out[out.launched_at >= out.first_sale.min() + pd.Timedelta(days=1)]
    truth = pd.read_parquet(market / "truth" / "hit_skus.parquet").set_index("sku_id")["is_hit"]
    return out, truth


def test_launch_window_counts_match_a_reference(
    launches: tuple[pd.DataFrame, pd.Series], market: Path
) -> None:
    """A SKU's orders over the days from its first sale, and its brand's, recounted with pandas."""
    out, _ = launches
    o = pd.read_parquet(
        market / "orders.parquet", columns=["sku_id", "brand_id", "paid_at", "status"]
    )
    o = o[o.status != "cancelled"]
    first = o.groupby("sku_id")["paid_at"].min().dt.floor("D")
    day = o.paid_at.dt.floor("D")
    for row in out.sample(25, random_state=0).itertuples():
        lo, hi = first[row.sku_id], first[row.sku_id] + pd.Timedelta(days=7)
        in_window = (day >= lo) & (day < hi)
        assert row.orders == int((in_window & (o.sku_id == row.sku_id)).sum())
        brand = in_window & (o.brand_id == row.brand_id)
        assert row.brand_orders == int(brand.sum())
        assert row.brand_skus == o.sku_id[brand].nunique()
    assert (out["orders"] >= out["live_orders"]).all()


@pytest.fixture(scope="module")
def pooled_launches(
    launches: tuple[pd.DataFrame, pd.Series], tmp_path_factory: pytest.TempPathFactory
) -> tuple[pd.DataFrame, pd.Series]:
    """The launches of four 240-brand markets (seeds 0–3, every category), about 570 planted
    hits. One market's 150 hits decide a comparison by a few SKUs: on seed 0 the model leads on
    precision (0.200 vs 0.187) and trails on recall (0.152 vs 0.171), on seeds 1–3 it leads on
    both. Pooled, each SKU keyed by its market."""
    outs, truths = [], []
    for seed in range(4):
        if seed == 0:
            out, truth = launches
        else:
            folder = tmp_path_factory.mktemp(f"hit_market_{seed}")
            small_market(folder, seed=seed, brands=240, months=9, categories=None)
            out, truth = _launches(folder)
        outs.append(out.assign(sku_id=f"{seed}:" + out["sku_id"].astype(str)))
        truths.append(truth.set_axis(f"{seed}:" + truth.index.astype(str)))
    return pd.concat(outs, ignore_index=True), pd.concat(truths)


def test_push_calls_beat_the_top_sales_rule_on_planted_hits(
    pooled_launches: tuple[pd.DataFrame, pd.Series],
) -> None:
    out, truth = pooled_launches
    scored = score_hits(out)
    ev = evaluate_hits(scored, truth)
    assert ev.hits >= 30
    assert ev.precision["model"] >= ev.precision["top_sales_rule"], ev
    assert ev.recall["model"] >= ev.recall["top_sales_rule"], ev
    # Both beat guessing: the base rate of hits among launched SKUs.
    assert ev.precision["model"] > ev.hits / ev.skus
