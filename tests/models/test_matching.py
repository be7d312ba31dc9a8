"""Influencer matching, validated on the simulator's planted market.

The simulator plants each influencer's true conversion, audience price band and trust, and
draws cooperations whose GMV follows a true fit (category match, price band, conversion).
Trained on the months before the cutoff, the ranker must beat "most fans" and "most GMV" by at
least 20% relative NDCG@10 on the cooperations of the months after it; a low-trust influencer
must never be recommended.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from windmaker import contract
from windmaker.i18n import reason_text
from windmaker.models.matching import (
    FEATURES,
    DistributionConfig,
    MatchingConfig,
    MatchingFrames,
    MatchingModel,
    RankerConfig,
    ScoreTableTrustGate,
    evaluate_ranking,
    fit_matching,
    load_distribution_config,
    ndcg_at_k,
    recall_at_k,
    recommend,
    source_expressions,
)

CUTOFF = pd.Timestamp("2026-08-01")
CONFIG = MatchingConfig(ranker=RankerConfig(label_months=2))


@pytest.fixture(scope="module")
def market(distribution_market: Path) -> Path:
    """Every category matters here: with only three, an influencer's overall GMV is already
    mostly GMV in the brand's category, and "most GMV" is a far stronger baseline than on a
    platform."""
    return distribution_market


@pytest.fixture(scope="module")
def frames(market: Path) -> Iterator[MatchingFrames]:
    con = ibis.duckdb.connect()
    tables = {
        t.name: con.read_parquet(market / f"{t.name}.parquet", table_name=t.name)
        for t in contract.TABLES
        if (market / f"{t.name}.parquet").exists()
    }
    results = {k: con.to_pyarrow(e).to_pandas() for k, e in source_expressions(tables).items()}
    yield MatchingFrames.from_results(results)
    con.disconnect()


@pytest.fixture(scope="module")
def model(frames: MatchingFrames) -> MatchingModel:
    return fit_matching(frames.before(CUTOFF), CUTOFF, CONFIG)


def test_shipped_config_loads() -> None:
    cfg = load_distribution_config()
    assert isinstance(cfg, DistributionConfig)
    assert cfg.matching.trust.threshold > 0


def test_cooperation_aggregates_match_orders(market: Path, frames: MatchingFrames) -> None:
    """Brand × influencer GMV equals a pandas reference on the orders (net of refunds)."""
    o = pd.read_parquet(market / "orders.parquet")
    acc = pd.read_parquet(market / "accounts.parquet")
    o = o[(o.status != "cancelled") & o.account_id.isin(acc.account_id[acc.kind == "influencer"])]
    net = o.amount.astype(float) - o.refund_amount.astype(float)
    ref = net.groupby([o.brand_id, o.account_id]).sum()
    got = frames.cooperations.groupby(["brand_id", "account_id"])["gmv"].sum()
    pd.testing.assert_series_equal(
        got.sort_index(), ref.sort_index(), check_names=False, check_index_type=False, rtol=1e-9
    )


def test_ndcg_and_recall_reference() -> None:
    """Hand-computed NDCG@3: gains 0,3,1 against ideal 3,1 → (3/log2 3 + 1/2) / (3 + 1/log2 3)."""
    rel = {"a": 3.0, "b": 1.0}
    got = ndcg_at_k(["x", "a", "b"], rel, 3)
    assert got == pytest.approx((3 / np.log2(3) + 1 / 2) / (3 + 1 / np.log2(3)))
    assert recall_at_k(["x", "a"], ["a", "b"], 2) == 0.5


def test_ranker_beats_fans_and_gmv_baselines(model: MatchingModel, frames: MatchingFrames) -> None:
    """Planted fit: the ranker beats both baselines by ≥ 20% relative NDCG@10 on held-out months."""
    held = frames.cooperations[frames.cooperations.month >= CUTOFF]
    ev = evaluate_ranking(model, held)
    assert ev.brands >= 30
    assert ev.lift("most_fans") >= 0.2, ev
    assert ev.lift("most_gmv") >= 0.2, ev
    assert ev.recall["ranker"] > max(ev.recall["most_fans"], ev.recall["most_gmv"]), ev


def test_gate_finds_low_trust_and_recommendations_respect_it(
    market: Path, model: MatchingModel, frames: MatchingFrames
) -> None:
    truth = pd.read_parquet(market / "truth" / "influencers.parquet").set_index("account_id")
    trust = model.state.trust
    flagged = trust.index[~trust["passes"]]
    assert len(flagged) > 0
    # The interim gate's calls are mostly the planted low-trust influencers.
    assert truth.loc[flagged, "true_trust"].median() < truth["true_trust"].quantile(0.2)
    brands = list(model.state.brand_ids[:8])
    for brand in brands:
        recs = recommend(model, brand, top_k=25)
        ids = {r.account_id for r in recs.recommendations}
        assert len(ids) == 25
        assert not ids & set(flagged)
        past = frames.cooperations[
            (frames.cooperations.brand_id == brand) & (frames.cooperations.month < CUTOFF)
        ]
        assert not ids & set(past.account_id)
        assert all(
            reason_text(r.reason_code, r.reason_params, "en")
            and reason_text(r.reason_code, r.reason_params, "zh-CN")
            for r in recs.recommendations
        )
        gmv = [r.expected_gmv for r in recs.recommendations]
        assert gmv == sorted(gmv, reverse=True)
        assert set(recs.gated["account_id"]) <= set(flagged)
        gated_en = [
            reason_text(g.reason_code, g.reason_params, "en") for g in recs.gated.itertuples()
        ]
        assert all("below" in text for text in gated_en), gated_en


def test_recommended_influencers_serve_the_brands_category(
    market: Path, model: MatchingModel
) -> None:
    """The planted categories an influencer serves drive fit: the top 10 serve the brand's
    category far more often than the 10 eligible influencers with most fans."""
    truth = pd.read_parquet(market / "truth" / "influencers.parquet").set_index("account_id")
    category = pd.read_parquet(market / "brands.parquet").set_index("brand_id")["category"]
    ids = model.state.influencer_ids
    by_fans = np.argsort(-model.state.infl["fans"], kind="stable")
    rec_share, fans_share = [], []
    for b in model.state.brand_ids[:20]:
        top = [r.account_id for r in recommend(model, b, top_k=10).recommendations]
        fans_top = ids[by_fans[model.eligible(b)[by_fans]][:10]]
        serves = truth["categories"].str.split(",").map(lambda cs, c=category[b]: c in cs)
        rec_share.append(serves.loc[top].mean())
        fans_share.append(serves.loc[fans_top].mean())
    assert np.mean(rec_share) >= 0.8
    assert np.mean(rec_share) >= 2 * np.mean(fans_share)


def test_sku_ranking_follows_the_sku_price(model: MatchingModel, frames: MatchingFrames) -> None:
    """A SKU priced far above the brand's usual price moves the list toward pricier audiences."""
    brand = str(model.state.brand_ids[0])
    sku = frames.skus[frames.skus.brand_id == brand].iloc[0]
    base = recommend(model, brand, sku_id=str(sku.sku_id), top_k=10)
    assert all(r.sku_id == sku.sku_id for r in base.recommendations)
    i = model.state.infl
    cheap = model.score(brand, price=float(sku.price) / 4)
    dear = model.score(brand, price=float(sku.price) * 4)
    assert not np.allclose(cheap["price_gap"], dear["price_gap"])
    pos = model.state.influencer_ids
    top_cheap = pos.get_indexer(cheap["expected_gmv"].nlargest(20).index)
    top_dear = pos.get_indexer(dear["expected_gmv"].nlargest(20).index)
    assert np.nanmean(i["log_price_mean"][top_dear]) > np.nanmean(i["log_price_mean"][top_cheap])


