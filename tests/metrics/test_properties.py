"""Hypothesis properties: channel shares add to 1, LMDI parts add to the change, percentiles in [0, 100]."""

from __future__ import annotations

from datetime import date

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.metrics import factory, reference
from windmaker.metrics.brand_period import brand_period_metrics
from windmaker.metrics.category import midrank_percentile
from windmaker.metrics.drivers import (
    BUYER_CONTRIBUTIONS,
    buyer_drivers,
    buyer_factors,
    driver_factors,
    lmdi,
)
from windmaker.metrics.periods import period_table
from windmaker.metrics.sources import Sources
from windmaker.warehouse import Warehouse

positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(st.lists(positive, min_size=8, max_size=8))
def test_lmdi_contributions_add_to_the_total_change(x: list[float]) -> None:
    before, after = np.array(x[:4]), np.array(x[4:])
    parts = lmdi(before, after)
    total = np.prod(after) - np.prod(before)
    assert parts.sum() == pytest.approx(total, rel=1e-9, abs=1e-6 * max(1.0, abs(np.prod(after))))


@given(
    st.integers(1, 10**6),
    positive,
    st.integers(1, 10**5),
    positive,
    st.integers(1, 10**6),
    positive,
    st.integers(1, 10**5),
    positive,
)
def test_driver_tree_multiplies_back_to_gmv(uv0, w0, o0, g0, uv1, w1, o1, g1) -> None:
    f0 = driver_factors(uv0, w0, o0, g0)
    f1 = driver_factors(uv1, w1, o1, g1)
    assert np.prod(f0) == pytest.approx(g0, rel=1e-9)
    assert lmdi(f0, f1).sum() == pytest.approx(g1 - g0, rel=1e-9, abs=1e-6)


def test_driver_table_contributions_add_to_delta(tables) -> None:
    d = tables["m_gmv_drivers"]
    ok = d[d.decomposable]
    assert len(ok) > 10 and set(ok.level) == {"brand", "account", "session"}
    parts = ok[["contrib_uv", "contrib_watch_time", "contrib_conversion", "contrib_aov"]].sum(
        axis=1
    )
    np.testing.assert_allclose(parts, ok.delta_gmv.astype(float), rtol=1e-9, atol=1e-6)
    # the table agrees with the pure function
    before = driver_factors(
        ok.prev_uv, ok.prev_watch_hours, ok.prev_orders, ok.prev_live_gmv.astype(float)
    )
    after = driver_factors(ok.uv, ok.watch_hours, ok.orders, ok.live_gmv.astype(float))
    np.testing.assert_allclose(lmdi(before, after)[:, 0], ok.contrib_uv, rtol=1e-9, atol=1e-9)


@given(
    st.integers(1, 10**5),
    st.integers(0, 10**3),
    positive,
    st.integers(1, 10**5),
    st.integers(0, 10**3),
    positive,
)
def test_buyer_tree_parts_add_to_the_change(b0, extra0, g0, b1, extra1, g1) -> None:
    """Net GMV = buyers × orders per buyer × AOV; the three LMDI parts add to the change."""
    o0, o1 = b0 + extra0, b1 + extra1  # every buyer has at least one order
    f0, f1 = buyer_factors(b0, o0, g0), buyer_factors(b1, o1, g1)
    assert np.prod(f0) == pytest.approx(g0, rel=1e-9)
    assert f0[1] >= 1.0
    parts = lmdi(f0, f1)
    assert parts.shape == (3,)
    assert parts.sum() == pytest.approx(g1 - g0, rel=1e-9, abs=1e-6 * max(1.0, g1))


