"""Drill-down to where the funnel leaks: a brand, its live rooms, their sessions, its
influencers and its products, each with its driver tree judged against two references.

A live level's GMV factors exactly (``metrics.drivers``)::

    GMV = UV × watch hours per UV × orders per watch hour × AOV,   GPM = GMV / UV × 1,000

Sessions count in the window of their start; the orders are the brand's counted orders (not
cancelled, high-confidence brushing left out) sold in them, net of refunds. Which sessions make
a level:

- **brand**: its own accounts' sessions and the influencer sessions dedicated to it (达人专场),
  as in ``m_gmv_drivers`` (a multi-brand influencer room's UV cannot be given to one brand);
- **account**: an own account's sessions, or an influencer's sessions the brand sold in (the
  room's whole UV: brand GMV per 1,000 viewers of the rooms it sold in);
- **session**: one session; **product** (SKU, no watch time): GMV = orders × AOV, with live
  orders per 1,000 viewers of the brand's rooms and the refund rate.

Each driver is labelled against the entity's **own level** (the ``REFERENCE_DAYS`` days before
the window, volumes scaled to the window's days; for a session, the account's average session
of those days) and the **peer median** (the same level among brands of the brand's category in
its GMV size band, :func:`peer_brands`). A driver is *below* a reference when it is more than
``BELOW_THRESHOLD`` under it (for a rate where less is better: over it by that fraction plus
``LOWER_IS_BETTER_SLACK``): below both is ``bad``, below one ``warning``, else ``good``;
``none`` when neither reference exists. The thresholds live here, not in ``metrics.yaml``,
whose model forbids keys it does not know.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from windmaker import contract, numbers, results
from windmaker.i18n import t
from windmaker.metrics.sources import Sources
from windmaker.services.identity import Principal
from windmaker.views import privacy
from windmaker.views.readmodel import ReadModel
from windmaker.warehouse import Warehouse

#: Windows a level can be read over (days up to the data's last day): 近7天 / 近30天.
WINDOWS = (7, 30)
#: Days before the window that make an entity's own level.
REFERENCE_DAYS = 30
#: How far under a reference (as a fraction of it) a driver must be to count as below it.
BELOW_THRESHOLD = 0.10
#: For rates where less is better (refund rate): extra absolute slack before "worse".
LOWER_IS_BETTER_SLACK = 0.01
#: Size bands of trailing-90-day net GMV (yuan): brands of a category in one band are peers.
SIZE_BANDS = (1e5, 1e6, 1e7, 1e8)
#: Fewer same-band brands than this: the whole category is the peer group.
MIN_PEERS = 3
#: A child is named behind a leak only if its own-level GMV is at least this share of its
#: parent's (a room that sold ¥50 last month falling 90% is not where the funnel leaks).
MIN_CHILD_SHARE = 0.05

Label = Literal["good", "warning", "bad", "none"]
SEVERITY: dict[str, int] = {"bad": 3, "warning": 2, "good": 1, "none": 0}
LIVE_DRIVERS = ("uv", "watch_hours_per_uv", "orders_per_watch_hour", "aov", "gpm")
SKU_DRIVERS = ("orders", "orders_per_1k_uv", "aov", "refund_rate")
LOWER_IS_BETTER = frozenset({"refund_rate"})
SUMS = ("uv", "watch_hours", "orders", "gmv")


# -- the pure part -------------------------------------------------------------------------------
def label(
    value: float | None,
    own: float | None,
    peer: float | None,
    *,
    lower_is_better: bool = False,
    threshold: float = BELOW_THRESHOLD,
) -> Label:
    """``bad`` when ``value`` is below both references by more than ``threshold``, ``warning``
    when below one, ``good`` otherwise; ``none`` without a value or without any reference."""
    refs = [r for r in (own, peer) if r is not None]
    if value is None or not refs:
        return "none"

    def below(ref: float) -> bool:
        if lower_is_better:
            return value > ref * (1 + threshold) + LOWER_IS_BETTER_SLACK
        return ref > 0 and value < ref * (1 - threshold)

    under = sum(below(r) for r in refs)
    return "bad" if under == 2 else "warning" if under == 1 else "good"


def tree(uv: float, watch_hours: float, orders: float, gmv: float) -> dict[str, float | None]:
    """The drivers of one set of sums; a driver is None where its denominator is 0."""

    def div(a: float, b: float) -> float | None:
        return float(a) / float(b) if b else None

    return {
        "uv": float(uv),
        "watch_hours_per_uv": div(watch_hours, uv),
        "orders_per_watch_hour": div(orders, watch_hours),
        "aov": div(gmv, orders),
        "gpm": None if not uv else float(gmv) / float(uv) * 1000.0,
    }


def size_band(gmv: float | None) -> int:
    """The index of the size band holding ``gmv`` (no GMV: the smallest band)."""
    return bisect.bisect_right(SIZE_BANDS, float(gmv or 0.0))


@dataclass(frozen=True)
class Peers:
    """The peer brands of a level: ids (never shown), the basis and whether a reader sees it."""

    brand_ids: tuple[str, ...]
    basis: Literal["size_band", "category"]
    shown: bool


def peer_brands(rm: ReadModel, brand_id: str, viewer: Principal | None) -> Peers:
    """Brands of ``brand_id``'s category in its size band (the whole category when the band
    holds fewer than ``MIN_PEERS``); a brand user reads their medians only when at least the
    read model's ``min_category_brands`` make them (:mod:`views.privacy`)."""
    rows = rm.snap.overview_rows
    me = next((r for r in rows if r["brand_id"] == brand_id), None)
    category = me.get("category") if me else None
    same = [r for r in rows if r.get("category") == category and r["brand_id"] != brand_id]
    band = size_band(me.get("net_gmv_t90d") if me else None)
    in_band = [r for r in same if size_band(r.get("net_gmv_t90d")) == band]
    chosen, basis = (in_band, "size_band") if len(in_band) >= MIN_PEERS else (same, "category")
    ids = tuple(sorted(str(r["brand_id"]) for r in chosen))
    shown = bool(ids) and (not privacy.anonymous(viewer) or len(ids) >= rm.min_category_brands)
    return Peers(ids, basis, shown)  # type: ignore[arg-type]


