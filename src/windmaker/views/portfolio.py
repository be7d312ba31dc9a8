"""The operator's workbench over the read model: the portfolio searched, filtered, sorted and
paged, its summary strip, and the rows of its exports.

The web page, its CSV and XLSX exports and ``GET /api/v1/portfolio`` read the same
:func:`select_rows`, so a filter, a sort or a page means the same everywhere. A request's
parameters are parsed once into a :class:`PortfolioQuery` whose values are whitelisted: an
unknown sort column or stage falls back to the default, never reaches a sort key.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pandas as pd

from windmaker import contract, results
from windmaker.i18n import name, t
from windmaker.services import providers
from windmaker.services.identity import Principal
from windmaker.views.exports import Kind
from windmaker.views.readmodel import ReadModel, Snapshot

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: Attentions in the order of urgency; the first four are the brands needing attention.
ATTENTIONS = ("trust_alert", "falling", "ready", "stalled", "ok")
NEEDING = ATTENTIONS[:4]
#: Columns a reader may sort by, with the direction a first click on the header sorts in.
SORTS: dict[str, str] = {
    "priority": "asc",
    "name": "asc",
    "category": "asc",
    "stage": "asc",
    "attention": "asc",
    "bottleneck": "asc",
    "gmv_change": "asc",
    "net_gmv_t90d": "desc",
    "gmv_at_stake": "desc",
}
PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
#: A 90-day window spans three months: its change is taken against the window three months back.
WINDOW_MONTHS = 3
STAGE_RANK = {s: i for i, s in enumerate(contract.STAGES)}
ATTENTION_RANK = {a: i for i, a in enumerate(ATTENTIONS)}
CAPABILITY_RANK = {c: i for i, c in enumerate(contract.CAPABILITIES)}


@dataclass(frozen=True)
class PortfolioQuery:
    """What the reader asked for: search, filters, sort and page (validated values only)."""

    q: str = ""
    category: str = ""
    stage: str = ""
    attention: str = ""
    provider: str = ""
    sort: str = "priority"
    dir: str = "asc"
    page: int = 1
    page_size: int = PAGE_SIZE

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> PortfolioQuery:
        """The query of a request's parameters; anything not on a whitelist is dropped."""
        sort = params.get("sort", "priority")
        sort = sort if sort in SORTS else "priority"
        direction = params.get("dir", "")
        return cls(
            q=(params.get("q") or "").strip()[:100],
            category=(params.get("category") or "")[:100],
            stage=s if (s := params.get("stage") or "") in STAGE_RANK else "",
            attention=a if (a := params.get("attention") or "") in ATTENTION_RANK else "",
            provider=(params.get("provider") or "")[:100],
            sort=sort,
            dir=direction if direction in ("asc", "desc") else SORTS[sort],
            page=_int(params.get("page"), 1, 1, 1_000_000),
            page_size=_int(params.get("page_size"), PAGE_SIZE, 1, MAX_PAGE_SIZE),
        )

    @property
    def filtered(self) -> bool:
        return any((self.q, self.category, self.stage, self.attention, self.provider))

    def params(self, **change: Any) -> dict[str, str]:
        """The query's parameters with ``change`` applied, defaults left out; a change of
        anything but the page starts again on page 1."""
        if change and "page" not in change:
            change["page"] = 1
        new = replace(self, **change)
        out = {
            k: str(getattr(new, k))
            for k in ("q", "category", "stage", "attention", "provider")
            if getattr(new, k)
        }
        if new.sort != "priority" or new.dir != SORTS["priority"]:
            out |= {"sort": new.sort, "dir": new.dir}
        if new.page_size != PAGE_SIZE:
            out["page_size"] = str(new.page_size)
        if new.page != 1:
            out["page"] = str(new.page)
        return out

    def link(self, path: str, **change: Any) -> str:
        found = urlencode(self.params(**change))
        return f"{path}?{found}" if found else path


