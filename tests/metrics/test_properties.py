"""Hypothesis properties: channel shares add to 1, LMDI parts add to the change, percentiles in [0, 100]."""

from __future__ import annotations

from datetime import date

import ibis
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.metrics import factory, reference
from windmaker.metrics.brand_period import brand_period_metrics
from windmaker.metrics.category import midrank_percentile
from windmaker.metrics.drivers import driver_factors, lmdi
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
    np.testing.assert_allclose(sold.self_share + sold.distribution_share, 1.0, rtol=1e-12)
    sources = sold[
        ["recommend_share", "paid_share", "search_share", "other_share", "follower_gmv_share"]
    ]
    np.testing.assert_allclose(sources.sum(axis=1), 1.0, rtol=1e-12)
    assert sold.public_share.sub(sold.recommend_share + sold.paid_share).abs().max() < 1e-12
