"""The period's evaluation (服务商考核) with the warnings and exits it proposes, and the tiers of
the windmaker plan (造风者计划)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
from sqlalchemy.orm import Session

from windmaker import store
from windmaker.ecosystem.evaluation import evaluate_providers
from windmaker.ecosystem.exit import PeriodVerdict, propose_exits
from windmaker.ecosystem.tiers import (
    TierStanding,
    closest_to_next_tier,
    tier_counts,
    tier_standings,
)
from windmaker.services.configs import Configs
from windmaker.services.identity import Principal
from windmaker.services.providers.inputs import (
    WarehouseFrames,
    action_frame,
    assignments_frame,
    trust_violations,
    warehouse_frames,
)
from windmaker.services.providers.records import EVALUATED, EvaluationRun, TierBoard
from windmaker.services.providers.registry import require_admin
from windmaker.store.evaluations import annual_gmv_served
from windmaker.warehouse import Warehouse


def evaluate(
    session: Session,
    wh: Warehouse,
    configs: Configs,
    user: Principal,
    period: date,
    *,
    violations: pd.DataFrame | None = None,
) -> EvaluationRun:
    """Evaluate every provider for the month ``period`` (服务商考核), record the evaluations and
    propose warnings and exits (准出), which wait for a person (:func:`confirm_exit`).

    ``violations`` (brand_id, period, kind; ``fraud`` is severe) default to the trust alerts.
    """
    require_admin(user)
    frames = warehouse_frames(wh)
    if violations is None:
        violations = trust_violations(wh)
    return _evaluate_month(session, frames, configs, user, period, violations)


def evaluate_months(
    session: Session,
    wh: Warehouse,
    configs: Configs,
    user: Principal,
    *,
    violations: pd.DataFrame | None = None,
) -> list[EvaluationRun]:
    """Evaluate every month of the data, oldest first, as if each had been evaluated when it
    closed: the history a provider page charts. The warehouse is read once; a warning proposed
    in one month and not yet confirmed is not proposed again in the next."""
    require_admin(user)
    frames = warehouse_frames(wh)
    if violations is None:
        violations = trust_violations(wh)
    months = sorted({pd.Timestamp(p).date() for p in frames.brand_month["period"].unique()})
    return [_evaluate_month(session, frames, configs, user, m, violations) for m in months]


def _evaluate_month(
    session: Session,
    frames: WarehouseFrames,
    configs: Configs,
    user: Principal,
    period: date,
    violations: pd.DataFrame | None,
) -> EvaluationRun:
    cfg = configs.ecosystem
    providers = store.list_providers(session)
    result = evaluate_providers(
        brand_month=frames.brand_month,
        assignments=assignments_frame(session),
        period=period,
        config=cfg.evaluation,
        stages=frames.stages,
        violations=violations,
        action_items=action_frame(session),
        capabilities=frames.capabilities,
        provider_capabilities={p.provider_id: list(p.capabilities) for p in providers},
        provider_ids=[p.provider_id for p in providers if p.status in EVALUATED],
    )
    known = {p.provider_id for p in providers}
    for e in result.providers:
        if e.provider_id not in known:
            continue
        store.record_evaluation(
            session,
            provider_id=e.provider_id,
            period=e.period,
            metrics=e.metrics_json(),
            gmv_served=e.gmv_served,
            score=e.score,
            meets_standard=e.meets_standard,
            severe_violation=e.severe_violation,
            reasons=list(e.reasons),
            actor=user.username,
            commit=False,
        )
    session.commit()
    history = [
        PeriodVerdict(v.provider_id, v.period, v.meets_standard, v.severe_violation)
        for v in store.list_evaluations(session)
        if v.period <= period
    ]
    proposals = propose_exits(history, {p.provider_id: p.status for p in providers}, cfg.exit)
    for prop in proposals:
        store.propose_decision(
            session,
            provider_id=prop.provider_id,
            kind=prop.kind,
            proposed_outcome=prop.proposed_outcome,
            reasons=list(prop.reasons),
            period=prop.period,
            actor=user.username,
        )
    return EvaluationRun(period, tuple(result.providers), tuple(proposals))


# -- tiers -------------------------------------------------------------------------------------
def tier_board(
    session: Session, configs: Configs, *, period: date | None = None, per_tier: int = 10
) -> TierBoard:
    """The whole windmaker-plan board; :func:`tiers` is what a user may see of it."""
    tiers_cfg = configs.ecosystem.tiers
    gmv, source = annual_gmv_served(session, period=period)
    standings = tier_standings(gmv, tiers_cfg)
    return TierBoard(
        source=source,
        tiers=tuple(tier_counts(standings, tiers_cfg)),
        closest={
            k: tuple(v) for k, v in closest_to_next_tier(standings, per_tier=per_tier).items()
        },
        standings=tuple(standings),
    )


def tiers(
    session: Session,
    configs: Configs,
    user: Principal,
    *,
    period: date | None = None,
    per_tier: int = 10,
) -> TierBoard:
    """Windmaker-plan tiers (造风者计划) against the targets; the counts are public, the
    standings of single providers are not: a provider sees its own, a brand none."""
    board = tier_board(session, configs, period=period, per_tier=per_tier)
    if user.role in ("admin", "operator"):
        return board

    def mine(rows: Sequence[TierStanding]) -> tuple[TierStanding, ...]:
        if user.role != "provider":
            return ()
        return tuple(s for s in rows if s.provider_id == user.provider_id)

    closest = {k: mine(v) for k, v in board.closest.items()} if user.role == "provider" else {}
    return TierBoard(board.source, board.tiers, closest, mine(board.standings))
