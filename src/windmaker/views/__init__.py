"""The read model: one snapshot of the result tables, answered as typed records that the CLI,
the API, the web and the reports all show (:mod:`windmaker.views.records`)."""

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
    "PortfolioRow",
    "Radar",
    "ReadModel",
    "Scorecard",
    "Snapshot",
    "load_snapshot",
]
