"""Concentration risk of distribution: does a brand's influencer GMV hang on one influencer?

For a brand over a window, with s_i the share of its distribution GMV sold by influencer i:
top share = max_i s_i and the Herfindahl–Hirschman index HHI = Σ_i s_i². A brand is flagged when
its distribution GMV is material and either exceeds its threshold (configuration).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import ibis
from pydantic import BaseModel, ConfigDict, Field

from windmaker import contract


class ConcentrationConfig(BaseModel):
    """Thresholds of the concentration flag."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_days: int = Field(default=90, ge=1)
    top_share: float = Field(
        default=0.5, gt=0, le=1, description="flag when one influencer sells more"
    )
    hhi: float = Field(default=0.3, gt=0, le=1, description="flag when HHI is above")
    min_distribution_gmv: float = Field(
        default=10_000.0, ge=0, description="yuan; below this distribution is too small to judge"
    )


def concentration_expression(
    tables: Mapping[str, ibis.Table], start: date, end: date, config: ConcentrationConfig
) -> ibis.Table:
    """Per brand over [start, end): distribution GMV, influencers, top influencer, top share, HHI, flag.

    Columns: brand_id, distribution_gmv (decimal yuan), influencers, top_influencer, top_share,
    hhi, flagged, window_start, window_end.
    """
    orders, accounts = tables[contract.ORDERS.name], tables[contract.ACCOUNTS.name]
    infl = accounts.filter(accounts.kind == contract.ACCOUNT_KINDS[2]).select("account_id")
    o = orders.filter(
        (orders.status != contract.ORDER_STATUSES[4])
        & (orders.paid_at >= ibis.timestamp(start.isoformat()))
        & (orders.paid_at < ibis.timestamp(end.isoformat()))
    ).semi_join(infl, "account_id")
    per = o.group_by(["brand_id", "account_id"]).aggregate(
        gmv=(o.amount - o.refund_amount.fill_null(0)).sum()
    )
    per = per.filter(per.gmv > 0)
    total = per.gmv.sum().over(group_by=per.brand_id)
    per = per.mutate(share=per.gmv.cast("float64") / total.cast("float64"))
    ranked = per.mutate(
        rn=ibis.row_number().over(group_by=per.brand_id, order_by=ibis.desc(per.gmv))
    )
    top = ranked.filter(ranked.rn == 0).select("brand_id", top_influencer=ranked.account_id)
    agg = per.group_by("brand_id").aggregate(
        distribution_gmv=per.gmv.sum(),
        influencers=per.count(),
        top_share=per.share.max(),
        hhi=(per.share * per.share).sum(),
    )
    agg = agg.join(top, "brand_id")
    flagged = (agg.distribution_gmv.cast("float64") >= config.min_distribution_gmv) & (
        (agg.top_share >= config.top_share) | (agg.hhi >= config.hhi)
    )
    return agg.select(
        "brand_id",
        "distribution_gmv",
        "influencers",
        "top_influencer",
        "top_share",
        "hhi",
        flagged=flagged,
        window_start=ibis.literal(start),
        window_end=ibis.literal(end),
    )
