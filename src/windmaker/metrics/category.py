"""Category benchmarks: each metric's percentile and the STEPS capability index and score.

All within the brand's category and month, over the brands present that month (joined on or
before the month). Definitions:

- **percentile** of value ``v`` among the ``n`` non-null values of a metric in the category ×
  month: ``100 × (#{values < v} + ½ (#{values = v} − 1)) / (n − 1)`` — the mid-rank percentile,
  so ties share a percentile and a metric all brands have at 0 puts them all at 50; 50 when
  ``n = 1``. Always in [0, 100].
- **capability index** ``= Σ_m w_m × z_m`` over the capability's metrics (``metrics.yaml``),
  with ``z_m = clip(sign_m × (v − median) / IQR, ±clip)`` in the category × month (IQR = q75 −
  q25; the range max − min when the IQR is 0; ``z = 0`` when both are 0), and ``z_m =
  missing_z`` when the brand has no value (no sales, no spend).
- **capability score** = the percentile of the index within the category × month (0–100).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from windmaker.metrics.brand_period import METRIC_COLUMNS, TRAILING_COLUMNS
from windmaker.metrics.config import MetricsConfig

#: Metrics given a percentile in ``m_percentile``.
PERCENTILE_METRICS: tuple[str, ...] = (*METRIC_COLUMNS, *TRAILING_COLUMNS, "months_with_sales")
GROUP = ("category", "period")


def present(month: ir.Table, brands: ir.Table) -> ir.Table:
    """Rows of brands that had joined by the month (a brand is compared from its first month)."""
    b = brands.select("brand_id", joined_month=brands.joined_at.truncate("M").date())
    j = month.inner_join(b, "brand_id")
    return j.filter(j.joined_month <= j.period).drop("joined_month")


def midrank_percentile(value: ir.Column, group: list[str | ir.Value]) -> ir.FloatingValue:
    """The mid-rank percentile (0–100) of ``value`` within ``group`` (see the module docstring)."""
    n = value.count().over(ibis.window(group_by=group))
    below = ibis.rank().over(ibis.window(group_by=group, order_by=value))
    ties = value.count().over(ibis.window(group_by=[*group, value]))
    pct = (
        100.0
        * (below.cast("float64") + 0.5 * (ties.cast("float64") - 1.0))
        / (n.cast("float64") - 1.0)
    )
    return ibis.cases((n <= 1, 50.0), else_=pct)


def long_values(month: ir.Table, metrics: tuple[str, ...]) -> ir.Table:
    """brand_id, category, period, metric, value (double) for non-null values of ``metrics``."""
    wide = month.select(
        "brand_id", "category", "period", **{m: month[m].cast("float64") for m in metrics}
    )
    long = wide.pivot_longer(list(metrics), names_to="metric", values_to="value")
    return long.filter(long.value.notnull())


def percentiles(month: ir.Table) -> ir.Table:
    """``m_percentile``: brand_id, category, period, metric, value, percentile (0–100)."""
    long = long_values(month, PERCENTILE_METRICS)
    pct = midrank_percentile(long.value, ["category", "period", "metric"])
    return long.mutate(percentile=pct)


def _weights(config: MetricsConfig) -> ir.Table:
    rows = [
        (cap, it.metric, it.weight, float(it.sign))
        for cap, items in config.capabilities.items()
        for it in items
    ]
    cols = list(zip(*rows, strict=True))
    return ibis.memtable(
        pa.table(
            {
                "capability": pa.array(cols[0], pa.string()),
                "metric": pa.array(cols[1], pa.string()),
                "weight": pa.array(cols[2], pa.float64()),
                "sign": pa.array(cols[3], pa.float64()),
            }
        )
    )


def capabilities(month: ir.Table, config: MetricsConfig) -> ir.Table:
    """``m_capability``: brand_id, category, period, capability, index, score."""
    used = tuple(dict.fromkeys(it.metric for items in config.capabilities.values() for it in items))
    wide = month.select(
        "brand_id", "category", "period", **{m: month[m].cast("float64") for m in used}
    )
    long = wide.pivot_longer(list(used), names_to="metric", values_to="value")
    ok = long.filter(long.value.notnull())
    stats = ok.group_by(["category", "period", "metric"]).aggregate(
        med=ok.value.median(),
        q25=ok.value.quantile(0.25),
        q75=ok.value.quantile(0.75),
        lo=ok.value.min(),
        hi=ok.value.max(),
    )
    j = long.left_join(stats, ["category", "period", "metric"])
    j = j.drop(*[c for c in j.columns if c.endswith("_right")])
    j = j.inner_join(_weights(config), "metric")
    iqr = j.q75 - j.q25
    scale = ibis.cases((iqr > 0, iqr), (j.hi - j.lo > 0, j.hi - j.lo), else_=ibis.null("float64"))
    clip = config.standardise.clip
    raw = j.sign * (j.value - j.med) / scale
    z = ibis.cases(
        (j.value.isnull(), config.standardise.missing_z),
        (scale.isnull(), 0.0),
        else_=raw.clip(lower=-clip, upper=clip),
    )
    j = j.mutate(wz=j.weight * z)
    idx = j.group_by(["brand_id", "category", "period", "capability"]).aggregate(index=j.wz.sum())
    score = midrank_percentile(idx["index"], ["category", "period", "capability"])
    return idx.mutate(score=score).order_by(["brand_id", "period", "capability"])
