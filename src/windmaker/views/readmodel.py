"""The read model every surface serves from: result tables held in memory, answered as typed
records (:mod:`windmaker.views.records`).

Diagnosis results are small next to the orders they come from (one row per brand × month), and
the dashboard asks for them thousands of times between two refreshes. So they are loaded once
from the warehouse into an immutable snapshot, indexed by brand, and swapped whole after a
refresh; requests never wait on the analytics engine.

Capability scores are the final ones: where fitted models were blended into a capability
(``g_model_scores``), the blended index and score replace ``m_capability``'s at load, so the
scorecard, the radar and the category medians show what the stage criteria and the bottleneck
were judged on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis
import pandas as pd

from windmaker import contract, results
from windmaker.codes import Capability
from windmaker.growth.diagnosis import CAPABILITY, G_BOTTLENECK, G_PLAN, G_STAGE, G_UNJUDGED
from windmaker.growth.model_feed import G_MODEL_SCORES
from windmaker.services.identity import Principal
from windmaker.views import privacy
from windmaker.views.frames import clean, group_records, records
from windmaker.views.month_scores import MonthScores, month_scores
from windmaker.views.records import (
    BrandDiagnosis,
    BrandRecord,
    Diagnosis,
    PortfolioRow,
    Radar,
    Scorecard,
)
from windmaker.warehouse import Warehouse

#: Tables loaded into the snapshot when present; a missing one is an empty frame. Per-buyer
#: tables (``mdl_clv_buyers``: millions of rows on a large market) stay in the warehouse: no
#: page shows single buyers, and brand-level figures are in ``mdl_clv_brand``.
LOADED_TABLES = (
    "brands",
    results.BRAND_MONTH,
    CAPABILITY,
    results.GMV_DRIVERS,
    G_STAGE,
    G_UNJUDGED,
    G_BOTTLENECK,
    G_PLAN,
    results.PORTFOLIO,
    G_MODEL_SCORES,
    results.TRUST_SCORES,
    results.TRUST_ALERTS,
    results.RECOMMENDATIONS,
    results.CLV_BRAND,
    results.TRAFFIC_CURVES,
    results.BUDGET,
    results.HORSE_RACE,
    results.HITS,
    results.CONCENTRATION,
    "factories",
    results.FACTORY_SKU_MONTHS,
)
#: Loaded tables no page reads one brand at a time (not indexed by brand).
UNINDEXED = frozenset({"brands", results.FACTORY_SKU_MONTHS})

#: Every brushing flag with its signals (high-confidence ones are also in mdl_brushing_orders).
BRUSHING_REVIEW = results.BRUSHING_REVIEW
#: Derived at load: flagged orders per brand × confidence × signals.
BRUSHING_EVIDENCE = "brushing_evidence"
#: Derived at load: the driver tree's brand-level rows (the brand page's waterfall and drivers;
#: the session and account rows, nineteen in twenty, are the drill-down's).
GMV_DRIVERS_BRAND = "gmv_drivers_brand"

#: Tables the scorecard reads per brand and period.
SCORECARD_TABLES = (
    CAPABILITY,
    results.BRAND_MONTH,
    G_STAGE,
    G_UNJUDGED,
    results.TRUST_SCORES,
)
#: Tables a brand's page reads as records (the scorecard's and the diagnosis's, the models').
BRAND_PAGE_TABLES = (
    *SCORECARD_TABLES,
    results.STAGE,
    G_BOTTLENECK,
    G_PLAN,
    GMV_DRIVERS_BRAND,
    results.RECOMMENDATIONS,
    results.CLV_BRAND,
    results.TRAFFIC_CURVES,
    results.BUDGET,
    results.TRUST_ALERTS,
    BRUSHING_EVIDENCE,
)
#: The columns of a scorecard's capability rows.
CAPABILITY_FIELDS = ("capability", "index", "score", "benchmark", "metric_index", "metric_score")
STAGE_ORDER = {s: i for i, s in enumerate(contract.STAGES)}
CAPABILITY_ORDER = {c: i for i, c in enumerate(contract.CAPABILITIES)}
JSON_MEDIA = "application/json"
SORTABLE = ("priority", "gmv_at_stake", "net_gmv_t90d", "brand_id", "name", "stage", "category")


def final_capabilities(capability: pd.DataFrame, model_scores: pd.DataFrame | None) -> pd.DataFrame:
    """``m_capability`` with the final index and score of every row.

    Where ``g_model_scores`` has the brand × period × capability, its (model-blended) index and
    score replace the metrics-only ones, which stay in ``metric_index`` / ``metric_score``;
    ``blended`` says which rows changed. Without model scores every row is its own final.
    """
    out = capability.assign(
        metric_index=capability.get("index"), metric_score=capability.get("score"), blended=False
    )
    if capability.empty or model_scores is None or model_scores.empty:
        return out
    keys = ["brand_id", "period", "capability"]
    final = model_scores[[*keys, "index", "score"]].drop_duplicates(keys)
    j = out.merge(final, on=keys, how="left", suffixes=("", "_final"), indicator=True)
    hit = (j.pop("_merge") == "both").to_numpy()
    j.loc[hit, "index"] = j.loc[hit, "index_final"]
    j.loc[hit, "score"] = j.loc[hit, "score_final"]
    j["blended"] = hit
    return j.drop(columns=["index_final", "score_final"])


@dataclass(frozen=True)
class Snapshot:
    """One consistent load of every result table.

    Besides the frames it holds what the busiest requests read, computed once per load instead
    of once per request: the brands by id, the latest-period overview of every brand (the
    portfolio and the brand list filter and sort it), the trust-alerted brands, and, filled on
    first use, each brand's rows of a table as JSON-safe records grouped by period (the
    scorecard). The snapshot never changes after the load, so neither can these.
    """

    frames: dict[str, pd.DataFrame]
    latest_period: date | None
    by_brand: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)
    brands_by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    overview_frame: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["brand_id", "name", "category"])
    )
    overview_rows: list[dict[str, Any]] = field(default_factory=list)
    trust_alerted: frozenset[str] = frozenset()
    _period_records: dict[str, dict[str, dict[Any, list[dict[str, Any]]]]] = field(
        default_factory=dict, repr=False
    )
    _summary_json: dict[str, bytes] = field(default_factory=dict, repr=False)
    _memo: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)

    def summary_json(self, row: dict[str, Any]) -> bytes:
        """An overview row as the JSON of a ``PortfolioRow``, validated and serialised on
        first use and kept for the snapshot's lifetime (a 500-brand portfolio page otherwise
        spends most of its time re-validating rows that cannot have changed)."""
        brand_id = str(row["brand_id"])
        found = self._summary_json.get(brand_id)
        if found is None:
            found = PortfolioRow.model_validate(row).model_dump_json().encode("utf-8")
            self._summary_json[brand_id] = found
        return found

    def frame(self, name: str) -> pd.DataFrame:
        return self.frames.get(name, pd.DataFrame())

    def brand_rows(self, name: str, brand_id: str) -> pd.DataFrame:
        return self.by_brand.get(name, {}).get(
            brand_id, pd.DataFrame(columns=self.frame(name).columns)
        )

    def period_records(self, name: str, brand_id: str) -> dict[Any, list[dict[str, Any]]]:
        """The brand's rows of ``name`` as records keyed by period (None: no period column).

        The whole table is turned into records on its first use (one pass over its columns,
        far cheaper than one small frame per brand) and kept for the snapshot's lifetime.
        """
        grouped = self._period_records.get(name)
        if grouped is None:
            with _GROUPING:
                grouped = self._period_records.get(name)
                if grouped is None:
                    grouped = group_records(self.frame(name))
                    self._period_records[name] = grouped
        return grouped.get(brand_id, {})

    def brand_records(self, name: str, brand_id: str) -> list[dict[str, Any]]:
        """The brand's records of ``name`` (shared: callers copy before changing one), in
        period order when the table has periods."""
        by_period = self.period_records(name, brand_id)
        if None in by_period:
            return by_period[None]
        return [r for p in sorted(by_period) for r in by_period[p]]

    def memo(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        """``make()``, computed once per snapshot for ``key`` (a derived statistic such as a
        month's category medians, which every brand page of that month reads)."""
        found = self._memo.get(key, _MISSING)
        if found is _MISSING:
            with _GROUPING:
                found = self._memo.get(key, _MISSING)
                if found is _MISSING:
                    found = make()
                    self._memo[key] = found
        return found


_GROUPING = threading.RLock()
_MISSING = object()


def load_snapshot(wh: Warehouse) -> Snapshot:
    """Read every result table present in ``wh`` and index it by brand.

    The tables are read in one transaction, so they come from one complete refresh: a main
    job committing while they are read is seen whole or not at all.
    """
    with wh.snapshot():
        frames = _read_frames(wh)
    return _indexed(frames)


def _read_frames(wh: Warehouse) -> dict[str, pd.DataFrame]:
    """Every loaded result table present in ``wh``, as frames, with the brushing evidence."""
    present = set(wh.tables())
    frames: dict[str, pd.DataFrame] = {}
    for name in LOADED_TABLES:
        if name in present:
            table = wh.table(name)
            # Money is exact in the warehouse; the read model only shows it. Cast in the engine:
            # half a million driver-tree rows as Python Decimals took most of a start-up.
            money = [c for c, t in table.schema().items() if t.is_decimal()]
            if money:
                table = table.mutate(**{c: table[c].cast("float64") for c in money})
            df = wh.execute(table)
            for col in df.columns:
                if col in ("period", "month") and not df.empty:
                    df[col] = pd.to_datetime(df[col]).dt.date
            if name == results.TRUST_SCORES and "entity" in df.columns:
                # Scores are per brand and per account; a brand's page shows the brand's own.
                df = df[df["entity"] == "brand"].assign(brand_id=lambda d: d["entity_id"])
            frames[name] = df
    drivers = frames.get(results.GMV_DRIVERS)
    if drivers is not None and "level" in drivers.columns:
        frames[GMV_DRIVERS_BRAND] = drivers[drivers["level"] == "brand"]
    if CAPABILITY in frames:
        frames[CAPABILITY] = final_capabilities(frames[CAPABILITY], frames.get(G_MODEL_SCORES))
    if BRUSHING_REVIEW in present:
        # The evidence behind each brand's brushing flags: orders per confidence and signals.
        flags = wh.table(BRUSHING_REVIEW)
        frames[BRUSHING_EVIDENCE] = wh.execute(
            flags.group_by(["brand_id", "confidence", "signals"])
            .aggregate(orders=flags.count())
            .order_by(["brand_id", "confidence", ibis.desc("orders")])
        )
    return frames


def _indexed(frames: dict[str, pd.DataFrame]) -> Snapshot:
    """The snapshot of the frames read: indexed by brand, with the portfolio overview."""
    latest = None
    for source in (results.STAGE, results.BRAND_MONTH):
        df = frames.get(source)
        if df is not None and not df.empty and "period" in df.columns:
            latest = max(df["period"])
            break
    by_brand: dict[str, dict[str, pd.DataFrame]] = {}
    for name, df in frames.items():
        if "brand_id" in df.columns and name not in UNINDEXED and not df.empty:
            by_brand[name] = {str(k): g for k, g in df.groupby("brand_id", sort=False)}
    brands = frames.get("brands", pd.DataFrame())
    brands_by_id: dict[str, dict[str, Any]] = {}
    for rec in records(brands):
        brands_by_id.setdefault(str(rec["brand_id"]), rec)
    alerts = frames.get(results.TRUST_ALERTS, pd.DataFrame())
    alerted = frozenset(alerts["brand_id"].dropna()) if "brand_id" in alerts else frozenset()
    overview = overview_frame(frames, latest, alerted)
    snap = Snapshot(
        frames=frames,
        latest_period=latest,
        by_brand=by_brand,
        brands_by_id=brands_by_id,
        overview_frame=overview,
        overview_rows=records(overview),
        trust_alerted=alerted,
    )
    for name in BRAND_PAGE_TABLES:  # converted now, not by the first request that reads them
        snap.period_records(name, "")
    return snap


def overview_frame(
    frames: dict[str, pd.DataFrame], period: date | None, alerted: frozenset[str]
) -> pd.DataFrame:
    """One row per brand for ``period``: stage, attention, GMV at stake, priority, GMV,
    bottleneck (rank 1) and whether a trust alert is open."""
    brands = frames.get("brands", pd.DataFrame())
    if brands.empty:
        return pd.DataFrame(columns=["brand_id", "name", "category"])
    out = brands[["brand_id", "name", "category", "origin"]].copy()
    for name, cols in (
        (results.STAGE, ["stage"]),
        (results.PORTFOLIO, ["attention", "gmv_at_stake", "priority"]),
        (results.BRAND_MONTH, ["net_gmv_t90d", "net_gmv"]),
    ):
        df = frames.get(name, pd.DataFrame())
        if df.empty or period is None:
            for c in cols:
                out[c] = None
            continue
        latest = df[df["period"] == period]
        have = [c for c in cols if c in latest.columns]
        out = out.merge(
            latest[["brand_id", *have]].drop_duplicates("brand_id"), on="brand_id", how="left"
        )
        for c in cols:
            if c not in out.columns:
                out[c] = None
    bott = frames.get(results.BOTTLENECK, pd.DataFrame())
    if not bott.empty and period is not None:
        top = bott[(bott["period"] == period) & (bott["rank"] == 1)][["brand_id", "capability"]]
        out = out.merge(top.rename(columns={"capability": "bottleneck"}), on="brand_id", how="left")
    else:
        out["bottleneck"] = None
    out["trust_alert"] = out["brand_id"].isin(alerted)
    return out


def _rank(row: dict[str, Any]) -> float:
    rank = row.get("rank")
    return float(rank) if rank is not None else float("inf")


class ReadModel:
    """Thread-safe holder of the current snapshot, with the queries the interfaces need."""

    def __init__(
        self,
        wh_factory: Callable[[], AbstractContextManager[Warehouse]],
        *,
        min_category_brands: int = privacy.MIN_CATEGORY_BRANDS,
        trust_weights: Mapping[str, float] | None = None,
    ) -> None:
        self._wh_factory = wh_factory
        #: Smallest category whose statistics a brand user reads (views.privacy).
        self.min_category_brands = min_category_brands
        #: The workspace's trust weights (``trust.yaml``): each part's maximum points; None
        #: reads the shipped file's.
        self.trust_weights = dict(trust_weights) if trust_weights is not None else None
        self._lock = threading.Lock()
        self._snap = Snapshot(frames={}, latest_period=None)

    @classmethod
    def of(cls, wh: Warehouse) -> ReadModel:
        """A read model holding one snapshot of the open warehouse ``wh`` (a command's read)."""
        rm = cls(lambda: nullcontext(wh))
        rm.reload()
        return rm

    def reload(self) -> None:
        """Load a new snapshot from the warehouse and swap it in."""
        with self._wh_factory() as wh:
            snap = load_snapshot(wh)
        with self._lock:
            self._snap = snap

    @property
    def snap(self) -> Snapshot:
        return self._snap

    # -- brands --------------------------------------------------------------------------------
    def brand(self, brand_id: str) -> dict[str, Any] | None:
        found = self.snap.brands_by_id.get(brand_id)
        return dict(found) if found is not None else None

    def brand_record(self, brand_id: str) -> BrandRecord | None:
        found = self.snap.brands_by_id.get(brand_id)
        return BrandRecord.model_validate(found) if found is not None else None

    def brand_ids(self) -> set[str]:
        return set(self.snap.brands_by_id)

    def categories(self) -> list[str]:
        brands = self.snap.frame("brands")
        return sorted(brands["category"].dropna().unique()) if not brands.empty else []

    def overview(self, scope: set[str] | None) -> pd.DataFrame:
        """One row per brand in ``scope`` (None = all) for the latest period."""
        out = self.snap.overview_frame
        return out.copy() if scope is None else out[out["brand_id"].isin(scope)].copy()

    def list_brands(
        self,
        scope: set[str] | None,
        *,
        category: str | None = None,
        stage: str | None = None,
        attention: str | None = None,
        q: str | None = None,
        sort: str = "priority",
        descending: bool = True,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the overview: filtered, sorted (missing values last, ties in brand
        order) and sliced, in plain Python over the snapshot's precomputed rows."""
        rows = self.snap.overview_rows
        if scope is not None:
            rows = [r for r in rows if r["brand_id"] in scope]
        if category:
            rows = [r for r in rows if r.get("category") == category]
        if stage:
            rows = [r for r in rows if r.get("stage") == stage]
        if attention:
            rows = [r for r in rows if r.get("attention") == attention]
        if q:
            ql = q.lower()
            rows = [
                r
                for r in rows
                if ql in str(r["brand_id"]).lower()
                or (r.get("name") is not None and ql in str(r["name"]).lower())
            ]
        total = len(rows)
        key = sort if rows and sort in rows[0] else "brand_id"
        # Priority 1 is the most urgent brand, so "descending" urgency is ascending numbers.
        ascending = descending if key == "priority" else not descending
        present = [r for r in rows if r.get(key) is not None]
        missing = [r for r in rows if r.get(key) is None]
        present.sort(key=lambda r: r[key], reverse=not ascending)
        ordered = present + missing
        return [dict(r) for r in ordered[offset : offset + limit]], total

    def summary_page_json(
        self, items: list[dict[str, Any]], total: int, page: int, page_size: int
    ) -> bytes:
        """A ``Page[PortfolioRow]`` of ``items`` (rows of :meth:`list_brands`) as JSON bytes."""
        snap = self.snap
        body = b",".join(snap.summary_json(r) for r in items)
        tail = json.dumps({"total": total, "page": page, "page_size": page_size})
        return b'{"items":[' + body + b"]," + tail[1:].encode("utf-8")

    # -- one brand -----------------------------------------------------------------------------
    def _latest_records(
        self, name: str, brand_id: str, period: date | None = None
    ) -> list[dict[str, Any]]:
        """Copies of the brand's records of ``name`` in ``period`` (default: its latest)."""
        by_period = self.snap.period_records(name, brand_id)
        if not by_period:
            return []
        key = None if None in by_period else period or max(by_period)
        return [dict(r) for r in by_period.get(key, [])]

    def scorecard(
        self, brand_id: str, period: date | None = None, viewer: Principal | None = None
    ) -> Scorecard:
        """The brand view in ``period`` (default: each table's latest): stage, final STEPS
        scores, key metrics, trust and the brushing evidence. A brand ``viewer`` in a small
        category reads the stage reason without its category statistics."""
        caps = self._latest_records(CAPABILITY, brand_id, period)
        month = self._latest_records(results.BRAND_MONTH, brand_id, period)
        stage = self._latest_records(G_STAGE, brand_id, period)
        unjudged = self._latest_records(G_UNJUDGED, brand_id, period) if not stage else []
        trust = self._latest_records(results.TRUST_SCORES, brand_id, period)
        caps.sort(
            key=lambda r: CAPABILITY_ORDER.get(str(r.get("capability")), len(CAPABILITY_ORDER))
        )
        card = Scorecard.model_validate(
            {
                "brand": self.brand(brand_id),
                "period": period or self.snap.latest_period,
                "stage": stage[0] if stage else None,
                # no stage yet: the brand sold before the data and its windows are still filling
                "unjudged": unjudged[0] if unjudged else None,
                "capabilities": [
                    {**{k: r.get(k) for k in CAPABILITY_FIELDS}, "blended": bool(r.get("blended"))}
                    for r in caps
                ],
                "metrics": month[0] if month else {},
                "trust": trust[:1] or None,
                "trust_alert": brand_id in self.snap.trust_alerted,
                # which signals fired behind the brushing share (high: left out of GMV)
                "brushing_evidence": self.table_rows(BRUSHING_EVIDENCE, brand_id),
            }
        )
        if privacy.anonymous(viewer) and card.stage is not None:
            small = self._small_category(brand_id, card.stage.period)
            card = card.model_copy(update={"stage": privacy.private_stage(card.stage, small)})
        return card

    def stage_history(self, brand_id: str, viewer: Principal | None = None) -> list[dict[str, Any]]:
        """The brand's stage per period; a brand ``viewer`` reads each reason without the
        statistics of a category too small for them."""
        history = [dict(r) for r in self.snap.brand_records(results.STAGE, brand_id)]
        if privacy.anonymous(viewer):
            for row in history:
                if self._small_category(brand_id, row.get("period")):
                    row["reason_params"] = privacy.private_params(row.get("reason_params"))
        return history

    def diagnosis(
        self, brand_id: str, period: date | None = None, viewer: Principal | None = None
    ) -> Diagnosis:
        """Stage, bottleneck ranking and plan in ``period`` (default: the brand's latest); a
        brand ``viewer`` reads it anonymised (:func:`views.privacy.private_diagnosis`)."""
        stage = self._latest_records(G_STAGE, brand_id, period)
        bott = self._latest_records(G_BOTTLENECK, brand_id, period)
        plan_rows = sorted(self._latest_records(G_PLAN, brand_id, period), key=_rank)
        for row in plan_rows:
            ev = row.get("evidence")
            if isinstance(ev, str):
                try:
                    row["evidence"] = json.loads(ev)
                except ValueError:
                    row["evidence"] = {"note": ev}
            if isinstance(row.get("evidence"), list):  # the peers alone, without their step
                row["evidence"] = {"peers": row["evidence"]}
        diag = Diagnosis.model_validate(
            {
                "stage": stage[0] if stage else None,
                "bottlenecks": sorted(bott, key=_rank),
                "plan": plan_rows,
            }
        )
        if not privacy.anonymous(viewer):
            return diag
        judged = diag.stage.period if diag.stage else period
        return privacy.private_diagnosis(diag, self._small_category(brand_id, judged))

    def brand_diagnosis(
        self, brand_id: str, period: date | None = None, viewer: Principal | None = None
    ) -> BrandDiagnosis:
        """The scorecard and the diagnosis of one period (default: the brand's latest stage)."""
        if period is None:
            judged = [p for p in self.snap.period_records(G_STAGE, brand_id) if p is not None]
            period = max(judged, default=None)
        return BrandDiagnosis(
            scorecard=self.scorecard(brand_id, period, viewer),
            diagnosis=self.diagnosis(brand_id, period, viewer),
        )

    def metric_series(
        self, brand_id: str, metrics: Iterable[str] | None = None
    ) -> list[dict[str, Any]]:
        rows = self.snap.brand_records(results.BRAND_MONTH, brand_id)
        if not metrics:
            return [dict(r) for r in rows]
        keep = ["period", *metrics]
        return [{k: r[k] for k in keep if k in r} for r in rows]

    def table_rows(self, name: str, brand_id: str) -> list[dict[str, Any]]:
        """Every row of result table ``name`` for one brand (model outputs, driver tree)."""
        return [dict(r) for r in self.snap.brand_records(name, brand_id)]

    def category_brands(self, category: object, period: date | None) -> int:
        """Brands of ``category`` scored in ``period``: how many a category statistic of that
        month is taken over."""
        if period is None or category is None:
            return 0
        return int(self._month_scores(period).sizes.get(category, 0))

    def _month_scores(self, period: date) -> MonthScores:
        """The month's final scores by category and by stage, once per snapshot."""
        snap = self.snap
        return snap.memo(
            ("month_scores", period),
            lambda: month_scores(snap.frame(CAPABILITY), snap.frame(results.STAGE), period),
        )

    def _small_category(self, brand_id: str, period: date | None) -> bool:
        """Whether the brand's category in ``period`` (default: latest) is too small for a
        brand user to read its statistics."""
        brand = self.brand(brand_id) or {}
        size = self.category_brands(brand.get("category"), period or self.snap.latest_period)
        return size < self.min_category_brands

    def radar(
        self, brand_id: str, period: date | None = None, viewer: Principal | None = None
    ) -> Radar:
        """The brand's final capability scores against its category's median and the next
        stage's median (the same final scores). A brand ``viewer`` reads a median only when
        at least ``min_category_brands`` brands make it."""
        period = period or self.snap.latest_period
        brand = self.brand(brand_id)
        month = self._month_scores(period) if period is not None else None
        if month is None or brand is None:
            return Radar(
                capabilities=list(Capability),
                brand=[],
                category_median=[],
                next_stage_median=[],
            )
        mine = month.brands.get(brand_id, {})
        cat = month.category_medians.get(brand["category"], {})
        nxt: dict[str, float] = {}
        next_brands = 0
        my_stage = month.stage_of.get(brand_id)
        if my_stage is not None:
            idx = STAGE_ORDER.get(my_stage, 0)
            up = contract.STAGES[min(idx + 1, len(contract.STAGES) - 1)]
            nxt = month.stage_medians.get(up, {})
            next_brands = month.stage_sizes.get(up, 0)
        caps_order = list(Capability)
        radar = Radar(
            capabilities=caps_order,
            brand=[clean(mine.get(c)) for c in caps_order],
            category_median=[clean(cat.get(c)) for c in caps_order],
            next_stage_median=[clean(nxt.get(c)) for c in caps_order],
        )
        if not privacy.anonymous(viewer):
            return radar
        in_category = month.sizes.get(brand["category"], 0)
        return privacy.private_radar(radar, in_category, next_brands, self.min_category_brands)

    # -- ecosystem -----------------------------------------------------------------------------
    def _stages_in(self, scope: set[str] | None) -> pd.DataFrame:
        stages = self.snap.frame(results.STAGE)
        if stages.empty or scope is None:
            return stages
        return stages[stages["brand_id"].isin(scope)]

    def stage_distribution(self, scope: set[str] | None) -> list[dict[str, Any]]:
        stages = self._stages_in(scope)
        if stages.empty:
            return []
        counts = stages.groupby(["period", "stage"]).size().rename("brands").reset_index()
        return records(counts.sort_values(["period", "stage"]))

    def stage_flows(self, scope: set[str] | None) -> list[dict[str, Any]]:
        """Brands moving between stages from one period to the next, summed over all periods."""
        stages = self._stages_in(scope)
        if stages.empty:
            return []
        s = stages.sort_values(["brand_id", "period"])[["brand_id", "period", "stage"]].copy()
        s["next"] = s.groupby("brand_id")["stage"].shift(-1)
        moves = s.dropna(subset=["next"])
        moves = moves[moves["stage"] != moves["next"]]
        flows = moves.groupby(["stage", "next"]).size().rename("brands").reset_index()
        return records(flows.rename(columns={"stage": "source", "next": "target"}))
