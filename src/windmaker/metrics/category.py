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
- **capability score** = the percentile of the index within the category × month (0–100), the
  index rounded to ``benchmark.index_decimals`` first so that equal indices tie.
- **small categories**: a category with fewer than ``benchmark.min_category_brands`` brands in
  the month has no meaningful median, IQR or percentile of its own (two brands always score 0 and
  100), so its brands are standardised and ranked among every brand of the month; their rows
  carry ``benchmark = 'all'`` (``'category'`` otherwise).

:func:`robust_z` (with :func:`spread`) and :func:`midrank_percentile` are the one
implementation of these statistics: the model components of the diagnosis
(:mod:`windmaker.growth.model_feed`) standardise and re-rank with them.
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
#: ``benchmark`` of a row compared within its category, or among every brand of the month.
BY_CATEGORY, BY_ALL = "category", "all"


def _small(t: ir.Table, min_brands: int) -> ir.BooleanValue:
    """Whether the row's category has fewer than ``min_brands`` brands in its month."""
    # one row per brand and month: the rows are the brands
    n = t.brand_id.count().over(ibis.window(group_by=list(GROUP)))
    return n < min_brands


def _benchmark(small: ir.BooleanValue) -> ir.StringValue:
    return ibis.cases((small, BY_ALL), else_=BY_CATEGORY)


def _benchmarked_percentile(value: ir.Column, small: ir.BooleanValue, key: str) -> ir.FloatingValue:
    """Mid-rank percentile of ``value`` per ``key`` within category × month, or among every
    brand of the month where the category is small."""
    own = midrank_percentile(value, ["category", "period", key])
    pooled = midrank_percentile(value, ["period", key])
    return ibis.cases((small, pooled), else_=own)


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


def percentiles(month: ir.Table, min_category_brands: int = 1) -> ir.Table:
    """``m_percentile``: brand_id, category, period, metric, value, percentile (0–100), benchmark."""
    month = month.mutate(_small=_small(month, min_category_brands))
    wide = month.select(
        "brand_id",
        "category",
        "period",
        "_small",
        **{m: month[m].cast("float64") for m in PERCENTILE_METRICS},
    )
    long = wide.pivot_longer(list(PERCENTILE_METRICS), names_to="metric", values_to="value")
    long = long.filter(long.value.notnull())
    return long.select(
        "brand_id",
        "category",
        "period",
        "metric",
        "value",
        percentile=_benchmarked_percentile(long.value, long._small, "metric"),
        benchmark=_benchmark(long._small),
    )


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


def spread(v: ir.Table, keys: list[str], suffix: str = "", value: str = "value") -> ir.Table:
    """Median, quartiles and range of ``value`` per ``keys`` (columns suffixed ``suffix``): the
    statistics :func:`robust_z` reads."""
    x = v[value]
    return v.group_by(keys).aggregate(
        **{
            f"med{suffix}": x.median(),
            f"q25{suffix}": x.quantile(0.25),
            f"q75{suffix}": x.quantile(0.75),
            f"lo{suffix}": x.min(),
            f"hi{suffix}": x.max(),
        }
    )


def robust_z(
    value: ir.FloatingValue,
    med: ir.FloatingValue,
    q25: ir.FloatingValue,
    q75: ir.FloatingValue,
    lo: ir.FloatingValue,
    hi: ir.FloatingValue,
) -> ir.FloatingValue:
    """``(v − median) / IQR`` from the group's :func:`spread`, unclipped and unsigned.

    Where the IQR is 0 (most of the group shares one value) the range ``max − min`` is the unit,
    so the few values away from the crowd still stand out; ``z = 0`` where the range is 0 too
    (the group does not vary). Null where ``value`` is null.
    """
    iqr = q75 - q25
    scale = ibis.cases((iqr > 0, iqr), (hi - lo > 0, hi - lo), else_=ibis.null("float64"))
    return ibis.cases(
        (value.isnull(), ibis.null("float64")),
        (scale.isnull(), 0.0),
        else_=(value - med) / scale,
    )


def capabilities(month: ir.Table, config: MetricsConfig) -> ir.Table:
    """``m_capability``: brand_id, category, period, capability, index, score, benchmark."""
    used = tuple(dict.fromkeys(it.metric for items in config.capabilities.values() for it in items))
    month = month.mutate(_small=_small(month, config.benchmark.min_category_brands))
    wide = month.select(
        "brand_id", "category", "period", "_small", **{m: month[m].cast("float64") for m in used}
    )
    long = wide.pivot_longer(list(used), names_to="metric", values_to="value")
    ok = long.filter(long.value.notnull())
    j = long.left_join(
        spread(ok, ["category", "period", "metric"]), ["category", "period", "metric"]
    )
    j = j.drop(*[c for c in j.columns if c.endswith("_right")])
    j = j.left_join(spread(ok, ["period", "metric"], "_all"), ["period", "metric"])
    j = j.drop(*[c for c in j.columns if c.endswith("_right")])
    j = j.inner_join(_weights(config), "metric")

    def pick(col: str) -> ir.FloatingValue:
        return ibis.cases((j._small, j[f"{col}_all"]), else_=j[col])

    med, q25, q75, lo, hi = (pick(c) for c in ("med", "q25", "q75", "lo", "hi"))
    clip = config.standardise.clip
    z = ibis.cases(
        (j.value.isnull(), config.standardise.missing_z),
        else_=(j.sign * robust_z(j.value, med, q25, q75, lo, hi)).clip(lower=-clip, upper=clip),
    )
    j = j.mutate(wz=j.weight * z)
    idx = j.group_by(["brand_id", "category", "period", "capability", "_small"]).aggregate(
        index=j.wz.sum()
    )
    # rounded before it is ranked: sums of the same terms in another order differ in the last
    # bits, and a percentile would split exact ties into 0 and 100
    idx = idx.mutate(index=idx["index"].round(config.benchmark.index_decimals))
    return idx.select(
        "brand_id",
        "category",
        "period",
        "capability",
        "index",
        score=_benchmarked_percentile(idx["index"], idx._small, "capability"),
        benchmark=_benchmark(idx._small),
    ).order_by(["brand_id", "period", "capability"])
