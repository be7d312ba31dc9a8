"""Writes scoped like reads: the brands an imported file writes for must be in the caller's scope.

An operator may write only its portfolio's brands. A row writes for a brand through its own
``brand_id`` or ``dedicated_brand_id``, through the brand of the account or order it references
(a live session or a follow of a brand account, a review of an order), and through the row it
replaces: a key already in the warehouse belongs to that row's brand, so an order id of another
brand cannot be taken over by a row naming one's own. Rows that name no brand (influencer
accounts and their sessions, factories) are shared data and pass.

The check runs inside the import's transaction, once each file is staged (the loader's
``staged`` event), so the brands of the batch's earlier files are already visible; a file with
a brand outside the scope stops the batch and nothing of it lands (see docs/security.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from windmaker import contract
from windmaker.ingest.coercion import quote_ident
from windmaker.ingest.loader import STAGE
from windmaker.ingest.validation import REASON, link_columns
from windmaker.services.errors import ServiceError

#: How a row of each table names the brands it writes for: a brand column of its own, or
#: (column, table) the brand of the referenced row of ``table``.
BRAND_PATHS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "brands": (("brand_id", None),),
    "skus": (("brand_id", None),),
    "accounts": (("brand_id", None),),
    "live_sessions": (("dedicated_brand_id", None), ("account_id", "accounts")),
    "orders": (("brand_id", None),),
    "ad_spend": (("brand_id", None),),
    "reviews": (("order_id", "orders"),),
    "follows": (("account_id", "accounts"),),
}
#: Brands named in a refusal (the rest are counted).
SHOWN = 5


class OutsideScope(Exception):
    """A staged file writes for ``brands`` outside the caller's scope (stops the batch)."""

    def __init__(self, brands: list[str]) -> None:
        super().__init__(f"brand {', '.join(brands)} is outside your portfolio")
        self.brands = brands


def _brands_of(table: str, rows: str) -> list[str]:
    """SELECTs of the brand each row of ``rows`` (aliased ``r``) writes for."""
    parts = []
    for column, via in BRAND_PATHS[table]:
        if via is None:
            parts.append(f"SELECT r.{quote_ident(column)} AS b FROM {rows} AS r")
        else:
            key = quote_ident(contract.table(via).key[0])
            parts.append(
                f"SELECT v.brand_id AS b FROM {rows} AS r "
                f"JOIN {quote_ident(via)} AS v ON v.{key} = r.{quote_ident(column)}"
            )
    return parts


def brands_written_sql(table: str) -> str | None:
    """The distinct brands the staged, valid rows of ``table`` write for, new or replaced;
    None for a table whose rows name no brand."""
    if table not in BRAND_PATHS:
        return None
    tbl = contract.table(table)
    staged = f"(SELECT * FROM {STAGE} WHERE {REASON} IS NULL)"
    keys = ", ".join(quote_ident(k) for k in tbl.key)
    on = " AND ".join(f"t.{quote_ident(k)} = s.{quote_ident(k)}" for k in tbl.key)
    replaced = (
        f"(SELECT t.* FROM {quote_ident(table)} AS t "
        f"JOIN (SELECT DISTINCT {keys} FROM {staged}) AS s ON {on})"
    )
    parts = _brands_of(table, staged) + _brands_of(table, replaced)
    return f"SELECT DISTINCT b FROM ({' UNION ALL '.join(parts)}) WHERE b IS NOT NULL ORDER BY b"


def staged_table(con: Any) -> str | None:
    """The contract table of the file in staging, told by the typed columns the stage keeps
    (its key and foreign keys, :func:`~windmaker.ingest.validation.link_columns`, or all of
    them)."""
    columns = {
        str(row[0])
        for row in con.execute(f"DESCRIBE {STAGE}").fetchall()
        if not str(row[0]).startswith("__")
    }
    return next(
        (
            t.name
            for t in contract.TABLES
            if columns in (set(link_columns(t)), {c.name for c in t.columns})
        ),
        None,
    )


def scope_guard(con: Any, scope: frozenset[str]) -> Callable[[str, Path], None]:
    """The loader's ``on_event`` that stops a batch writing for a brand outside ``scope``."""

    def on_event(event: str, path: Path) -> None:
        if event != "staged":
            return
        table = staged_table(con)
        sql = brands_written_sql(table) if table else None
        if sql is None:
            return
        outside = [str(b) for (b,) in con.execute(sql).fetchall() if str(b) not in scope]
        if outside:
            raise OutsideScope(outside)

    return on_event


def refusal(exc: OutsideScope) -> ServiceError:
    """The caller's refusal: 403 naming the first brands outside the scope."""
    shown = ", ".join(exc.brands[:SHOWN])
    if len(exc.brands) > SHOWN:
        shown += f" (+{len(exc.brands) - SHOWN})"
    return ServiceError("outside_scope", 403, brands=shown, reason=str(exc))
