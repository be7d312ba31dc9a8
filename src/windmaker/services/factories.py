"""Who may read the trade chain's factory side (源头工厂, 产业带): admins, operators, and service
providers of the supply-chain kind, which link brands to factories. Brands do not see other
brands' factories, and other providers have no business with them.

A factory ranking for one brand is further held to the caller's brand scope: an operator's
portfolio, a supply-chain provider's own clients.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from windmaker.codes import ProviderKind
from windmaker.services.errors import forbidden, not_found
from windmaker.services.identity import Principal
from windmaker.store import NotFoundError, get_provider


def may_read_factories(session: Session, user: Principal) -> bool:
    """Admins, operators and supply-chain providers."""
    if user.role in ("admin", "operator"):
        return True
    if user.role != "provider" or user.provider_id is None:
        return False
    try:
        kind = get_provider(session, provider_id=user.provider_id).kind
    except NotFoundError:
        return False
    return kind == ProviderKind.SUPPLY_CHAIN.value


def require_factory_reader(session: Session, user: Principal) -> None:
    """Refuse (403) a caller whose role may never read factories."""
    if not may_read_factories(session, user):
        raise forbidden()


def require_brand_ranking(session: Session, user: Principal, brand_id: str) -> None:
    """Refuse a factory ranking for a brand: 403 for a role that may not read factories, 404
    for a brand outside the caller's scope (as for every brand resource)."""
    require_factory_reader(session, user)
    if not user.sees_brand(brand_id):
        raise not_found()
