"""Who is acting: the principal every use case is given, and the one place scope is decided."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "operator", "provider", "brand"]
ROLES: tuple[Role, ...] = ("admin", "operator", "provider", "brand")


@dataclass(frozen=True)
class Principal:
    """A logged-in user and the rows they may see.

    ``brand_scope`` is None for every brand (admins), else the exact set: an operator's
    portfolio, a provider's current client brands, a brand user's own brand.
    """

    user_id: int
    username: str
    role: Role
    brand_scope: frozenset[str] | None
    provider_id: str | None = None
    brand_id: str | None = None

    def sees_brand(self, brand_id: str) -> bool:
        return self.brand_scope is None or brand_id in self.brand_scope

    def sees_provider(self, provider_id: str) -> bool:
        """Admins and operators see the registry; a provider sees itself; brands see none."""
        if self.role in ("admin", "operator"):
            return True
        return self.role == "provider" and self.provider_id == provider_id

    @property
    def scope_set(self) -> set[str] | None:
        return None if self.brand_scope is None else set(self.brand_scope)


def workspace_admin(actor: str) -> Principal:
    """Whoever runs a command on the workspace itself (the CLI, the main job, test fixtures).

    They hold the store and the warehouse directly, so they act with an admin's rights; the
    audit log records them under ``actor``.
    """
    return Principal(user_id=0, username=actor, role="admin", brand_scope=None)


def applicant(provider_id: str, actor: str) -> Principal:
    """A provider filing its own admission application from a file (``providers apply``): it
    is held to a provider user's rules, so an admitted provider does not re-apply."""
    return Principal(
        user_id=0, username=actor, role="provider", brand_scope=frozenset(), provider_id=provider_id
    )
