"""The case library's pages: search the cases, read one, a category's playbook (HTML or PDF),
and a brand user's consent to be named.

Everyone signed in reads the library, anonymised alike (:mod:`windmaker.services.cases`); a
case that does not exist, or is withheld, is the not-found page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from windmaker.api.deps import SessionDep, StateDep
from windmaker.growth.cases import CAPABILITIES, CASE_METRICS, STEPS, PublicCase
from windmaker.i18n import t
from windmaker.reports import playbook as book
from windmaker.reports import service as reports
from windmaker.services import cases
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal
from windmaker.views.cases import case_source
from windmaker.web import security
from windmaker.web.pages.common import PageNotFound, WebUser, error_page, page_lang, render

router = APIRouter()

Filter = Annotated[str, Query(max_length=64)]


def _helpers(lang: str) -> dict[str, Any]:
    """The playbook's wording of a case's band, time, score changes and brand."""
    return {
        "band_text": lambda c: book.band_text(c, lang),
        "months_text": lambda m, censored=False: book.months_text(m, censored, lang),
        "points_text": lambda v: book.points_text(v, lang),
        "brand_text": lambda c: book.brand_text(c, lang),
    }


def _own_consent(session: SessionDep, user: Principal, state: StateDep) -> Any:
    if user.role != "brand" or not user.brand_id:
        return None
    try:
        return cases.consent(session, user, case_source(state.readmodel), user.brand_id)
    except ServiceError:
        return None


@router.get("/cases", response_class=HTMLResponse)
def case_list(
    request: Request,
    user: WebUser,
    state: StateDep,
    session: SessionDep,
    category: Filter = "",
    step: Filter = "",
    capability: Filter = "",
) -> HTMLResponse:
    source = case_source(state.readmodel)
    try:
        found = cases.list_cases(
            session,
            Configs.of(state.settings),
            user,
            source,
            category=category or None,
            step=step or None,
            capability=capability or None,
            min_category_brands=state.settings.privacy_min_category_brands,
        )
    except ServiceError as exc:
        return error_page(request, user, exc)
    categories = sorted({str(c) for c in source.brands.get("category", [])})
    return render(
        request,
        "cases.html",
        user,
        nav="cases",
        found=found,
        categories=categories,
        steps=STEPS,
        capabilities=CAPABILITIES,
        chosen={"category": category, "step": step, "capability": capability},
        consent=_own_consent(session, user, state),
        **_helpers(page_lang(request)),
    )


@router.get("/cases/playbook/{category}", response_model=None)
def case_playbook(
    category: str,
    request: Request,
    user: WebUser,
    state: StateDep,
    session: SessionDep,
    format: str = "html",
) -> Response:
    """A category's playbook: the self-contained HTML page, or its PDF (``format=pdf``)."""
    lang = page_lang(request)
    try:
        made = cases.playbook(
            session,
            Configs.of(state.settings),
            user,
            case_source(state.readmodel),
            category,
            min_category_brands=state.settings.privacy_min_category_brands,
        )
        html = book.render_playbook(made, lang)
        if format != "pdf":
            policy = security.policy_with_inline_scripts(html)
            return HTMLResponse(html, headers={"Content-Security-Policy": policy})
        pdf = reports.printer_for(state.settings).print(html)
    except ServiceError as exc:
        response = error_page(request, user, exc)
        if "retry_after" in exc.values:
            response.headers["Retry-After"] = str(exc.values["retry_after"])
        return response
    name = reports.safe_stem("playbook", category, lang)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )


@router.post("/cases/consent", response_model=None)
def case_consent(
    request: Request,
    user: WebUser,
    state: StateDep,
    session: SessionDep,
    consented: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """A brand user gives or withdraws its brand's consent to be named in cases."""
    if user.role != "brand" or not user.brand_id:
        raise PageNotFound
    try:
        cases.set_consent(
            session,
            user,
            case_source(state.readmodel),
            user.brand_id,
            consented == "yes",
            reason="web",
        )
    except ServiceError as exc:
        return error_page(request, user, exc)
    return RedirectResponse("/cases", status_code=303)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    case_id: str, request: Request, user: WebUser, state: StateDep, session: SessionDep
) -> HTMLResponse:
    try:
        case: PublicCase = cases.get_case(
            session,
            Configs.of(state.settings),
            user,
            case_source(state.readmodel),
            case_id,
            min_category_brands=state.settings.privacy_min_category_brands,
        )
    except ServiceError as exc:
        return error_page(request, user, exc)
    lang = page_lang(request)
    titles = {
        a.id: a.title_zh if lang == "zh-CN" else a.title_en
        for caps in Configs.of(state.settings).playbook.stages.values()
        for actions in caps.values()
        for a in actions
    }
    return render(
        request,
        "case.html",
        user,
        nav="cases",
        case=case,
        action_title=lambda action_id: titles.get(action_id, t("cases.other_action", lang)),
        capabilities=CAPABILITIES,
        metrics=CASE_METRICS,
        **_helpers(lang),
    )
