"""The provider workflow (服务商): apply, decide, evaluate, propose and confirm exits, tiers, match,
load. One function per use case, given the store session, the warehouse where it reads one, the
configs and the acting :class:`Principal`; the CLI, the API and the web only parse and render.

One module per concern: :mod:`.admission` (apply, the review queue, decide), :mod:`.lifecycle`
(decisions, confirming warnings and exits), :mod:`.evaluation` (the period's evaluation and the
tiers), :mod:`.matching` (match), :mod:`.registry` (reads in scope, import), over the records of
:mod:`.records` and the inputs of :mod:`.inputs`. Adapters import this package, not its modules.

The rules are decided here, once:

- **Who applies.** Admins file for any provider; a provider user only for itself (another
  provider's id is out of its scope: not found); operators and brands never (forbidden).
- **Who re-applies.** A provider that is new, still an applicant, or was rejected may (re-)apply.
  One that is admitted, on probation, warned or exited may not: its standing changes through
  evaluations and decisions. Only an admin may file for it again (to record a changed profile,
  which is reviewed like any application; the provider keeps its status meanwhile).
- **Who decides.** Admins decide applications and confirm warnings and exits; they also run the
  evaluation, the matching and imports.
- **Scope.** A provider user sees its own provider, applications, decisions and tier standing;
  a brand user sees none of the workflow; admins and operators see all of it.
"""

from windmaker.services.providers.admission import (
    application,
    applications,
    apply,
    decide,
    provider_applications,
)
from windmaker.services.providers.evaluation import evaluate, evaluate_months, tier_board, tiers
from windmaker.services.providers.inputs import trust_violations
from windmaker.services.providers.lifecycle import confirm_exit, decisions, open_exit_proposals
from windmaker.services.providers.matching import match
from windmaker.services.providers.records import (
    EVALUATED,
    MATCHABLE,
    MAY_APPLY,
    ApplicationRecord,
    ApplicationReview,
    AssignmentRecord,
    DecisionRecord,
    EvaluationRecord,
    EvaluationRun,
    LoadResult,
    MatchRun,
    ProviderRecord,
    TierBoard,
    reason_line,
)
from windmaker.services.providers.registry import (
    assignments,
    client_counts,
    evaluations,
    latest_evaluations,
    load,
    provider,
    providers_in_scope,
    read_ecosystem_folder,
)

__all__ = [
    "EVALUATED",
    "MATCHABLE",
    "MAY_APPLY",
    "ApplicationRecord",
    "ApplicationReview",
    "AssignmentRecord",
    "DecisionRecord",
    "EvaluationRecord",
    "EvaluationRun",
    "LoadResult",
    "MatchRun",
    "ProviderRecord",
    "TierBoard",
    "application",
    "applications",
    "apply",
    "assignments",
    "client_counts",
    "confirm_exit",
    "decide",
    "decisions",
    "evaluate",
    "evaluate_months",
    "evaluations",
    "latest_evaluations",
    "load",
    "match",
    "open_exit_proposals",
    "provider",
    "provider_applications",
    "providers_in_scope",
    "read_ecosystem_folder",
    "reason_line",
    "tier_board",
    "tiers",
    "trust_violations",
]
