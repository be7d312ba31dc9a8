"""Category benchmarks against a pandas reference: percentiles and capability index/score."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from tests.metrics import reference
from windmaker.metrics import category
from windmaker.metrics.config import Benchmark, load_metrics_config


def _present_months(tables, market) -> pd.DataFrame:
    m = tables["m_brand_month"].copy()
    joined = dict(zip(market["brands"].brand_id, market["brands"].joined_at, strict=True))
    m["period"] = pd.to_datetime(m.period)
    keep = [
        pd.Timestamp(joined[b]).to_period("M").start_time <= p
        for b, p in zip(m.brand_id, m.period, strict=True)
    ]
    return m[keep]


def _benchmarks(m: pd.DataFrame, min_brands: int):
    """(category, period, the category's rows, the rows it is compared with): the category, or
    every brand of the month when the category has fewer than ``min_brands`` brands."""
    for (cat, per), grp in m.groupby(["category", "period"]):
        small = grp.brand_id.nunique() < min_brands
        yield cat, per, grp, (m[m.period == per] if small else grp), small


def test_percentiles_match_reference(tables, market) -> None:
    m = _present_months(tables, market)
    got = tables["m_percentile"].copy()
    got["period"] = pd.to_datetime(got.period)
    min_brands = load_metrics_config().benchmark.min_category_brands
    for metric in ("net_gmv", "self_share", "repurchase_rate_90d", "net_gmv_t90d"):
        for cat, per, grp, pool, small in _benchmarks(m, min_brands):
            vals = pool[["brand_id", metric]].dropna()
            want = dict(
                zip(
                    vals.brand_id,
                    reference.midrank(vals[metric].astype(float).tolist()),
                    strict=True,
                )
            )
            want = {b: v for b, v in want.items() if b in set(grp.brand_id)}
            g = got[(got.metric == metric) & (got.category == cat) & (got.period == per)]
            assert set(g.benchmark) <= {"all" if small else "category"}
            assert set(g.brand_id) == set(want)
            assert np.allclose(
                [dict(zip(g.brand_id, g.percentile, strict=True))[k] for k in want],
                list(want.values()),
            )


def test_capability_index_and_score_match_reference(tables, market) -> None:
    cfg = load_metrics_config()
    m = _present_months(tables, market)
    got = tables["m_capability"].copy()
    got["period"] = pd.to_datetime(got.period)
    assert set(got.capability) == set(cfg.capabilities)
    for cat, per, grp, pool, small in _benchmarks(m, cfg.benchmark.min_category_brands):
        for cap, items in cfg.capabilities.items():
            index = pd.Series(0.0, index=pool.brand_id.to_numpy())
            for it in items:
                v = pool[it.metric].astype(float).to_numpy()
                ok = v[~np.isnan(v)]
                z = np.full(len(v), cfg.standardise.missing_z)
                if len(ok):
                    med = np.quantile(ok, 0.5)
                    iqr = np.quantile(ok, 0.75) - np.quantile(ok, 0.25)
                    scale = iqr if iqr > 0 else ok.max() - ok.min()
                    for i, x in enumerate(v):
                        if not np.isnan(x):
                            z[i] = (
                                0.0
                                if scale == 0
                                else np.clip(
                                    it.sign * (x - med) / scale,
                                    -cfg.standardise.clip,
                                    cfg.standardise.clip,
                                )
                            )
                index += it.weight * z
            index = index.round(cfg.benchmark.index_decimals)
            score = pd.Series(reference.midrank(index.tolist()), index=index.index)
            mine = grp.brand_id.to_numpy()
            g = got[
                (got.category == cat) & (got.period == per) & (got.capability == cap)
            ].set_index("brand_id")
            assert set(g.benchmark) == {"all" if small else "category"}
            np.testing.assert_allclose(g.loc[mine, "index"], index.loc[mine], atol=1e-9)
            np.testing.assert_allclose(g.loc[mine, "score"], score.loc[mine], atol=1e-9)
            assert g.score.between(0, 100).all()


def _capability_frame(wh, cfg) -> pd.DataFrame:
    month = category.present(wh.table("m_brand_month"), wh.table("brands"))
    return wh.to_arrow(category.capabilities(month, cfg)).to_pandas()


def test_a_category_large_enough_is_its_own_benchmark(refreshed, tables, market) -> None:
    """With a size bar every category meets (two brands), every brand is ranked within its category:
    the scores of each category × month are the mid-ranks of its own indices."""
    cfg = load_metrics_config()
    own = cfg.model_copy(update={"benchmark": Benchmark(min_category_brands=2)})
    got = _capability_frame(refreshed, own)
    assert set(got.benchmark) == {"category"}
    for _, g in got.groupby(["category", "period", "capability"]):
        np.testing.assert_allclose(g.score, reference.midrank(g["index"].tolist()), atol=1e-9)
    pooled = tables["m_capability"]
    assert set(pooled.benchmark) == {"all"}  # the shipped bar (10) pools these small categories


def test_equal_indices_share_a_score(refreshed) -> None:
    """Two brands with the same metrics get the same index and score, not 0 and 100 from
    floating-point noise (the index is rounded before it is ranked)."""
    cfg = load_metrics_config()
    month = refreshed.table("m_brand_month")
    twin = month.filter(month.brand_id == "B1").mutate(brand_id=ibis.literal("B1_TWIN"))
    brands = refreshed.table("brands")
    brands = brands.union(
        brands.filter(brands.brand_id == "B1").mutate(brand_id=ibis.literal("B1_TWIN"))
    )
    both = category.present(month.union(twin), brands)
    got = refreshed.to_arrow(category.capabilities(both, cfg)).to_pandas()
    a = got[got.brand_id == "B1"].set_index(["period", "capability"]).sort_index()
    b = got[got.brand_id == "B1_TWIN"].set_index(["period", "capability"]).sort_index()
    assert (a["index"] == b["index"]).all()
    assert (a["score"] == b["score"]).all()


def test_a_tie_up_to_floating_point_noise_shares_a_score() -> None:
    """Two brands whose self share is the same number computed two ways (0.1 + 0.2 and 0.3)
    differ in the last bit of their index; unrounded, the percentile put one at 0 and the other
    at 50 of a three-brand category. Rounded first, they tie."""
    cfg = load_metrics_config()
    cfg = cfg.model_copy(update={"benchmark": Benchmark(min_category_brands=1)})
    used = sorted({it.metric for items in cfg.capabilities.values() for it in items})
    rows = []
    for brand, share in (("A", 0.1 + 0.2), ("B", 0.3), ("C", 0.9)):
        row = {m: 1.0 for m in used}
        row.update(brand_id=brand, category="tea", self_share=share)
        rows.append(row)
    month = ibis.memtable(pd.DataFrame(rows).assign(period=pd.Timestamp("2026-01-01")))
    got = ibis.duckdb.connect().execute(category.capabilities(month, cfg))
    so = got[got.capability == "self_operation"].set_index("brand_id")
    assert 0.1 + 0.2 != 0.3  # the premise: the two shares differ in their last bit
    assert so.loc["A", "index"] == so.loc["B", "index"]
    assert so.loc["A", "score"] == so.loc["B", "score"] == 25.0
