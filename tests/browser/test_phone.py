"""Every page at phone width (390 × 844): usable, and nothing scrolls sideways.

Each role logs in and opens every page it can open, in both languages; the pages are the web
routes of the dashboard (new pages are picked up from the routers; a route this file does not
know how to fill is a failure, so it cannot be left out silently). Screenshots land in
``test-artifacts/screenshots/phone-<role>-<page>[-en].png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

from tests.browser.conftest import Server, login, shot
from windmaker.config import Settings
from windmaker.store import engine_for, get_user_by_name, open_session
from windmaker.web.pages import router

pytestmark = pytest.mark.browser

ROLES = ("admin", "operator", "provider", "brand")
LANGS = ("zh-CN", "en")
PHONE: ViewportSize = {"width": 390, "height": 844}
#: Web routes that are not pages a person opens: documents, fragments, redirects, downloads.
NOT_PAGES = {
    "/": "redirects to the role's first page",
    "/login": "visited signed out",
    "/lang/{code}": "sets the language and redirects",
    "/data/jobs/{job_id}": "an htmx fragment of the data page",
    "/workbench/export.{fmt}": "a CSV/XLSX download",
    "/reports/brands/{brand_id}": "a printable report (PDF), not a screen",
    "/reports/providers/{provider_id}": "a printable report (PDF), not a screen",
    "/applications/{application_id}": "needs an application: opened in the provider journey",
}
#: Route parameters filled from the links of the pages opened before (a case and a category's
#: playbook from the case library's page).
LINKED = {"account_id", "session_id", "case_id", "category"}
#: A route ending in a file name is a download (CSV, XLSX, PDF).
DOWNLOAD = re.compile(r"\.(csv|xlsx|pdf|json)$")
#: What each role must be able to open (more may open: every route is tried).
MUST_OPEN = {
    "admin": {"workbench", "brand", "ecosystem", "providers", "provider", "data"},
    "operator": {"workbench", "brand", "ecosystem", "providers", "provider", "data"},
    "provider": {"workbench", "brand", "providers", "provider"},
    "brand": {"brand"},
}


@dataclass(frozen=True)
class Site:
    """The ids a role's pages are filled with."""

    brand: dict[str, str]
    provider: dict[str, str | None]


def page_routes() -> list[str]:
    """The GET routes of the dashboard that render a page."""
    found = []
    routes = list(router.routes)
    while routes:
        route = routes.pop()
        included = getattr(route, "original_router", None)  # an area's router, included
        if included is not None:
            routes.extend(included.routes)
            continue
        path = getattr(route, "path", "")
        get = "GET" in (getattr(route, "methods", None) or set())
        if get and path not in NOT_PAGES and not DOWNLOAD.search(path):
            found.append(path)
    # Parents before children, so a child's ids can come from its parent's links.
    return sorted(set(found), key=lambda p: (p.count("{"), p))


def page_name(path: str) -> str:
    """``/brands/{brand_id}/drill`` → ``brand-drill``; ``/providers/{provider_id}`` → ``provider``."""
    if path == "/providers/{provider_id}":
        return "provider"
    parts = [p for p in path.strip("/").split("/") if not p.startswith("{")]
    parts[0] = {"brands": "brand"}.get(parts[0], parts[0])
    return "-".join(parts)


def fill(path: str, role: str, site: Site, links: set[str]) -> str | None:
    """The route with the role's ids in it, or with ids read from the links of the pages opened
    before (an account or a live session of the brand); None when neither gives one."""
    values = {"brand_id": site.brand[role], "provider_id": site.provider[role]}
    names = re.findall(r"{(\w+)}", path)
    unknown = [n for n in names if n not in values and n not in LINKED]
    assert not unknown, f"{path}: add how to fill {unknown} (or list it in NOT_PAGES)"
    if any(n in values and values[n] is None for n in names):
        return None
    if not LINKED.intersection(names):
        return re.sub(r"{(\w+)}", lambda m: str(values[m.group(1)]), path)
    pattern = re.sub(
        r"{(\w+)}",
        lambda m: re.escape(str(values[m.group(1)])) if m.group(1) in values else "[^/?#]+",
        path,
    )
    found = sorted(link for link in links if re.fullmatch(pattern, link))
    return found[0] if found else None


@pytest.fixture(scope="module")
def site(web_market: Settings, scopes: dict[str, set[str]]) -> Site:
    with open_session(engine_for(web_market)) as s:
        user = get_user_by_name(s, username="provider")
        own = user.provider_id if user is not None else None
    first = sorted(scopes["operator"])[0]
    return Site(
        brand={
            "admin": first,
            "operator": first,
            "provider": sorted(scopes["provider"])[0],
            "brand": sorted(scopes["brand"])[0],
        },
        provider={"admin": own, "operator": own, "provider": own, "brand": None},
    )


