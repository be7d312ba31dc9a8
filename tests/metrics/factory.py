"""Small markets for the metric tests, written by the tests (never by the engine under test).

``market()`` builds the nine contract tables as pandas frames (money as ``Decimal``) from a
seeded generator plus hand-placed edge cases:

- ``B3`` sells nothing in February (a brand with no sales in a period);
- every March order of ``B5`` is refunded in full;
- buyer ``U_BOTH`` buys from ``B1`` and ``B2``;
- ``B1`` has orders at 2026-01-31 23:59:59 and 2026-02-01 00:00:00 Shanghai wall clock
  (a period boundary at midnight);
- ``B6`` joins in March and has no orders at all;
- buyer ``U_LONG`` buys from ``B4`` on 2025-10-01 and again 137 days later (a repurchase within
  180 days but not within 90);
- buyer ``U_CROSS`` buys ``B2``'s goods in a live session of ``B1``'s main account (an order sold
  on one brand's own account for another brand: self-operation of neither);
- buyer ``U_BASKET`` pays two ``B3`` orders in the same second (one basket, one purchase).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa

from windmaker import contract
from windmaker.warehouse import Warehouse

START = datetime(2026, 1, 1)
DAYS = 90  # 2026-01-01 .. 2026-03-31

_ARROW = {
    "string": pa.string(),
    "int": pa.int64(),
    "money": pa.decimal128(18, 2),
    "float": pa.float64(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "bool": pa.bool_(),
}


def _yuan(x: float) -> Decimal:
    return Decimal(f"{x:.2f}")


def market(seed: int = 7, n_orders: int = 900) -> dict[str, pd.DataFrame]:
    """The small market: {table name: frame with exactly the contract's columns}."""
    rng = np.random.default_rng(seed)
    brands = pd.DataFrame(
        {
            "brand_id": ["B1", "B2", "B3", "B4", "B5", "B6"],
            "name": ["一号", "二号", "三号", "四号", "五号", "六号"],
            "category": ["beauty", "beauty", "beauty", "food", "food", "food"],
            "origin": ["traditional", "factory_upgraded"] * 3,
            "joined_at": [datetime(2025, 6, 1)] * 5 + [datetime(2026, 3, 10)],
        }
    )
    sold = ["B1", "B2", "B3", "B4", "B5"]
    accounts_rows = []
    for b in brands.brand_id:
        accounts_rows.append((f"{b}_main", "brand_main", b))
        accounts_rows.append((f"{b}_mx", "brand_matrix", b))
    for i in range(1, 6):
        accounts_rows.append((f"I{i}", "influencer", None))
    accounts = pd.DataFrame(accounts_rows, columns=["account_id", "kind", "brand_id"])
    accounts["name"] = accounts.account_id
    accounts["category"] = "mixed"
    accounts["fans"] = rng.integers(100, 10_000, len(accounts))
    accounts["created_at"] = datetime(2025, 1, 1)

    sku_rows = []
    for b in brands.brand_id:
        for k in range(3):
            sku_rows.append((f"{b}_S{k}", b, k == 2))
    skus = pd.DataFrame(sku_rows, columns=["sku_id", "brand_id", "special_supply"])
    skus["factory_id"] = None
    skus["category"] = skus.brand_id.map(dict(zip(brands.brand_id, brands.category, strict=True)))
    skus["list_price"] = [_yuan(50 + 10 * i) for i in range(len(skus))]
    skus["launched_at"] = datetime(2025, 6, 1)

    # Live sessions: each selling account goes live every few days.
    sess_rows = []
    selling = [a for a in accounts.account_id if not a.startswith("B6")]
    for a in selling:
        for d in range(0, DAYS, int(rng.integers(3, 7))):
            start = START + timedelta(days=d, hours=int(rng.integers(8, 21)))
            hours = float(rng.choice([1.0, 1.5, 2.0, 3.0]))
            viewers = int(rng.integers(200, 5000))
            dedicated = None
            if a.startswith("I") and rng.random() < 0.3:
                dedicated = str(rng.choice(sold))
            sess_rows.append(
                (
                    f"S{len(sess_rows):04d}",
                    a,
                    start,
                    start + timedelta(hours=hours),
                    viewers,
                    int(viewers * rng.uniform(60, 600)),
                    dedicated,
                )
            )
    sessions = pd.DataFrame(
        sess_rows,
        columns=[
            "session_id",
            "account_id",
            "started_at",
            "ended_at",
            "viewers",
            "watch_seconds",
            "dedicated_brand_id",
        ],
    )

    # Orders.
    buyers = [f"U{i:03d}" for i in range(120)]
    brand_accounts = {b: [f"{b}_main", f"{b}_mx"] for b in sold}
    rows = []
    for _ in range(n_orders):
        b = str(rng.choice(sold))
        paid = START + timedelta(seconds=int(rng.integers(0, DAYS * 86400)))
        if b == "B3" and paid.month == 2:
            continue
        if rng.random() < 0.55:
            acct = str(rng.choice(brand_accounts[b]))
        else:
            acct = f"I{int(rng.integers(1, 6))}"
        # a live order: a session of the account, when it has one that day
        cand = sessions[
            (sessions.account_id == acct) & (sessions.started_at.dt.date == paid.date())
        ]
        session_id = str(cand.session_id.iloc[0]) if len(cand) and rng.random() < 0.8 else None
        rows.append(_order(rng, len(rows), paid, b, acct, session_id, str(rng.choice(buyers))))
    # Edge cases placed by hand.
    rows.append(
        _order(rng, len(rows), datetime(2026, 1, 31, 23, 59, 59), "B1", "B1_main", None, "U_MID")
    )
    rows.append(
        _order(rng, len(rows), datetime(2026, 2, 1, 0, 0, 0), "B1", "B1_main", None, "U_MID")
    )
    rows.append(_order(rng, len(rows), datetime(2026, 1, 5, 10), "B1", "I1", None, "U_BOTH"))
    rows.append(_order(rng, len(rows), datetime(2026, 1, 6, 10), "B2", "I1", None, "U_BOTH"))
    rows.append(_order(rng, len(rows), datetime(2026, 2, 20, 10), "B2", "B2_main", None, "U_BOTH"))
    rows.append(_order(rng, len(rows), datetime(2025, 10, 1, 12), "B4", "B4_main", None, "U_LONG"))
    rows.append(_order(rng, len(rows), datetime(2026, 2, 15, 12), "B4", "B4_main", None, "U_LONG"))
    b1_live = sessions[
        (sessions.account_id == "B1_main") & (sessions.started_at >= datetime(2026, 2, 1))
    ].iloc[0]
    rows.append(
        _order(
            rng,
            len(rows),
            b1_live.started_at + timedelta(minutes=10),
            "B2",
            "B1_main",
            str(b1_live.session_id),
            "U_CROSS",
        )
    )
    rows.append(_order(rng, len(rows), datetime(2026, 1, 20, 9), "B3", "B3_main", None, "U_BASKET"))
    rows.append(_order(rng, len(rows), datetime(2026, 1, 20, 9), "B3", "B3_mx", None, "U_BASKET"))
    orders = pd.DataFrame(rows)
    fixed = orders.buyer_id.isin(["U_LONG", "U_CROSS", "U_BASKET"])
    orders.loc[fixed, ["status", "refund_amount"]] = ["completed", _yuan(0)]
    orders.loc[fixed, "refunded_at"] = None
    march_b5 = (orders.brand_id == "B5") & (orders.paid_at >= datetime(2026, 3, 1))
    orders.loc[march_b5, "status"] = "refunded"
    orders.loc[march_b5, "refund_amount"] = orders.loc[march_b5, "amount"]
    orders.loc[march_b5, "refunded_at"] = orders.loc[march_b5, "paid_at"] + timedelta(days=2)

    spend_rows = []
    for b in ["B1", "B2", "B4"]:
        for d in range(0, DAYS, 2):
            spend_rows.append(
                (
                    (START + timedelta(days=d)).date(),
                    b,
                    f"C{b}",
                    f"{b}_main",
                    _yuan(float(rng.uniform(50, 500))),
                    int(rng.integers(1000, 5000)),
                    int(rng.integers(10, 900)),
                )
            )
    ad_spend = pd.DataFrame(
        spend_rows,
        columns=["date", "brand_id", "campaign_id", "account_id", "spend", "impressions", "clicks"],
    )

    reviewed = orders[orders.status != "cancelled"].sample(frac=0.4, random_state=seed)
    reviews = pd.DataFrame(
        {
            "review_id": [f"R{i:04d}" for i in range(len(reviewed))],
            "order_id": reviewed.order_id.to_numpy(),
            "created_at": (
                reviewed.paid_at + pd.to_timedelta(rng.integers(0, 10 * 86400, len(reviewed)), "s")
            ).to_numpy(),
            "score": rng.integers(1, 6, len(reviewed)),
            "complaint": rng.choice(list(contract.COMPLAINTS), len(reviewed)),
        }
    )
    follows = pd.DataFrame(
        {
            "buyer_id": buyers[:80],
            "account_id": rng.choice([a for a in accounts.account_id], 80),
            "followed_at": [
                START + timedelta(seconds=int(s)) for s in rng.integers(0, DAYS * 86400, 80)
            ],
        }
    ).drop_duplicates(["buyer_id", "account_id"])
    factories = pd.DataFrame(columns=["factory_id", "name", "region", "category"])
    out = {
        "brands": brands,
        "factories": factories,
        "skus": skus,
        "accounts": accounts,
        "live_sessions": sessions,
        "orders": orders,
        "ad_spend": ad_spend,
        "reviews": reviews,
        "follows": follows,
    }
    return {name: df[list(contract.table(name).column_names)] for name, df in out.items()}


def _order(
    rng: np.random.Generator,
    i: int,
    paid: datetime,
    brand: str,
    account: str,
    session_id: str | None,
    buyer: str,
) -> dict[str, object]:
    amount = float(rng.choice([19.9, 49.0, 99.0, 128.5, 299.0])) * int(rng.integers(1, 3))
    status = str(
        rng.choice(
            ["paid", "shipped", "completed", "completed", "refunded", "cancelled"],
            p=[0.1, 0.2, 0.4, 0.15, 0.1, 0.05],
        )
    )
    refund = 0.0
    refunded_at = None
    if status == "refunded":
        refund = amount if rng.random() < 0.6 else round(amount * 0.3, 2)
        refunded_at = paid + timedelta(days=3)
    promised = paid + timedelta(hours=48)
    shipped = None
    if status in ("shipped", "completed", "refunded") and rng.random() < 0.9:
        shipped = paid + timedelta(hours=float(rng.uniform(2, 80)))
    return {
        "order_id": f"O{i:05d}",
        "paid_at": paid,
        "brand_id": brand,
        "sku_id": f"{brand}_S{int(rng.integers(0, 3))}",
        "account_id": account,
        "session_id": session_id,
        "buyer_id": buyer,
        "traffic_source": str(rng.choice(list(contract.TRAFFIC_SOURCES))),
        "quantity": int(rng.integers(1, 4)),
        "amount": _yuan(amount),
        "commission": _yuan(amount * 0.1 if account.startswith("I") else 0.0),
        "status": status,
        "refund_amount": _yuan(refund),
        "refunded_at": refunded_at,
        "promised_ship_by": promised,
        "shipped_at": shipped,
    }


def to_arrow(name: str, df: pd.DataFrame) -> pa.Table:
    """A frame as an Arrow table with the contract's exact column types."""
    tbl = contract.table(name)
    schema = pa.schema([(c.name, _ARROW[c.dtype]) for c in tbl.columns])
    cols = {}
    for c in tbl.columns:
        values = df[c.name].tolist()
        values = [
            None if (v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT) else v
            for v in values
        ]
        cols[c.name] = pa.array(values, type=_ARROW[c.dtype])
    return pa.table(cols, schema=schema)


def load(wh: Warehouse, tables: dict[str, pd.DataFrame]) -> None:
    """Write the market's tables into ``wh`` (replacing them)."""
    for name, df in tables.items():
        wh.write(name, to_arrow(name, df))


#: Columns that order the rows of a metric table (the ones it has, in this order).
_KEYS = ("level", "entity_id", "brand_id", "sku_id", "cohort", "period", "capability", "metric")


def in_key_order(df: pd.DataFrame) -> pd.DataFrame:
    """A metric table's rows in key order (to compare two runs)."""
    keys = [c for c in _KEYS if c in df.columns]
    return df.sort_values(keys).reset_index(drop=True)


def snapshot(wh: Warehouse) -> dict[str, pd.DataFrame]:
    """Every metric table of ``wh`` as a frame, its rows in key order."""
    from windmaker.metrics.refresh import TABLES

    return {t: in_key_order(wh.to_arrow(wh.table(t)).to_pandas()) for t in TABLES}


def with_late_order(
    market: dict[str, pd.DataFrame], paid_at: datetime, seed: int
) -> tuple[dict[str, pd.DataFrame], str]:
    """The market with one more order of brand B1, paid at ``paid_at`` in B1's last session
    started between 20 and 28 February (months of the driver tree are those of the session
    start), and that order's id."""
    s = market["live_sessions"]
    feb = s[
        (s.started_at >= datetime(2026, 2, 20))
        & (s.started_at < datetime(2026, 3, 1))
        & s.account_id.str.startswith("B1_")
    ]
    sess = feb.iloc[-1]
    o = market["orders"]
    late = _order(
        np.random.default_rng(seed),
        len(o),
        paid_at,
        "B1",
        str(sess.account_id),
        str(sess.session_id),
        "U_LATE",
    )
    late["status"], late["refund_amount"] = "completed", Decimal("0.00")
    out = dict(market)
    out["orders"] = pd.concat([o, pd.DataFrame([late])[o.columns]], ignore_index=True)
    return out, str(late["order_id"])
