"""Plan evidence as short anonymised stories: what one peer that made the same step did.

"A similar-sized Beauty brand: Returned within 90 days from 31% to 44% in 4 months, GMV +38%" /
"一个规模相近的美妆品牌在4个月内将90天内回购率从31%提升至44%，GMV +38%". The peers are those
``growth.plan`` chose (same category, nearest in size, made the brand's next step); a story is
told only for a peer whose metric moved the way the action wants. The peer's GMV change is its
net GMV over the months it spent at the stage it left (first month of that stage → last).

Who reads what is :mod:`windmaker.views.privacy`'s rule: a brand user reads the story without the
peer's id, and no story at all in a category too small to stay anonymous; an operator or a
provider sees the peer's id only when that brand is in their own scope. The page and the monthly
report call :func:`plan_stories`, so both tell the same stories.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from windmaker import numbers
from windmaker.i18n import name, t
from windmaker.services.identity import Principal
from windmaker.views import privacy
from windmaker.views.cases import peer_case_id
from windmaker.views.readmodel import ReadModel

#: Stories shown per action at most.
MAX_STORIES = 3


@dataclass(frozen=True)
class PeerStory:
    """One peer's step told in a sentence; ``peer_id`` only for a reader who may open it."""

    text: str
    improved_from: float
    improved_to: float
    months: int | None
    gmv_change: float | None
    peer_id: str | None = None
    #: the peer's case in the case library: an id that names no brand, for every reader
    case_id: str | None = None


def _improved(direction: str | None, start: float, end: float) -> bool:
    return end < start if direction == "lower" else end > start


def _value(metric: str, v: float, lang: str) -> str:
    """A peer's metric, rounded for a story: shares to whole percent, others in their unit."""
    if numbers.unit_of(metric) == "share":
        return numbers.pct(v, lang, 0)
    return numbers.metric(metric, v, lang)


def _duration(months: int | None, censored: bool, lang: str) -> str:
    if not months or censored:  # a censored stay is only a lower bound: say nothing of it
        return ""
    span = t("brand.story_one_month" if months == 1 else "brand.story_months", lang, n=months)
    return t("brand.story_in", lang, duration=span)


def step_gmv_change(
    rm: ReadModel, peer_id: str, step: str | None, before: date | None
) -> float | None:
    """The peer's net GMV change over its stay at the stage it left in ``step``
    (``"climbing→ka"``): last month of that stay against the first; None when it cannot tell."""
    if not step or "→" not in step:
        return None
    left, reached = step.split("→", 1)
    history = [(h["period"], str(h.get("stage"))) for h in rm.stage_history(peer_id)]
    start = end = None
    for i in range(1, len(history)):
        period, stage = history[i]
        if stage != reached or history[i - 1][1] != left:
            continue
        if before is not None and period > before:
            break
        j = i - 1
        while j > 0 and history[j - 1][1] == left:
            j -= 1
        start, end = history[j][0], history[i - 1][0]
    if start is None or end is None or start == end:
        return None
    gmv = {r["period"]: r.get("net_gmv") for r in rm.metric_series(peer_id, ["net_gmv"])}
    first, last = gmv.get(start), gmv.get(end)
    if first is None or last is None or float(first) <= 0:
        return None
    return float(last) / float(first) - 1


def story(
    rm: ReadModel,
    action: dict[str, Any],
    peer: dict[str, Any],
    lang: str,
    viewer: Principal | None,
) -> PeerStory | None:
    """One peer of one plan action as a story, or None when the peer did not improve."""
    metric = str(action.get("metric") or "")
    start, end = peer.get("from"), peer.get("to")
    if not metric or start is None or end is None:
        return None
    start, end = float(start), float(end)
    if not _improved(action.get("direction"), start, end):
        return None
    evidence = action.get("evidence") or {}
    category = (rm.brand(str(peer["brand_id"])) or {}).get("category")
    gmv = step_gmv_change(rm, str(peer["brand_id"]), evidence.get("step"), action.get("period"))
    months = int(peer["months"]) if peer.get("months") is not None else None
    text = t(
        "brand.story_down" if action.get("direction") == "lower" else "brand.story_up",
        lang,
        category=name("category", category, lang),
        metric=name("metric", metric, lang),
        start=_value(metric, start, lang),
        end=_value(metric, end, lang),
        duration=_duration(months, bool(peer.get("censored")), lang),
        gmv=t("brand.story_gmv", lang, change=numbers.change(gmv, lang)) if gmv is not None else "",
    )
    shown_id = (
        str(peer["brand_id"]) if privacy.may_name_peer(viewer, str(peer["brand_id"])) else None
    )
    case = peer_case_id(rm, str(peer["brand_id"]), evidence.get("step"), action.get("period"))
    return PeerStory(text, start, end, months, gmv, shown_id, case)


def plan_stories(
    rm: ReadModel,
    brand_id: str,
    period: date | None,
    lang: str,
    viewer: Principal | None = None,
) -> dict[str, list[PeerStory]]:
    """Each plan action's peer stories (``action_id`` → stories, best improvement first).

    The peers are read from the full diagnosis and reduced here for ``viewer``
    (:func:`windmaker.views.privacy.stories_allowed`).
    """
    brand = rm.brand(brand_id)
    if brand is None:
        return {}
    if not privacy.stories_allowed(
        viewer, rm.category_brands(brand.get("category"), period), rm.min_category_brands
    ):
        return {}
    out: dict[str, list[PeerStory]] = {}
    for action in rm.diagnosis(brand_id, period).model_dump()["plan"]:
        evidence = action.get("evidence") or {}
        told = [
            s
            for p in evidence.get("peers") or []
            if (s := story(rm, action, p, lang, viewer)) is not None
        ]
        told.sort(key=lambda s: abs(s.improved_to - s.improved_from), reverse=True)
        out[str(action["action_id"])] = told[:MAX_STORIES]
    return out
