"""Admission (准入): score a provider's application against the written standard of its kind.

Each criterion compares one qualification with two thresholds of ``ecosystem.yaml``: at or above
``admit`` passes, between ``probation`` and ``admit`` asks for probation, below ``probation``
rejects. The outcome is the worst criterion's; every criterion carries its own reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from windmaker.contract import CAPABILITIES
from windmaker.ecosystem.config import AdmissionConfig

Outcome = Literal["admitted", "probation", "rejected"]
_RANK: dict[Outcome, int] = {"admitted": 0, "probation": 1, "rejected": 2}

KINDS = ("brand_operation", "influencer_agency", "traffic_agency", "supply_chain", "full_service")

_LABELS = {
    "team_size": ("team size", "团队规模"),
    "gmv_served_12m": ("GMV served in the last 12 months (yuan)", "近12个月服务GMV(元)"),
    "cases": ("client cases", "服务案例数"),
    "years_operating": ("years operating", "经营年限"),
    "capacity": ("capacity (brands)", "可服务品牌数"),
    "categories": ("categories served", "服务类目数"),
    "required_capabilities": ("required capabilities", "必备能力"),
}


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


@dataclass(frozen=True)
class CriterionResult:
    """One criterion's verdict and its reason, in English and Chinese."""

    criterion: str
    value: float | None
    admit: float | None
    probation: float | None
    outcome: Outcome
    message: str
    message_zh: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "value": self.value,
            "admit": self.admit,
            "probation": self.probation,
            "outcome": self.outcome,
            "message": self.message,
            "message_zh": self.message_zh,
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


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:g}" if x == int(x) else f"{x:.1f}"


def score_application(app: ProviderApplication, config: AdmissionConfig) -> AdmissionResult:
    """The proposed admission outcome with a reason per criterion (worst criterion decides)."""
    standard = config.standards.get(app.kind)  # type: ignore[call-overload]
    if standard is None:
        raise ValueError(f"no admission standard for kind {app.kind!r}")
    results: list[CriterionResult] = []
    missing = sorted(set(standard.required_capabilities) - set(app.capabilities))
    en, zh = _LABELS["required_capabilities"]
    if missing:
        results.append(
            CriterionResult(
                "required_capabilities",
                None,
                None,
                None,
                "rejected",
                f"{en}: a {app.kind} must declare {', '.join(missing)}",
                f"{zh}: {app.kind} 须具备 {', '.join(missing)}",
            )
        )
    else:
        results.append(
            CriterionResult(
                "required_capabilities",
                None,
                None,
                None,
                "admitted",
                f"{en}: declares {', '.join(standard.required_capabilities) or 'none needed'}",
                f"{zh}: 已具备",
            )
        )
    for criterion, th in standard.criteria.items():
        value = app.value(criterion)
        en, zh = _LABELS[criterion]
        outcome: Outcome
        if value >= th.admit:
            outcome = "admitted"
            msg = f"{en} {_fmt(value)} ≥ admit standard {_fmt(th.admit)}"
            msg_zh = f"{zh} {_fmt(value)} ≥ 准入标准 {_fmt(th.admit)}"
        elif value >= th.probation:
            outcome = "probation"
            msg = (
                f"{en} {_fmt(value)} below admit standard {_fmt(th.admit)} but ≥ probation "
                f"standard {_fmt(th.probation)}"
            )
            msg_zh = f"{zh} {_fmt(value)} 低于准入标准 {_fmt(th.admit)}，达到考察期标准 {_fmt(th.probation)}"
        else:
            outcome = "rejected"
            msg = f"{en} {_fmt(value)} below probation standard {_fmt(th.probation)}"
            msg_zh = f"{zh} {_fmt(value)} 低于考察期标准 {_fmt(th.probation)}"
        results.append(
            CriterionResult(criterion, value, th.admit, th.probation, outcome, msg, msg_zh)
        )
    worst = max((r.outcome for r in results), key=_RANK.__getitem__)
    return AdmissionResult(app.provider_id, app.kind, worst, tuple(results))


def score_applications(
    apps: Sequence[ProviderApplication], config: AdmissionConfig
) -> list[AdmissionResult]:
    return [score_application(a, config) for a in apps]
