"""Independent reference answers in plain pandas/Python (no Ibis, no SQL) for the metric tests."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

SELF = {"brand_main", "brand_matrix"}


def period_key(ts: pd.Series, grain: str) -> pd.Series:
    d = pd.to_datetime(ts).dt.normalize()
    if grain == "week":
        d = d - pd.to_timedelta(d.dt.day_of_week, unit="D")
    elif grain == "month":
        d = d.dt.to_period("M").dt.start_time
    return d.dt.date


def _div(a: float, b: float) -> float | None:
    return None if b == 0 else float(a) / float(b)


def is_self(x: dict) -> bool:
    """Sold by one of the order's brand's own accounts (main or matrix)."""
    return x["kind"] in SELF and x["account_brand"] == x["brand_id"]


def is_inf(x: dict) -> bool:
    return x["kind"] == "influencer"


def repeat_flags(orders: pd.DataFrame, days: int) -> pd.Series:
    """For each order: did the same buyer buy from the same brand in the ``days`` before it?"""
    out = pd.Series(False, index=orders.index)
    for _, g in orders.groupby(["brand_id", "buyer_id"]):
        times = sorted(g.paid_at)
        for idx, t in zip(g.index, g.paid_at, strict=True):
            out[idx] = any(t - timedelta(days=days) <= u < t for u in times)
    return out


def cross_brand_net(m: dict[str, pd.DataFrame], grain: str) -> dict[tuple[str, date], Decimal]:
    """Net GMV per brand × period of counted orders sold on another brand's own account."""
    a = m["accounts"]
    owner = dict(zip(a.account_id, a.brand_id, strict=True))
    kinds = dict(zip(a.account_id, a.kind, strict=True))
    o = m["orders"]
    o = o[o.status != "cancelled"]
    out: dict[tuple[str, date], Decimal] = {}
    for rec, p in zip(o.to_dict("records"), period_key(o.paid_at, grain), strict=True):
        acct = rec["account_id"]
        if kinds[acct] in SELF and owner[acct] != rec["brand_id"]:
            key = (rec["brand_id"], p)
            out[key] = out.get(key, Decimal("0.00")) + rec["amount"] - rec["refund_amount"]
    return out


