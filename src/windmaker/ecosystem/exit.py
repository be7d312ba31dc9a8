"""Exit (准出): warnings and exits proposed from the evaluations, for a person to confirm.

A provider below the standard ``warn_after_periods`` consecutive periods is proposed for a
warning; once warned, ``exit_after_periods`` consecutive periods below the standard propose its
exit. One severe trust violation (fraud) proposes the exit at once, whatever the history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from windmaker.ecosystem.config import ExitConfig

#: Statuses that are still in the ecosystem and can be warned or exited.
ACTIVE_STATUSES = ("admitted", "probation", "warned")


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
                        {
                            "criterion": "severe_violation",
                            "message": f"severe trust violation in {latest.period:%Y-%m}: exit at once",
                            "message_zh": f"{latest.period:%Y-%m} 严重信任违规：立即清退",
                        },
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
                        {
                            "criterion": "consecutive_below",
                            "message": f"below standard {n} periods in a row after a warning "
                            f"(exit after {config.exit_after_periods})",
                            "message_zh": f"警告后连续 {n} 期未达标（{config.exit_after_periods} 期清退）",
                        },
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
                        {
                            "criterion": "consecutive_below",
                            "message": f"below standard {n} period(s) in a row "
                            f"(warning after {config.warn_after_periods})",
                            "message_zh": f"连续 {n} 期未达标（{config.warn_after_periods} 期警告）",
                        },
                    ),
                )
            )
    return out
