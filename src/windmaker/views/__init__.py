"""The read model: one snapshot of the result tables, answered as typed records that the CLI,
the API, the web and the reports all show (:mod:`windmaker.views.records`); the ecosystem's
board and provider standings (:mod:`windmaker.views.ecosystem`), read from the store."""

from windmaker.views.ecosystem import (
    EvaluationSummary,
    ProviderView,
    TierBoardView,
    TierRow,
    TierStandingView,
)
from windmaker.views.readmodel import ReadModel, Snapshot, load_snapshot
from windmaker.views.records import (
    BrandDiagnosis,
    BrandView,
    Diagnosis,
    PortfolioRow,
    Radar,
    Scorecard,
)

__all__ = [
    "BrandDiagnosis",
    "BrandView",
    "Diagnosis",
    "EvaluationSummary",
    "PortfolioRow",
    "ProviderView",
    "Radar",
    "ReadModel",
    "Scorecard",
    "Snapshot",
    "TierBoardView",
    "TierRow",
    "TierStandingView",
    "load_snapshot",
]
