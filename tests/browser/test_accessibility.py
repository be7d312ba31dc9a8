"""axe-core (from the npm registry, served locally) on the main pages: no critical violations."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import ARTIFACTS, Server, login

pytestmark = pytest.mark.browser
#: Loaded by URL, not injected inline: the pages' Content-Security-Policy forbids inline script.
AXE = "/static/vendor/axe.min.js"


def critical_violations(page: Page) -> list[dict]:  # type: ignore[type-arg]
    page.add_script_tag(url=AXE)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] == "critical"]


@pytest.mark.parametrize(
    ("user", "path"),
    [
        ("admin", "/workbench"),
        ("admin", "/ecosystem"),
        ("admin", "/providers"),
        ("admin", "/data"),
        ("brand", "/"),
        (None, "/login"),
    ],
)
def test_no_critical_violations(page: Page, server: Server, user: str | None, path: str) -> None:
    if user:
        login(page, server, user)
    page.goto(f"{server.url}{path}")
    page.wait_for_load_state("networkidle")
    found = critical_violations(page)
    out = ARTIFACTS / "axe"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{(user or 'anon')}{path.replace('/', '_')}.json").write_text(
        json.dumps(found, indent=1), encoding="utf-8"
    )
    assert found == [], [(v["id"], v["help"], len(v["nodes"])) for v in found]
