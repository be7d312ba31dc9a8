"""The code lists of the domain, one ``StrEnum`` each, so a code is spelled in one place.

A member compares and hashes equal to its code string (``Stage.KA == "ka"``), so frames, YAML
files and database columns keep plain strings; the names people read come from the catalogue
(:func:`windmaker.i18n.name`), never from these codes.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """The growth ladder (四步阶梯), lowest first."""

    ZERO_BREAKING = "zero_breaking"
    CLIMBING = "climbing"
    KA = "ka"
    SKA = "ska"


class Capability(StrEnum):
    """The five STEPS capabilities, in the method's order."""

    SELF_OPERATION = "self_operation"
    TRAFFIC = "traffic"
    DISTRIBUTION = "distribution"
    PRIVATE_DOMAIN = "private_domain"
    SPECIAL_SUPPLY = "special_supply"


class Attention(StrEnum):
    """Why a brand needs an operator's attention, most urgent first; ``ok`` when nothing does."""

    TRUST_ALERT = "trust_alert"
    FALLING = "falling"
    READY = "ready"
    STALLED = "stalled"
    OK = "ok"


class ProviderKind(StrEnum):
    """What a service provider does for brands."""

    BRAND_OPERATION = "brand_operation"
    INFLUENCER_AGENCY = "influencer_agency"
    TRAFFIC_AGENCY = "traffic_agency"
    SUPPLY_CHAIN = "supply_chain"
    FULL_SERVICE = "full_service"


class ProviderStatus(StrEnum):
    """A provider's standing: applicant → admitted | probation | rejected → warned → exited."""

    APPLICANT = "applicant"
    ADMITTED = "admitted"
    PROBATION = "probation"
    REJECTED = "rejected"
    WARNED = "warned"
    EXITED = "exited"


class AdmissionOutcome(StrEnum):
    """The outcome of an admission application (准入)."""

    ADMITTED = "admitted"
    PROBATION = "probation"
    REJECTED = "rejected"


class ApplicationStatus(StrEnum):
    """An application waits (``pending``) until an admin decides it (``decided``)."""

    PENDING = "pending"
    DECIDED = "decided"


class DecisionKind(StrEnum):
    """What a logged ecosystem decision is about."""

    ADMISSION = "admission"
    WARNING = "warning"
    EXIT = "exit"


class DecisionStatus(StrEnum):
    """A proposed decision is confirmed or overridden by a person."""

    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    OVERRIDDEN = "overridden"


class ActionStatus(StrEnum):
    """Where one action of a brand's plan stands."""

    OPEN = "open"
    DOING = "doing"
    DONE = "done"
    DROPPED = "dropped"


#: Provider statuses still in the ecosystem: they can be matched, warned or exited.
ACTIVE_PROVIDER_STATUSES: tuple[ProviderStatus, ...] = (
    ProviderStatus.ADMITTED,
    ProviderStatus.PROBATION,
    ProviderStatus.WARNED,
)