# -- the windows ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """The window read (``days`` to ``as_of``) and the own-level days before it."""

    days: int
    as_of: date

    @property
    def end(self) -> datetime:
        return datetime.combine(self.as_of + timedelta(days=1), datetime.min.time())

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)

    @property
    def ref_start(self) -> datetime:
        return self.start - timedelta(days=REFERENCE_DAYS)

    @property
    def scale(self) -> float:
        """What the own level's volumes are multiplied by to read as the window's days."""
        return self.days / REFERENCE_DAYS


def sources(wh: Warehouse) -> Sources:
    excluded = wh.table(results.BRUSHING_ORDERS) if wh.has_table(results.BRUSHING_ORDERS) else None
    return Sources.of(wh.table, excluded)


def as_of(wh: Warehouse) -> date | None:
    """The data's last day: the day of the latest paid order."""
    o = wh.table(contract.ORDERS.name)
    last = wh.execute(o.paid_at.max())
    return None if last is None or pd.isna(last) else pd.Timestamp(last).date()


# -- the expressions -----------------------------------------------------------------------------
def _tag(ts: ir.TimestampValue, w: Window) -> ir.StringValue:
    return ibis.cases((ts >= ibis.timestamp(w.start), "now"), else_="ref")


def session_rows(src: Sources, brand_ids: Sequence[str], w: Window) -> ir.Table:
    """One row per brand × session it counts in, started in the window or the own-level days
    before: the session's UV and watch seconds, the brand's orders and net GMV sold in it, its
    account (kind, own brand, name), whether it is the brand's own or dedicated to it, and
    ``w`` (``now`` / ``ref``)."""
    lo, hi = ibis.timestamp(w.ref_start), ibis.timestamp(w.end)
    s = src.live_sessions
    s = s.filter((s.started_at >= lo) & (s.started_at < hi))
    o = src.orders
    o = o.filter(
        (o.status != "cancelled")
        & o.session_id.notnull()
        & o.brand_id.isin(list(brand_ids))
        & (o.paid_at >= lo)
    )
    sales = o.group_by(["session_id", "brand_id"]).aggregate(
        orders=o.count(), gmv=(o.amount - o.refund_amount).sum().cast("float64")
    )
    a = src.accounts.select("account_id", "kind", account_brand_id="brand_id", account_name="name")
    sa = s.inner_join(a, "account_id")
    own = sa.filter(
        sa.kind.isin(contract.SELF_ACCOUNT_KINDS) & sa.account_brand_id.isin(list(brand_ids))
    ).select("session_id", brand_id=sa.account_brand_id)
    ded = s.filter(s.dedicated_brand_id.isin(list(brand_ids))).select(
        "session_id", brand_id=s.dedicated_brand_id
    )
    pairs = own.union(ded).union(sales.select("session_id", "brand_id"), distinct=True)
    j = pairs.inner_join(sa, "session_id").left_join(sales, ["session_id", "brand_id"])
    is_own = j.kind.isin(contract.SELF_ACCOUNT_KINDS) & (j.account_brand_id == j.brand_id)
    return j.select(
        "brand_id",
        "session_id",
        "account_id",
        "account_name",
        "kind",
        "started_at",
        uv=j.viewers.cast("float64"),
        watch_hours=j.watch_seconds.cast("float64") / 3600.0,
        orders=j.orders.fill_null(0).cast("float64"),
        gmv=j.gmv.fill_null(0.0),
        own=is_own.fill_null(False),
        in_brand_tree=(is_own | (j.dedicated_brand_id == j.brand_id)).fill_null(False),
        w=_tag(j.started_at, w),
    )


