"""P — private domain (私域经营复购): repeat buyers, followers' GMV, fan growth, cohort retention.

Per brand × period:

- ``repurchase_rate_{N}d`` (N = 90, 180): the share of the period's buyers whose purchase in
  the period was a repurchase — buyers ``b`` of the brand in period ``P`` with an order ``o`` in
  ``P`` and an earlier order ``o′`` of the same brand (any period, not cancelled) with
  ``o.paid_at − N days ≤ o′.paid_at < o.paid_at``, divided by ``buyers``. It looks back, so the
  latest period is as complete as any other and new orders change only their own periods;
  a buyer's first order from a brand is never a repurchase (null when there are no buyers);
- ``follower_gmv = Σ net`` over orders reached through ``traffic_source = 'follow'`` (the follow
  page and fans group); ``follower_gmv_share = follower_gmv / net_gmv``;
- ``new_follows = count(follows)`` of the brand's own accounts with ``followed_at`` in the
  period.

And per brand × first-purchase month (cohort) × month, :func:`cohort_retention`.
"""

from __future__ import annotations

import ibis.expr.types as ir

from windmaker.metrics.gmv import REPEAT_WINDOWS_DAYS, ratio
from windmaker.metrics.periods import Grain, period_of
from windmaker.metrics.sources import Sources

COLUMNS = (
    "repurchase_rate_90d",
    "repurchase_rate_180d",
    "follower_gmv",
    "follower_gmv_share",
    "new_follows",
)
SUPPORT = tuple(f"repeat_buyers_{n}d" for n in REPEAT_WINDOWS_DAYS)


def order_measures(f: ir.Table) -> dict[str, ir.Scalar]:
    """follower_gmv and the repeat buyers (distinct buyers with a repeat-flagged order)."""
    out: dict[str, ir.Scalar] = {"follower_gmv": f.net.sum(where=f.traffic_source == "follow")}
    for n in REPEAT_WINDOWS_DAYS:
        out[f"repeat_buyers_{n}d"] = f.buyer_id.nunique(where=f[f"repeat_{n}d"])
    return out


def follow_measures(src: Sources, grain: Grain, since: ir.Value | None = None) -> ir.Table:
    """New follows of the brand's own accounts per brand × period: new_follows."""
    fo = src.follows
    if since is not None:
        fo = fo.filter(fo.followed_at >= since)
    fo = fo.select("account_id", "followed_at").inner_join(src.brand_accounts(), "account_id")
    fo = fo.mutate(period=period_of(fo.followed_at, grain))
    return fo.group_by(["brand_id", "period"]).aggregate(new_follows=fo.count())


def derive(t: ir.Table) -> dict[str, ir.Value]:
    """The repurchase rates and follower_gmv_share from the measures."""
    out: dict[str, ir.Value] = {
        f"repurchase_rate_{n}d": ratio(t[f"repeat_buyers_{n}d"], t.buyers)
        for n in REPEAT_WINDOWS_DAYS
    }
    out["follower_gmv_share"] = ratio(t.follower_gmv, t.net_gmv)
    return out


def first_purchases(facts: ir.Table) -> ir.Table:
    """Each buyer's cohort at each brand: brand_id, buyer_id, cohort (month of the first order)."""
    first = facts.group_by(["brand_id", "buyer_id"]).aggregate(first_paid_at=facts.paid_at.min())
    return first.select("brand_id", "buyer_id", cohort=period_of(first.first_paid_at, "month"))


def cohort_retention(facts: ir.Table, cohorts: ir.Table) -> ir.Table:
    """Cohort retention by first-purchase month (``m_cohort_retention``).

    For brand ``B``, cohort ``c`` (the buyers whose first non-cancelled order from ``B`` was in
    month ``c``) and month ``P ≥ c``: ``cohort_buyers`` = size of the cohort, ``active_buyers`` =
    cohort buyers with an order from ``B`` in ``P``, ``retention = active_buyers /
    cohort_buyers``, ``months_since = months from c to P`` (0 = the cohort's own month, where
    retention is 1). Rows exist for (cohort, month) pairs with at least one active buyer.

    ``facts`` are the order facts of the months to compute; ``cohorts`` is
    :func:`first_purchases` over all orders (kept as state by the refresh).
    """
    active = facts.select(
        "brand_id", "buyer_id", period=period_of(facts.paid_at, "month")
    ).distinct()
    j = active.inner_join(cohorts, ["brand_id", "buyer_id"])
    counts = j.group_by(["brand_id", "cohort", "period"]).aggregate(active_buyers=j.count())
    sizes = cohorts.group_by(["brand_id", "cohort"]).aggregate(cohort_buyers=cohorts.count())
    out = counts.inner_join(sizes, ["brand_id", "cohort"])
    months_since = (out.period.year() - out.cohort.year()) * 12 + (
        out.period.month() - out.cohort.month()
    )
    return out.select(
        "brand_id",
        "cohort",
        "period",
        months_since=months_since.cast("int64"),
        cohort_buyers=out.cohort_buyers.cast("int64"),
        active_buyers=out.active_buyers.cast("int64"),
        retention=ratio(out.active_buyers, out.cohort_buyers),
    ).order_by(["brand_id", "cohort", "period"])