def visit_all(page: Page, server: Server, role: str, site: Site) -> Iterator[tuple[str, str]]:
    """Open every page ``role`` can open; yield (name, url) with the page loaded."""
    opened: set[str] = set()
    links: set[str] = set()
    for path in page_routes():
        url = fill(path, role, site, links)
        if url is None:
            continue
        response = page.goto(f"{server.url}{url}")
        page.wait_for_load_state("networkidle")
        if response is None or response.status != 200 or not page.url.endswith(url):
            continue  # not the role's page: refused, not found, or sent elsewhere
        opened.add(page_name(path))
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        links |= {h.split("?")[0].split("#")[0] for h in hrefs if h and h.startswith("/")}
        yield page_name(path), url
    missing = MUST_OPEN[role] - opened
    assert not missing, f"{role} could not open {sorted(missing)}"
    # The not-found page: a brand that does not exist reads like one out of scope.
    response = page.goto(f"{server.url}/brands/NO-SUCH-BRAND")
    page.wait_for_load_state("networkidle")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text().startswith("404")
    yield "not-found", "/brands/NO-SUCH-BRAND"


def signed_out_pages(page: Page, server: Server) -> Iterator[tuple[str, str]]:
    response = page.goto(f"{server.url}/login")
    page.wait_for_load_state("networkidle")
    assert response is not None and response.status == 200
    yield "login", "/login"


OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const scrolled = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p).overflowX;
      if (s === "auto" || s === "scroll" || s === "hidden") return true;
    }
    return false;
  };
  const wide = [...document.body.querySelectorAll("*")]
    .filter(el => el.getBoundingClientRect().right > width + 1 && !scrolled(el))
    .slice(0, 5)
    .map(el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
         (el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : ""));
  return {scrollWidth: document.documentElement.scrollWidth, clientWidth: width, wide};
}"""


def sideways(page: Page) -> dict | None:  # type: ignore[type-arg]
    """None when the page fits its width; else the widths and the elements sticking out."""
    got = page.evaluate(OVERFLOW)
    return None if got["scrollWidth"] <= got["clientWidth"] else got


@pytest.fixture
def phone(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    lang = request.node.callspec.params["lang"]
    context = browser.new_context(viewport=PHONE, locale=lang, is_mobile=True, has_touch=True)
    yield context
    context.close()


def suffix(lang: str) -> str:
    return "" if lang == "zh-CN" else "-en"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("role", ROLES)
def test_every_page_fits_a_phone(
    phone: BrowserContext, server: Server, site: Site, role: str, lang: str
) -> None:
    page = phone.new_page()
    login(page, server, role)
    assert page.locator("html").get_attribute("lang") == lang
    overflowing = {}
    for name, url in visit_all(page, server, role, site):
        shot(page, f"phone-{role}-{name}{suffix(lang)}")
        found = sideways(page)
        if found:
            overflowing[url] = found
        # The menu is on screen and every link in it can be reached without scrolling sideways.
        for link in page.locator("header nav a").all():
            box = link.bounding_box()
            assert box is not None and box["x"] + box["width"] <= PHONE["width"], url
    assert overflowing == {}, overflowing


@pytest.mark.parametrize("lang", LANGS)
def test_signed_out_pages_fit_a_phone(phone: BrowserContext, server: Server, lang: str) -> None:
    page = phone.new_page()
    overflowing = {}
    for name, url in signed_out_pages(page, server):
        shot(page, f"phone-{name}{suffix(lang)}")
        found = sideways(page)
        if found:
            overflowing[url] = found
    assert overflowing == {}, overflowing
    page.goto(f"{server.url}/login")
    box = page.locator("#username").bounding_box()
    assert box is not None and box["width"] >= 250  # the form fills the phone, not a sliver


def test_every_dashboard_route_is_known() -> None:
    """A new page route either fills from the known ids or is listed, with a reason, above."""
    site = Site(brand=dict.fromkeys(ROLES, "B1"), provider=dict.fromkeys(ROLES, "P1"))
    links = {"/brands/B1/drill/accounts/A1", "/brands/B1/drill/sessions/L1"}
    names = {page_name(p) for p in page_routes() if fill(p, "admin", site, links)}
    assert {"workbench", "brand", "ecosystem", "providers", "provider", "data"} <= names
