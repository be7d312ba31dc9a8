"""Category benchmarks against a pandas reference: percentiles and capability index/score."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.metrics import reference
from windmaker.metrics.config import load_metrics_config


def _present_months(tables, market) -> pd.DataFrame:
    m = tables["m_brand_month"].copy()
    joined = dict(zip(market["brands"].brand_id, market["brands"].joined_at, strict=True))
    m["period"] = pd.to_datetime(m.period)
    keep = [
        pd.Timestamp(joined[b]).to_period("M").start_time <= p
        for b, p in zip(m.brand_id, m.period, strict=True)
    ]
    return m[keep]


def test_percentiles_match_reference(tables, market) -> None:
    m = _present_months(tables, market)
    got = tables["m_percentile"].copy()
    got["period"] = pd.to_datetime(got.period)
    for metric in ("net_gmv", "self_share", "repurchase_rate_90d", "net_gmv_t90d"):
        for (cat, per), grp in m.groupby(["category", "period"]):
            vals = grp[["brand_id", metric]].dropna()
            want = dict(
                zip(
                    vals.brand_id,
                    reference.midrank(vals[metric].astype(float).tolist()),
                    strict=True,
                )
            )
            g = got[(got.metric == metric) & (got.category == cat) & (got.period == per)]
            assert dict(zip(g.brand_id, g.percentile, strict=True)) == want or np.allclose(
                [dict(zip(g.brand_id, g.percentile, strict=True))[k] for k in want],
                list(want.values()),
            )


def test_capability_index_and_score_match_reference(tables, market) -> None:
    cfg = load_metrics_config()
    m = _present_months(tables, market)
    got = tables["m_capability"].copy()
    got["period"] = pd.to_datetime(got.period)
    assert set(got.capability) == set(cfg.capabilities)
    for (cat, per), grp in m.groupby(["category", "period"]):
        for cap, items in cfg.capabilities.items():
            index = pd.Series(0.0, index=grp.brand_id.to_numpy())
            for it in items:
                v = grp[it.metric].astype(float).to_numpy()
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
            g = got[
                (got.category == cat) & (got.period == per) & (got.capability == cap)
            ].set_index("brand_id")
            np.testing.assert_allclose(g.loc[index.index, "index"], index.to_numpy(), atol=1e-9)
            np.testing.assert_allclose(
                g.loc[index.index, "score"], reference.midrank(index.tolist()), atol=1e-9
            )
            assert g.score.between(0, 100).all()
