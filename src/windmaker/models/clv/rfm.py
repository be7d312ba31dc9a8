"""The fit inputs as Ibis expressions: the RFM summary of every buyer, its weighted cells, and the
repeat buyers' spend.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import ibis

from windmaker.models.clv.config import CANCELLED, TIME_UNIT_DAYS


def rfm_summary(
    orders: ibis.Table,
    *,
    observation_end: date,
    time_unit: Literal["day", "week"] = "week",
) -> ibis.Table:
    """RFM summary per brand × buyer from the contract ``orders`` table, over its whole history.

    A purchase occasion is one buyer's net spend with one brand on one calendar day (Shanghai
    wall clock): orders that are ``cancelled`` or fully refunded are dropped, each remaining
    order counts ``amount - refund_amount``, and a day's orders are summed (a zero-amount order
    is still a purchase, as in CDNOW). Over every day up to ``observation_end`` inclusive, with
    ``u`` days per time unit (7 for ``week``):

    - ``frequency`` x = occasions − 1 (repeat purchases);
    - ``recency`` t_x = (last day − first day) / u;
    - ``T`` = (``observation_end`` − first day) / u;
    - ``monetary_value`` = mean net spend of the repeat occasions (null when x = 0), the ``zbar``
      of the Gamma-Gamma model;
    - ``first_purchase``, ``last_purchase`` (dates), ``net_gmv`` (all occasions, summed in the
      engine's exact type for the contract's DECIMAL amounts; nothing is cast here, since
      stored money is the warehouse's money writer's concern).

    This is the summary of Fader, Hardie & Lee (2005) for CDNOW: days as purchase occasions,
    time in weeks. There is deliberately no start date: a window would drop every buyer who did
    not buy inside it (a long-lived brand's dormant fans, the very buyers a re-engagement plan
    is for) and restart the others' age T at its edge, which biases the fit towards recent,
    active buyers. Speed comes from fitting weighted cells (:func:`rfm_cells`), not from
    cutting history.
    """
    unit = TIME_UNIT_DAYS[time_unit]
    day = orders.paid_at.date()
    # A fully refunded order is no purchase; a zero-amount order (a gift, a free sample) is one.
    fully_refunded = (orders.amount > 0) & (orders.refund_amount >= orders.amount)
    o = orders.filter(orders.status != CANCELLED, ~fully_refunded, day <= observation_end)
    occ = (
        o.mutate(day=o.paid_at.date(), net=o.amount - o.refund_amount)
        .group_by(["brand_id", "buyer_id", "day"])
        .aggregate(net=ibis._.net.sum())
    )
    per = occ.group_by(["brand_id", "buyer_id"]).aggregate(
        first_purchase=occ.day.min(),
        last_purchase=occ.day.max(),
        occasions=occ.count(),
        net_gmv=occ.net.sum(),
        first_net=occ.net.argmin(occ.day),
    )
    end = ibis.literal(observation_end, type="date")
    frequency = (per.occasions - 1).cast("int64")
    repeat_net = (per.net_gmv - per.first_net).cast("float64")
    return per.select(
        "brand_id",
        "buyer_id",
        frequency=frequency,
        recency=per.last_purchase.delta(per.first_purchase, unit="day").cast("float64") / unit,
        T=end.delta(per.first_purchase, unit="day").cast("float64") / unit,
        monetary_value=ibis.ifelse(frequency > 0, repeat_net / frequency, ibis.null("float64")),
        first_purchase="first_purchase",
        last_purchase="last_purchase",
        net_gmv=per.net_gmv,
    )


def rfm_cells(rfm: ibis.Table, brands: ibis.Table) -> ibis.Table:
    """Buyers with identical (brand, frequency, recency, T) as one weighted cell: the fit input.

    Columns: brand_id, category, frequency, recency, T, buyers (the weight).
    """
    cat = brands.select("brand_id", "category")
    cells = rfm.group_by(["brand_id", "frequency", "recency", "T"]).aggregate(buyers=rfm.count())
    return cells.left_join(cat, "brand_id").select(
        "brand_id", "category", "frequency", "recency", "T", "buyers"
    )


def repeat_spend(rfm: ibis.Table, brands: ibis.Table) -> ibis.Table:
    """Repeat buyers' (frequency, monetary_value): the Gamma-Gamma fit input."""
    cat = brands.select("brand_id", "category")
    rep = rfm.filter(rfm.frequency > 0, rfm.monetary_value > 0)
    return rep.left_join(cat, "brand_id").select(
        "brand_id", "category", "frequency", "monetary_value"
    )