def brand_period(m: dict[str, pd.DataFrame], grain: str) -> pd.DataFrame:
    """Every metric per brand × period, for all brands × all periods of the orders' span."""
    o = m["orders"]
    o = o[o.status != "cancelled"].copy()
    kinds = dict(zip(m["accounts"].account_id, m["accounts"].kind, strict=True))
    owner = dict(zip(m["accounts"].account_id, m["accounts"].brand_id, strict=True))
    special = dict(zip(m["skus"].sku_id, m["skus"].special_supply, strict=True))
    dedicated = dict(
        zip(m["live_sessions"].session_id, m["live_sessions"].dedicated_brand_id, strict=True)
    )
    o["net"] = [a - r for a, r in zip(o.amount, o.refund_amount, strict=True)]
    o["kind"] = o.account_id.map(kinds)
    o["account_brand"] = o.account_id.map(owner)
    o["period"] = period_key(o.paid_at, grain)
    o["r90"] = repeat_flags(o, 90)
    o["r180"] = repeat_flags(o, 180)
    own = m["accounts"][m["accounts"].kind.isin(SELF)]
    own_brand = dict(zip(own.account_id, own.brand_id, strict=True))
    s = m["live_sessions"].copy()
    s["brand_id"] = s.account_id.map(own_brand)
    s = s[s.brand_id.notna()]
    s["period"] = period_key(s.started_at, grain)
    s["secs"] = (s.ended_at - s.started_at).dt.total_seconds()
    ad = m["ad_spend"].copy()
    ad["period"] = period_key(pd.to_datetime(ad.date), grain)
    fo = m["follows"].copy()
    fo["brand_id"] = fo.account_id.map(own_brand)
    fo = fo[fo.brand_id.notna()]
    fo["period"] = period_key(fo.followed_at, grain)
    rv = m["reviews"].merge(m["orders"][["order_id", "brand_id"]], on="order_id")
    rv["period"] = period_key(rv.created_at, grain)

    lo, hi = m["orders"].paid_at.min(), m["orders"].paid_at.max()
    periods = sorted(set(period_key(pd.Series(pd.date_range(lo.normalize(), hi, freq="D")), grain)))
    zero = Decimal("0.00")

    def groups(df: pd.DataFrame) -> dict[tuple[str, date], list[dict]]:
        out: dict[tuple[str, date], list[dict]] = {}
        for rec in df.to_dict("records"):
            out.setdefault((rec["brand_id"], rec["period"]), []).append(rec)
        return out

    og, sg, ag, fg, rg = groups(o), groups(s), groups(ad), groups(fo), groups(rv)
    rows = []
    for b, cat in zip(m["brands"].brand_id, m["brands"].category, strict=True):
        for p in periods:
            g = og.get((b, p), [])
            net = sum((x["net"] for x in g), zero)
            n = len(g)

            def gsum(pred, g=g) -> Decimal:  # type: ignore[no-untyped-def]
                return sum((x["net"] for x in g if pred(x)), zero)

            self_gmv = gsum(is_self)
            self_live = gsum(lambda x: is_self(x) and isinstance(x["session_id"], str))
            dist = gsum(is_inf)
            inf: dict[str, Decimal] = {}
            for x in g:
                if is_inf(x):
                    inf[x["account_id"]] = inf.get(x["account_id"], zero) + x["net"]
            ss = sg.get((b, p), [])
            secs = float(sum(x["secs"] for x in ss))
            viewers = int(sum(x["viewers"] for x in ss))
            spend = sum((x["spend"] for x in ag.get((b, p), [])), zero)
            paid = gsum(lambda x: x["traffic_source"] == "paid")
            public = gsum(lambda x: x["traffic_source"] in ("recommend", "paid"))
            follow = gsum(lambda x: x["traffic_source"] == "follow")
            sp = [x for x in g if bool(special[x["sku_id"]])]
            sp_net = sum((x["net"] for x in sp), zero)
            r = rg.get((b, p), [])
            checked = [
                x for x in g if pd.notna(x["promised_ship_by"]) and pd.notna(x["shipped_at"])
            ]
            late = sum(1 for x in checked if x["shipped_at"] > x["promised_ship_by"])
            buyers = len({x["buyer_id"] for x in g})
            # purchases per buyer: distinct payment times (orders paid in one second: one basket)
            purchases: dict[str, set] = {}
            for x in g:
                purchases.setdefault(x["buyer_id"], set()).add(x["paid_at"])
            gross = sum((x["amount"] for x in g), zero)
            complaints = sum(1 for x in r if x["complaint"] in ("quality", "misleading"))
            rows.append(
                {
                    "brand_id": b,
                    "category": cat,
                    "period": p,
                    "net_gmv": net,
                    "gross_gmv": gross,
                    "orders": n,
                    "buyers": buyers,
                    "aov": _div(net, n),
                    "self_gmv": self_gmv,
                    "self_share": _div(self_gmv, net),
                    "live_hours": secs / 3600.0,
                    "self_gmv_per_live_hour": _div(self_live, secs / 3600.0),
                    "gpm": None if viewers == 0 else float(self_live) * 1000.0 / viewers,
                    "paid_spend": spend,
                    "paid_gmv": paid,
                    "roas": _div(paid, spend),
                    "public_gmv": public,
                    "public_share": _div(public, net),
                    "recommend_share": _div(
                        gsum(lambda x: x["traffic_source"] == "recommend"), net
                    ),
                    "paid_share": _div(paid, net),
                    "search_share": _div(gsum(lambda x: x["traffic_source"] == "search"), net),
                    "other_share": _div(gsum(lambda x: x["traffic_source"] == "other"), net),
                    "distribution_gmv": dist,
                    "distribution_share": _div(dist, net),
                    "active_influencers": len(inf),
                    "top_influencer_share": _div(max(inf.values()), dist) if inf else None,
                    "influencer_hhi": (
                        float(sum((float(v) / float(dist)) ** 2 for v in inf.values()))
                        if dist
                        else None
                    ),
                    "dedicated_gmv": gsum(lambda x, b=b: dedicated.get(x["session_id"]) == b),
                    "repurchase_rate": _div(
                        sum(1 for times in purchases.values() if len(times) >= 2), buyers
                    ),
                    "repurchase_rate_90d": _div(
                        len({x["buyer_id"] for x in g if x["r90"]}), buyers
                    ),
                    "repurchase_rate_180d": _div(
                        len({x["buyer_id"] for x in g if x["r180"]}), buyers
                    ),
                    "follower_gmv": follow,
                    "follower_gmv_share": _div(follow, net),
                    "new_follows": len(fg.get((b, p), [])),
                    "special_supply_gmv": sp_net,
                    "special_supply_share": _div(sp_net, net),
                    "special_supply_skus": len({x["sku_id"] for x in sp}),
                    "refund_rate": _div(sum(1 for x in g if x["refund_amount"] > 0), n),
                    "refund_amount_rate": _div(sum((x["refund_amount"] for x in g), zero), gross),
                    "complaints_per_1k": None if n == 0 else 1000.0 * complaints / n,
                    "late_shipment_rate": _div(late, len(checked)),
                    "review_score": _div(sum(x["score"] for x in r), len(r)),
                }
            )
    return pd.DataFrame(rows)


def trailing(day: pd.DataFrame, n: int) -> dict[tuple[str, date], Decimal]:
    """Σ net_gmv over the n days ending on each day, per brand."""
    out = {}
    for b, g in day.groupby("brand_id"):
        vals = dict(zip(g.period, g.net_gmv, strict=True))
        for p in g.period:
            out[(b, p)] = sum(
                (vals.get(p - timedelta(days=k), Decimal(0)) for k in range(n)), Decimal("0.00")
            )
    return out


def midrank(values: list[float]) -> list[float]:
    """Mid-rank percentile of each value (0–100); 50 for a single value."""
    v = np.asarray(values, dtype=float)
    if len(v) == 1:
        return [50.0]
    return [100.0 * ((v < x).sum() + 0.5 * ((v == x).sum() - 1)) / (len(v) - 1) for x in v]


def trailing_repurchase(
    m: dict[str, pd.DataFrame], first: date, last: date, window: int = 90
) -> dict[tuple[str, date], tuple[int, int]]:
    """Per brand × day in [first, last]: (buyers with a purchase in the ``window`` days ending on
    it, those with two or more distinct payment times in them); only brands with any buyer."""
    o = m["orders"]
    o = o[o.status != "cancelled"]
    out: dict[tuple[str, date], tuple[int, int]] = {}
    for b, g in o.groupby("brand_id"):
        days = g.paid_at.dt.date
        e = first
        while e <= last:
            lo = e - timedelta(days=window - 1)
            inside = g[(days >= lo) & (days <= e)]
            times = inside.groupby("buyer_id").paid_at.nunique()
            out[(str(b), e)] = (len(times), int((times >= 2).sum()))
            e += timedelta(days=1)
    return out
