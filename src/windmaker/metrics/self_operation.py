"""S — self-operation (品牌自播): what the brand sells through its own main and matrix accounts.

Per brand × period:

- ``self_gmv = Σ net`` over orders sold by one of the brand's *own* accounts: account kind in
  ``SELF_ACCOUNT_KINDS`` and ``accounts.brand_id`` = the order's brand. An order for brand B sold
  on brand A's main or matrix account is neither B's self-operation (B's live room did not sell
  it) nor A's (it is not A's GMV), so it is not distribution either: it counts in B's net GMV
  only, and ``self_share + distribution_share`` falls short of 1 by its share;
- ``self_share = self_gmv / net_gmv`` (null when net_gmv is 0);
- ``live_hours = Σ (ended_at − started_at) / 3600 s`` over live sessions of the brand's own
  accounts started in the period;
- ``self_gmv_per_live_hour = self_live_gmv / live_hours``, where ``self_live_gmv`` is the
  self-operated net GMV of orders sold in a live session (null without live hours), with the
  same ownership rule;
- ``gpm = 1000 × self_live_gmv / Σ viewers`` of those sessions: GMV per 1,000 viewers (UV) of the
  brand's own live room (null without viewers).
"""

from __future__ import annotations

import ibis.expr.types as ir

from windmaker.metrics.gmv import ratio, sum_where
from windmaker.metrics.periods import Grain, period_of
from windmaker.metrics.sources import Sources

COLUMNS = ("self_gmv", "self_share", "live_hours", "self_gmv_per_live_hour", "gpm")
#: Intermediate sums kept next to the metrics (they make the ratios checkable).
SUPPORT = ("self_live_gmv", "self_viewers")


def order_measures(f: ir.Table) -> dict[str, ir.Scalar]:
    """self_gmv and self_live_gmv over order facts."""
    return {
        "self_gmv": sum_where(f.net, f.is_self),
        "self_live_gmv": sum_where(f.net, f.is_self & f.session_id.notnull()),
    }


def session_measures(src: Sources, grain: Grain, since: ir.Value | None = None) -> ir.Table:
    """Own-account live sessions per brand × period: live_seconds, self_viewers."""
    s = src.live_sessions
    if since is not None:
        s = s.filter(s.started_at >= since)
    s = s.select("account_id", "started_at", "ended_at", "viewers").inner_join(
        src.brand_accounts(), "account_id"
    )
    s = s.mutate(
        period=period_of(s.started_at, grain),
        seconds=s.ended_at.epoch_seconds() - s.started_at.epoch_seconds(),
    )
    return s.group_by(["brand_id", "period"]).aggregate(
        live_seconds=s.seconds.sum(), self_viewers=s.viewers.sum()
    )


def derive(t: ir.Table) -> dict[str, ir.Value]:
    """self_share, live_hours, self_gmv_per_live_hour, gpm from the measures."""
    live_hours = t.live_seconds.cast("float64") / 3600.0
    return {
        "self_share": ratio(t.self_gmv, t.net_gmv),
        "live_hours": live_hours,
        "self_gmv_per_live_hour": ratio(t.self_live_gmv, live_hours),
        "gpm": ratio(t.self_live_gmv, t.self_viewers) * 1000.0,
    }
