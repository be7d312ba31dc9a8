"""Monthly reports: per brand (what a provider sends its client) and per provider (evaluation),
as HTML and PDF (Chromium's print), in zh-CN and English."""

from windmaker.reports.render import brand_report, provider_report, to_pdf

__all__ = ["brand_report", "provider_report", "to_pdf"]
