"""The GMV driver tree of live commerce and its exact period-over-period decomposition.

Live GMV factors into four drivers:

    GMV = UV × (watch hours / UV) × (orders / watch hour) × (GMV / order)
        = uv × watch_hours_per_uv × orders_per_watch_hour × aov

A change between two periods is split across the drivers with the log-mean Divisia index
(LMDI-I): with ``L(a, b) = (a − b) / (ln a − ln b)`` (``L(a, a) = a``) the logarithmic mean,

    contribution_i = L(GMV₁, GMV₀) × ln(x_i,₁ / x_i,₀),   Σ_i contribution_i = GMV₁ − GMV₀

exactly (Σ ln(x_i,₁/x_i,₀) = ln(GMV₁/GMV₀)), with no residual. It needs every driver positive in
both periods; otherwise the row is marked not decomposable and the contributions are null.

``m_gmv_drivers`` holds the tree at three levels (column ``level``):

- ``brand``: per brand × month, over the brand's live rooms — sessions of its own accounts and
  influencer sessions dedicated to it (达人专场) — and the brand's orders sold in them
  (UV and watch time of a multi-brand influencer session cannot be given to one brand);
- ``account``: per account × month, all its sessions and the orders sold in them;
- ``session``: per live session, compared with the same account's previous session.

Months are those of the session start. Columns: level, entity_id, brand_id, period, uv,
watch_hours, orders, live_gmv (DECIMAL), the four drivers, ``prev_*`` of the comparison period,
delta_gmv, contrib_uv, contrib_watch_time, contrib_conversion, contrib_aov, decomposable.

Over buyers, the same GMV factors by repurchase frequency (:func:`buyer_drivers`,
``m_gmv_buyer_drivers``): per brand × month, over every counted order (live or not),

    net GMV = buyers × (orders / buyer) × (net GMV / order)
            = buyers × orders_per_buyer × aov

split the same way into contrib_buyers, contrib_frequency (复购频次) and contrib_aov.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt

from windmaker.metrics.gmv import MONEY, attach, attach_all, money, ratio
from windmaker.metrics.periods import period_of
from windmaker.metrics.sources import Sources

DRIVERS = ("uv", "watch_hours_per_uv", "orders_per_watch_hour", "aov")
CONTRIBUTIONS = ("contrib_uv", "contrib_watch_time", "contrib_conversion", "contrib_aov")
LEVELS = ("brand", "account", "session")
#: The buyer-side tree: net GMV = buyers × orders per buyer (repurchase frequency) × AOV.
BUYER_DRIVERS = ("buyers", "orders_per_buyer", "aov")
BUYER_CONTRIBUTIONS = ("contrib_buyers", "contrib_frequency", "contrib_aov")


# -- the pure function -------------------------------------------------------------------------
def log_mean(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Logarithmic mean ``L(a, b) = (a − b) / (ln a − ln b)``, ``L(a, a) = a`` (a, b > 0)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    same = np.isclose(a, b, rtol=1e-12, atol=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a - b) / (np.log(a) - np.log(b))
    return np.where(same, (a + b) / 2.0, out)


def driver_factors(
    uv: npt.ArrayLike, watch_hours: npt.ArrayLike, orders: npt.ArrayLike, gmv: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """The four drivers ``[uv, watch_hours/uv, orders/watch_hours, gmv/orders]`` (last axis)."""
    uv, wh, o, g = (np.asarray(x, dtype=float) for x in (uv, watch_hours, orders, gmv))
    return np.stack([uv, wh / uv, o / wh, g / o], axis=-1)


def buyer_factors(
    buyers: npt.ArrayLike, orders: npt.ArrayLike, gmv: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """The buyer-side drivers ``[buyers, orders/buyers, gmv/orders]`` (last axis)."""
    b, o, g = (np.asarray(x, dtype=float) for x in (buyers, orders, gmv))
    return np.stack([b, o / b, g / o], axis=-1)


def lmdi(before: npt.ArrayLike, after: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """LMDI-I contributions of each factor to the change of their product.

    ``before``, ``after``: positive factors, shape ``(..., k)``; returns shape ``(..., k)`` with
    ``contribution_i = L(V₁, V₀) ln(x_i,₁/x_i,₀)``, ``V = Π_i x_i``; the contributions add to
    ``V₁ − V₀``.
    """
    x0 = np.asarray(before, dtype=float)
    x1 = np.asarray(after, dtype=float)
    if np.any(x0 <= 0) or np.any(x1 <= 0):
        raise ValueError("LMDI needs every factor positive in both periods")
    v0 = np.prod(x0, axis=-1)
    v1 = np.prod(x1, axis=-1)
    weight = log_mean(v1, v0)
    return weight[..., None] * np.log(x1 / x0)


# -- the table ---------------------------------------------------------------------------------
def _sessions(src: Sources) -> ir.Table:
    s = src.live_sessions
    return s.select(
        "session_id",
        "account_id",
        "started_at",
        "dedicated_brand_id",
        uv=s.viewers,
        watch_seconds=s.watch_seconds,
        period=period_of(s.started_at, "month"),
    )


def _session_sales(facts: ir.Table) -> ir.Table:
    """Orders and net GMV per session and brand sold."""
    f = facts.filter(facts.session_id.notnull())
    return f.group_by(["session_id", "brand_id"]).aggregate(orders=f.count(), live_gmv=f.net.sum())


def _tree(t: ir.Table) -> ir.Table:
    """Add the four drivers to a table with uv, watch_hours, orders, live_gmv."""
    return t.mutate(
        watch_hours_per_uv=ratio(t.watch_hours, t.uv),
        orders_per_watch_hour=ratio(t.orders, t.watch_hours),
        aov=ratio(t.live_gmv, t.orders),
    )


def _decompose(
    t: ir.Table,
    prev_window: ir.Value,
    consecutive: ir.BooleanValue | None,
    same_days: ir.Table | None = None,
) -> ir.Table:
    cols = ("uv", "watch_hours", "orders", "live_gmv", *DRIVERS[1:])
    prev = {f"prev_{c}": t[c].lag().over(prev_window) for c in cols}
    t = t.mutate(**prev)
    if consecutive is not None:
        t = t.mutate(
            **{k: ibis.cases((consecutive, t[k]), else_=ibis.null(t[k].type())) for k in prev}
        )
    t = t.mutate(compared_days=ibis.null("int64"))
    if same_days is not None:
        t = _compare_same_days(t, _tree(same_days), ("level", "entity_id", "period"), cols)
    pos = [t[c].cast("float64") > 0 for c in ("uv", "watch_hours", "orders", "live_gmv")]
    pos += [t[f"prev_{c}"].cast("float64") > 0 for c in ("uv", "watch_hours", "orders", "live_gmv")]
    ok = pos[0]
    for p in pos[1:]:
        ok = ok & p
    ok = ok.fill_null(False)
    v1 = t.live_gmv.cast("float64")
    v0 = t.prev_live_gmv.cast("float64")
    weight = ibis.cases((v1 == v0, v1), else_=(v1 - v0) / (v1.ln() - v0.ln()))
    contrib = {}
    for name, d in zip(CONTRIBUTIONS, DRIVERS, strict=True):
        x1 = t[d].cast("float64")
        x0 = t[f"prev_{d}"].cast("float64")
        contrib[name] = ibis.cases((ok, weight * (x1 / x0).ln()), else_=ibis.null("float64"))
    return t.mutate(
        delta_gmv=(t.live_gmv - t.prev_live_gmv).cast(MONEY),
        decomposable=ok,
        **contrib,
    )


def _compare_same_days(
    t: ir.Table, same: ir.Table, keys: tuple[str, ...], cols: tuple[str, ...]
) -> ir.Table:
    """Compare the rows that ``same`` names with the same days of the previous month.

    A month the data ends inside (to date, 本月至今) holds ``days_covered`` days; compared with
    the whole previous month every driver would read a fall. ``same`` holds, per row key, the
    sums of the previous month's first ``compared_days`` days: they replace the comparison.
    """
    s = same.select(*keys, "compared_days", **{f"_same_{c}": same[c] for c in cols})
    j = t.left_join(s, list(keys))
    j = j.drop(*[f"{k}_right" for k in keys if f"{k}_right" in j.columns])
    hit = j.compared_days_right.notnull()
    return j.mutate(
        **{
            f"prev_{c}": ibis.cases(
                (hit, j[f"_same_{c}"].cast(j[f"prev_{c}"].type())), else_=j[f"prev_{c}"]
            )
            for c in cols
        },
        compared_days=ibis.cases((hit, j.compared_days_right), else_=j.compared_days),
    ).drop("compared_days_right", *[f"_same_{c}" for c in cols])


#: Columns of the tree before decomposition (what a later refresh reuses from stored rows).
BASE_COLUMNS = (
    "level",
    "entity_id",
    "brand_id",
    "account_id",
    "period",
    "started_at",
    "uv",
    "watch_hours",
    "orders",
    "live_gmv",
)
COLUMNS = (
    *BASE_COLUMNS,
    *DRIVERS[1:],
    "prev_uv",
    "prev_watch_hours",
    "prev_orders",
    "prev_live_gmv",
    "prev_watch_hours_per_uv",
    "prev_orders_per_watch_hour",
    "prev_aov",
    "delta_gmv",
    *CONTRIBUTIONS,
    "decomposable",
    "compared_days",
)


def _month_index(period: ir.DateValue) -> ir.IntegerValue:
    return period.year() * 12 + period.month()


def _base(t: ir.Table, level: str, entity: str, **extra: ir.Value) -> ir.Table:
    cols: dict[str, ir.Value] = {
        "level": ibis.literal(level),
        "entity_id": t[entity],
        "brand_id": t.brand_id,
        "account_id": ibis.null("string"),
        "period": t.period,
        "started_at": ibis.null("timestamp"),
        "uv": t.uv.cast("int64"),
        "watch_hours": t.watch_hours.cast("float64"),
        "orders": t.orders.cast("int64"),
        "live_gmv": money(t.live_gmv),
    }
    cols.update(extra)
    return t.select(**cols)


def driver_base(
    src: Sources, facts: ir.Table, since: ir.Value | None = None, until: ir.Value | None = None
) -> ir.Table:
    """The tree's sums per level and entity (BASE_COLUMNS), for sessions started since ``since``
    (and before ``until``).

    ``facts`` (session_id, brand_id, net: the order facts or :func:`gmv.session_orders`) must
    hold every order of those sessions (orders are paid after their session starts, so facts
    since ``since`` do).
    """
    s = _sessions(src)
    if since is not None:
        s = s.filter(s.started_at >= since)
    if until is not None:
        s = s.filter(s.started_at < until)
    sales = _session_sales(facts)
    acct = src.accounts.select("account_id", account_brand_id="brand_id")

    # brand level: own-account sessions and dedicated sessions
    own = s.inner_join(src.brand_accounts(), "account_id").select("session_id", "brand_id")
    ded = s.filter(s.dedicated_brand_id.notnull()).select(
        "session_id", brand_id=s.dedicated_brand_id
    )
    bsj = attach(
        own.union(ded, distinct=True).inner_join(s, "session_id"), sales, ["session_id", "brand_id"]
    )
    brand = bsj.group_by(["brand_id", "period"]).aggregate(
        uv=bsj.uv.sum(),
        watch_hours=bsj.watch_seconds.sum().cast("float64") / 3600.0,
        orders=bsj.orders.sum().fill_null(0),
        live_gmv=bsj.live_gmv.sum(),
    )

    # session level, then account level as its sum
    per_session = sales.group_by("session_id").aggregate(
        orders=sales.orders.sum(), live_gmv=sales.live_gmv.sum()
    )
    sj = attach_all(s, [(per_session, ["session_id"]), (acct, ["account_id"])])
    sj = sj.mutate(
        orders=sj.orders.fill_null(0),
        live_gmv=money(sj.live_gmv),
        watch_hours=sj.watch_seconds.cast("float64") / 3600.0,
        brand_id=sj.account_brand_id.fill_null(sj.dedicated_brand_id),
    )
    account = sj.group_by(["account_id", "period"]).aggregate(
        brand_id=sj.account_brand_id.max(),
        uv=sj.uv.sum(),
        watch_hours=sj.watch_hours.sum(),
        orders=sj.orders.sum(),
        live_gmv=sj.live_gmv.sum(),
    )
    return (
        _base(brand, "brand", "brand_id")
        .union(_base(account, "account", "account_id", account_id=account.account_id))
        .union(
            _base(
                sj,
                "session",
                "session_id",
                account_id=sj.account_id,
                started_at=sj.started_at.cast("timestamp"),
            )
        )
    )


def decompose_drivers(base: ir.Table, same_days: ir.Table | None = None) -> ir.Table:
    """``m_gmv_drivers`` from the tree's sums: drivers, previous values, LMDI contributions.

    The comparison is the previous calendar month of the same brand or account (no comparison
    when the entity had no sessions that month), and the same account's previous session for a
    session. ``same_days`` (:func:`same_days_base`) replaces the comparison of a month the data
    ends inside with the same days of the month before (``compared_days``).
    """
    t = _tree(base)
    monthly = t.filter(t.level != "session")
    w = ibis.window(group_by=["level", "entity_id"], order_by="period")
    consecutive = _month_index(monthly.period) - _month_index(monthly.period).lag().over(w) == 1
    monthly = _decompose(monthly, w, consecutive, same_days)
    sessions = t.filter(t.level == "session")
    ws = ibis.window(group_by="account_id", order_by=["started_at", "entity_id"])
    sessions = _decompose(sessions, ws, None)
    return monthly.select(*COLUMNS).union(sessions.select(*COLUMNS))


def decompose_since(
    stored: ir.Table, base_new: ir.Table, cut: date, same_days: ir.Table | None = None
) -> ir.Table:
    """The decomposed rows of months from ``cut`` on, given the stored tree of earlier months.

    ``base_new`` holds the tree's sums (BASE_COLUMNS) of every session started since ``cut`` and
    of every month since ``cut``. The comparison rows come from ``stored``: the month before
    ``cut`` for brands and accounts, and each account's last session before ``cut`` (however old):
    exactly what the full decomposition would compare the new rows with.
    """
    prev_month = date(cut.year - (cut.month == 1), (cut.month - 2) % 12 + 1, 1)
    old = stored.select(*BASE_COLUMNS).cast(base_new.schema())
    monthly = old.filter((old.level != "session") & (old.period == ibis.date(prev_month)))
    sess = old.filter((old.level == "session") & (old.period < ibis.date(cut)))
    sess = sess.mutate(_last=sess.started_at.max().over(ibis.window(group_by="account_id")))
    last = sess.filter(sess.started_at == sess._last).drop("_last")
    out = decompose_drivers(monthly.union(last).union(base_new), same_days)
    return out.filter(out.period >= ibis.date(cut))


def gmv_drivers(src: Sources, facts: ir.Table, to_date: ToDate | None = None) -> ir.Table:
    """``m_gmv_drivers``: the driver tree and its LMDI decomposition at every level."""
    same = same_days_base(src, facts, to_date) if to_date is not None else None
    return decompose_drivers(driver_base(src, facts), same)


@dataclass(frozen=True)
class ToDate:
    """The month the data ends inside: its first day and the days it covers."""

    period: date
    days: int

    @property
    def previous(self) -> tuple[date, date]:
        """First day of the month before, and the day after its first ``days`` days (capped
        at that month's end)."""
        p0 = date(self.period.year - (self.period.month == 1), (self.period.month - 2) % 12 + 1, 1)
        return p0, min(p0 + timedelta(days=self.days), self.period)

    @classmethod
    def of(cls, first_day: date, last_day: date) -> ToDate | None:
        """The to-date month of data from ``first_day`` to ``last_day``, if it has one to
        compare: the data ends before the month's last day and covers the month before."""
        period = last_day.replace(day=1)
        if (last_day + timedelta(days=1)).month == last_day.month and first_day < period:
            return cls(period, last_day.day)
        return None


def same_days_base(src: Sources, facts: ir.Table, to_date: ToDate) -> ir.Table:
    """The brand and account sums of the previous month's first ``to_date.days`` days, keyed by
    the to-date month (the comparison :func:`decompose_drivers` uses for it)."""
    lo, hi = to_date.previous
    cut = driver_base(
        src,
        facts,
        ibis.timestamp(datetime.combine(lo, time())),
        until=ibis.timestamp(datetime.combine(hi, time())),
    )
    cut = cut.filter(cut.level != "session")
    return cut.mutate(
        period=ibis.date(to_date.period), compared_days=ibis.literal(to_date.days, "int64")
    )


# -- the buyer-side tree -------------------------------------------------------------------------
#: Columns of ``m_gmv_buyer_drivers``.
BUYER_COLUMNS = (
    "brand_id",
    "period",
    "buyers",
    "orders",
    "net_gmv",
    "orders_per_buyer",
    "aov",
    "prev_buyers",
    "prev_orders",
    "prev_net_gmv",
    "prev_orders_per_buyer",
    "prev_aov",
    "delta_gmv",
    *BUYER_CONTRIBUTIONS,
    "decomposable",
    "compared_days",
)


def buyer_drivers(
    month: ir.Table, since: date | None = None, same_days: ir.Table | None = None
) -> ir.Table:
    """``m_gmv_buyer_drivers``: net GMV = buyers × orders per buyer × AOV per brand × month,
    against the brand's previous calendar month, with its LMDI-I contributions.

    ``month`` is ``m_brand_month`` (brand_id, period, buyers, orders, net_gmv), so the tree reads
    the month table's exact counts and money rather than the orders again. ``since`` (a month's
    first day) keeps the rows from that month on; ``month`` must then still hold the month before
    it, the comparison of the first row. A row is decomposable when buyers, orders and net GMV
    are positive in both months (a brand with refunds only has no positive GMV to split).
    ``same_days`` (:func:`same_days_buyers`) compares a month the data ends inside with the same
    days of the month before (``compared_days``).
    """
    m = month.select("brand_id", "period", "buyers", "orders", "net_gmv")
    if since is not None:
        prev_month = date(since.year - (since.month == 1), (since.month - 2) % 12 + 1, 1)
        m = m.filter(m.period >= ibis.date(prev_month))
    m = m.mutate(
        orders_per_buyer=ratio(m.orders, m.buyers),
        aov=ratio(m.net_gmv, m.orders),
    )
    w = ibis.window(group_by="brand_id", order_by="period")
    consecutive = (_month_index(m.period) - _month_index(m.period).lag().over(w)) == 1
    cols = ("buyers", "orders", "net_gmv", "orders_per_buyer", "aov")
    m = m.mutate(
        **{
            f"prev_{c}": ibis.cases((consecutive, m[c].lag().over(w)), else_=ibis.null(m[c].type()))
            for c in cols
        },
        compared_days=ibis.null("int64"),
    )
    if same_days is not None:
        same = same_days.mutate(
            orders_per_buyer=ratio(same_days.orders, same_days.buyers),
            aov=ratio(same_days.net_gmv, same_days.orders),
        )
        m = _compare_same_days(m, same, ("brand_id", "period"), cols)
    ok = m.buyers > 0
    for c in ("orders", "net_gmv", "prev_buyers", "prev_orders", "prev_net_gmv"):
        ok = ok & (m[c].cast("float64") > 0)
    ok = ok.fill_null(False)
    v1 = m.net_gmv.cast("float64")
    v0 = m.prev_net_gmv.cast("float64")
    weight = ibis.cases((v1 == v0, v1), else_=(v1 - v0) / (v1.ln() - v0.ln()))
    contrib = {
        name: ibis.cases(
            (ok, weight * (m[d].cast("float64") / m[f"prev_{d}"].cast("float64")).ln()),
            else_=ibis.null("float64"),
        )
        for name, d in zip(BUYER_CONTRIBUTIONS, BUYER_DRIVERS, strict=True)
    }
    out = m.select(
        "brand_id",
        "period",
        buyers=m.buyers.cast("int64"),
        orders=m.orders.cast("int64"),
        net_gmv=money(m.net_gmv),
        orders_per_buyer=m.orders_per_buyer,
        aov=m.aov,
        prev_buyers=m.prev_buyers.cast("int64"),
        prev_orders=m.prev_orders.cast("int64"),
        prev_net_gmv=m.prev_net_gmv.cast(MONEY),
        prev_orders_per_buyer=m.prev_orders_per_buyer,
        prev_aov=m.prev_aov,
        delta_gmv=(m.net_gmv - m.prev_net_gmv).cast(MONEY),
        **contrib,
        decomposable=ok,
        compared_days=m.compared_days,
    )
    if since is not None:
        out = out.filter(out.period >= ibis.date(since))
    return out.select(*BUYER_COLUMNS)


def same_days_buyers(day: ir.Table, buyer_days: ir.Table, to_date: ToDate) -> ir.Table:
    """Buyers, orders and net GMV of each brand over the previous month's first ``to_date.days``
    days, keyed by the to-date month: ``day`` is ``m_brand_day``, ``buyer_days`` the buyer
    base (one row per buyer × brand × day of purchase)."""
    lo, hi = to_date.previous
    d = day.filter((day.period >= ibis.date(lo)) & (day.period < ibis.date(hi)))
    sums = d.group_by("brand_id").aggregate(orders=d.orders.sum(), net_gmv=d.net_gmv.sum())
    b = buyer_days.filter((buyer_days.day >= ibis.date(lo)) & (buyer_days.day < ibis.date(hi)))
    buyers = b.group_by("brand_id").aggregate(buyers=b.buyer_id.nunique())
    j = attach(sums, buyers, ["brand_id"])
    return j.select(
        "brand_id",
        period=ibis.date(to_date.period),
        buyers=j.buyers.fill_null(0),
        orders=j.orders,
        net_gmv=j.net_gmv,
        compared_days=ibis.literal(to_date.days, "int64"),
    )
