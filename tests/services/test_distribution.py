"""The distribution use cases on an ingested simulated market (16 brands × 5 months, seed 2).

Concentration is held to an independent pandas computation over the simulator's order files;
the horse race to its own invariant (each brand's P(best) adds up to 1); recommendations to the
trust gate and to the lists they store; every use case refuses a warehouse without orders.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from windmaker.config import Settings
from windmaker.i18n import reason_text
from windmaker.results import CONCENTRATION, HITS, HORSE_RACE, RECOMMENDATIONS
from windmaker.services import distribution
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError
from windmaker.workspace import open_warehouse


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    """The workspace with the market ingested, and the folder of the simulator's files."""
    from windmaker.ingest import ingest_files
    from windmaker.simulator import small_market
    from windmaker.workspace import init_workspace

    root = tmp_path_factory.mktemp("distribution")
    files = small_market(root / "files", seed=2, brands=16, months=5, categories=None)
    settings = init_workspace(root / "ws")
    assert ingest_files(settings, sorted(files.glob("*.parquet")), progress=False).rejected == 0
    return settings, files


@pytest.fixture
def empty(tmp_path: Path) -> Settings:
    from windmaker.workspace import init_workspace

    return init_workspace(tmp_path / "empty")


def test_recommendations_pass_the_gate_and_replace_one_brands_list(
    market: tuple[Settings, Path],
) -> None:
    """Every recommended influencer passes the trust gate, each list is ranked by expected GMV,
    the stored rows are the returned ones, and a one-brand run keeps the other brands' lists."""
    settings, _ = market
    configs = Configs.of(settings)
    calls: list[tuple[int, int]] = []
    with open_warehouse(settings) as wh:
        got = distribution.recommend_influencers(
            wh, configs, progress=lambda d, t: calls.append((d, t))
        )
        assert got.stored == sum(len(rl.recommendations) for rl in got.lists) > 0
        assert calls[-1] == (len(got.lists), len(got.lists))
        threshold = configs.distribution.matching.trust.threshold
        for rl in got.lists:
            gmv = [r.expected_gmv for r in rl.recommendations]
            assert gmv == sorted(gmv, reverse=True)
            for r in rl.recommendations:
                assert r.trust_score is None or r.trust_score >= threshold
                en = reason_text(r.reason_code, r.reason_params, "en")
                zh = reason_text(r.reason_code, r.reason_params, "zh-CN")
                assert en.split("; ")[-1].startswith(("trust score", "insufficient", "no trust"))
                assert "；" in zh or "信任分" in zh or "订单量" in zh
        brand = got.lists[0].recommendations[0].brand_id
        one = distribution.recommend_influencers(wh, configs, brand=brand, top=3)
        stored = wh.execute(wh.table(RECOMMENDATIONS))
        assert one.stored == 3
        assert stored.groupby("brand_id")["rank"].max()[brand] == 3
        assert stored["brand_id"].nunique() == len(
            {rl.recommendations[0].brand_id for rl in got.lists if rl.recommendations}
        )
        assert str(wh.table(RECOMMENDATIONS).schema()["expected_gmv"]).startswith("decimal")


def test_unknown_brand_is_not_found(market: tuple[Settings, Path]) -> None:
    settings, _ = market
    with open_warehouse(settings) as wh, pytest.raises(ServiceError) as exc:
        distribution.recommend_influencers(wh, Configs.of(settings), brand="no-such-brand")
    assert exc.value.status == 404


def test_hits_store_what_they_return(market: tuple[Settings, Path]) -> None:
    """The verdicts are the stored rows, each SKU first sold within the window, decided by
    the configured probabilities."""
    settings, _ = market
    configs = Configs.of(settings)
    cfg = configs.distribution.hits
    with open_warehouse(settings) as wh:
        got = distribution.detect_hits(wh, configs, days=28)
        stored = wh.execute(wh.table(HITS))
    assert len(stored) == len(got.verdicts)
    assert set(stored["sku_id"]) == {v.sku_id for v in got.verdicts}
    for v in got.verdicts:
        assert v.first_sale.date() >= got.as_of - timedelta(days=28)
        assert v.reason_code == f"hits.{v.decision}"
        if v.decision == "push":
            assert v.p_hit >= cfg.push_probability
        if v.decision == "drop":
            assert v.p_hit < cfg.drop_probability


def test_horse_race_chances_add_up_per_brand(market: tuple[Settings, Path]) -> None:
    """P(best) is a distribution over each brand's accounts: it adds up to 1 per brand."""
    settings, _ = market
    with open_warehouse(settings) as wh:
        got = distribution.race_matrix_accounts(wh, Configs.of(settings))
        assert len(wh.execute(wh.table(HORSE_RACE))) == len(got.entries) > 0
    totals = pd.DataFrame([e.__dict__ for e in got.entries]).groupby("brand_id")["p_best"].sum()
    assert totals.to_numpy() == pytest.approx(1.0, abs=1e-6)
    assert {e.decision for e in got.entries} <= {"scale", "keep", "stop"}


def test_concentration_matches_a_pandas_reference(market: tuple[Settings, Path]) -> None:
    """Reference answer: each brand's top-influencer share of net distribution GMV over the
    window, computed in pandas from the simulator's files; flagged brands come first."""
    settings, files = market
    configs = Configs.of(settings)
    with open_warehouse(settings) as wh:
        got = distribution.concentration_risk(wh, configs)
        stored = wh.execute(wh.table(CONCENTRATION)).set_index("brand_id")
    o = pd.read_parquet(files / "orders.parquet")
    acc = pd.read_parquet(files / "accounts.parquet")
    o = o[
        (o.status != "cancelled")
        & o.account_id.isin(acc.account_id[acc.kind == "influencer"])
        & (o.paid_at >= pd.Timestamp(got.start))
        & (o.paid_at < pd.Timestamp(got.end))
    ]
    gmv = (
        (o.amount.astype(float) - o.refund_amount.astype(float))
        .groupby([o.brand_id, o.account_id])
        .sum()
    )
    gmv = gmv[gmv > 0]
    top = (gmv / gmv.groupby(level=0).transform("sum")).groupby(level=0).max()
    assert set(stored.index) == set(top.index) and got.brands == len(top)
    assert stored["top_share"].to_numpy() == pytest.approx(top[stored.index].to_numpy())
    assert {r.brand_id for r in got.flagged} == set(stored.index[stored["flagged"]])
    shares = [r.top_share for r in got.flagged]
    assert shares == sorted(shares, reverse=True)


@pytest.mark.parametrize(
    "use_case",
    [
        distribution.recommend_influencers,
        distribution.detect_hits,
        distribution.concentration_risk,
    ],
)
def test_a_warehouse_without_orders_is_refused(empty: Settings, use_case: object) -> None:
    with open_warehouse(empty) as wh, pytest.raises(ServiceError) as exc:
        use_case(wh, Configs.of(empty))  # type: ignore[operator]
    assert exc.value.code == "no_data" and exc.value.status == 409


def test_horse_race_without_sessions_stores_nothing(empty: Settings) -> None:
    with open_warehouse(empty) as wh:
        got = distribution.race_matrix_accounts(wh, Configs.of(empty))
        assert got.as_of is None and not got.entries
        assert not wh.has_table(HORSE_RACE)