def test_buyer_driver_table_matches_reference_and_adds_up(market, refreshed) -> None:
    """``m_gmv_buyer_drivers`` over the stored month table against a plain-pandas LMDI of the
    reference month metrics: same drivers, same parts, parts adding to the change."""
    got = refreshed.to_arrow(buyer_drivers(refreshed.table("m_brand_month"))).to_pandas()
    want = reference.brand_period(market, "month").sort_values(["brand_id", "period"])
    want["prev_buyers"] = want.groupby("brand_id")["buyers"].shift()
    want["prev_orders"] = want.groupby("brand_id")["orders"].shift()
    want["prev_net"] = want.groupby("brand_id")["net_gmv"].shift()
    got["period"] = pd.to_datetime(got.period).dt.date
    j = got.merge(want, on=["brand_id", "period"], suffixes=("", "_ref"))
    assert len(j) == len(want) == len(got)
    assert (j.buyers == j.buyers_ref).all() and (j.orders == j.orders_ref).all()
    ok = j[j.decomposable]
    assert len(ok) >= 6  # B1, B2, B4: two steps; B5 February (March is all refunded)
    v1, v0 = ok.net_gmv.astype(float), ok.prev_net.astype(float)
    weight = np.where(np.isclose(v1, v0), v1, (v1 - v0) / (np.log(v1) - np.log(v0)))
    ref = {
        "contrib_buyers": weight * np.log(ok.buyers / ok.prev_buyers.astype(float)),
        "contrib_frequency": weight
        * np.log((ok.orders / ok.buyers) / (ok.prev_orders.astype(float) / ok.prev_buyers)),
        "contrib_aov": weight * np.log((v1 / ok.orders) / (v0 / ok.prev_orders.astype(float))),
    }
    for c in BUYER_CONTRIBUTIONS:
        np.testing.assert_allclose(ok[c], ref[c], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(
        ok[list(BUYER_CONTRIBUTIONS)].sum(axis=1), ok.delta_gmv.astype(float), rtol=1e-9, atol=1e-6
    )
    # not decomposable exactly where a month has no buyers or no positive GMV
    bad = j[~j.decomposable]
    assert ((bad.net_gmv <= 0) | (bad.prev_net.isna()) | (bad.prev_net <= 0)).all()
    assert bad[list(BUYER_CONTRIBUTIONS)].isna().all().all()
    # a refresh that recomputes from a month reads the month before it: the same rows
    since = date(2026, 2, 1)
    part = refreshed.to_arrow(buyer_drivers(refreshed.table("m_brand_month"), since)).to_pandas()
    part["period"] = pd.to_datetime(part.period).dt.date
    full = got[got.period >= since].sort_values(["brand_id", "period"]).reset_index(drop=True)
    # (the full table's first month has null comparisons, so its integer columns are floats)
    pd.testing.assert_frame_equal(
        part.sort_values(["brand_id", "period"]).reset_index(drop=True), full, check_dtype=False
    )


@pytest.fixture(scope="module")
def duck() -> Warehouse:
    return Warehouse("duckdb://")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=30), st.integers(1, 4))
def test_percentiles_lie_in_0_100_and_match_reference(duck, values, groups) -> None:
    g = [i % groups for i in range(len(values))]
    t = ibis.memtable(pa.table({"g": pa.array(g, pa.int64()), "v": pa.array(values, pa.float64())}))
    out = duck.to_arrow(t.mutate(p=midrank_percentile(t.v, ["g"])).order_by(["g", "v"])).to_pandas()
    assert out.p.between(0, 100).all()
    for _, grp in out.groupby("g"):
        np.testing.assert_allclose(grp.p, reference.midrank(grp.v.tolist()), atol=1e-9)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(0, 10_000))
def test_channel_shares_add_to_one(duck, seed) -> None:
    m = factory.market(seed=seed, n_orders=60)
    factory.load(duck, m)
    src = Sources.of(duck.table)
    e = brand_period_metrics(
        src, "month", period_table(date(2025, 10, 1), date(2026, 3, 31), "month")
    )
    df = duck.to_arrow(e).to_pandas()
    sold = df[df.net_gmv > 0]
    assert len(sold) > 0
    # By account: own accounts + influencers + other brands' own accounts (neither self-operated
    # nor distributed; counted here in plain pandas from the orders).
    cross = reference.cross_brand_net(m, "month")
    keys = zip(sold.brand_id, pd.to_datetime(sold.period).dt.date, strict=True)
    cross_share = np.array([float(cross.get(k, 0)) for k in keys]) / sold.net_gmv.astype(float)
    assert (cross_share > 0).any()  # the market's order sold on another brand's account
    np.testing.assert_allclose(
        sold.self_share + sold.distribution_share + cross_share, 1.0, rtol=1e-12
    )
    sources = sold[
        ["recommend_share", "paid_share", "search_share", "other_share", "follower_gmv_share"]
    ]
    np.testing.assert_allclose(sources.sum(axis=1), 1.0, rtol=1e-12)
    assert sold.public_share.sub(sold.recommend_share + sold.paid_share).abs().max() < 1e-12
