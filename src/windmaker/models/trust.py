"""Trust score (信任分) per shop and per account, and the trust gates built on it.

"Never cheat the buyer" (不要骗老铁): five components, each a rate where higher is worse,

====================  ==========================================================
refund_rate           refunded orders / orders
complaints_per_1k     1000 · complaints received / orders (the metrics table's meaning)
late_shipment_rate    late orders / orders whose shipping can be judged
review_shortfall      5 − mean review score
brushing_share        orders flagged as brushing / orders
====================  ==========================================================

over the trailing ``window_months`` months (cancelled orders left out), are each compared with
the category's reference ``ref_k = max(median over scored peers in the category and period,
floor_k)`` and turned into points:

    sub_k = 100 · 2^(−x_k / (h · ref_k)),     score = Σ_k w_k · sub_k       (Σ w_k = 1)

so a shop exactly as good as its category median loses ``1 − 2^(−1/h)`` of each component's
points, and one at ``h`` × the median loses half. ``w_k · sub_k`` is the component's
contribution, shown beside the score. Below ``min_orders`` orders the score is not a number:
the status is ``insufficient_data``. ``docs/trust.md`` publishes this formula.

Complaints are the reviews *created* in a month whose complaint is one of ``metrics.yaml``
``complaint_kinds`` (quality and misleading by default), on the entity's orders: exactly the
``complaints_per_1k`` of ``m_brand_month``. An order is late when it shipped after
``promised_ship_by``, or when it is still unshipped (no ``shipped_at``, status ``paid`` or
``refunded``) although its promise passed before the data's as-of time and before any refund;
its shipping can be judged when it shipped with a promise or is late that way. A component
without data (no order whose shipping can be judged, no review) earns the points of a shop at
its category reference — neutral, never full — its value is null, and ``no_data`` names it.

Gates: a brand below ``brand_alert_below`` gets an alert; an account below
``account_exclude_below`` is never recommended (:func:`is_trusted`, :func:`trusted_accounts`);
each alert is a violation that counts against the brand's service provider
(:func:`brand_violations`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Literal

import ibis
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from windmaker import contract
from windmaker.config import ConfigError, load_yaml_model
from windmaker.metrics.config import load_metrics_config
from windmaker.models.brushing import BrushingConfig

CONFIG_FILE = "trust.yaml"
COMPONENTS = (
    "refund_rate",
    "complaints_per_1k",
    "late_shipment_rate",
    "review_shortfall",
    "brushing_share",
)
COMPONENT_ZH = {
    "refund_rate": "退款率",
    "complaints_per_1k": "质量/虚假宣传投诉(每千单)",
    "late_shipment_rate": "延迟发货率",
    "review_shortfall": "评分差距(5 − 平均分)",
    "brushing_share": "疑似刷单占比",
}
STATUS_OK = "ok"
STATUS_INSUFFICIENT = "insufficient_data"
#: Order statuses of an order that has not shipped yet or was refunded (and may never ship);
#: ``shipped`` and ``completed`` orders left the warehouse, with or without a recorded time.
UNSHIPPED_STATUSES = ("paid", "refunded")
#: Count columns of :func:`trust_counts`, additive over months.
COUNT_COLUMNS = (
    "orders",
    "refunded",
    "complaints",
    "promised",
    "late",
    "reviews",
    "review_score_sum",
    "brushing",
)
Entity = Literal["brand", "account"]


class ScoreConfig(BaseModel):
    """``trust.yaml`` → ``score``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_months: int = Field(ge=1)
    min_orders: int = Field(ge=1)
    #: The complaint kinds of ``complaints_per_1k``: ``metrics.yaml`` ``complaint_kinds``, filled
    #: in by :func:`load_config` (one meaning across the metrics table and the trust score).
    complaint_types: tuple[str, ...] = ("quality", "misleading")
    half_points_multiple: float = Field(gt=0)
    reference_floor: dict[str, float]
    weights: dict[str, float]
    min_category_size: int = Field(ge=1)

    @field_validator("complaint_types")
    @classmethod
    def _known_complaints(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(v) - set(contract.COMPLAINTS)
        if unknown:
            raise ValueError(
                f"unknown complaint types {sorted(unknown)}; use {contract.COMPLAINTS}"
            )
        return v

    @field_validator("reference_floor", "weights")
    @classmethod
    def _every_component(cls, v: dict[str, float]) -> dict[str, float]:
        if set(v) != set(COMPONENTS):
            raise ValueError(f"needs exactly the components {list(COMPONENTS)}, got {sorted(v)}")
        if any(x < 0 for x in v.values()):
            raise ValueError("values must not be negative")
        return v

    @model_validator(mode="after")
    def _weights_add_up(self) -> ScoreConfig:
        if abs(sum(self.weights.values()) - 1.0) > 1e-9:
            raise ValueError(f"weights must add up to 1, not {sum(self.weights.values()):g}")
        if any(self.reference_floor[k] <= 0 for k in COMPONENTS):
            raise ValueError("reference_floor values must be positive")
        return self


class GatesConfig(BaseModel):
    """``trust.yaml`` → ``gates``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    brand_alert_below: float = Field(ge=0, le=100)
    account_exclude_below: float = Field(ge=0, le=100)
    insufficient_data_is_trusted: bool
    severe_brushing_share: float = Field(gt=0, le=1)


class TrustConfig(BaseModel):
    """The whole ``trust.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    score: ScoreConfig
    brushing: BrushingConfig
    gates: GatesConfig


def load_config(config_dir: Path | None = None) -> TrustConfig:
    """``trust.yaml`` from the workspace's config folder, else the shipped default.

    The complaint kinds of ``complaints_per_1k`` come from ``metrics.yaml`` (same folder), so the
    trust score and the metrics table count the same complaints; a ``score.complaint_types`` in
    ``trust.yaml`` that names other kinds is an error.
    """
    config = load_yaml_model(TrustConfig, CONFIG_FILE, config_dir)
    kinds = load_metrics_config(config_dir).complaint_kinds
    own = config.score.complaint_types
    if "complaint_types" in config.score.model_fields_set and set(own) != set(kinds):
        raise ConfigError(
            CONFIG_FILE,
            "score.complaint_types",
            f"{list(own)} differs from metrics.yaml complaint_kinds {list(kinds)}; "
            "complaints_per_1k has one meaning: set the kinds in metrics.yaml only",
        )
    score = config.score.model_copy(update={"complaint_types": tuple(kinds)})
    return config.model_copy(update={"score": score})


# -- counts per entity and month (Ibis) ----------------------------------------------------------


def trust_counts(
    orders: ibis.Table,
    reviews: ibis.Table,
    owners: ibis.Table,
    *,
    entity: Entity,
    flagged: ibis.Table | None = None,
    complaint_types: Iterable[str] = ("quality", "misleading"),
    as_of: datetime | None = None,
) -> ibis.Table:
    """Monthly counts behind the trust score, per brand or per selling account.

    ``owners`` is the ``brands`` table (entity ``brand``) or the ``accounts`` table (entity
    ``account``) and gives the category. ``flagged`` holds the order_id of brushing orders
    (``mdl_brushing_orders``). Orders count in the month they were paid; reviews and complaints
    in the month they were created (as in ``m_brand_month``), on any order of the entity.
    ``as_of`` is the time the data covers up to (default: the latest ``paid_at`` of ``orders``):
    an order still unshipped when its promise passed before it is late (module docstring).
    Columns: entity_id, category, period (first day of the month), and :data:`COUNT_COLUMNS`;
    one row per entity and month with orders or reviews.
    """
    key = "brand_id" if entity == "brand" else "account_id"
    joined = _keyed_counts(
        orders,
        reviews,
        {"entity_id": key},
        flagged=flagged,
        complaint_types=complaint_types,
        as_of=as_of,
    )
    own = owners.select(entity_id=owners[key], category=owners.category)
    joined = joined.left_join(own, "entity_id")
    return joined.select(
        "entity_id",
        category=joined.category.fill_null("unknown"),
        period=joined.period,
        orders=joined.orders.cast("int64"),
        refunded=joined.refunded.cast("int64"),
        complaints=joined.complaints.cast("int64"),
        promised=joined.promised.cast("int64"),
        late=joined.late.cast("int64"),
        reviews=joined.reviews.cast("int64"),
        review_score_sum=joined.review_score_sum.cast("int64"),
        brushing=joined.brushing.cast("int64"),
    )


def _keyed_counts(
    orders: ibis.Table,
    reviews: ibis.Table,
    keys: dict[str, str],
    *,
    flagged: ibis.Table | None,
    complaint_types: Iterable[str],
    as_of: datetime | None,
    since: datetime | None = None,
) -> ibis.Table:
    """:data:`COUNT_COLUMNS` per month and per the orders' ``keys`` (output name → column);
    given ``since`` (the first day of a month), only the months from it on."""
    if as_of is not None:
        bound = ibis.memtable({"_now": [as_of]}).cast({"_now": "timestamp"})
    else:
        bound = orders.aggregate(_now=orders.paid_at.max().cast("timestamp"))
    live = orders.filter(orders.status != "cancelled")
    if since is not None:
        live = live.filter(live.paid_at >= ibis.timestamp(since))
        reviews = reviews.filter(reviews.created_at >= ibis.timestamp(since))
    live = live.cross_join(bound)
    if flagged is not None:
        ids = flagged.select(brushing_order_id=flagged.order_id).distinct()
        live = live.left_join(ids, live.order_id == ids.brushing_order_id)
        is_brushing = live.brushing_order_id.notnull()
    else:
        is_brushing = ibis.literal(False)
    now = live._now
    promised = live.promised_ship_by.notnull()
    # a refund before the promise fell due ended the duty to ship (frames without refund times:
    # no such refund is known)
    refunded_first = (
        live.refunded_at.notnull() & (live.refunded_at <= live.promised_ship_by)
        if "refunded_at" in live.columns
        else ibis.literal(False)
    )
    overdue = (
        promised
        & live.shipped_at.isnull()
        & live.status.isin(UNSHIPPED_STATUSES)
        & (live.promised_ship_by < now)
        & ~refunded_first
    )
    shipped_late = promised & live.shipped_at.notnull() & (live.shipped_at > live.promised_ship_by)
    live = live.mutate(
        **{name: live[column] for name, column in keys.items()},
        period=live.paid_at.truncate("M").cast("date"),
        _refunded=(live.status == "refunded") | (live.refund_amount > 0),
        _promised=(promised & live.shipped_at.notnull()) | overdue,
        _late=shipped_late | overdue,
        _brushing=is_brushing,
    )
    group = [*keys, "period"]
    order_counts = live.group_by(group).aggregate(
        orders=live.count(),
        refunded=live._refunded.cast("int64").sum(),
        promised=live._promised.fill_null(False).cast("int64").sum(),
        late=live._late.fill_null(False).cast("int64").sum(),
        brushing=live._brushing.cast("int64").sum(),
    )
    owner_of = orders.select("order_id", **{name: orders[column] for name, column in keys.items()})
    rv = reviews.join(owner_of, reviews.order_id == owner_of.order_id).cross_join(bound)
    rv = rv.mutate(period=rv.created_at.truncate("M").cast("date"))
    # the months of the data: a review written after the last order's month has no orders to
    # be set against yet (the metrics tables end there too)
    rv = rv.filter(rv.period <= rv._now.truncate("M").cast("date"))
    types = list(complaint_types)
    review_counts = rv.group_by(group).aggregate(
        reviews=rv.count(),
        review_score_sum=rv.score.cast("int64").sum(),
        complaints=rv.complaint.isin(types).cast("int64").sum(),
    )
    # every entity × month with orders or reviews: the two sides stacked and summed
    zero = ibis.literal(0, "int64")
    parts = [
        order_counts.select(
            *group,
            **{
                c: order_counts[c].cast("int64") if c in order_counts.columns else zero
                for c in COUNT_COLUMNS
            },
        ),
        review_counts.select(
            *group,
            **{
                c: review_counts[c].cast("int64") if c in review_counts.columns else zero
                for c in COUNT_COLUMNS
            },
        ),
    ]
    stacked = parts[0].union(parts[1])
    return stacked.group_by(group).aggregate(**{c: stacked[c].sum() for c in COUNT_COLUMNS})


def trust_counts_by_pair(
    orders: ibis.Table,
    reviews: ibis.Table,
    *,
    flagged: ibis.Table | None = None,
    complaint_types: Iterable[str] = ("quality", "misleading"),
    as_of: datetime | None = None,
    since: datetime | None = None,
) -> ibis.Table:
    """The counts of :func:`trust_counts` per brand × selling account × month, in one pass over
    the orders for both entities (:func:`roll_up` gives each entity's rows). Columns: brand_id,
    account_id, period and :data:`COUNT_COLUMNS`. ``since`` (a month's first day): only the
    months from it on, the same rows as those of all months."""
    counts = _keyed_counts(
        orders,
        reviews,
        {"brand_id": "brand_id", "account_id": "account_id"},
        flagged=flagged,
        complaint_types=complaint_types,
        as_of=as_of,
        since=since,
    )
    return counts.mutate(**{c: counts[c].cast("int64") for c in COUNT_COLUMNS})


def roll_up(pairs: pd.DataFrame, owners: pd.DataFrame, *, entity: Entity) -> pd.DataFrame:
    """:func:`trust_counts`' rows of ``entity`` from :func:`trust_counts_by_pair`'s rows (the
    counts add up over the other key); ``owners`` (the brands or accounts rows) gives the
    category, ``unknown`` without one."""
    key = "brand_id" if entity == "brand" else "account_id"
    # dropna=False: orders without a selling account are one entity_id null, as in the engine
    out = pairs.groupby([key, "period"], as_index=False, sort=False, dropna=False)[
        list(COUNT_COLUMNS)
    ].sum()
    category = owners.drop_duplicates(key).set_index(key)["category"]
    out.insert(1, "category", out[key].map(category).fillna("unknown").astype(category.dtype))
    out = out.rename(columns={key: "entity_id"})
    return out[["entity_id", "category", "period", *COUNT_COLUMNS]].astype(
        {c: "int64" for c in COUNT_COLUMNS}
    )


# -- scores (plain pandas) ------------------------------------------------------------------------


def _trailing(counts: pd.DataFrame, months: int) -> pd.DataFrame:
    """Sum the counts of each entity over the ``months`` months ending at every period."""
    c = counts.copy()
    c["period"] = pd.to_datetime(c["period"])
    c["_m"] = c["period"].dt.year * 12 + c["period"].dt.month - 1
    periods = np.sort(c["_m"].unique())
    shifted = []
    for k in range(months):
        s = c.assign(_m=c["_m"] + k)
        shifted.append(s[s["_m"].isin(periods)])
    allm = pd.concat(shifted, ignore_index=True)
    # An entity's category: the one of its latest row (stable whatever the input order).
    cat = c.sort_values(["entity_id", "_m", "category"]).groupby("entity_id")["category"].last()
    out = allm.groupby(["entity_id", "_m"], as_index=False)[list(COUNT_COLUMNS)].sum()
    out["category"] = out["entity_id"].map(cat)
    out["period"] = pd.to_datetime(
        {"year": out["_m"] // 12, "month": out["_m"] % 12 + 1, "day": 1}
    ).dt.date
    return out.drop(columns="_m")


def components(totals: pd.DataFrame) -> pd.DataFrame:
    """The five component values from summed counts; NaN where a component has no data
    (late_shipment_rate without an order whose shipping can be judged, review_shortfall
    without reviews)."""
    orders = totals["orders"].astype(float)
    safe = orders.where(orders > 0)
    promised = totals["promised"].astype(float)
    reviews = totals["reviews"].astype(float)
    return pd.DataFrame(
        {
            "refund_rate": totals["refunded"] / safe,
            "complaints_per_1k": 1000.0 * totals["complaints"] / safe,
            "late_shipment_rate": totals["late"] / promised.where(promised > 0),
            "review_shortfall": 5.0 - totals["review_score_sum"] / reviews.where(reviews > 0),
            "brushing_share": totals["brushing"] / safe,
        },
        index=totals.index,
    )


def trust_scores(counts: pd.DataFrame, config: ScoreConfig, *, entity: Entity) -> pd.DataFrame:
    """Trust score per entity and period from :func:`trust_counts` rows (formula in the module
    docstring). One row per entity × period with the score, its status, ``no_data`` (the
    components without data, comma-separated codes, empty when every one has data), each
    component's value (null without data), category reference, sub-score and contribution
    (``<component>_points``). A component without data is scored as if it sat at its category
    reference: neutral points, not full ones (a shop that records no shipping times must not
    look like one that ships everything on time)."""
    if counts.empty:
        return pd.DataFrame(columns=score_columns())
    totals = _trailing(counts, config.window_months)
    totals = totals[totals["orders"] > 0].reset_index(drop=True)
    values = components(totals)
    enough = totals["orders"] >= config.min_orders
    out = totals[["entity_id", "category", "period", "orders"]].copy()
    out.insert(0, "entity", entity)
    missing: dict[str, np.ndarray] = {}
    for k in COMPONENTS:
        x = values[k]
        scored = pd.DataFrame({"category": totals["category"], "period": totals["period"], "x": x})
        scored = scored[enough & x.notna()]
        by_cat = scored.groupby(["category", "period"])["x"].agg(["median", "size"])
        by_all = scored.groupby("period")["x"].median()
        keys = pd.MultiIndex.from_frame(totals[["category", "period"]])
        med = by_cat["median"].reindex(keys).to_numpy()
        size = by_cat["size"].reindex(keys).fillna(0).to_numpy()
        fallback = totals["period"].map(by_all).to_numpy(dtype=float)
        ref = np.where(size >= config.min_category_size, med, fallback)
        ref = np.fmax(np.nan_to_num(ref, nan=0.0), config.reference_floor[k])
        missing[k] = x.isna().to_numpy()
        # no data: scored at the category reference (neutral), the value stays null
        at = np.where(missing[k], ref, x.to_numpy(dtype=float))
        sub = 100.0 * np.exp2(-at / (config.half_points_multiple * ref))
        out[k] = x.to_numpy(dtype=float)
        out[f"{k}_ref"] = ref
        out[f"{k}_points"] = np.where(enough, config.weights[k] * sub, np.nan)
    out["score"] = out[[f"{k}_points" for k in COMPONENTS]].sum(axis=1, min_count=len(COMPONENTS))
    out["status"] = np.where(enough, STATUS_OK, STATUS_INSUFFICIENT)
    # each row's components without data as a bit mask, then the mask's text (2^5 texts)
    bits = sum(missing[k].astype(np.int64) << i for i, k in enumerate(COMPONENTS))
    texts = np.array(
        [
            ",".join(k for i, k in enumerate(COMPONENTS) if m >> i & 1)
            for m in range(1 << len(COMPONENTS))
        ],
        dtype=object,
    )
    out["no_data"] = texts[bits]
    out = out.sort_values(["entity", "entity_id", "period"]).reset_index(drop=True)
    return out[score_columns()]


def score_columns() -> list[str]:
    """Columns of ``mdl_trust_scores``."""
    cols = ["entity", "entity_id", "category", "period", "orders", "status", "score", "no_data"]
    for k in COMPONENTS:
        cols += [k, f"{k}_ref", f"{k}_points"]
    return cols


def explain(row: pd.Series, config: ScoreConfig) -> list[tuple[str, str, float, float, float]]:
    """Why a score is what it is: (component, zh, value, category reference, points lost),
    the largest loss first. Points lost = w_k · (100 − sub_k); the value is NaN for a component
    without data (scored at its reference)."""
    out = []
    for k in COMPONENTS:
        lost = config.weights[k] * 100.0 - float(row[f"{k}_points"])
        out.append((k, COMPONENT_ZH[k], float(row[k]), float(row[f"{k}_ref"]), lost))
    return sorted(out, key=lambda r: -r[4])


# -- gates --------------------------------------------------------------------------------------

ALERT_COLUMNS = (
    "brand_id",
    "account_id",
    "period",
    "kind",
    "severe",
    "score",
    "threshold",
    "reason_code",
    "reason_params",
)


def is_trusted(score: float | None, status: str, gates: GatesConfig) -> bool:
    """Whether an account may be recommended: scored at or above ``account_exclude_below``, or
    unscored for lack of orders when ``insufficient_data_is_trusted``."""
    if status == STATUS_INSUFFICIENT or score is None or pd.isna(score):
        return gates.insufficient_data_is_trusted
    return float(score) >= gates.account_exclude_below


def trusted_accounts(
    scores: pd.DataFrame,
    gates: GatesConfig,
    candidates: Iterable[str],
    *,
    period: object | None = None,
) -> list[str]:
    """The ``candidates`` (account ids) that may be recommended, in their given order.

    Uses each account's score of ``period`` (default: its latest scored period); an account
    with no score at all is unknown and, like insufficient data, follows
    ``insufficient_data_is_trusted``.
    """
    acc = scores[scores["entity"] == "account"].assign(_p=lambda d: pd.to_datetime(d["period"]))
    if period is not None:
        acc = acc[acc["_p"] == pd.Timestamp(period)]  # type: ignore[arg-type]
    latest = acc.sort_values("_p").groupby("entity_id").last()
    out = []
    for a in candidates:
        if a in latest.index:
            row = latest.loc[a]
            ok = is_trusted(row["score"], row["status"], gates)
        else:
            ok = gates.insufficient_data_is_trusted
        if ok:
            out.append(a)
    return out


def trust_alerts(scores: pd.DataFrame, accounts: pd.DataFrame, config: TrustConfig) -> pd.DataFrame:
    """Alerts of every period (``mdl_trust_alerts``): a brand below ``brand_alert_below``
    (``low_trust``), a brand whose brushing share reaches ``severe_brushing_share``
    (``brushing``, severe), and a brand account below ``account_exclude_below``
    (``low_trust_account``). ``accounts`` maps account_id → brand_id (influencers: none)."""
    g = config.gates
    rows: list[dict[str, object]] = []
    ok = scores[scores["status"] == STATUS_OK]
    # Only the rows that raise an alert are walked (a market's scores are mostly above the
    # gates: at 21M orders 186,000 scored rows raise 19,585 alerts, and walking every row
    # took 6.3 s against 1.2 s).
    brand = ok["entity"] == "brand"
    ok = ok[
        (
            brand
            & (
                (ok["score"] < g.brand_alert_below)
                | (ok["brushing_share"] >= g.severe_brushing_share)
            )
        )
        | (~brand & (ok["score"] < g.account_exclude_below))
    ]
    owner = dict(zip(accounts["account_id"], accounts["brand_id"], strict=True))
    for r in ok.itertuples(index=False):
        d = r._asdict()
        worst = max(COMPONENTS, key=lambda k: config.score.weights[k] * 100 - d[f"{k}_points"])
        component = {"name": "metric", "code": worst}
        if pd.isna(d[worst]):
            why = {
                "reason": "trust.worst_no_data",
                "params": {"component": component, "ref": float(d[f"{worst}_ref"])},
            }
        else:
            why = {
                "reason": "trust.worst",
                "params": {
                    "component": component,
                    "value": float(d[worst]),
                    "ref": float(d[f"{worst}_ref"]),
                },
            }
        if r.entity == "brand":
            if r.score < g.brand_alert_below:
                rows.append(
                    {
                        "brand_id": r.entity_id,
                        "account_id": None,
                        "period": r.period,
                        "kind": "low_trust",
                        "severe": False,
                        "score": r.score,
                        "threshold": g.brand_alert_below,
                        "reason_code": "trust.low_trust",
                        "reason_params": json.dumps(
                            {"score": r.score, "threshold": g.brand_alert_below, "worst": why}
                        ),
                    }
                )
            if r.brushing_share >= g.severe_brushing_share:
                rows.append(
                    {
                        "brand_id": r.entity_id,
                        "account_id": None,
                        "period": r.period,
                        "kind": "brushing",
                        "severe": True,
                        "score": r.score,
                        "threshold": g.severe_brushing_share,
                        "reason_code": "trust.brushing",
                        "reason_params": json.dumps({"share": r.brushing_share}),
                    }
                )
        elif r.score < g.account_exclude_below:
            rows.append(
                {
                    "brand_id": owner.get(r.entity_id),
                    "account_id": r.entity_id,
                    "period": r.period,
                    "kind": "low_trust_account",
                    "severe": False,
                    "score": r.score,
                    "threshold": g.account_exclude_below,
                    "reason_code": "trust.low_trust_account",
                    "reason_params": json.dumps(
                        {"score": r.score, "threshold": g.account_exclude_below, "worst": why}
                    ),
                }
            )
    return pd.DataFrame(rows, columns=list(ALERT_COLUMNS))


def brand_violations(alerts: pd.DataFrame) -> pd.DataFrame:
    """Trust violations per brand and period (``mdl_trust_violations``), for the evaluation of
    the brand's service provider: ``violations`` (alerts on the brand or its own accounts) and
    ``severe_violations`` (brushing)."""
    a = alerts[alerts["brand_id"].notna()]
    if a.empty:
        return pd.DataFrame(columns=["brand_id", "period", "violations", "severe_violations"])
    out = a.groupby(["brand_id", "period"], as_index=False).agg(
        violations=("kind", "size"), severe_violations=("severe", "sum")
    )
    return out.astype({"violations": "int64", "severe_violations": "int64"})
