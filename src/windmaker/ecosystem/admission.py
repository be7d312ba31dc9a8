"""Admission (准入): score a provider's application against the written standard of its kind.

Each criterion compares one qualification with two thresholds of ``ecosystem.yaml``: at or above
``admit`` passes, between ``probation`` and ``admit`` asks for probation, below ``probation``
rejects. The outcome is the worst criterion's; every criterion carries its own reason, as a code
with the numbers it cites (``admission.admit``, ``admission.probation``, ``admission.reject``,
``admission.capabilities_missing`` …), which the surfaces render in the reader's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from windmaker.codes import Capability, ProviderKind
from windmaker.contract import CAPABILITIES
from windmaker.ecosystem.config import AdmissionConfig

Outcome = Literal["admitted", "probation", "rejected"]
_RANK: dict[Outcome, int] = {"admitted": 0, "probation": 1, "rejected": 2}

KINDS: tuple[str, ...] = tuple(k.value for k in ProviderKind)


def _named(kind: str, code: str) -> dict[str, str]:
    """A parameter that reads as the catalogue's name of ``code`` (``criterion.team_size``)."""
    return {"name": kind, "code": code}


@dataclass(frozen=True)
class ProviderApplication:
    """What a provider declares when it applies (准入申请)."""

    provider_id: str
    name: str
    kind: str
    capabilities: tuple[str, ...]
    categories: tuple[str, ...]
    team_size: int
    gmv_served_12m: Decimal
    capacity: int
    cases: tuple[str, ...] = ()
    founded_at: date | None = None
    applied_on: date = field(default_factory=date.today)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProviderApplication:
        """Build from a parsed file (YAML/JSON); lists may also be comma-separated strings."""

        def _tuple(v: Any) -> tuple[str, ...]:
            if v is None:
                return ()
            if isinstance(v, str):
                return tuple(s.strip() for s in v.split(",") if s.strip())
            return tuple(str(s) for s in v)

        missing = [
            k
            for k in ("provider_id", "name", "kind", "capabilities", "categories", "capacity")
            if k not in data
        ]
        if missing:
            raise ValueError(f"application is missing {', '.join(missing)}")
        kind = str(data["kind"])
        if kind not in KINDS:
            raise ValueError(f"unknown provider kind {kind!r}; one of {', '.join(KINDS)}")
        caps = _tuple(data["capabilities"])
        unknown = sorted(set(caps) - set(CAPABILITIES))
        if unknown:
            raise ValueError(f"unknown capabilities {unknown}; one of {', '.join(CAPABILITIES)}")
        founded = data.get("founded_at")
        applied = data.get("applied_on")
        return cls(
            provider_id=str(data["provider_id"]),
            name=str(data["name"]),
            kind=kind,
            capabilities=caps,
            categories=_tuple(data["categories"]),
            team_size=int(data.get("team_size", 0)),
            gmv_served_12m=Decimal(str(data.get("gmv_served_12m", 0))),
            capacity=int(data["capacity"]),
            cases=_tuple(data.get("cases")),
            founded_at=date.fromisoformat(str(founded)) if founded else None,
            applied_on=date.fromisoformat(str(applied)) if applied else date.today(),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready qualifications, as stored with the application."""
        return {
            "provider_id": self.provider_id,
            "name": self.name,
            "kind": self.kind,
            "capabilities": list(self.capabilities),
            "categories": list(self.categories),
            "team_size": self.team_size,
            "gmv_served_12m": str(self.gmv_served_12m),
            "capacity": self.capacity,
            "cases": list(self.cases),
            "founded_at": self.founded_at.isoformat() if self.founded_at else None,
            "applied_on": self.applied_on.isoformat(),
        }

    def value(self, criterion: str) -> float:
        """The application's value for one admission criterion."""
        if criterion == "team_size":
            return float(self.team_size)
        if criterion == "gmv_served_12m":
            return float(self.gmv_served_12m)
        if criterion == "cases":
            return float(len(self.cases))
        if criterion == "capacity":
            return float(self.capacity)
        if criterion == "categories":
            return float(len(self.categories))
        if criterion == "years_operating":
            if self.founded_at is None:
                return 0.0
            return max(0.0, (self.applied_on - self.founded_at).days / 365.25)
        raise KeyError(criterion)


Case = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class ApplicationInput(BaseModel):
    """An application as a person files it (the API's body, the dashboard's form), with the
    limits every surface holds it to. It asks for everything the standards score: team size,
    GMV served, cases presented, the founding date (years operating are counted from it),
    capacity and categories."""

    provider_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field(min_length=1, max_length=200)
    kind: ProviderKind
    capabilities: list[Capability] = Field(min_length=1, max_length=5)
    categories: list[Category] = Field(min_length=1, max_length=50)
    team_size: int = Field(ge=0, le=1_000_000)
    gmv_served_12m: Decimal = Field(ge=0, le=Decimal("1e15"), decimal_places=2)
    capacity: int = Field(ge=0, le=100_000)
    cases: list[Case] = Field(
        default_factory=list, max_length=100, description="Client cases presented, one each"
    )
    founded_at: date | None = Field(
        default=None, description="Founding date; years operating are counted from it"
    )

    @field_validator("founded_at")
    @classmethod
    def _not_in_future(cls, v: date | None) -> date | None:
        if v is not None and v > date.today():
            raise PydanticCustomError("date_in_future", "the date is in the future")
        return v

    def to_application(self) -> ProviderApplication:
        """The application scored against the standards."""
        return ProviderApplication(
            provider_id=self.provider_id,
            name=self.name.strip(),
            kind=str(self.kind),
            capabilities=tuple(str(c) for c in self.capabilities),
            categories=tuple(self.categories),
            team_size=self.team_size,
            gmv_served_12m=self.gmv_served_12m,
            capacity=self.capacity,
            cases=tuple(self.cases),
            founded_at=self.founded_at,
        )


@dataclass(frozen=True)
class CriterionResult:
    """One criterion's verdict and its reason: a code with the parameters it cites."""

    criterion: str
    value: float | None
    admit: float | None
    probation: float | None
    outcome: Outcome
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "value": self.value,
            "admit": self.admit,
            "probation": self.probation,
            "outcome": self.outcome,
            "code": self.code,
            "params": self.params,
        }