def test_trust_gate_is_switchable(model: MatchingModel, frames: MatchingFrames) -> None:
    """Scores from elsewhere replace the interim gate: a gated account never appears."""
    brand = str(model.state.brand_ids[3])
    before = [r.account_id for r in recommend(model, brand, top_k=10).recommendations]
    scores = pd.DataFrame({"account_id": before[:5], "trust_score": 10.0})
    gated = fit_matching(
        frames.before(CUTOFF), CUTOFF, CONFIG, gate=ScoreTableTrustGate(scores, threshold=60)
    )
    after = {r.account_id for r in recommend(gated, brand, top_k=10).recommendations}
    assert not after & set(before[:5])
    assert set(before[5:]) & after
    assert model.score(brand).columns[-len(FEATURES) :].tolist() == list(FEATURES)


def test_concentration_matches_a_pandas_reference(market: Path) -> None:
    """Top-influencer share and HHI of each brand's distribution GMV, recomputed with pandas."""
    from datetime import date

    from windmaker.models.concentration import ConcentrationConfig, concentration_expression

    cfg = ConcentrationConfig(top_share=0.4, hhi=0.25, min_distribution_gmv=1000)
    start, end = date(2026, 8, 1), date(2026, 11, 1)
    con = ibis.duckdb.connect()
    tables = {
        t.name: con.read_parquet(market / f"{t.name}.parquet", table_name=t.name)
        for t in (contract.ORDERS, contract.ACCOUNTS)
    }
    got = con.to_pyarrow(concentration_expression(tables, start, end, cfg)).to_pandas()
    con.disconnect()
    o = pd.read_parquet(market / "orders.parquet")
    acc = pd.read_parquet(market / "accounts.parquet")
    o = o[
        (o.status != "cancelled")
        & o.account_id.isin(acc.account_id[acc.kind == "influencer"])
        & (o.paid_at >= pd.Timestamp(start))
        & (o.paid_at < pd.Timestamp(end))
    ]
    gmv = (
        (o.amount.astype(float) - o.refund_amount.astype(float))
        .groupby([o.brand_id, o.account_id])
        .sum()
    )
    gmv = gmv[gmv > 0]
    share = gmv / gmv.groupby(level=0).transform("sum")
    ref = pd.DataFrame(
        {
            "top_share": share.groupby(level=0).max(),
            "hhi": (share**2).groupby(level=0).sum(),
            "total": gmv.groupby(level=0).sum(),
        }
    )
    got = got.set_index("brand_id").sort_index()
    assert set(got.index) == set(ref.index)
    ref = ref.loc[got.index]
    np.testing.assert_allclose(got["top_share"], ref["top_share"], rtol=1e-9)
    np.testing.assert_allclose(got["hhi"], ref["hhi"], rtol=1e-9)
    flag = (ref["total"] >= 1000) & ((ref["top_share"] >= 0.4) | (ref["hhi"] >= 0.25))
    assert (got["flagged"] == flag).all()
    assert got["flagged"].any() and not got["flagged"].all()


