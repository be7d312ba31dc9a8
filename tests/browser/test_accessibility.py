"""axe-core (from the npm registry, served locally) on every page, for every role, in both
languages: no serious or critical violations.

The pages are the phone test's (every dashboard route a role can open, filled with its ids),
at laptop width. Each page's violations are written to ``test-artifacts/axe/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.browser.conftest import ARTIFACTS, Server, login
from tests.browser.test_phone import LANGS, ROLES, Site, signed_out_pages, site, visit_all

pytestmark = pytest.mark.browser
__all__ = ["site"]  # the phone test's fixture: the ids each role's pages are filled with
#: Loaded by URL, not injected inline: the pages' Content-Security-Policy forbids inline script.
AXE = "/static/vendor/axe.min.js"
FAILING = ("serious", "critical")


def violations(page: Page) -> list[dict]:  # type: ignore[type-arg]
    """axe's serious and critical violations on the page as it is now."""
    page.add_script_tag(url=AXE)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in FAILING]


def summary(found: list[dict]) -> list[tuple[str, str, list[str]]]:  # type: ignore[type-arg]
    """Rule, help and the first elements concerned: what a failure message needs."""
    return [(v["id"], v["help"], [n["target"][0] for n in v["nodes"][:3]]) for v in found]


def check(page: Page, name: str) -> list[tuple[str, str, list[str]]]:
    found = violations(page)
    out = ARTIFACTS / "axe"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(found, indent=1), encoding="utf-8")
    return summary(found)


@pytest.fixture
def laptop(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    lang = request.node.callspec.params["lang"]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=lang)
    yield context
    context.close()


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("role", ROLES)
def test_no_serious_violations(
    laptop: BrowserContext, server: Server, site: Site, role: str, lang: str
) -> None:
    page = laptop.new_page()
    login(page, server, role)
    failures = {}
    for name, url in visit_all(page, server, role, site):
        # The page says its language, so screen readers pronounce it right.
        assert page.locator("html").get_attribute("lang") == lang, url
        found = check(page, f"{role}-{name}-{lang}")
        if found:
            failures[url] = found
    assert failures == {}, failures


@pytest.mark.parametrize("lang", LANGS)
def test_signed_out_pages_have_no_serious_violations(
    laptop: BrowserContext, server: Server, lang: str
) -> None:
    page = laptop.new_page()
    failures = {}
    for name, url in signed_out_pages(page, server):
        assert page.locator("html").get_attribute("lang") == lang, url
        found = check(page, f"anon-{name}-{lang}")
        if found:
            failures[url] = found
    assert failures == {}, failures


def test_the_skip_link_leads_to_the_content(page: Page, server: Server) -> None:
    """The first Tab stop is "skip to content", and following it moves focus to <main>."""
    page.goto(f"{server.url}/login")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert skip.evaluate("el => el === document.activeElement")
    assert skip.inner_text() == "跳到正文"
    assert skip.bounding_box() is not None and skip.bounding_box()["y"] >= 0  # type: ignore[index]
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
