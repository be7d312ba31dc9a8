"""Monthly reports (月度报告) as a use case: who may read which report, the month it covers, a
file name safe to serve, and PDF printing bounded to a few Chromium processes at once.

The CLI (``windmaker report``) and the web's report routes call these functions and only write
or serve what they return; :mod:`windmaker.reports.render` stays the renderer.

Each PDF is printed by a Chromium process of its own, which costs far more memory and CPU than
any other request. A :class:`PdfPrinter` lets at most ``Settings.pdf_concurrency`` of them run at
once; a request that cannot start within :data:`PDF_WAIT_SECONDS` is refused as busy (503, with
the seconds after which to retry) instead of queueing without bound.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from windmaker.reports.render import pdf_bytes, render_brand, render_provider
from windmaker.services import providers
from windmaker.services.errors import ServiceError, not_found
from windmaker.services.identity import Principal

if TYPE_CHECKING:
    from windmaker.config import Settings
    from windmaker.views import ReadModel

#: How long a PDF request waits for a free printer before it is refused as busy.
PDF_WAIT_SECONDS = 5.0
#: What a busy refusal tells the client to wait before retrying (``Retry-After``).
RETRY_AFTER_SECONDS = 10
#: PDFs printed at once when no settings say otherwise (``Settings.pdf_concurrency``).
DEFAULT_PDF_CONCURRENCY = 2

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def busy() -> ServiceError:
    """Every PDF printer is taken: retry after :data:`RETRY_AFTER_SECONDS` (503)."""
    return ServiceError("busy", 503, retry_after=RETRY_AFTER_SECONDS)


def safe_stem(*parts: str) -> str:
    """``parts`` joined by ``-`` as a file name that needs no escaping anywhere.

    Ids come from the request path, so each part keeps only ASCII letters, digits, ``_``, ``-``
    and ``.`` (any other run becomes ``_``) and no part starts with a dot; the result holds no quote,
    slash, space or control character and can go into a Content-Disposition header or a path.
    """
    cleaned = (_UNSAFE.sub("_", p).lstrip(".") or "_" for p in parts)
    return "-".join(cleaned)[:120]


@dataclass(frozen=True)
class Report:
    """One rendered report: its HTML, its PDF when one was asked for, the month it covers and
    the file stem (``brand-B000123-2024-05-zh-CN``) to save or serve it under."""

    html: str
    pdf: bytes | None
    period: date
    stem: str

    @property
    def filename(self) -> str:
        """The file name of what is served: the PDF when there is one, else the HTML."""
        return f"{self.stem}.pdf" if self.pdf is not None else f"{self.stem}.html"

    @property
    def media_type(self) -> str:
        return "application/pdf" if self.pdf is not None else "text/html; charset=utf-8"


class PdfPrinter:
    """Prints HTML to PDF with at most ``limit`` prints running at once.

    ``render`` is the printer itself (Chromium by default); a print that finds every slot taken
    waits up to ``wait_seconds`` and is then refused with :func:`busy`.
    """

    def __init__(
        self,
        limit: int = DEFAULT_PDF_CONCURRENCY,
        *,
        wait_seconds: float = PDF_WAIT_SECONDS,
        render: Callable[[str], bytes] = pdf_bytes,
    ) -> None:
        if limit < 1:
            raise ValueError("a PDF printer needs at least one slot")
        self.limit, self.wait_seconds, self._render = limit, wait_seconds, render
        self._slots = threading.BoundedSemaphore(limit)

    def print(self, html: str) -> bytes:
        """``html`` as PDF bytes; raises :func:`busy` when no slot frees up in time."""
        if not self._slots.acquire(timeout=self.wait_seconds):
            raise busy()
        try:
            return self._render(html)
        finally:
            self._slots.release()


_printers: dict[int, PdfPrinter] = {}
_printers_lock = threading.Lock()


def printer_for(settings: Settings | None = None) -> PdfPrinter:
    """The process's Chromium printer for ``settings.pdf_concurrency``: every request of a
    server shares it, so the limit holds across requests, pages and users."""
    limit = settings.pdf_concurrency if settings is not None else DEFAULT_PDF_CONCURRENCY
    with _printers_lock:
        if limit not in _printers:
            _printers[limit] = PdfPrinter(limit)
        return _printers[limit]


def _printed(html: str, pdf: bool, printer: PdfPrinter | None) -> bytes | None:
    if not pdf:
        return None
    return (printer or printer_for()).print(html)


def brand_report(
    rm: ReadModel,
    user: Principal,
    brand_id: str,
    month: str | date | None = None,
    lang: str = "zh-CN",
    pdf: bool = False,
    *,
    printer: PdfPrinter | None = None,
) -> Report:
    """A brand's monthly report for ``user``: the latest diagnosed month, or ``month``.

    A brand outside ``user``'s scope, one not diagnosed yet and a month that was not diagnosed
    are all not found (404): a report tells no more than the brand page would.
    """
    if not user.sees_brand(brand_id) or rm.brand(brand_id) is None:
        raise not_found(f"no brand {brand_id!r}")
    try:
        html, period = render_brand(rm, brand_id, month, lang, user)
    except (LookupError, ValueError) as exc:
        raise not_found(str(exc)) from None
    stem = safe_stem("brand", brand_id, f"{period:%Y-%m}", lang)
    return Report(html, _printed(html, pdf, printer), period, stem)


def provider_report(
    session: Session,
    user: Principal,
    provider_id: str,
    month: str | date | None = None,
    lang: str = "zh-CN",
    pdf: bool = False,
    *,
    printer: PdfPrinter | None = None,
) -> Report:
    """A provider's monthly evaluation report for ``user`` (its standing, score, reasons and
    client brands), of the latest evaluated month or ``month``.

    Scope is the provider workflow's: a provider reads its own, admins and operators any (an
    operator sees the clients of its portfolio only), a brand none. A provider never evaluated,
    or a month not evaluated, is not found (404).
    """
    record = providers.provider(session, user, provider_id)
    evaluations = providers.evaluations(session, user, provider_id)
    clients = providers.assignments(session, user, provider_id)
    try:
        html, period = render_provider(record, evaluations, clients, month, lang)
    except LookupError as exc:
        raise not_found(str(exc)) from None
    stem = safe_stem("provider", provider_id, f"{period:%Y-%m}", lang)
    return Report(html, _printed(html, pdf, printer), period, stem)
