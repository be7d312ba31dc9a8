"""What matching reads: monthly aggregates of the contract tables as Ibis expressions, and the
executed frames the model is fitted on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import pandas as pd

from windmaker import contract

INFLUENCER = contract.ACCOUNT_KINDS[2]
#: Complaints that speak to the buyer being misled or sold a bad product.
TRUST_COMPLAINTS = ("quality", "misleading", "fake")


def _month(col: ibis.Value) -> ibis.Value:
    return col.truncate("M").cast("date")


def _live_orders(orders: ibis.Table, accounts: ibis.Table) -> ibis.Table:
    """Influencer orders that were not cancelled, with net GMV and month."""
    infl = accounts.filter(accounts.kind == INFLUENCER).select("account_id")
    o = orders.filter(orders.status != contract.ORDER_STATUSES[4]).semi_join(infl, "account_id")
    refund = o.refund_amount.fill_null(0)
    return o.mutate(
        month=_month(o.paid_at),
        net=(o.amount - refund).cast("float64"),
        refunded=((o.status == contract.ORDER_STATUSES[3]) | (refund > 0)).cast("int64"),
        unit_price=(o.amount.cast("float64") / o.quantity.cast("float64")),
    )


def source_expressions(tables: Mapping[str, ibis.Table]) -> dict[str, ibis.Table]:
    """Monthly aggregates matching needs, as Ibis expressions over the contract tables.

    Returns ``cooperations`` (brand × influencer × month: gmv, orders, commission, amount),
    ``influencer_months`` (influencer × month: viewers, live seconds, orders, GMV, refunds,
    trust complaints, Σ ln p and Σ ln² p of order amounts), ``influencer_categories``
    (influencer × month × SKU category: gmv), ``influencers`` (id, name, category, fans),
    ``brands`` (id, category, price = geometric mean order amount, else median list price) and ``skus`` (id, brand, category, price).
    """
    orders, accounts = tables[contract.ORDERS.name], tables[contract.ACCOUNTS.name]
    sessions, skus = tables[contract.LIVE_SESSIONS.name], tables[contract.SKUS.name]
    reviews, brands = tables[contract.REVIEWS.name], tables[contract.BRANDS.name]
    o = _live_orders(orders, accounts)

    coops = o.group_by(["brand_id", "account_id", "month"]).aggregate(
        gmv=o.net.sum(),
        orders=o.count(),
        commission=o.commission.fill_null(0).cast("float64").sum(),
        amount=o.amount.cast("float64").sum(),
    )

    # The audience's price band is read off what its buyers pay per order (AOV).
    logp = ibis.greatest(o.amount.cast("float64"), 0.01).ln()
    sales = o.group_by(["account_id", "month"]).aggregate(
        orders=o.count(),
        live_orders=o.session_id.notnull().cast("int64").sum(),
        gmv=o.net.sum(),
        refunds=o.refunded.sum(),
        sum_logp=logp.sum(),
        sum_logp2=(logp * logp).sum(),
    )

    infl = accounts.filter(accounts.kind == INFLUENCER)
    s = sessions.semi_join(infl.select("account_id"), "account_id")
    seconds = s.ended_at.epoch_seconds() - s.started_at.epoch_seconds()
    s = s.mutate(month=_month(s.started_at), live_seconds=seconds.cast("float64"))
    live = s.group_by(["account_id", "month"]).aggregate(
        viewers=s.viewers.cast("float64").sum(),
        watch_seconds=s.watch_seconds.cast("float64").sum(),
        live_seconds=s.live_seconds.sum(),
        sessions=s.count(),
    )

    r = reviews.filter(reviews.complaint.isin(TRUST_COMPLAINTS))
    ro = r.join(o.select("order_id", "account_id", "month"), "order_id")
    complaints = ro.group_by(["account_id", "month"]).aggregate(complaints=ro.count())

    cats = o.join(skus.select("sku_id", sku_category=skus.category), "sku_id")
    categories = cats.group_by(["account_id", "month", "sku_category"]).aggregate(
        gmv=cats.net.sum()
    )

    list_price = skus.group_by("brand_id").aggregate(
        list_price=skus.list_price.cast("float64").median()
    )
    paid = orders.filter(orders.status != contract.ORDER_STATUSES[4])
    aov = paid.group_by("brand_id").aggregate(
        log_aov=ibis.greatest(paid.amount.cast("float64"), 0.01).ln().mean()
    )
    brand_tbl = (
        brands.select("brand_id", "category")
        .left_join(list_price, "brand_id")
        .select("brand_id", "category", "list_price")
        .left_join(aov, "brand_id")
    )
    brand_tbl = brand_tbl.mutate(price=brand_tbl.log_aov.exp().fill_null(brand_tbl.list_price))
    return {
        "cooperations": coops,
        "influencer_sales": sales,
        "influencer_live": live,
        "influencer_complaints": complaints,
        "influencer_categories": categories,
        "influencers": infl.select("account_id", "name", "category", "fans"),
        "brands": brand_tbl.select("brand_id", "category", "price"),
        "skus": skus.select(
            "sku_id", "brand_id", "category", price=skus.list_price.cast("float64")
        ),
    }


@dataclass(frozen=True)
class MatchingFrames:
    """The executed monthly aggregates (plain DataFrames) the model is fitted on."""

    cooperations: pd.DataFrame
    influencer_months: pd.DataFrame
    influencer_categories: pd.DataFrame
    influencers: pd.DataFrame
    brands: pd.DataFrame
    skus: pd.DataFrame

    @classmethod
    def from_results(cls, results: Mapping[str, pd.DataFrame]) -> MatchingFrames:
        """Assemble the frames from the executed :func:`source_expressions`."""
        months = results["influencer_sales"].merge(
            results["influencer_live"], on=["account_id", "month"], how="outer"
        )
        months = months.merge(
            results["influencer_complaints"], on=["account_id", "month"], how="left"
        )
        num = [c for c in months.columns if c not in ("account_id", "month")]
        months[num] = months[num].astype("float64").fillna(0.0)
        return cls(
            cooperations=_months(results["cooperations"]),
            influencer_months=_months(months),
            influencer_categories=_months(results["influencer_categories"]),
            influencers=results["influencers"].reset_index(drop=True),
            brands=results["brands"].reset_index(drop=True),
            skus=results["skus"].reset_index(drop=True),
        )

    def before(self, cutoff: pd.Timestamp) -> MatchingFrames:
        """The same frames with only the months before ``cutoff`` (a time split)."""
        return MatchingFrames(
            cooperations=self.cooperations[self.cooperations.month < cutoff],
            influencer_months=self.influencer_months[self.influencer_months.month < cutoff],
            influencer_categories=self.influencer_categories[
                self.influencer_categories.month < cutoff
            ],
            influencers=self.influencers,
            brands=self.brands,
            skus=self.skus,
        )


def _months(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["month"] = pd.to_datetime(out["month"]).astype("datetime64[ns]")
    for col in ("gmv", "commission", "amount", "orders"):
        if col in out:
            out[col] = out[col].astype("float64")
    return out.reset_index(drop=True)