def sku_rows(
    src: Sources, brand_ids: Sequence[str], w: Window, session_id: str | None = None
) -> ir.Table:
    """Orders, live orders, net GMV and refunded orders per brand × SKU × window (``w``);
    ``session_id``: only that session's orders, whenever paid."""
    o = src.orders
    o = o.filter((o.status != "cancelled") & o.brand_id.isin(list(brand_ids)))
    if session_id is None:
        o = o.filter(
            (o.paid_at >= ibis.timestamp(w.ref_start)) & (o.paid_at < ibis.timestamp(w.end))
        )
        o = o.mutate(w=_tag(o.paid_at, w))
    else:
        o = o.filter(o.session_id == session_id).mutate(w=ibis.literal("now"))
    return o.group_by(["brand_id", "sku_id", "w"]).aggregate(
        orders=o.count().cast("float64"),
        live_orders=o.session_id.notnull().sum().cast("float64"),
        gmv=(o.amount - o.refund_amount).sum().cast("float64"),
        refunded=(o.refund_amount > 0).sum().cast("float64"),
    )


# -- levels --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Driver:
    """One driver of a level: its value, references, label and their texts."""

    key: str
    value: float | None
    own: float | None
    peer: float | None
    label: Label
    text: str
    own_text: str
    peer_text: str
    change: str


@dataclass
class Entity:
    """One node of the drill-down: a brand, account, session or product, with its drivers."""

    kind: str
    entity_id: str
    name: str
    href: str | None
    gmv: float
    sums: dict[str, float]
    drivers: list[Driver]
    own_gmv: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: How a person names it (set by the page: a session reads as its room and start).
    title: str = ""

    @property
    def worst(self) -> Label:
        return max((d.label for d in self.drivers), key=SEVERITY.__getitem__, default="none")

    def driver(self, key: str) -> Driver | None:
        return next((d for d in self.drivers if d.key == key), None)


def fmt_driver(key: str, value: object, lang: str) -> str:
    """A driver's value as people read it (watch time per UV in minutes)."""
    if value is None:
        return numbers.missing(lang)
    if key in ("uv", "orders"):
        return numbers.count(value, lang)
    if key == "watch_hours_per_uv":
        return t("drill.minutes", lang, value=numbers.decimal(float(value) * 60, 1, lang))  # type: ignore[arg-type]
    if key in ("aov", "gpm", "gmv"):
        return numbers.money(value, lang)
    if key == "refund_rate":
        return numbers.pct(value, lang)
    return numbers.decimal(value, 2, lang)


def frame_sums(df: pd.DataFrame, key: str) -> pd.DataFrame:
    """Sums per ``key`` × window, with the number of sessions."""
    if df.empty:
        return pd.DataFrame(columns=[key, "w", *SUMS, "sessions"])
    g = df.groupby([key, "w"], sort=False)
    out = g[list(SUMS)].sum()
    out["sessions"] = g["session_id"].nunique()
    return out.reset_index()


def _live_values(sums: Mapping[str, float] | None, scale: float = 1.0) -> dict[str, float | None]:
    if sums is None:
        return {}
    return tree(*(float(sums.get(c, 0.0)) * scale for c in SUMS))


def sku_values(
    sums: Mapping[str, float] | None, uv: float, scale: float = 1.0
) -> dict[str, float | None]:
    if sums is None:
        return {}
    orders = float(sums.get("orders", 0.0))
    return {
        "orders": orders * scale,
        "orders_per_1k_uv": float(sums.get("live_orders", 0.0)) / uv * 1000 if uv else None,
        "aov": float(sums.get("gmv", 0.0)) / orders if orders else None,
        "refund_rate": float(sums.get("refunded", 0.0)) / orders if orders else None,
    }


