"""P — private domain (私域经营复购): repeat buyers, followers' GMV, fan growth, cohort retention.

Per brand × period:

- ``repurchase_rate`` (复购率, as the platforms define it): ``repeat_buyers / buyers``, where
  ``repeat_buyers`` are the period's buyers with two or more purchases from the brand in the
  period (orders paid in the same second are one purchase: one basket). On a day row it is the
  buyers who bought twice that day; on week and month rows, twice in the week or month. Null
  when there are no buyers;
- ``repurchase_rate_{N}d`` (N = 90, 180), the *returned-within-N-days* rate (N天内回购率): the
  share of the period's buyers whose purchase in the period was a repurchase — buyers ``b`` of
  the brand in period ``P`` with an order ``o`` in ``P`` and an earlier order ``o′`` of the same
  brand (any period, not cancelled) with ``o.paid_at − N days ≤ o′.paid_at < o.paid_at``, divided
  by ``buyers``. It looks back, so the latest period is as complete as any other and new orders
  change only their own periods; a buyer's first order from a brand is never a repurchase (null
  when there are no buyers). Unlike ``repurchase_rate`` it counts a buyer whose earlier order
  came in a previous period;
- ``follower_gmv = Σ net`` over orders reached through ``traffic_source = 'follow'`` (the follow
  page and fans group); ``follower_gmv_share = follower_gmv / net_gmv``;
- ``new_follows = count(follows)`` of the brand's own accounts with ``followed_at`` in the
  period.

And per brand × first-purchase month (cohort) × month, :func:`cohort_retention`; per brand × day,
the platform rate over the trailing 90 days (:func:`trailing_repurchase`).
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from windmaker.metrics.gmv import REPEAT_WINDOWS_DAYS, attach, ratio, sum_where
from windmaker.metrics.periods import Grain, period_of, period_table
from windmaker.metrics.sources import Sources

COLUMNS = (
    "repurchase_rate",
    "repurchase_rate_90d",
    "repurchase_rate_180d",
    "follower_gmv",
    "follower_gmv_share",
    "new_follows",
)
SUPPORT = ("repeat_buyers", *(f"repeat_buyers_{n}d" for n in REPEAT_WINDOWS_DAYS))


def order_measures(f: ir.Table) -> dict[str, ir.Scalar]:
    """Additive reductions over order facts: follower_gmv."""
    return {"follower_gmv": sum_where(f.net, f.traffic_source == "follow")}


#: The columns of :func:`buyer_days` (a stored base: a refresh that finds others starts over).
BUYER_DAY_COLUMNS = (
    "brand_id",
    "buyer_id",
    "day",
    "last_at",
    *(f"repeat_{n}d" for n in REPEAT_WINDOWS_DAYS),
    "penult_day",
    "cohort",
    "new_week",
    "new_month",
)


def buyer_days(facts: ir.Table, prior: ir.Table | None = None) -> ir.Table:
    """One row per brand × buyer × day with an order: the base of buyers, repeats and cohorts.

    Columns: brand_id, buyer_id, day, last_at (the day's last order time), repeat_90d,
    repeat_180d, penult_day, cohort, new_week, new_month. With ``first_at``/``last_at`` the day's
    first and last order times and ``prev`` the buyer's last order time at the brand on an
    earlier day:

        repeat_Nd  = first_at < last_at  or  first_at ≤ prev + N days
        penult_day = day  if first_at < last_at  else  date(prev)

    ``repeat_Nd`` is "some order of the day came within N days after an earlier order of the same
    buyer at the same brand" (two orders paid in the same second are one basket, not a
    repurchase: the same-day case needs two distinct times). ``penult_day`` is the day of the
    buyer's second-to-last purchase at the brand up to this day (null after a single purchase):
    the buyer has two purchases in a period (or window) ending on or after the day exactly when
    ``penult_day`` falls inside it, which is what :func:`buyer_counts` and
    :func:`trailing_repurchase` count. ``cohort`` is the month of the buyer's first order
    at the brand. ``new_week`` / ``new_month``: the day is the buyer's first at the brand in its
    week / month (``prev`` is null or in an earlier week / month), so a week's or month's
    buyers are a count of flagged rows rather than a distinct count over all of them.

    ``prior`` (:func:`buyer_prior`) carries what came before the facts' first day, so a refresh
    can flag new days without re-reading older orders; its ``prior_repeat_*`` and
    ``prior_penult_day`` columns are passed through.
    """
    f = facts.select("brand_id", "buyer_id", "paid_at", day=facts.paid_at.date())
    g = f.group_by(["brand_id", "buyer_id", "day"]).aggregate(
        first_at=f.paid_at.min(), last_at=f.paid_at.max()
    )
    w = ibis.window(group_by=["brand_id", "buyer_id"], order_by="day")
    g = g.mutate(prev=g.last_at.lag().over(w), first_day=g.day.first().over(w))
    cohort = period_of(g.first_day, "month")
    if prior is not None:
        j = g.left_join(prior, ["brand_id", "buyer_id"])
        j = j.drop(*[c for c in j.columns if c.endswith("_right")])
        g = j.mutate(prev=j.prev.fill_null(j.prev_last_at))
        cohort = j.prior_cohort.fill_null(period_of(j.first_day, "month"))
    flags = {
        f"repeat_{n}d": (
            (g.first_at < g.last_at)
            | (g.prev.notnull() & (g.first_at <= g.prev + ibis.interval(days=n)))
        ).fill_null(False)
        for n in REPEAT_WINDOWS_DAYS
    }
    # The previous day is in the same week (month) as the day when it is no further back than
    # the day's weekday (Monday = 0) (day of the month − 1): one day difference instead of week
    # and month numbers of both days. On 19M buyer days the flags cost 0.4 s of CPU this way,
    # 1.1 s as numbers (integer division compiles to a floating FLOOR) and more as DATE_TRUNCs.
    back = g.day.delta(g.prev.date(), unit="day")
    since_start = {"week": g.day.day_of_week.index(), "month": g.day.day() - 1}
    new = {
        f"new_{grain}": (g.prev.isnull() | (back > start)).fill_null(True)
        for grain, start in since_start.items()
    }
    penult = ibis.ifelse(g.first_at < g.last_at, g.day, g.prev.date())
    carried = [c for c in g.columns if c.startswith("prior_repeat_") or c == "prior_penult_day"]
    return g.select(
        "brand_id",
        "buyer_id",
        "day",
        "last_at",
        **flags,
        penult_day=penult,
        cohort=cohort,
        **new,
        **{c: g[c] for c in carried},
    )


def buyer_prior(stored: ir.Table, facts: ir.Table, before: ir.Value) -> ir.Table:
    """For the buyers of ``facts``: their last order time and cohort from stored buyer days.

    ``stored`` is :func:`buyer_days` as kept by the refresh; only its days before ``before``
    count. The result is the ``prior`` of :func:`buyer_days`, with each buyer's last stored
    repeat day per window (``prior_repeat_{N}d_day``) and the day of its second-to-last stored
    purchase (``prior_penult_day``), for :func:`buyer_counts_added`.
    """
    keys = facts.select("brand_id", "buyer_id").distinct()
    old = stored.filter(stored.day < before).semi_join(keys, ["brand_id", "buyer_id"])
    return old.group_by(["brand_id", "buyer_id"]).aggregate(
        prev_last_at=old.last_at.max(),
        prior_cohort=old.cohort.min(),
        prior_penult_day=old.penult_day.max(),
        **{
            f"prior_repeat_{n}d_day": old.day.max(where=old[f"repeat_{n}d"])
            for n in REPEAT_WINDOWS_DAYS
        },
    )


def buyer_counts(days: ir.Table, grain: Grain) -> ir.Table:
    """Per brand × period, from :func:`buyer_days`: buyers, repeat_buyers (two or more purchases
    in the period) and repeat_buyers_{N}d (the buyers with a repeat day in the period).

    A day's rows are one per buyer; a week's or month's buyers are its rows flagged
    ``new_week`` / ``new_month``. A buyer has two purchases in the period when, on one of its
    days there, ``penult_day`` is inside the period. Repeat buyers are counted distinct among the
    repeat days only: the flags grow with N (a repurchase within 90 days is one within 180), so
    the days flagged for the longest window hold every repeat buyer, and every day with two
    purchases in its week or month (a second purchase at most 31 days after the first).
    """
    repeat = {f"repeat_buyers_{n}d": f"repeat_{n}d" for n in REPEAT_WINDOWS_DAYS}
    if grain == "day":
        d = days.select("brand_id", *repeat.values(), "penult_day", period=days.day)
        return d.group_by(["brand_id", "period"]).aggregate(
            buyers=d.count(),
            repeat_buyers=d.count(where=(d.penult_day >= d.period).fill_null(False)),
            **{name: d.count(where=d[c]) for name, c in repeat.items()},
        )
    new = days.filter(days[f"new_{grain}"])
    new = new.select("brand_id", period=period_of(new.day, grain))
    buyers = new.group_by(["brand_id", "period"]).aggregate(buyers=new.count())
    widest = days.filter(days[f"repeat_{max(REPEAT_WINDOWS_DAYS)}d"])
    widest = widest.select(
        "brand_id",
        "buyer_id",
        *repeat.values(),
        "penult_day",
        period=period_of(widest.day, grain),
    )
    per_buyer = widest.group_by(["brand_id", "period", "buyer_id"]).aggregate(
        twice=(widest.penult_day >= widest.period).fill_null(False).any(),
        **{c: widest[c].any() for c in repeat.values()},
    )
    repeats = per_buyer.group_by(["brand_id", "period"]).aggregate(
        repeat_buyers=per_buyer.count(where=per_buyer.twice),
        **{name: per_buyer.count(where=per_buyer[c]) for name, c in repeat.items()},
    )
    return attach(buyers, repeats, ["brand_id", "period"])


#: The buyer counts of a brand × period row (:func:`buyer_counts`).
BUYER_COUNT_COLUMNS = (
    "buyers",
    "repeat_buyers",
    *(f"repeat_buyers_{n}d" for n in REPEAT_WINDOWS_DAYS),
)


def buyer_counts_added(stored: ir.Table, new_days: ir.Table, grain: Grain) -> ir.Table:
    """:func:`buyer_counts` of the periods ``stored`` holds, updated with buyer days that all come
    after the stored ones: no distinct count over the periods' earlier buyer days.

    ``stored`` (brand_id, period, :data:`BUYER_COUNT_COLUMNS`) are the periods as computed
    before; ``new_days`` are :func:`buyer_days` of the new orders with a ``prior``, so they carry
    ``new_week``/``new_month`` against the stored days, each buyer's last stored repeat day and
    the day of its second-to-last stored purchase. A buyer adds to a period's buyers when its
    first day there is new (flagged ``new_*``); to its repeat buyers when a new day there has
    ``penult_day`` in the period and its stored purchases had not already put it there
    (``prior_penult_day`` before the period); to its repeat_buyers_{N}d when it repeats on a new
    day there and had no stored repeat day in the period. Periods without stored rows start
    from zero.
    """
    repeat = {f"repeat_buyers_{n}d": n for n in REPEAT_WINDOWS_DAYS}
    cols = list(BUYER_COUNT_COLUMNS)
    d = new_days.mutate(period=period_of(new_days.day, grain))
    per_buyer = d.group_by(["brand_id", "buyer_id", "period"]).aggregate(
        is_new=d[f"new_{grain}"].any(),
        twice=(d.penult_day >= d.period).fill_null(False).any(),
        twice_before=d.prior_penult_day.max(),
        **{f"r{n}": d[f"repeat_{n}d"].any() for n in REPEAT_WINDOWS_DAYS},
        **{f"before_{n}": d[f"prior_repeat_{n}d_day"].max() for n in REPEAT_WINDOWS_DAYS},
    )
    counted_before = {
        n: per_buyer[f"before_{n}"].notnull() & (per_buyer[f"before_{n}"] >= per_buyer.period)
        for n in REPEAT_WINDOWS_DAYS
    }
    twice_before = per_buyer.twice_before.notnull() & (per_buyer.twice_before >= per_buyer.period)
    added = per_buyer.group_by(["brand_id", "period"]).aggregate(
        buyers=per_buyer.count(where=per_buyer.is_new),
        repeat_buyers=per_buyer.count(where=per_buyer.twice & ~twice_before),
        **{
            name: per_buyer.count(where=per_buyer[f"r{n}"] & ~counted_before[n])
            for name, n in repeat.items()
        },
    )
    u = stored.select("brand_id", "period", *(stored[c].cast("int64") for c in cols)).union(
        added.select("brand_id", "period", *(added[c].cast("int64") for c in cols))
    )
    return u.group_by(["brand_id", "period"]).aggregate(**{c: u[c].sum() for c in cols})


#: Days of the trailing window of :func:`trailing_repurchase` (近90天复购率).
TRAILING_REPURCHASE_DAYS = 90


def trailing_repurchase(
    days: ir.Table, first_day: date, last_day: date, window: int = TRAILING_REPURCHASE_DAYS
) -> ir.Table:
    """The platform 复购率 over the ``window`` days ending on each day: per brand × day from
    ``first_day`` to ``last_day``, ``buyers_t{window}d`` (buyers with a purchase in the window),
    ``repeat_buyers_t{window}d`` (those with two or more purchases in it) and
    ``repurchase_rate_t{window}d`` (their ratio, null without buyers).

    ``days`` is :func:`buyer_days`; only its rows from ``first_day − window`` on are read, so a
    refresh of the latest days reads a window's worth of stored buyer days, never all of them.
    A buyer counts on day E when a purchase falls in [E − window + 1, E], and twice when its
    second-to-last purchase up to E (``penult_day`` of its last day ≤ E) does. So each buyer
    day d covers, for the buyer count, the days [max(d, prev + window), d + window − 1] and,
    for the repeat count, [max(d, prev_penult + window), penult_day + window − 1] (``prev`` /
    ``prev_penult``: the buyer's previous day and its ``penult_day``): the days its purchases
    add to the buyer's earlier days. The pieces of one buyer do not overlap, so a day's counts
    are sums of +1 where a piece starts and −1 after it ends, accumulated over the days: no
    distinct count over a window per day.
    """
    lo = ibis.date(first_day - timedelta(days=window))
    d = days.filter(days.day >= lo).select("brand_id", "buyer_id", "day", "penult_day")
    w = ibis.window(group_by=["brand_id", "buyer_id"], order_by="day")
    d = d.mutate(prev_day=d.day.lag().over(w), prev_penult=d.penult_day.lag().over(w))
    span = ibis.interval(days=window)
    first = ibis.date(first_day)

    def _at(x: ir.DateValue) -> ir.DateValue:
        # events before the first day are all counted on it (a running total from there)
        return ibis.greatest(x, first)

    b_start = ibis.greatest(d.day, (d.prev_day + span).fill_null(d.day))
    r_start = ibis.greatest(d.day, (d.prev_penult + span).fill_null(d.day))
    r_stop = d.penult_day + span  # the day after the piece
    events = [
        d.select("brand_id", day=_at(b_start), db=ibis.literal(1), dr=ibis.literal(0)),
        d.select("brand_id", day=_at(d.day + span), db=ibis.literal(-1), dr=ibis.literal(0)),
    ]
    r = d.filter(d.penult_day.notnull() & (r_start < r_stop))
    events += [
        r.select("brand_id", day=_at(r_start), db=ibis.literal(0), dr=ibis.literal(1)),
        r.select("brand_id", day=_at(r_stop), db=ibis.literal(0), dr=ibis.literal(-1)),
    ]
    ev = ibis.union(*events)
    ev = ev.filter(ev.day <= ibis.date(last_day))
    per_day = ev.group_by(["brand_id", "day"]).aggregate(
        db=ev.db.cast("int64").sum(), dr=ev.dr.cast("int64").sum()
    )
    grid = (
        per_day.select("brand_id")
        .distinct()
        .cross_join(period_table(first_day, last_day, "day").select(day="period"))
    )
    g = attach(grid, per_day, ["brand_id", "day"])
    run = ibis.window(group_by="brand_id", order_by="day", preceding=None, following=0)
    buyers = g.db.fill_null(0).sum().over(run)
    repeat = g.dr.fill_null(0).sum().over(run)
    out = g.select(
        "brand_id",
        period=g.day,
        **{
            f"buyers_t{window}d": buyers.cast("int64"),
            f"repeat_buyers_t{window}d": repeat.cast("int64"),
        },
    )
    return out.mutate(
        **{
            f"repurchase_rate_t{window}d": ratio(
                out[f"repeat_buyers_t{window}d"], out[f"buyers_t{window}d"]
            )
        }
    )


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
    out: dict[str, ir.Value] = {"repurchase_rate": ratio(t.repeat_buyers, t.buyers)}
    out.update(
        {
            f"repurchase_rate_{n}d": ratio(t[f"repeat_buyers_{n}d"], t.buyers)
            for n in REPEAT_WINDOWS_DAYS
        }
    )
    out["follower_gmv_share"] = ratio(t.follower_gmv, t.net_gmv)
    return out


def cohort_counts(days: ir.Table) -> ir.Table:
    """Active buyers per brand × cohort × month, from :func:`buyer_days` (a buyer's first day
    in a month, ``new_month``, counts it once)."""
    active = days.filter(days.new_month)
    active = active.select("brand_id", "cohort", period=period_of(active.day, "month"))
    return active.group_by(["brand_id", "cohort", "period"]).aggregate(active_buyers=active.count())


def cohort_counts_added(stored: ir.Table, new_days: ir.Table) -> ir.Table:
    """:func:`cohort_counts` of the months ``stored`` holds (brand_id, cohort, period,
    active_buyers), updated with buyer days that all come after the stored ones: a buyer's
    first new day in a month (``new_month``) is one more active buyer of its cohort there."""
    added = cohort_counts(new_days)
    cols = ("brand_id", "cohort", "period")
    u = stored.select(*cols, active_buyers=stored.active_buyers.cast("int64")).union(
        added.select(*cols, active_buyers=added.active_buyers.cast("int64"))
    )
    return u.group_by(list(cols)).aggregate(active_buyers=u.active_buyers.sum())


def cohort_retention(counts: ir.Table, sizes: ir.Table | None = None) -> ir.Table:
    """Cohort retention by first-purchase month (``m_cohort_retention``).

    For brand ``B``, cohort ``c`` (the buyers whose first non-cancelled order from ``B`` was in
    month ``c``) and month ``P ≥ c``: ``cohort_buyers`` = size of the cohort, ``active_buyers`` =
    cohort buyers with an order from ``B`` in ``P``, ``retention = active_buyers /
    cohort_buyers``, ``months_since = months from c to P`` (0 = the cohort's own month, where
    retention is 1). Rows exist for (cohort, month) pairs with at least one active buyer.

    ``counts`` is :func:`cohort_counts` of the months to compute. Every buyer of a cohort is
    active in the cohort's own month, so the size is that month's active count; ``sizes``
    (brand_id, cohort, cohort_buyers) supplies the sizes of cohorts older than ``counts``.
    """
    own = counts.filter(counts.period == counts.cohort)
    s = own.select("brand_id", "cohort", cohort_buyers=own.active_buyers.cast("int64"))
    if sizes is not None:
        s = sizes.select("brand_id", "cohort", cohort_buyers=sizes.cohort_buyers.cast("int64"))
        s = s.union(own.select("brand_id", "cohort", cohort_buyers=own.active_buyers.cast("int64")))
    out = counts.inner_join(s, ["brand_id", "cohort"])
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
