"""The operator's workbench: the summary strip, the portfolio searched, filtered, sorted and
paged, and its exports (all rows of the same filters and sort)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from windmaker import contract, results
from windmaker.api.deps import AppState, SessionDep, StateDep
from windmaker.i18n import name, t
from windmaker.services.configs import Configs
from windmaker.services.identity import Principal
from windmaker.views import exports, portfolio
from windmaker.views.portfolio import PortfolioQuery
from windmaker.web.pages.common import PageNotFound, WebUser, page_lang, render

router = APIRouter()
PATH = "/workbench"


@dataclass(frozen=True)
class Header:
    """A column header: its words, the link that sorts by it and its ``aria-sort``."""

    key: str
    label: str
    href: str
    aria_sort: str
    css: str = ""
    title: str = ""


#: Table columns: (sort key, catalogue key of the label, CSS classes).
COLUMNS = (
    ("priority", "workbench.col.priority", "num"),
    ("name", "label.brand", ""),
    ("category", "label.category", "opt"),
    ("stage", "label.stage", ""),
    ("attention", "label.attention", ""),
    ("bottleneck", "label.bottleneck", "opt"),
    ("gmv_change", "workbench.col.gmv_change", "num opt"),
    ("net_gmv_t90d", "label.net_gmv_t90d", "num opt"),
    ("gmv_at_stake", "label.gmv_at_stake", "num"),
)


def _headers(query: PortfolioQuery, lang: str) -> list[Header]:
    out = []
    for key, label, css in COLUMNS:
        current = query.sort == key
        flipped = "desc" if query.dir == "asc" else "asc"
        direction = flipped if current else portfolio.SORTS[key]
        out.append(
            Header(
                key=key,
                label=t(label, lang),
                href=query.link(PATH, sort=key, dir=direction),
                aria_sort=("ascending" if query.dir == "asc" else "descending")
                if current
                else "none",
                css=css,
                title=t("workbench.stake_tooltip", lang) if key == "gmv_at_stake" else "",
            )
        )
    return out


def _selection(
    state: AppState, user: Principal, request: Request, session: Any
) -> tuple[PortfolioQuery, list[dict[str, Any]], dict[str, str]]:
    query = PortfolioQuery.parse(request.query_params)
    clients, names = portfolio.provider_clients(session, user)
    rows = portfolio.select_rows(
        state.readmodel, user.scope_set, query, clients=clients, lang=page_lang(request)
    )
    return query, rows, names


def _window_months(state: AppState) -> int:
    """The months a falling brand's GMV change is taken over (``ladder.yaml``), read once."""
    found = state.extra.get("workbench.window_months")
    if found is None:
        found = Configs.of(state.settings).ladder.portfolio.gmv_window_periods
        state.extra["workbench.window_months"] = found
    return int(found)


@router.get(PATH, response_class=HTMLResponse)
def workbench(
    request: Request, user: WebUser, state: StateDep, session: SessionDep
) -> HTMLResponse:
    lang = page_lang(request)
    query, rows, provider_names = _selection(state, user, request, session)
    shown, page = portfolio.page_of(rows, query)
    total = len(rows)
    first = (page - 1) * query.page_size + 1 if total else 0
    last = first + len(shown) - 1 if total else 0
    rm = state.readmodel
    categories = sorted(
        ((c, name("category", c, lang)) for c in rm.categories()), key=lambda c: c[1].casefold()
    )
    return render(
        request,
        "workbench.html",
        user,
        nav="workbench",
        rows=shown,
        total=total,
        first=first,
        last=last,
        page=page,
        pages=max(1, -(-total // query.page_size)),
        query=query,
        blank=PortfolioQuery(),
        path=PATH,
        headers=_headers(query, lang),
        summary=portfolio.summary(rm, user.scope_set),
        diagnosed=not rm.snap.frame(results.PORTFOLIO).empty,
        categories=categories,
        stages=contract.STAGES,
        attentions=portfolio.ATTENTIONS,
        providers=sorted(provider_names.items(), key=lambda p: p[1].casefold()),
        export_query=query.params(page=1),
        period=rm.snap.latest_period,
        window_months=_window_months(state),
    )


@router.get("/workbench/export.{fmt}")
def workbench_export(
    fmt: str, request: Request, user: WebUser, state: StateDep, session: SessionDep
) -> Response:
    """Every row of the page's filters and sort (not one page), under human headers."""
    if fmt not in ("csv", "xlsx"):
        raise PageNotFound
    lang = page_lang(request)
    _, rows, _ = _selection(state, user, request, session)
    columns = [
        exports.Column(key, t(label, lang), kind) for key, label, kind in portfolio.EXPORT_COLUMNS
    ]
    table = portfolio.export_rows(rows, lang)
    filename = t("workbench.export_file", lang)
    # Cells go through views.exports.safe_cell: a brand name cannot run as a formula.
    disposition = {"Content-Disposition": _attachment(filename, fmt)}
    if fmt == "csv":
        return Response(
            exports.table_csv(columns, table), media_type=exports.CSV_MEDIA, headers=disposition
        )
    return Response(
        exports.table_xlsx(columns, table, "portfolio"),
        media_type=exports.XLSX_MEDIA,
        headers=disposition,
    )


def _attachment(filename: str, ext: str) -> str:
    """An attachment header with an ASCII fallback and the name in the page language."""
    return f"attachment; filename=\"portfolio.{ext}\"; filename*=UTF-8''{quote(filename)}.{ext}"
