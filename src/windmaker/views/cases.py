"""The case library's source from the read model: the snapshot's result tables, once per
snapshot (:mod:`windmaker.growth.cases` writes the library from them, the final capability
scores included, so a case shows the scores the brand page showed)."""

from __future__ import annotations

import weakref
from datetime import date

from windmaker import results
from windmaker.growth.cases import CaseSource, case_id
from windmaker.views.readmodel import ReadModel


def case_source(rm: ReadModel) -> CaseSource:
    """The current snapshot's :class:`CaseSource`; the same object until the next reload, so
    the library written from it is kept for the snapshot's lifetime."""
    snap = rm.snap
    source: CaseSource = snap.memo(
        ("case_source",),
        lambda: CaseSource(
            stages=snap.frame(results.STAGE),
            capability=snap.frame(results.CAPABILITY),
            brand_month=snap.frame(results.BRAND_MONTH),
            bottleneck=snap.frame(results.BOTTLENECK),
            brands=snap.frame("brands"),
        ),
    )
    return source


#: The case-id secret each live read model links plan evidence with (set by the app at start).
_KEYS: weakref.WeakKeyDictionary[ReadModel, str] = weakref.WeakKeyDictionary()


def link_cases(rm: ReadModel, secret: str) -> None:
    """Let ``rm``'s plan evidence name each peer's case, keyed with the store's ``secret``."""
    _KEYS[rm] = secret


def peer_case_id(
    rm: ReadModel, peer_id: str, step: str | None, before: date | None = None
) -> str | None:
    """The case id of a peer's step (``"climbing→ka"``): its promotion from the one stage to the
    next in the stage history, the last at or before ``before`` (else the last of all); None
    when ``rm`` is not linked to the library or the history holds no such promotion."""
    secret = _KEYS.get(rm)
    if secret is None or not step or "→" not in step:
        return None
    left, reached = step.split("→", 1)
    history = [(h["period"], str(h.get("stage"))) for h in rm.stage_history(peer_id)]
    found = [
        history[i][0]
        for i in range(1, len(history))
        if history[i][1] == reached and history[i - 1][1] == left
    ]
    if not found:
        return None
    earlier = [p for p in found if before is None or p <= before]
    return case_id(secret, peer_id, left, reached, (earlier or found)[-1])