def test_trust_module_scores_gate_with_their_own_rule() -> None:
    """The gate on mdl_trust_scores uses each account's latest score before the cutoff."""
    from windmaker.models import trust
    from windmaker.models.matching import TrustModuleGate

    config = trust.load_config()
    threshold = config.gates.account_exclude_below
    rows = []
    for account, period, score, status in [
        ("low", "2026-06-01", threshold - 20, "ok"),
        ("high", "2026-06-01", threshold + 20, "ok"),
        ("high", "2026-09-01", 1.0, "ok"),  # after the cutoff: not seen yet
        ("thin", "2026-06-01", np.nan, trust.STATUS_INSUFFICIENT),
    ]:
        row = {"entity": "account", "entity_id": account, "period": period, "score": score}
        row["status"] = status
        for k in trust.COMPONENTS:
            row[k], row[f"{k}_ref"] = 0.1, 0.05
            row[f"{k}_points"] = config.score.weights[k] * (40.0 if k == "refund_rate" else 100.0)
        rows.append(row)
    gate = TrustModuleGate(pd.DataFrame(rows), pd.Timestamp("2026-08-01"))
    got = gate.assess(pd.Index(["low", "high", "thin", "unknown"]), pd.DataFrame())
    assert not got.loc["low", "passes"]
    assert json.loads(got.loc["low", "reason_params"])["component"]["code"] == "refund_rate"
    assert "Refund rate" in reason_text(
        got.loc["low", "reason_code"], got.loc["low", "reason_params"], "en"
    )
    assert got.loc["high", "passes"]
    assert got.loc["high", "trust_score"] == threshold + 20
    trusted = config.gates.insufficient_data_is_trusted
    assert got.loc["thin", "passes"] == trusted
    assert got.loc["unknown", "passes"] == trusted
