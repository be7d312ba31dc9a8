"""Table models of the operational store (SQLAlchemy 2, typed).

Providers and their admission applications, the evaluations of each period, the decisions the
system proposes and a person confirms, brand–provider assignments, the action items of brands'
plans, users with their roles and portfolios, and the append-only audit log.

Timestamps are naive Asia/Shanghai wall-clock values, like the warehouse's; money is
``NUMERIC(18,2)`` yuan.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from windmaker import codes
from windmaker.contract import TIMEZONE

#: Stable constraint names, so migrations can refer to them on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The code lists are the shared enums' (windmaker.codes), as tuples for CHECK constraints.
PROVIDER_KINDS = tuple(k.value for k in codes.ProviderKind)
#: applicant → (admitted | probation | rejected); admitted/probation → warned → exited.
PROVIDER_STATUSES = tuple(k.value for k in codes.ProviderStatus)
ADMISSION_OUTCOMES = tuple(k.value for k in codes.AdmissionOutcome)
DECISION_KINDS = tuple(k.value for k in codes.DecisionKind)
DECISION_STATUSES = tuple(k.value for k in codes.DecisionStatus)
ACTION_STATUSES = tuple(k.value for k in codes.ActionStatus)
ROLES = ("admin", "operator", "provider", "brand")

Money = Numeric(18, 2, asdecimal=True)


def now() -> datetime:
    """The current Asia/Shanghai wall-clock time, naive, to the second."""
    return datetime.now(ZoneInfo(TIMEZONE)).replace(tzinfo=None, microsecond=0)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Provider(Base):
    """A service provider (服务商): what it declares and where it stands."""

    __tablename__ = "providers"

    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    capacity: Mapped[int] = mapped_column(Integer, default=0)
    team_size: Mapped[int] = mapped_column(Integer, default=0)
    gmv_served_12m: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    founded_at: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="applicant")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)


class Application(Base):
    """An admission application (准入申请) and its place in the review queue.

    ``version`` is an optimistic lock: two reviewers deciding the same application at once
    cannot both succeed — the second UPDATE matches no row and is refused.
    """

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.provider_id"))
    submitted_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    qualifications: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    provider: Mapped[Provider] = relationship()

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Decision(Base):
    """A decision about a provider: proposed by the system, confirmed (or overridden) by a person."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.provider_id"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    period: Mapped[date | None] = mapped_column(Date, nullable=True)
    proposed_outcome: Mapped[str] = mapped_column(String(16))
    #: each reason's ``code`` and ``params`` (rows written before codes carry ``message`` text)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    proposed_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reviewer: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Evaluation(Base):
    """A provider's evaluation for one period (a month), with every metric and the verdict."""

    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("provider_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.provider_id"))
    period: Mapped[date] = mapped_column(Date)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    gmv_served: Mapped[Decimal] = mapped_column(Money)
    score: Mapped[float] = mapped_column(Float)
    meets_standard: Mapped[bool] = mapped_column(Boolean)
    severe_violation: Mapped[bool] = mapped_column(Boolean, default=False)
    #: each reason's ``code`` and ``params`` (rows written before codes carry ``message`` text)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)


class Assignment(Base):
    """A provider serving a brand from ``started_at`` until ``ended_at`` (None: ongoing)."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.provider_id"), index=True)
    brand_id: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[date] = mapped_column(Date)
    ended_at: Mapped[date | None] = mapped_column(Date, nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="manual")


class ActionItem(Base):
    """One action of a brand's plan, tracked to done: who owns it, its status, when it is due."""

    __tablename__ = "action_items"
    __table_args__ = (UniqueConstraint("brand_id", "action_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    brand_id: Mapped[str] = mapped_column(String(64), index=True)
    action_id: Mapped[str] = mapped_column(String(64))
    period: Mapped[date | None] = mapped_column(Date, nullable=True)
    owner: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str | None] = mapped_column(
        ForeignKey("providers.provider_id"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(16), default="open")
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now)


class ActionItemEvent(Base):
    """One change of an action item, kept as its history: who, when, and what moved.

    ``kind`` is ``created``, ``status`` (``from_status`` → ``to_status``) or ``assigned`` (a new
    ``owner`` and ``due_date``). Rows are only ever added.
    """

    __tablename__ = "action_item_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("action_items.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=now)
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class User(Base):
    """A person who signs in: admin, operator (小二), provider staff or brand staff."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(
        ForeignKey("providers.provider_id"), nullable=True
    )
    brand_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)


class UserBrand(Base):
    """An operator's portfolio: one row per brand the operator is responsible for."""

    __tablename__ = "user_brands"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    brand_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class MatchExclusion(Base):
    """A brand–provider pair matching must never propose (conflict of interest, past dispute)."""

    __tablename__ = "match_exclusions"

    brand_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.provider_id"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)


class AuditEntry(Base):
    """One line of the append-only audit log: who did what, when, to what, and why.

    No code path updates or deletes a line: the ORM refuses it (``windmaker.store.audit``) and
    the database refuses it too (triggers created by the migrations).
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=now)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class BrandConsent(Base):
    """Whether a brand lets the case library name it (方法论复制): its id and name in its cases.

    Without a row, or with ``consented`` false, the brand's cases are anonymous. Set by the
    brand's own user or an admin, and audited.
    """

    __tablename__ = "brand_consents"

    brand_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    consented: Mapped[bool] = mapped_column(Boolean, default=False)
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(DateTime, default=now)


class CaseKey(Base):
    """The workspace's secret that case ids are keyed with (one row, made on first use).

    A case id is a keyed hash of the brand and its step: without the secret, nobody can tell
    from an id which brand a case is, even knowing every brand id.
    """

    __tablename__ = "case_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)


class PlanAllocation(Base):
    """A proposed allocation of the windmaker plan's funds and traffic (造风者计划资源分配).

    The budget, one line per provider and period (amounts, expected uplift, reason code and
    parameters), the year-end tier forecast with and without it, and the solver's account, as
    the system proposed them; a person confirms or rejects it (``status``). ``version`` is an
    optimistic lock: of two people deciding at once, the second is refused.
    """

    __tablename__ = "plan_allocations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    created_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    budget: Mapped[dict[str, Any]] = mapped_column(JSON)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    forecast: Mapped[dict[str, Any]] = mapped_column(JSON)
    solver: Mapped[dict[str, Any]] = mapped_column(JSON)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
