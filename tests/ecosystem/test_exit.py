"""Exit rule: warned after N periods below standard, exited after more once warned; fraud exits at once."""

from __future__ import annotations

from tests.ecosystem.conftest import month
from windmaker.ecosystem.config import EcosystemConfig
from windmaker.ecosystem.exit import PeriodVerdict, consecutive_below, propose_exits
from windmaker.i18n import reason_text


def _history(pid: str, pattern: str, severe_last: bool = False) -> list[PeriodVerdict]:
    """``pattern``: one letter per period, ``o`` meets the standard, ``x`` below it."""
    return [
        PeriodVerdict(pid, month(i), c == "o", severe_last and i == len(pattern) - 1)
        for i, c in enumerate(pattern)
    ]


def test_consecutive_count_stops_at_the_last_good_period() -> None:
    assert consecutive_below(_history("P", "xxoxx")) == 2
    assert consecutive_below(_history("P", "xxxxo")) == 0
    assert consecutive_below(list(reversed(_history("P", "oxxx")))) == 3


def test_warning_then_exit(config: EcosystemConfig) -> None:
    rule = config.exit
    assert (rule.warn_after_periods, rule.exit_after_periods) == (1, 3)
    (warn,) = propose_exits(_history("P", "ox"), {"P": "admitted"}, rule)
    assert (warn.kind, warn.proposed_outcome, warn.period) == ("warning", "warned", month(1))
    # Already warned, two periods below: not yet exited, nothing new proposed.
    assert propose_exits(_history("P", "oxx"), {"P": "warned"}, rule) == []
    (ex,) = propose_exits(_history("P", "oxxx"), {"P": "warned"}, rule)
    assert (ex.kind, ex.consecutive_below) == ("exit", 3)
    assert ex.reasons[0]["code"] == "exit.after_warning"
    assert "3 periods in a row" in reason_text(ex.reasons[0]["code"], ex.reasons[0]["params"], "en")
    assert "连续 3 期" in reason_text(ex.reasons[0]["code"], ex.reasons[0]["params"], "zh-CN")
    # Unconfirmed warning: still a warning proposal, never a jump to exit.
    (again,) = propose_exits(_history("P", "xxxx"), {"P": "admitted"}, rule)
    assert again.kind == "warning"


def test_fraud_exits_at_once_and_inactive_are_skipped(config: EcosystemConfig) -> None:
    (ex,) = propose_exits(_history("P", "ooo", severe_last=True), {"P": "admitted"}, config.exit)
    assert (ex.kind, ex.proposed_outcome) == ("exit", "exited")
    assert ex.reasons[0]["code"] == "exit.severe_violation"
    assert "severe" in reason_text(ex.reasons[0]["code"], ex.reasons[0]["params"], "en")
    assert propose_exits(_history("Q", "xxxx"), {"Q": "exited"}, config.exit) == []
    assert propose_exits(_history("R", "ooo"), {"R": "admitted"}, config.exit) == []
