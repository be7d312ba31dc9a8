"""The provider registry (服务商名录): who may see which provider, its evaluations and its
client brands, and the import of providers and assignments from files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from windmaker import store
from windmaker.services.errors import forbidden, invalid, not_found
from windmaker.services.identity import Principal
from windmaker.services.providers.records import (
    AssignmentRecord,
    EvaluationRecord,
    LoadResult,
    ProviderRecord,
)
from windmaker.store.models import Provider


# -- scope -------------------------------------------------------------------------------------
def require_admin(user: Principal) -> None:
    """Only an admin runs this use case (403 for everyone else)."""
    if user.role != "admin":
        raise forbidden()


def stored_provider(session: Session, provider_id: str) -> Provider | None:
    """The provider's store row, whoever asks (callers decide the scope)."""
    return session.get(Provider, provider_id)


# -- reads -------------------------------------------------------------------------------------
def providers_in_scope(
    session: Session, user: Principal, *, status: str | None = None
) -> list[ProviderRecord]:
    """The registry as ``user`` sees it (optionally one status)."""
    rows = store.list_providers(session, statuses=[status] if status else None)
    return [ProviderRecord.of(p) for p in rows if user.sees_provider(p.provider_id)]


def provider(session: Session, user: Principal, provider_id: str) -> ProviderRecord:
    """One provider in ``user``'s scope (else not found)."""
    p = stored_provider(session, provider_id)
    if p is None or not user.sees_provider(provider_id):
        raise not_found(f"no provider {provider_id!r}")
    return ProviderRecord.of(p)


def evaluations(session: Session, user: Principal, provider_id: str) -> list[EvaluationRecord]:
    """A provider's evaluation history, oldest first."""
    provider(session, user, provider_id)
    return [
        EvaluationRecord(
            provider_id=e.provider_id,
            period=e.period,
            gmv_served=e.gmv_served,
            score=e.score,
            meets_standard=e.meets_standard,
            severe_violation=e.severe_violation,
            metrics=dict(e.metrics),
            reasons=list(e.reasons),
        )
        for e in store.list_evaluations(session, provider_id=provider_id)
    ]


def latest_evaluations(session: Session, user: Principal) -> dict[str, EvaluationRecord]:
    """Each provider's latest evaluation, for the providers ``user`` sees (the registry's
    score column), read in one query."""
    latest: dict[str, EvaluationRecord] = {}
    for e in store.list_evaluations(session):
        if not user.sees_provider(e.provider_id):
            continue
        known = latest.get(e.provider_id)
        if known is None or e.period > known.period:
            latest[e.provider_id] = EvaluationRecord(
                provider_id=e.provider_id,
                period=e.period,
                gmv_served=e.gmv_served,
                score=e.score,
                meets_standard=e.meets_standard,
                severe_violation=e.severe_violation,
                metrics=dict(e.metrics),
                reasons=list(e.reasons),
            )
    return latest


def client_counts(session: Session, user: Principal) -> dict[str, int]:
    """Current clients (assignments not ended) per provider ``user`` sees: a count, which
    names no brand, so an operator reads it for brands outside its portfolio too."""
    counts: dict[str, int] = {}
    for a in store.list_assignments(session):
        if a.ended_at is None and user.sees_provider(a.provider_id):
            counts[a.provider_id] = counts.get(a.provider_id, 0) + 1
    return counts


def assignments(session: Session, user: Principal, provider_id: str) -> list[AssignmentRecord]:
    """A provider's client brands over time; an operator sees those of its portfolio only."""
    provider(session, user, provider_id)
    return [
        AssignmentRecord(a.id, a.provider_id, a.brand_id, a.started_at, a.ended_at, a.source)
        for a in store.list_assignments(session, provider_id=provider_id)
        if user.role != "operator" or user.sees_brand(a.brand_id)
    ]


# -- import ------------------------------------------------------------------------------------
def read_ecosystem_folder(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``providers.parquet`` and ``assignments.parquet`` of an ecosystem folder (the simulator's
    ``ecosystem/`` or the market folder holding it)."""
    if (folder / "ecosystem").is_dir():
        folder = folder / "ecosystem"
    try:
        return (
            pd.read_parquet(folder / "providers.parquet"),
            pd.read_parquet(folder / "assignments.parquet"),
        )
    except OSError as exc:
        raise invalid("folder", f"{folder}: {exc}") from None


def _split(value: object) -> list[str]:
    return [c for c in str(value).split(",") if c]


def load(
    session: Session, user: Principal, providers: pd.DataFrame, assignments: pd.DataFrame
) -> LoadResult:
    """Import providers (as admitted, the first time) and their assignments; an import run twice
    changes nothing the second time. Admins only."""
    require_admin(user)
    known = {p.provider_id for p in store.list_providers(session)}
    for p in providers.itertuples():
        pid = str(p.provider_id)
        store.upsert_provider(
            session,
            provider_id=pid,
            name=str(p.name),
            kind=str(p.kind),
            capabilities=_split(p.capabilities),
            categories=_split(p.categories),
            capacity=int(p.capacity),
            team_size=int(p.team_size),
            gmv_served_12m=Decimal(str(p.gmv_served_12m)),
            founded_at=pd.Timestamp(p.founded_at).date() if pd.notna(p.founded_at) else None,
            status=None if pid in known else "admitted",
            actor=user.username,
            reason="imported",
            commit=False,
        )
    session.commit()
    seen = {(a.provider_id, a.brand_id, a.started_at) for a in store.list_assignments(session)}
    added = 0
    for a in assignments.itertuples():
        key = (str(a.provider_id), str(a.brand_id), pd.Timestamp(a.started_at).date())
        if key in seen:
            continue
        store.add_assignment(
            session,
            provider_id=key[0],
            brand_id=key[1],
            started_at=key[2],
            ended_at=pd.Timestamp(a.ended_at).date() if pd.notna(a.ended_at) else None,
            source="import",
            actor=user.username,
            reason="imported",
            commit=False,
        )
        seen.add(key)
        added += 1
    session.commit()
    new = len({str(p) for p in providers["provider_id"]} - known)
    return LoadResult(providers=len(providers), new_providers=new, new_assignments=added)
