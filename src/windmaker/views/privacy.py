"""What a brand user may read about other brands: counts, ranges and large-category medians.

A brand merchant sees its own figures and anonymous category benchmarks, nothing about a named
competitor. Two things in the diagnosis would tell more, so the read model passes them through
here before a brand user (role ``brand``) reads them; operators, admins and providers keep the
full records:

- **plan evidence** names the peer brands that made the step with their exact metric values; a
  brand user reads a :class:`~windmaker.views.records.PeerSummary` instead: how many peers, and
  their median change as a ``CHANGE_STEP``-wide range ("12 brands made this step; their
  repurchase rate rose by 5–10 points");
- **peer stories** (:mod:`windmaker.views.evidence`): a brand user reads what a peer did without
  its id, and none in a category too small to stay anonymous; others see a peer's id only when
  that brand is in their own scope (:func:`may_name_peer`, :func:`stories_allowed`);
- **category statistics** (the radar's category median, the stage reason's category median,
  a bottleneck's category reference) are a competitor's own value in a small category: with two
  brands the median is their mean. They are withheld when the category has fewer than
  ``min_category_brands`` brands (``Settings.privacy_min_category_brands``, default 5).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable

from windmaker.services.identity import Principal
from windmaker.views.records import (
    Bottleneck,
    Diagnosis,
    PeerStep,
    PeerSummary,
    PlanAction,
    Radar,
    StageRecord,
)

#: Default smallest category whose statistics a brand user reads.
MIN_CATEGORY_BRANDS = 5
#: Width of the range a peer change is shown in (percentage points, or percent).
CHANGE_STEP = 5.0
#: Bottleneck fields measured against the category (or the category's advancers).
CATEGORY_FIELDS = (
    "gap",
    "raw_gap",
    "target_index",
    "metric_reference",
    "criterion_threshold",
    "criterion_shortfall",
)
#: Stage-reason parameters that are statistics of the brand's category.
CATEGORY_PARAMS = ("repurchase_median",)


def anonymous(viewer: Principal | None) -> bool:
    """Whether ``viewer`` reads other brands only anonymously (brand users)."""
    return viewer is not None and viewer.role == "brand"


def may_name_peer(viewer: Principal | None, peer_id: str) -> bool:
    """Whether ``viewer`` may read (and open) a peer brand's id: never a brand user; others
    when the peer is in their scope (a workspace job, ``viewer`` None, reads everything)."""
    if viewer is None:
        return True
    return not anonymous(viewer) and viewer.sees_brand(peer_id)


def stories_allowed(viewer: Principal | None, category_brands: int, k: int) -> bool:
    """Whether ``viewer`` reads peer stories: a brand user only in a category of at least ``k``
    brands, where "a similar-sized brand of the category" does not single one out."""
    return not anonymous(viewer) or category_brands >= k


def _is_rate(metric: str | None) -> bool:
    """Shares and rates are fractions: their change reads in percentage points."""
    return metric is not None and ("share" in metric or "rate" in metric)


def peer_summary(metric: str | None, peers: Iterable[PeerStep]) -> PeerSummary:
    """How many peers made the step and their median change, bracketed to ``CHANGE_STEP``.

    A share or rate changes in percentage points (``(to − from) × 100``), anything else in
    percent (``(to / from − 1) × 100``, peers starting from zero left out of the change).
    """
    steps = list(peers)
    unit = "points" if _is_rate(metric) else "percent"
    changes = []
    for p in steps:
        if p.from_ is None or p.to is None:
            continue
        if unit == "points":
            changes.append((p.to - p.from_) * 100)
        elif p.from_ > 0:
            changes.append((p.to / p.from_ - 1) * 100)
    if not changes:
        return PeerSummary(brands=len(steps), metric=metric)
    low = math.floor(statistics.median(changes) / CHANGE_STEP) * CHANGE_STEP
    return PeerSummary(
        brands=len(steps), metric=metric, unit=unit, low=low + 0.0, high=low + CHANGE_STEP
    )


def private_action(action: PlanAction) -> PlanAction:
    """The action with its peers replaced by their summary."""
    ev = action.evidence
    if ev is None or (not ev.peers and ev.summary is None):
        return action
    summary = ev.summary or peer_summary(action.metric, ev.peers)
    return action.model_copy(
        update={"evidence": ev.model_copy(update={"peers": [], "summary": summary})}
    )


def private_params(reason_params: str | None) -> str | None:
    """A stage reason's parameters without the category's statistics."""
    if not reason_params:
        return reason_params
    try:
        params = json.loads(reason_params)
    except ValueError:
        return reason_params
    if not isinstance(params, dict) or not any(k in params for k in CATEGORY_PARAMS):
        return reason_params
    return json.dumps({k: v for k, v in params.items() if k not in CATEGORY_PARAMS})


def private_stage(stage: StageRecord | None, small: bool) -> StageRecord | None:
    """The stage with its category statistics removed from the reason in a small category."""
    if stage is None or not small:
        return stage
    params = private_params(stage.reason_params)
    if params == stage.reason_params:
        return stage
    data = stage.model_dump(by_alias=True)
    data["reason_params"] = params
    return StageRecord.model_validate(data)  # re-renders reason_en / reason_zh


def private_bottleneck(row: Bottleneck, small: bool) -> Bottleneck:
    """The bottleneck without its category references in a small category."""
    if not small or row.reference == "all":
        return row
    return row.model_copy(update=dict.fromkeys(CATEGORY_FIELDS))


def private_diagnosis(diag: Diagnosis, small: bool) -> Diagnosis:
    """The diagnosis a brand user reads: anonymous evidence; in a small category no category
    statistics."""
    return Diagnosis(
        stage=private_stage(diag.stage, small),
        bottlenecks=[private_bottleneck(b, small) for b in diag.bottlenecks],
        plan=[private_action(a) for a in diag.plan],
    )


def private_radar(radar: Radar, category_brands: int, next_stage_brands: int, k: int) -> Radar:
    """The radar with a median withheld (all None) when fewer than ``k`` brands make it."""
    none: list[float | None] = [None] * len(radar.category_median)
    return radar.model_copy(
        update={
            "category_median": radar.category_median if category_brands >= k else none,
            "next_stage_median": radar.next_stage_median
            if next_stage_brands >= k
            else [None] * len(radar.next_stage_median),
        }
    )