def _int(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(max(int(raw or default), low), high)
    except ValueError:
        return default


# -- rows of a snapshot ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Derived:
    """What the workbench adds to a snapshot's overview, computed once per snapshot."""

    rows: list[dict[str, Any]]
    month: date | None
    month_gmv: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    #: Selections already made on this snapshot (scope, filters, sort), the most recent last:
    #: a workbench or API client paging or reloading does not filter and sort 1,000 rows again.
    selections: dict[tuple[Any, ...], list[dict[str, Any]]] = field(default_factory=dict)


#: Selections kept per snapshot.
_SELECTIONS = 128


_CACHE: list[tuple[Snapshot, _Derived]] = []
_CACHE_LOCK = threading.Lock()


def _derived(snap: Snapshot) -> _Derived:
    with _CACHE_LOCK:
        if _CACHE and _CACHE[0][0] is snap:
            return _CACHE[0][1]
    found = _derive(snap)
    with _CACHE_LOCK:
        _CACHE[:] = [(snap, found)]
    return found


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _derive(snap: Snapshot) -> _Derived:
    """Each overview row with its 90-day GMV change, and every brand's GMV of the latest
    complete month and the month before (the summary strip's portfolio GMV)."""
    bm = snap.frame(results.BRAND_MONTH)
    rows = [dict(r) for r in snap.overview_rows]
    if bm.empty or snap.latest_period is None:
        return _Derived(rows=rows, month=None)
    back = (pd.Timestamp(snap.latest_period) - pd.DateOffset(months=WINDOW_MONTHS)).date()
    before = bm[bm["period"] == back].set_index("brand_id")["net_gmv_t90d"].to_dict()
    for r in rows:
        now, then = _num(r.get("net_gmv_t90d")), _num(before.get(r["brand_id"]))
        r["gmv_change"] = now / then - 1 if now is not None and then else None
    complete = bm[~bm["to_date"].fillna(False).astype(bool)] if "to_date" in bm else bm
    month = max(complete["period"]) if not complete.empty else max(bm["period"])
    prior = (pd.Timestamp(month) - pd.DateOffset(months=1)).date()
    now_gmv = bm[bm["period"] == month].set_index("brand_id")["net_gmv"].to_dict()
    prior_gmv = bm[bm["period"] == prior].set_index("brand_id")["net_gmv"].to_dict()
    month_gmv = {
        str(b): (_num(now_gmv.get(b)), _num(prior_gmv.get(b)))
        for b in set(now_gmv) | set(prior_gmv)
    }
    return _Derived(rows=rows, month=month, month_gmv=month_gmv)


def _sort_key(sort: str, lang: str) -> Any:
    """The key a column sorts on: words by their name in ``lang``, stages up the ladder,
    attentions by urgency, numbers as numbers."""
    if sort == "name":
        return lambda r: str(r.get("name") or r["brand_id"]).casefold()
    if sort == "category":
        return lambda r: name("category", r.get("category"), lang).casefold()
    if sort == "stage":
        return lambda r: STAGE_RANK.get(str(r.get("stage")), len(STAGE_RANK))
    if sort == "attention":
        return lambda r: ATTENTION_RANK.get(str(r.get("attention")), len(ATTENTION_RANK))
    if sort == "bottleneck":
        return lambda r: CAPABILITY_RANK.get(str(r.get("bottleneck")), len(CAPABILITY_RANK))
    return lambda r: _num(r.get(sort))


def select_rows(
    rm: ReadModel,
    scope: set[str] | None,
    query: PortfolioQuery,
    *,
    clients: Mapping[str, frozenset[str]] | None = None,
    lang: str = "en",
) -> list[dict[str, Any]]:
    """Every brand in ``scope`` matching the query, in its order (missing values last, ties in
    priority order). ``clients``: the brands each provider in view serves (provider filter).

    The rows are the snapshot's: read them, do not change them."""
    derived = _derived(rm.snap)
    served = (clients or {}).get(query.provider, frozenset()) if query.provider else None
    key = (
        None if scope is None else frozenset(scope),
        *(query.q, query.category, query.stage, query.attention, query.provider),
        *(query.sort, query.dir, lang, served),
    )
    with _CACHE_LOCK:
        hit = derived.selections.get(key)
    if hit is not None:
        return list(hit)
    found = _select(derived.rows, scope, query, served, lang)
    with _CACHE_LOCK:
        derived.selections[key] = found
        while len(derived.selections) > _SELECTIONS:
            derived.selections.pop(next(iter(derived.selections)))
    return list(found)


def _select(
    rows: list[dict[str, Any]],
    scope: set[str] | None,
    query: PortfolioQuery,
    served: frozenset[str] | None,
    lang: str,
) -> list[dict[str, Any]]:
    if scope is not None:
        rows = [r for r in rows if r["brand_id"] in scope]
    if query.category:
        rows = [r for r in rows if r.get("category") == query.category]
    if query.stage:
        rows = [r for r in rows if r.get("stage") == query.stage]
    if query.attention:
        rows = [r for r in rows if r.get("attention") == query.attention]
    if served is not None:
        rows = [r for r in rows if r["brand_id"] in served]
    if query.q:
        ql = query.q.casefold()
        rows = [
            r
            for r in rows
            if ql in str(r["brand_id"]).casefold() or ql in str(r.get("name") or "").casefold()
        ]
    base = sorted(rows, key=lambda r: (_num(r.get("priority")) or math.inf, str(r["brand_id"])))
    key = _sort_key(query.sort, lang)
    present = [r for r in base if key(r) is not None]
    missing = [r for r in base if key(r) is None]
    present.sort(key=key, reverse=query.dir == "desc")
    return present + missing


def page_of(
    rows: Sequence[dict[str, Any]], query: PortfolioQuery
) -> tuple[list[dict[str, Any]], int]:
    """The query's page of ``rows`` (the last page when it asks past the end) and its number."""
    pages = max(1, math.ceil(len(rows) / query.page_size))
    page = min(query.page, pages)
    start = (page - 1) * query.page_size
    return list(rows[start : start + query.page_size]), page


# -- the summary strip -------------------------------------------------------------------------
@dataclass(frozen=True)
class Summary:
    """The portfolio at a glance: brands by stage and by attention (each adds up to
    ``brands``), the GMV of the latest complete month and its change, and the GMV at risk
    (GMV at stake summed over the brands needing attention)."""

    brands: int
    stages: list[tuple[str, int]]
    attentions: list[tuple[str, int]]
    needing: int
    at_risk: float
    month: date | None
    gmv: float | None
    gmv_change: float | None


def summary(rm: ReadModel, scope: set[str] | None) -> Summary:
    """The summary strip of the brands in ``scope``. A brand without a stage counts as not yet
    judged; one without an attention as not yet diagnosed."""
    derived = _derived(rm.snap)
    rows = [r for r in derived.rows if scope is None or r["brand_id"] in scope]
    stages = {s: 0 for s in (*contract.STAGES, "unjudged")}
    attentions = {a: 0 for a in (*ATTENTIONS, "undiagnosed")}
    at_risk = 0.0
    for r in rows:
        stages[r["stage"] if r.get("stage") in STAGE_RANK else "unjudged"] += 1
        att = str(r["attention"]) if r.get("attention") in ATTENTION_RANK else "undiagnosed"
        attentions[att] += 1
        if att in NEEDING:
            at_risk += _num(r.get("gmv_at_stake")) or 0.0
    now = before = 0.0
    have_now = have_before = False
    for r in rows:
        gmv, prior = derived.month_gmv.get(str(r["brand_id"]), (None, None))
        if gmv is not None:
            now, have_now = now + gmv, True
        if prior is not None:
            before, have_before = before + prior, True
    return Summary(
        brands=len(rows),
        stages=[(s, n) for s, n in stages.items() if n or s != "unjudged"],
        attentions=[(a, n) for a, n in attentions.items() if n or a != "undiagnosed"],
        needing=sum(attentions[a] for a in NEEDING),
        at_risk=round(at_risk, 2),
        month=derived.month,
        gmv=now if have_now else None,
        gmv_change=now / before - 1 if have_now and have_before and before > 0 else None,
    )


# -- providers ---------------------------------------------------------------------------------
def provider_clients(
    session: Session, user: Principal, on: date | None = None
) -> tuple[dict[str, frozenset[str]], dict[str, str]]:
    """The brands each provider ``user`` sees serves on ``on`` (default today), limited to the
    user's own brands, and the providers' names; providers serving none of them are left out
    (an operator sees the providers of its portfolio)."""
    day = on or date.today()
    clients: dict[str, frozenset[str]] = {}
    names: dict[str, str] = {}
    for p in providers.providers_in_scope(session, user):
        served = frozenset(
            a.brand_id
            for a in providers.assignments(session, user, p.provider_id)
            if a.started_at <= day
            and (a.ended_at is None or a.ended_at >= day)
            and user.sees_brand(a.brand_id)
        )
        if served:
            clients[p.provider_id] = served
            names[p.provider_id] = p.name
    return clients, names


# -- exports -----------------------------------------------------------------------------------
#: Export columns: (row key, catalogue key of the header, kind).
EXPORT_COLUMNS: tuple[tuple[str, str, Kind], ...] = (
    ("priority", "workbench.col.priority", "count"),
    ("brand_id", "workbench.col.brand_id", "text"),
    ("name", "label.brand", "text"),
    ("category_name", "label.category", "text"),
    ("stage_name", "label.stage", "text"),
    ("attention_name", "label.attention", "text"),
    ("bottleneck_name", "label.bottleneck", "text"),
    ("net_gmv_t90d", "label.net_gmv_t90d", "money"),
    ("gmv_change", "workbench.col.gmv_change", "share"),
    ("gmv_at_stake", "label.gmv_at_stake", "money"),
    ("trust_alert_word", "workbench.col.trust_alert", "text"),
)


def export_rows(rows: Sequence[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """The rows with their codes as words in ``lang`` (categories, stages, attentions,
    bottlenecks, the trust alert as yes/no)."""
    out = []
    for r in rows:
        words = {
            "category_name": name("category", r.get("category"), lang),
            "stage_name": name("stage", r.get("stage"), lang) if r.get("stage") else "",
            "attention_name": name("attention", r.get("attention"), lang)
            if r.get("attention")
            else "",
            "bottleneck_name": name("capability", r.get("bottleneck"), lang)
            if r.get("bottleneck")
            else "",
            "trust_alert_word": t(
                "workbench.yes" if r.get("trust_alert") else "workbench.no", lang
            ),
        }
        out.append({**r, **words})
    return out
