"""The whole diagnosis: stage, bottleneck, plan and portfolio tables from the metric tables.

The caller executes :func:`input_expressions` through :class:`windmaker.warehouse.Warehouse`,
passes the frames to :func:`diagnose`, and stores :func:`result_tables` as ``g_stage``,
``g_bottleneck``, ``g_plan`` and ``g_portfolio`` (and ``g_model_scores`` when fitted models
fed the diagnosis: :mod:`windmaker.growth.model_feed`).
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import pandas as pd
import pyarrow as pa

from windmaker import results
from windmaker.growth.bottleneck import (
    advancer_rows,
    criterion_failures,
    gaps,
    reference_indices,
    with_headline_metrics,
)
from windmaker.growth.config import LadderConfig
from windmaker.growth.ladder import (
    LADDER_COLUMNS,
    UNJUDGED_COLUMNS,
    classify,
    history_gate,
    stage_table,
)
from windmaker.growth.model_feed import (
    G_MODEL_SCORES,
    ModelFeed,
    blended_capability,
    model_actions,
)
from windmaker.growth.plan import PLAN_METRICS, Playbook, build_plans
from windmaker.growth.portfolio import attention_table

BRAND_MONTH = results.BRAND_MONTH
CAPABILITY = results.CAPABILITY
TRUST_ALERTS = results.TRUST_ALERTS
G_STAGE, G_BOTTLENECK, G_PLAN, G_PORTFOLIO = (
    results.STAGE,
    results.BOTTLENECK,
    results.PLAN,
    results.PORTFOLIO,
)
G_UNJUDGED = results.UNJUDGED


@dataclass(frozen=True)
class Diagnosis:
    """Every result of one diagnosis run (the four stored tables and the stage history)."""

    stages: pd.DataFrame
    bottlenecks: pd.DataFrame
    plans: pd.DataFrame
    portfolio: pd.DataFrame
    transitions: pd.DataFrame
    classified: pd.DataFrame
    #: ``g_model_scores`` (the P and T indices blended with the models); None without models.
    model_scores: pd.DataFrame | None = None
    #: ``g_unjudged``: brand-months left unjudged (insufficient history), with the reason.
    unjudged: pd.DataFrame | None = None


def input_expressions(
    brand_month: ibis.Table, capability: ibis.Table, brands: ibis.Table | None = None
) -> tuple[ibis.Table, ibis.Table]:
    """The columns the diagnosis reads, numbers cast to float64 in the engine (not in pandas).

    With ``brands``, each row carries the brand's ``joined_at`` (the history gate needs it).
    """
    wanted = [*LADDER_COLUMNS, *PLAN_METRICS]
    kept = ("brand_id", "category", "period", "as_of", "to_date")
    cols = [
        brand_month[c] if c in kept else brand_month[c].cast("float64").name(c)
        for c in dict.fromkeys(wanted)
        if c in brand_month.columns
    ]
    cap = capability.select(
        "brand_id",
        "category",
        "period",
        "capability",
        capability["index"].cast("float64").name("index"),
        capability["score"].cast("float64").name("score"),
    )
    bm = brand_month.select(cols)
    if brands is not None:
        joined = brands.select("brand_id", joined_at=brands.joined_at.cast("timestamp"))
        bm = bm.left_join(joined, "brand_id").drop("brand_id_right")
    return bm, cap


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["period"] = pd.to_datetime(out["period"]).astype("datetime64[s]")
    return out


def diagnose(
    brand_month: pd.DataFrame,
    capability: pd.DataFrame,
    config: LadderConfig,
    playbook: Playbook,
    trust_alerts: pd.DataFrame | None = None,
    models: ModelFeed | None = None,
) -> Diagnosis:
    """Stage, bottleneck, plan and portfolio for every brand × period of the inputs.

    With ``models`` (and a ``models`` section in ``ladder.yaml``) the P and T indices of each
    brand's model period are blended with the lifetime-value and traffic-curve components
    (``models.components`` and ``models.scores``, which the caller executes from
    :func:`windmaker.growth.model_feed.score_expressions`): the blended scores feed the stage
    criteria, the blended index the gaps (after smoothing), and model-backed actions join the
    plan (``playbook.yaml`` → ``model_actions``). Without, the result is the metrics-only
    diagnosis.
    """
    cap = _prepare(capability)
    # Only brand-months the metrics engine benchmarks (brands that had joined by the period):
    # rows before a brand joins are empty and would start its hysteresis and warm-up too early.
    present = cap[["brand_id", "period"]].drop_duplicates()
    bm = _prepare(brand_month).merge(present, on=["brand_id", "period"], how="inner")
    # Brands that sold before the data are judged once their windows fill.
    bm, unjudged = history_gate(bm, config)
    comps, scores, actions = None, None, None
    cap_scored = cap
    if models is not None and not models.empty and config.models is not None:
        if models.components is None or models.scores is None:
            raise ValueError(
                "the model feed is not scored: execute model_feed.score_expressions first"
            )
        comps, scores = models.components, models.scores
        cap_scored = blended_capability(cap, scores)
        if playbook.model_actions is not None:
            actions = model_actions(models, config.models, playbook.model_actions)
    classified = classify(bm, cap_scored, config)
    hist = classified[["brand_id", "category", "period", "stage"]]
    advancers = advancer_rows(hist, config)
    # References are learned from the metrics history (the models speak about one month only).
    refs = reference_indices(hist, cap, config, advancers=advancers)
    # The capability behind a failed next-stage criterion ranks first (judged on the same scores).
    failures = criterion_failures(classified, cap_scored)
    gap_table = gaps(hist, cap, refs, config, adjust=comps, failures=failures)
    gap_table = with_headline_metrics(gap_table, hist, bm, config, advancers)
    plans = build_plans(hist, gap_table, bm, advancers, playbook, config, actions)
    portfolio = attention_table(classified, config, trust_alerts)
    return Diagnosis(
        stages=stage_table(classified),
        bottlenecks=gap_table,
        plans=plans,
        portfolio=portfolio,
        transitions=advancers,
        classified=classified,
        model_scores=scores,
        unjudged=unjudged,
    )


def _arrow(frame: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = []
    for f in table.schema:
        if f.name == "period":
            fields.append(pa.field(f.name, pa.date32()))
        elif pa.types.is_large_string(f.type):
            fields.append(pa.field(f.name, pa.string()))
        else:
            fields.append(f)
    if "period" in table.column_names:
        table = table.set_column(
            table.column_names.index("period"),
            "period",
            table["period"].cast(pa.timestamp("s")).cast(pa.date32()),
        )
    return table.cast(pa.schema(fields))


def _unjudged_arrow(frame: pd.DataFrame) -> pa.Table:
    """``g_unjudged`` with a fixed schema (it is often empty)."""
    day = pa.date32()
    types = {"period": day, "joined_at": day, "data_start": day, "judged_from": day}
    schema = pa.schema([(c, types.get(c, pa.string())) for c in UNJUDGED_COLUMNS])
    cols = {}
    for f in schema:
        values = frame[f.name] if f.name in frame.columns else pd.Series([], dtype=object)
        if f.type == day:
            values = pd.to_datetime(values).dt.date
        cols[f.name] = pa.array([None if pd.isna(v) else v for v in values], f.type)
    return pa.table(cols, schema=schema)


def result_tables(diagnosis: Diagnosis) -> dict[str, pa.Table]:
    """The result tables as Arrow, periods as DATE.

    Money (the GMV at stake) stays a float: the warehouse's money writer stores the columns
    :mod:`windmaker.results` declares as money as DECIMAL(18,2), rounded to the cent.
    """
    out = {
        G_STAGE: _arrow(diagnosis.stages),
        G_BOTTLENECK: _arrow(diagnosis.bottlenecks),
        G_PLAN: _arrow(diagnosis.plans),
        G_PORTFOLIO: _arrow(diagnosis.portfolio),
    }
    unjudged = diagnosis.unjudged
    if unjudged is None:
        unjudged = pd.DataFrame(columns=list(UNJUDGED_COLUMNS))
    out[G_UNJUDGED] = _unjudged_arrow(unjudged)
    if diagnosis.model_scores is not None and len(diagnosis.model_scores):
        out[G_MODEL_SCORES] = _arrow(diagnosis.model_scores)
    return out
