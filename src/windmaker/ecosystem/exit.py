"""Exit (准出): warnings and exits proposed from the evaluations, for a person to confirm.

A provider below the standard ``warn_after_periods`` consecutive periods is proposed for a
warning; once warned, ``exit_after_periods`` consecutive periods below the standard propose its
exit. One severe trust violation (fraud) proposes the exit at once, whatever the history.

A proposal's reasons are codes with their numbers (``exit.severe_violation``,
``exit.after_warning``, ``exit.warning``), rendered in the reader's language at the edges.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from windmaker.codes import ACTIVE_PROVIDER_STATUSES
from windmaker.ecosystem.config import ExitConfig

#: Statuses that are still in the ecosystem and can be warned or exited.
ACTIVE_STATUSES: tuple[str, ...] = tuple(s.value for s in ACTIVE_PROVIDER_STATUSES)


@dataclass(frozen=True)
class PeriodVerdict:
    """The part of an evaluation the exit rule reads."""

    provider_id: str
    period: date
    meets_standard: bool
    severe_violation: bool = False


@dataclass(frozen=True)
class ExitProposal:
    provider_id: str
    period: date
    kind: Literal["warning", "exit"]
    proposed_outcome: Literal["warned", "exited"]
    consecutive_below: int
    reasons: tuple[dict[str, Any], ...]


def _reason(criterion: str, code: str, **params: Any) -> dict[str, Any]:
    """One reason of a proposal: the criterion, and the reason's code with its numbers."""
    return {"criterion": criterion, "code": code, "params": params}


def consecutive_below(verdicts: Iterable[PeriodVerdict]) -> int:
    """How many periods in a row, ending with the latest, the provider was below standard."""
    n = 0
    for v in sorted(verdicts, key=lambda v: v.period, reverse=True):
        if v.meets_standard:
            break
        n += 1
    return n


def propose_exits(
    history: Iterable[PeriodVerdict], statuses: Mapping[str, str], config: ExitConfig
) -> list[ExitProposal]:
    """Proposals for the latest period of each provider's history (see the module docstring)."""
    by_provider: dict[str, list[PeriodVerdict]] = {}
    for v in history:
        by_provider.setdefault(v.provider_id, []).append(v)
    out: list[ExitProposal] = []
    for pid, verdicts in sorted(by_provider.items()):
        status = statuses.get(pid, "admitted")
        if status not in ACTIVE_STATUSES:
            continue
        latest = max(verdicts, key=lambda v: v.period)
        n = consecutive_below(verdicts)
        if latest.severe_violation:
            out.append(
                ExitProposal(
                    pid,
                    latest.period,
                    "exit",
                    "exited",
                    n,
                    (
                        _reason(
                            "severe_violation",
                            "exit.severe_violation",
                            period=f"{latest.period:%Y-%m}",
                        ),
                    ),
                )
            )
        elif status == "warned" and n >= config.exit_after_periods:
            out.append(
                ExitProposal(
                    pid,
                    latest.period,
                    "exit",
                    "exited",
                    n,
                    (
                        _reason(
                            "consecutive_below",
                            "exit.after_warning",
                            n=n,
                            after=config.exit_after_periods,
                        ),
                    ),
                )
            )
        elif status != "warned" and n >= config.warn_after_periods:
            out.append(
                ExitProposal(
                    pid,
                    latest.period,
                    "warning",
                    "warned",
                    n,
                    (
                        _reason(
                            "consecutive_below",
                            "exit.warning",
                            n=n,
                            after=config.warn_after_periods,
                        ),
                    ),
                )
            )
    return out
