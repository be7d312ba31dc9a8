"""The 快手小店 open-platform order JSON, flattened onto the ``orders`` table.

The shape follows the open API's order view (``MerchantOrderInfoView``): camelCase fields,
``oid`` the order id, ``payTime``/``sendTime``/``refundTime`` epoch milliseconds, ``totalFee``
and every other fee in fen, ``orderProductInfoList`` the product lines (``itemId``, ``skuId``,
``num``, ``price``), ``cpsType`` 2 for an order sold by a distributor (分销, an influencer),
``buyerOpenId`` the buyer. Files may hold one order per line, a JSON array of orders, or whole
API responses (``{"result": {"orderInfoList": [...]}}``).

Mapping decisions:

- an order with several product lines becomes one row per line, ``order_id`` = ``oid-N``, the
  paid ``totalFee`` shared across lines in proportion to ``price × num`` (exact in fen);
- the shop (``sellerId``) stands for the brand unless the record carries ``brandId``;
- the selling account is the distributor (``distributorId``/``cpsAuthorId``/``authorId``…) for a
  distribution order, the shop's own account otherwise;
- ``status`` codes of the API (30 paid, 40 shipped, 50/70 completed, 80 closed; the SDK's 2–5)
  become contract codes; an unpaid order (10/1) keeps its number, so it is quarantined as not an
  allowed status; a line whose refund succeeded is ``refunded``;
- the traffic source is not in the order view: ``trafficSource`` when present, else ``other``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

#: Contract columns written for each order line (money in fen, times in epoch ms).
COLUMNS = (
    "order_id",
    "paid_at",
    "brand_id",
    "sku_id",
    "account_id",
    "session_id",
    "buyer_id",
    "traffic_source",
    "quantity",
    "amount",
    "commission",
    "status",
    "refund_amount",
    "refunded_at",
    "promised_ship_by",
    "shipped_at",
)
MONEY_COLUMNS = ("amount", "commission", "refund_amount")

_STATUS = {
    30: "paid",
    40: "shipped",
    50: "completed",
    70: "completed",
    80: "cancelled",
    2: "paid",
    3: "shipped",
    4: "completed",
    5: "cancelled",
}
_STATUS_WORDS = {10: "待付款", 1: "待付款"}
_REFUND_SUCCESS = 4
_DISTRIBUTION = 2
_DISTRIBUTOR_FIELDS = ("distributorId", "cpsAuthorId", "authorId", "promoterId", "kwaimoneyUserId")
_SHOP_FIELDS = ("sellerOpenId", "sellerId")
_ENVELOPE_KEYS = ("result", "data")
_LIST_KEYS = ("orderInfoList", "orderList", "list", "orders")


def looks_like(head: str) -> bool:
    """Whether the start of a JSON file is open-platform orders (``oid`` with ``payTime``...)."""
    return '"oid"' in head and any(
        f'"{k}"' in head for k in ("payTime", "totalFee", "orderProductInfoList")
    )


def iter_orders(path: Path) -> Iterator[dict[str, Any]]:
    """Order objects of ``path``: one per line (streamed), or an array / API response document."""
    with path.open("r", encoding="utf-8-sig") as fh:
        first = ""
        while not first:
            line = fh.readline()
            if not line:
                return
            first = line.strip()
        try:
            obj = json.loads(first)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and "oid" in obj:
            yield obj
            for line in fh:
                if line.strip():
                    yield json.loads(line)
            return
        fh.seek(0)
        doc = json.load(fh)  # an array or an API response: one page, small by construction
    yield from _orders_in(doc)


def _orders_in(doc: Any) -> Iterator[dict[str, Any]]:
    if isinstance(doc, list):
        for item in doc:
            yield from _orders_in(item)
    elif isinstance(doc, dict):
        if "oid" in doc:
            yield doc
            return
        for key in (*_ENVELOPE_KEYS, *_LIST_KEYS):
            if key in doc:
                yield from _orders_in(doc[key])


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _time(value: Any) -> str | None:
    """Epoch ms as text; the API sends 0 for a time that has not happened yet."""
    if value in (None, "", 0, "0"):
        return None
    return str(value)


def _first(record: dict[str, Any], fields: Iterable[str]) -> Any:
    for f in fields:
        if record.get(f) not in (None, "", 0):
            return record[f]
    return None


def _fen(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _shares(total: int, weights: list[int]) -> list[int]:
    """``total`` fen split in proportion to ``weights``; the rounding remainder on the last part."""
    s = sum(weights)
    parts = [total // len(weights)] * len(weights) if s <= 0 else [total * w // s for w in weights]
    parts[-1] += total - sum(parts)
    return parts


def to_rows(orders: Iterable[dict[str, Any]]) -> Iterator[tuple[int, dict[str, str | None]]]:
    """(position of the order, 1-based; one contract row as text) for every product line."""
    for pos, o in enumerate(orders, start=1):
        lines = [p for p in (o.get("orderProductInfoList") or []) if isinstance(p, dict)] or [{}]
        total = _fen(o.get("totalFee"))
        weights = [(_fen(p.get("price")) or 0) * (_fen(p.get("num")) or 1) for p in lines]
        amounts: list[int | None]
        if len(lines) == 1:
            amounts = [total]
        elif total is not None:
            amounts = list(_shares(total, weights))
        else:
            amounts = list(weights)
        distribution = _fen(o.get("cpsType")) == _DISTRIBUTION
        account = _first(o, _DISTRIBUTOR_FIELDS) if distribution else _first(o, _SHOP_FIELDS)
        status_code = _fen(o.get("status"))
        for n, (p, amount) in enumerate(zip(lines, amounts, strict=True), start=1):
            refunded = _fen(p.get("refundStatus")) == _REFUND_SUCCESS
            status: str | None
            if refunded:
                status = "refunded"
            elif status_code is None:
                status = _text(o.get("status"))
            else:
                status = _STATUS.get(status_code) or _STATUS_WORDS.get(
                    status_code, str(status_code)
                )
            refund = _fen(p.get("refundFee")) or _fen(o.get("refundFee"))
            if refunded and refund is None:
                refund = amount
            row = {
                "order_id": _text(o.get("oid")) if len(lines) == 1 else f"{o.get('oid')}-{n}",
                "paid_at": _time(o.get("payTime")),
                "brand_id": _text(_first(o, ("brandId", "sellerId", "sellerOpenId"))),
                "sku_id": _text(_first(p, ("skuId", "itemId")) or _first(o, ("skuId", "itemId"))),
                "account_id": _text(account),
                "session_id": _text(_first(o, ("liveStreamId", "liveId"))),
                "buyer_id": _text(_first(o, ("buyerOpenId", "buyerId"))),
                "traffic_source": _text(o.get("trafficSource")) or "other",
                "quantity": _text(p.get("num") if p else o.get("num")),
                "amount": _text(amount),
                "commission": _text(
                    _first(o, ("cpsCommission", "commission", "estimatedCommission"))
                ),
                "status": status,
                "refund_amount": _text(refund),
                "refunded_at": _time(o.get("refundTime")),
                "promised_ship_by": _time(o.get("promiseTimeStampOfDelivery")),
                "shipped_at": _time(o.get("sendTime")),
            }
            yield pos, row
