"""Monthly reports: per brand (what a provider sends its client) and per provider (evaluation),
as HTML and PDF (Chromium's print), in zh-CN and English."""

from windmaker.reports.render import (
    brand_report,
    pdf_bytes,
    provider_report,
    render_brand,
    render_provider,
    to_pdf,
)

__all__ = [
    "brand_report",
    "pdf_bytes",
    "provider_report",
    "render_brand",
    "render_provider",
    "to_pdf",
]