def drivers_of(
    keys: Iterable[str],
    now: Mapping[str, float | None],
    own: Mapping[str, float | None],
    peer: Mapping[str, float | None],
    lang: str,
) -> list[Driver]:
    out = []
    for k in keys:
        v, o, p = now.get(k), own.get(k), peer.get(k)
        delta = None if v is None or not o else v / o - 1
        out.append(
            Driver(
                key=k,
                value=v,
                own=o,
                peer=p,
                label=label(v, o, p, lower_is_better=k in LOWER_IS_BETTER),
                text=fmt_driver(k, v, lang),
                own_text=fmt_driver(k, o, lang),
                peer_text=fmt_driver(k, p, lang),
                change=numbers.change(delta, lang) if delta is not None else numbers.missing(lang),
            )
        )
    return out


def _medians(
    values: Iterable[Mapping[str, float | None]], keys: Iterable[str]
) -> dict[str, float | None]:
    frame = pd.DataFrame(list(values), columns=list(keys), dtype=float)
    return {
        k: (None if frame[k].dropna().empty else float(frame[k].median())) for k in frame.columns
    }


def live_entities(
    rows: pd.DataFrame,
    key: str,
    mine: pd.Series,
    peers: pd.Series | None,
    w: Window,
    lang: str,
    *,
    kind: str,
    href: str,
    shared_ref: Mapping[str, float] | None = None,
) -> list[Entity]:
    """The live entities ``key`` of the rows ``mine`` selects, each with its drivers against its
    own level (``shared_ref``: one set of own-level sums for all, already scaled) and the median
    of the same entities among ``peers`` rows (None: withheld)."""
    sums = frame_sums(rows[mine], key)
    by = {(r[key], r["w"]): r for r in sums.to_dict("records")}
    peer_med: dict[str, float | None] = {}
    if peers is not None:
        ps = frame_sums(rows[peers], key)
        peer_med = _medians(
            (_live_values(r) for r in ps[ps["w"] == "now"].to_dict("records")), LIVE_DRIVERS
        )
    names = rows[mine].drop_duplicates(key).set_index(key)
    out = []
    for ent in sums.loc[sums["w"] == "now", key]:
        now = by[(ent, "now")]
        ref = shared_ref if shared_ref is not None else by.get((ent, "ref"))
        scale = 1.0 if shared_ref is not None else w.scale
        row = names.loc[ent]
        out.append(
            Entity(
                kind=kind,
                entity_id=str(ent),
                name=str(row.get("account_name") or ent)
                if kind != "session"
                else str(row["account_name"]),
                href=href.format(id=ent),
                gmv=float(now["gmv"]),
                sums={c: float(now[c]) for c in (*SUMS, "sessions")},
                drivers=drivers_of(
                    LIVE_DRIVERS, _live_values(now), _live_values(ref, scale), peer_med, lang
                ),
                own_gmv=float(ref["gmv"]) * scale if ref is not None else None,
                extra={
                    "started_at": row.get("started_at"),
                    "account_id": row.get("account_id"),
                    "own": bool(row.get("own")),
                },
            )
        )
    out.sort(key=lambda e: -e.gmv)
    return out


def sku_entities(
    skus: pd.DataFrame,
    brand_id: str,
    peers: Peers,
    uv: Mapping[tuple[str, str], float],
    w: Window,
    lang: str,
    href: str | None,
) -> list[Entity]:
    """The brand's products with orders in the window, judged like the live levels."""
    if skus.empty:
        return []
    by = {(r["brand_id"], r["sku_id"], r["w"]): r for r in skus.to_dict("records")}
    peer_med: dict[str, float | None] = {}
    if peers.shown:
        vals = [
            sku_values(r, uv.get((r["brand_id"], "now"), 0.0))
            for r in by.values()
            if r["brand_id"] in peers.brand_ids and r["w"] == "now"
        ]
        peer_med = _medians(vals, SKU_DRIVERS)
    out = []
    for (b, sku, win), now in by.items():
        if b != brand_id or win != "now":
            continue
        ref = by.get((b, sku, "ref"))
        own = sku_values(ref, uv.get((b, "ref"), 0.0) * w.scale, w.scale)
        out.append(
            Entity(
                kind="sku",
                entity_id=str(sku),
                name=str(sku),
                href=href,
                gmv=float(now["gmv"]),
                sums={"orders": float(now["orders"]), "gmv": float(now["gmv"])},
                drivers=drivers_of(
                    SKU_DRIVERS, sku_values(now, uv.get((b, "now"), 0.0)), own, peer_med, lang
                ),
                own_gmv=float(ref["gmv"]) * w.scale if ref is not None else None,
            )
        )
    out.sort(key=lambda e: -e.gmv)
    return out