@dataclass(frozen=True)
class AdmissionResult:
    provider_id: str
    kind: str
    outcome: Outcome
    criteria: tuple[CriterionResult, ...]

    @property
    def reasons(self) -> list[dict[str, Any]]:
        return [c.to_dict() for c in self.criteria]


def _shown(x: float) -> float | int:
    """A qualification as cited in a reason: whole above 100 or when whole, else to 0.1."""
    return round(x) if abs(x) >= 100 or x == int(x) else round(x, 1)


def score_application(app: ProviderApplication, config: AdmissionConfig) -> AdmissionResult:
    """The proposed admission outcome with a reason per criterion (worst criterion decides)."""
    standard = config.standards.get(app.kind)  # type: ignore[call-overload]
    if standard is None:
        raise ValueError(f"no admission standard for kind {app.kind!r}")
    results: list[CriterionResult] = []
    missing = sorted(set(standard.required_capabilities) - set(app.capabilities))
    label = _named("criterion", "required_capabilities")
    if missing:
        code = "admission.capabilities_missing"
        params: dict[str, Any] = {
            "criterion": label,
            "kind": _named("provider_kind", app.kind),
            "missing": [_named("capability", c) for c in missing],
        }
    elif standard.required_capabilities:
        code = "admission.capabilities_declared"
        params = {
            "criterion": label,
            "required": [_named("capability", c) for c in standard.required_capabilities],
        }
    else:
        code, params = "admission.no_capabilities_required", {"criterion": label}
    results.append(
        CriterionResult(
            "required_capabilities",
            None,
            None,
            None,
            "rejected" if missing else "admitted",
            code,
            params,
        )
    )
    for criterion, th in standard.criteria.items():
        value = app.value(criterion)
        outcome: Outcome
        if value >= th.admit:
            outcome, code = "admitted", "admission.admit"
        elif value >= th.probation:
            outcome, code = "probation", "admission.probation"
        else:
            outcome, code = "rejected", "admission.reject"
        params = {
            "criterion": _named("criterion", criterion),
            "value": _shown(value),
            "admit": _shown(th.admit),
            "probation": _shown(th.probation),
        }
        results.append(
            CriterionResult(criterion, value, th.admit, th.probation, outcome, code, params)
        )
    worst = max((r.outcome for r in results), key=_RANK.__getitem__)
    return AdmissionResult(app.provider_id, app.kind, worst, tuple(results))


def score_applications(
    apps: Sequence[ProviderApplication], config: AdmissionConfig
) -> list[AdmissionResult]:
    return [score_application(a, config) for a in apps]
