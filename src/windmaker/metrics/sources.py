"""The contract tables a metric reads, as Ibis tables (bound to whichever engine holds them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis.expr.types as ir

from windmaker import contract


@dataclass(frozen=True)
class Sources:
    """The contract tables, by name; metric functions take the ones they need from here."""

    brands: ir.Table
    skus: ir.Table
    accounts: ir.Table
    live_sessions: ir.Table
    orders: ir.Table
    ad_spend: ir.Table
    reviews: ir.Table
    follows: ir.Table

    @classmethod
    def of(
        cls, table: Callable[[str], ir.Table], excluded_orders: ir.Table | None = None
    ) -> Sources:
        """Sources from a lookup such as ``Warehouse.table`` (no query runs).

        ``excluded_orders`` (a table with ``order_id``, e.g. the orders flagged as brushing) are
        left out of every metric: a brushed order is not a sale, so it is not GMV, an order or a
        buyer either.
        """
        orders = table(contract.ORDERS.name)
        if excluded_orders is not None:
            orders = orders.anti_join(excluded_orders.select("order_id").distinct(), "order_id")
        return cls(
            brands=table(contract.BRANDS.name),
            skus=table(contract.SKUS.name),
            accounts=table(contract.ACCOUNTS.name),
            live_sessions=table(contract.LIVE_SESSIONS.name),
            orders=orders,
            ad_spend=table(contract.AD_SPEND.name),
            reviews=table(contract.REVIEWS.name),
            follows=table(contract.FOLLOWS.name),
        )

    def brand_accounts(self) -> ir.Table:
        """The brands' own accounts (main + matrix): account_id, brand_id."""
        a = self.accounts
        return a.filter(a.kind.isin(contract.SELF_ACCOUNT_KINDS)).select("account_id", "brand_id")
