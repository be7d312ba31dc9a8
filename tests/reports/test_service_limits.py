"""The reports use case: scope, the month reported, a safe file name, and PDF printing bounded
to ``pdf_concurrency`` prints at once.

Known answers: a provider with three stored evaluations (scores 61.0, 48.5, 44.0; the last two
below the standard) whose report must show the chosen month's score; a stubbed printer that
blocks until released, so two prints hold both slots and the third is refused, whatever the
machine's speed (no timing is asserted).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date

import pytest
from bs4 import BeautifulSoup
from sqlalchemy.orm import Session

from windmaker import store
from windmaker.config import Settings
from windmaker.reports import service as reports
from windmaker.reports.service import PdfPrinter, safe_stem
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal, workspace_admin

ADMIN = workspace_admin("alice")
OPERATOR = Principal(2, "olga", "operator", frozenset({"B1"}))
BRAND = Principal(4, "bert", "brand", frozenset({"B1"}), brand_id="B1")


def provider_user(provider_id: str) -> Principal:
    return Principal(3, f"user-{provider_id}", "provider", frozenset(), provider_id=provider_id)


def refused(status: int, code: str) -> pytest.RaisesExc[ServiceError]:
    return pytest.raises(ServiceError, check=lambda e: (e.status, e.code) == (status, code))


@pytest.fixture
def session(workspace: Settings) -> Iterator[Session]:
    engine = store.engine_for(workspace)
    store.upgrade(engine)
    with store.open_session(engine) as s:
        for pid in ("P1", "P2"):
            store.upsert_provider(
                s,
                provider_id=pid,
                name=f"服务商{pid}",
                kind="brand_operation",
                capabilities=["self_operation"],
                categories=["beauty"],
                capacity=5,
                status="admitted",
                actor="test",
            )
        for brand in ("B1", "B2"):
            store.add_assignment(
                s, provider_id="P1", brand_id=brand, started_at=date(2024, 1, 1), actor="test"
            )
        for month, score, meets in ((3, 61.0, True), (4, 48.5, False), (5, 44.0, False)):
            store.record_evaluation(
                s,
                provider_id="P1",
                period=date(2024, month, 1),
                metrics={"clients": 2},
                gmv_served="1200000",
                score=score,
                meets_standard=meets,
                severe_violation=False,
                reasons=[],
            )
        yield s
    engine.dispose()


class Gate:
    """A stub printer: each print signals that it started, then waits until released."""

    def __init__(self) -> None:
        self.started = threading.Semaphore(0)
        self.release = threading.Event()
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def __call__(self, html: str) -> bytes:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.started.release()
        self.release.wait()
        with self._lock:
            self.running -= 1
        return b"%PDF-stub " + html.encode()


def test_third_concurrent_print_is_refused_busy() -> None:
    """Two prints hold both slots; a third cannot start and gets 503 with a retry delay; once
    they finish, a print starts again."""
    gate = Gate()
    printer = PdfPrinter(2, wait_seconds=0.05, render=gate)
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(printer.print("a"))) for _ in "ab"]
    for th in threads:
        th.start()
    for _ in threads:
        assert gate.started.acquire(timeout=30), "a print never started"
    try:
        with refused(503, "busy") as caught:
            printer.print("c")
        assert caught.value.values["retry_after"] == reports.RETRY_AFTER_SECONDS
    finally:
        gate.release.set()
        for th in threads:
            th.join(timeout=30)
    assert results == [b"%PDF-stub a", b"%PDF-stub a"]
    assert gate.most == 2
    assert printer.print("d") == b"%PDF-stub d"


def test_a_failed_print_gives_its_slot_back() -> None:
    def broken(html: str) -> bytes:
        raise RuntimeError("chromium crashed")

    printer = PdfPrinter(1, wait_seconds=0.05, render=broken)
    for _ in range(3):  # with a leaked slot the second try would be busy, not the crash
        with pytest.raises(RuntimeError, match="chromium crashed"):
            printer.print("x")


def test_the_limit_comes_from_settings(workspace: Settings) -> None:
    assert workspace.pdf_concurrency == 2
    assert reports.printer_for(workspace).limit == 2
    three = workspace.model_copy(update={"pdf_concurrency": 3})
    assert reports.printer_for(three).limit == 3
    assert reports.printer_for(three) is reports.printer_for(three)  # one per process


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("brand", "B000123", "2024-05", "zh-CN"), "brand-B000123-2024-05-zh-CN"),
        (
            ("brand", 'x"; filename=evil.exe', "2024-05", "en"),
            "brand-x_filename_evil.exe-2024-05-en",
        ),
        (("provider", "../../etc/passwd", "2024-05", "en"), "provider-_.._etc_passwd-2024-05-en"),
        (("brand", "品牌\r\nSet-Cookie: a=b", "2024-05", "en"), "brand-_Set-Cookie_a_b-2024-05-en"),
    ],
)
def test_file_names_carry_no_user_text_unescaped(parts: tuple[str, ...], expected: str) -> None:
    stem = safe_stem(*parts)
    assert stem == expected
    assert all(c.isascii() and (c.isalnum() or c in "_.-") for c in stem)


def test_provider_report_of_the_chosen_month(session: Session) -> None:
    made = reports.provider_report(session, ADMIN, "P1", "2024-04", "zh-CN")
    assert made.period == date(2024, 4, 1) and made.pdf is None
    assert made.filename == "provider-P1-2024-04-zh-CN.html"
    h2 = BeautifulSoup(made.html, "html.parser").select_one("h2")
    assert h2 is not None and "48.5" in h2.get_text()
    latest = reports.provider_report(session, ADMIN, "P1", None, "en")
    assert latest.period == date(2024, 5, 1) and latest.stem == "provider-P1-2024-05-en"


def test_provider_report_is_scoped_like_the_provider(session: Session) -> None:
    assert reports.provider_report(session, provider_user("P1"), "P1").period == date(2024, 5, 1)
    for user in (provider_user("P2"), BRAND):
        with refused(404, "not_found"):
            reports.provider_report(session, user, "P1")
    with refused(404, "not_found"):  # admitted, never evaluated: nothing to report
        reports.provider_report(session, ADMIN, "P2")
    with refused(404, "not_found"):
        reports.provider_report(session, ADMIN, "P1", "2023-01")
    # An operator sees the clients of its portfolio only.
    html = reports.provider_report(session, OPERATOR, "P1").html
    assert "B1" in html and "B2" not in html


def test_provider_pdf_goes_through_the_printer(session: Session) -> None:
    printed: list[str] = []

    def stub(html: str) -> bytes:
        printed.append(html)
        return b"%PDF-1.7 stub"

    made = reports.provider_report(
        session, ADMIN, "P1", "2024-03", "en", True, printer=PdfPrinter(1, render=stub)
    )
    assert made.pdf == b"%PDF-1.7 stub" and printed == [made.html]
    assert made.filename == "provider-P1-2024-03-en.pdf" and made.media_type == "application/pdf"
