"""A category's playbook (打法手册): its cases (:mod:`windmaker.growth.cases`) bound into the
method, step by step, for brands and providers that want to copy it.

For each step (``from-to``) with cases in the category, over the cases as the library shows
them (rounded for a brand that did not consent, so the playbook says no more than its cases):

- ``median_months``: the median of the cases' ``months`` (``censored`` of them only lower
  bounds, counted beside it);
- ``score_change[k]``: the median over the cases of their score change of capability ``k``;
- ``levers`` / ``bottlenecks``: how many cases each capability was the lever of (moved most) /
  started the step as the bottleneck of, most first;
- the **method**: the capabilities whose median score change is positive, largest first, each
  with the playbook's actions (``playbook.yaml``) of the start stage for it;
- ``actions``: per action of the brands' plans, how many cases took it during the step and how
  many had completed it when the step ended.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from windmaker.growth.cases import CAPABILITIES, STEPS, PublicCase
from windmaker.growth.plan import Playbook


@dataclass(frozen=True)
class PlaybookEntry:
    """One action of ``playbook.yaml``: its id, titles and the metric it moves."""

    action_id: str
    capability: str
    metric: str
    title_en: str
    title_zh: str


@dataclass(frozen=True)
class MethodStep:
    """One capability of the method: how far the cases moved it, and what the playbook does."""

    capability: str
    score_change: float
    entries: tuple[PlaybookEntry, ...]


@dataclass(frozen=True)
class ActionTally:
    """An action across the cases of a step: taken in how many, completed in how many."""

    action_id: str
    capability: str | None
    taken: int
    completed: int
    #: the playbook's titles of the action ("" for an action the playbook no longer has)
    title_en: str = ""
    title_zh: str = ""


@dataclass(frozen=True)
class StepPlaybook:
    """The method of one step of one category, with its evidence (the cases)."""

    step: str
    from_stage: str
    to_stage: str
    cases: tuple[PublicCase, ...]
    median_months: float | None
    censored: int
    score_change: dict[str, float | None]
    levers: tuple[tuple[str, int], ...]
    bottlenecks: tuple[tuple[str, int], ...]
    method: tuple[MethodStep, ...]
    actions: tuple[ActionTally, ...]


@dataclass(frozen=True)
class CategoryPlaybook:
    """Every step of a category with cases; ``withheld``: anonymous cases of a category too
    small to show them (counted, never shown)."""

    category: str
    steps: tuple[StepPlaybook, ...]
    withheld: int = 0

    @property
    def cases(self) -> int:
        return sum(len(s.cases) for s in self.steps)


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(statistics.median(present)) if present else None


def _tally(codes: Iterable[str | None]) -> tuple[tuple[str, int], ...]:
    """Counts per capability, most first, ties in the method's order."""
    counts = Counter(c for c in codes if c)
    order = {c: i for i, c in enumerate(CAPABILITIES)}
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], order.get(kv[0], 99), kv[0])))


def playbook_entries(playbook: Playbook, stage: str, capability: str) -> tuple[PlaybookEntry, ...]:
    """The playbook's actions of ``stage`` for ``capability``, in the playbook's order."""
    caps = playbook.stages.get(stage, {})  # type: ignore[call-overload]
    return tuple(
        PlaybookEntry(a.id, capability, str(a.metric), a.title_en, a.title_zh)
        for a in caps.get(capability, [])
    )


def action_capabilities(playbook: Playbook) -> dict[str, str]:
    """Every playbook action id → the capability it serves."""
    return {
        a.id: str(cap)
        for caps in playbook.stages.values()
        for cap, actions in caps.items()
        for a in actions
    }


def step_playbook(step: str, cases: Sequence[PublicCase], playbook: Playbook) -> StepPlaybook:
    """The method of one step from its cases (formulas in the module docstring)."""
    from_stage, to_stage = step.split("-", 1)
    change = {c: _median(k.score_change.get(c) for k in cases) for c in CAPABILITIES}
    rising = sorted(
        ((c, v) for c, v in change.items() if v is not None and v > 0),
        key=lambda cv: (-cv[1], CAPABILITIES.index(cv[0])),
    )
    method = tuple(MethodStep(c, v, playbook_entries(playbook, from_stage, c)) for c, v in rising)
    taken: Counter[str] = Counter()
    done: Counter[str] = Counter()
    capability: dict[str, str | None] = {}
    for k in cases:
        for action_id in {a.action_id for a in k.actions}:
            taken[action_id] += 1
        for action_id in {a.action_id for a in k.actions if a.completed}:
            done[action_id] += 1
        for a in k.actions:
            capability.setdefault(a.action_id, a.capability)
    titles = {
        a.id: (a.title_en, a.title_zh)
        for caps in playbook.stages.values()
        for actions_of in caps.values()
        for a in actions_of
    }
    actions = tuple(
        ActionTally(a, capability.get(a), n, done[a], *titles.get(a, ("", "")))
        for a, n in sorted(taken.items(), key=lambda kv: (-kv[1], -done[kv[0]], kv[0]))
    )
    return StepPlaybook(
        step=step,
        from_stage=from_stage,
        to_stage=to_stage,
        cases=tuple(cases),
        median_months=_median(float(k.months) for k in cases),
        censored=sum(1 for k in cases if k.censored),
        score_change=change,
        levers=_tally(k.lever for k in cases),
        bottlenecks=_tally(k.bottleneck for k in cases),
        method=method,
        actions=actions,
    )


def category_playbook(
    category: str, cases: Iterable[PublicCase], playbook: Playbook, withheld: int = 0
) -> CategoryPlaybook:
    """The playbook of ``category`` from the library's cases (others are ignored), its steps
    in the ladder's order."""
    mine = [k for k in cases if k.category == category]
    steps = tuple(
        step_playbook(step, [k for k in mine if k.step == step], playbook)
        for step in STEPS
        if any(k.step == step for k in mine)
    )
    return CategoryPlaybook(category=category, steps=steps, withheld=withheld)
