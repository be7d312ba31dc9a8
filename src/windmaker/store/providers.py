"""Providers (服务商): create or update what a provider declares, read them back."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from windmaker.contract import CAPABILITIES
from windmaker.store.audit import append_audit
from windmaker.store.errors import InvalidValueError, NotFoundError
from windmaker.store.models import PROVIDER_KINDS, PROVIDER_STATUSES, Provider


def _check(kind: str, capabilities: Iterable[str], status: str | None) -> None:
    if kind not in PROVIDER_KINDS:
        raise InvalidValueError(
            f"unknown provider kind {kind!r}; one of {', '.join(PROVIDER_KINDS)}"
        )
    unknown = sorted(set(capabilities) - set(CAPABILITIES))
    if unknown:
        raise InvalidValueError(f"unknown capabilities {unknown}; one of {', '.join(CAPABILITIES)}")
    if status is not None and status not in PROVIDER_STATUSES:
        raise InvalidValueError(
            f"unknown provider status {status!r}; one of {', '.join(PROVIDER_STATUSES)}"
        )


def upsert_provider(
    session: Session,
    *,
    provider_id: str,
    name: str,
    kind: str,
    capabilities: Iterable[str],
    categories: Iterable[str],
    capacity: int,
    team_size: int = 0,
    gmv_served_12m: Decimal | int | str = Decimal("0"),
    founded_at: date | None = None,
    status: str | None = None,
    actor: str,
    reason: str = "",
    commit: bool = True,
) -> Provider:
    """Create provider ``provider_id`` or update its declared profile; audited.

    ``status`` is set only when given (imports of already-admitted providers); otherwise a new
    provider starts as ``applicant`` and an existing one keeps its status.
    """
    caps = sorted(set(capabilities))
    _check(kind, caps, status)
    provider = session.get(Provider, provider_id)
    created = provider is None
    if provider is None:
        provider = Provider(provider_id=provider_id, status=status or "applicant")
        session.add(provider)
    elif status is not None:
        provider.status = status
    provider.name = name
    provider.kind = kind
    provider.capabilities = caps
    provider.categories = sorted(set(categories))
    provider.capacity = int(capacity)
    provider.team_size = int(team_size)
    provider.gmv_served_12m = Decimal(str(gmv_served_12m)).quantize(Decimal("0.01"))
    provider.founded_at = founded_at
    append_audit(
        session,
        actor=actor,
        action="provider.created" if created else "provider.updated",
        subject_type="provider",
        subject_id=provider_id,
        reason=reason,
        detail={"kind": kind, "capacity": int(capacity), "status": provider.status},
    )
    if commit:
        session.commit()
    return provider


def get_provider(session: Session, *, provider_id: str) -> Provider:
    """Provider ``provider_id``; :class:`NotFoundError` when there is none."""
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise NotFoundError(f"no provider {provider_id!r}")
    return provider


def list_providers(session: Session, *, statuses: Iterable[str] | None = None) -> list[Provider]:
    """Providers ordered by id, optionally only those in ``statuses``."""
    stmt = select(Provider).order_by(Provider.provider_id)
    if statuses is not None:
        stmt = stmt.where(Provider.status.in_(list(statuses)))
    return list(session.scalars(stmt))
