"""A category's playbook (打法手册) as one self-contained HTML page and its PDF, in zh-CN or
English: the method of each step of the ladder, then the cases behind it.

The playbook comes from :func:`windmaker.services.cases.playbook` (so it holds only what the
case library shows: a brand that has not consented is never named), and this module only lays
it out; the page is printed by :func:`windmaker.reports.render.to_pdf` like the monthly reports.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from windmaker import numbers
from windmaker.growth.case_playbook import CategoryPlaybook, StepPlaybook
from windmaker.growth.cases import CAPABILITIES, PublicCase
from windmaker.i18n import name, t
from windmaker.reports.render import pdf_bytes, render_html


def band_text(case: PublicCase, lang: str) -> str:
    """The case's size band in money: ``¥10万–¥100万``, or ``¥1亿 and above``."""
    if case.band_low is None:
        return numbers.missing(lang)
    low = numbers.money(case.band_low, lang)
    if case.band_high is None:
        return t("cases.band_open", lang, low=low)
    return t("cases.band_range", lang, low=low, high=numbers.money(case.band_high, lang))


def months_text(months: float | None, censored: bool, lang: str) -> str:
    """``5 months`` / ``at least 5 months`` (a censored stay is a lower bound)."""
    if months is None:
        return numbers.missing(lang)
    n = numbers.decimal(months, 1, lang)
    return t("cases.months_at_least" if censored else "cases.months", lang, n=n)


def points_text(value: float | None, lang: str) -> str:
    """A change of a 0–100 score, signed: ``+12 pts`` / ``+12分``."""
    if value is None:
        return numbers.missing(lang)
    sign = "+" if value > 0 else "-" if value < 0 else ""
    return sign + t("cases.score_points", lang, value=numbers.decimal(abs(value), 0, lang))


def brand_text(case: PublicCase, lang: str) -> str:
    """Who made the step: the brand's name and id when it consented, else "a <category> brand"."""
    if case.named:
        return f"{case.name or case.brand_id} ({case.brand_id})"
    return t("cases.anonymous_brand", lang, category=name("category", case.category, lang))


def action_title(action_id: str, title_en: str, title_zh: str, lang: str) -> str:
    title = title_zh if lang.lower().startswith("zh") else title_en
    return title or action_id


def step_chart(step: StepPlaybook, lang: str) -> dict[str, Any]:
    """The median score change of each capability over the step's cases, as a bar chart."""
    return {
        "animation": False,
        "wm": {"lang": lang, "value": "num"},
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 48, "right": 16, "top": 32, "bottom": 48},
        "xAxis": {
            "type": "category",
            "data": [name("capability", c, lang) for c in CAPABILITIES],
        },
        "yAxis": {"type": "value", "name": t("cases.score_change_axis", lang)},
        "series": [
            {
                "type": "bar",
                "name": t("cases.score_change_axis", lang),
                "data": [
                    None if (v := step.score_change.get(c)) is None else round(v)
                    for c in CAPABILITIES
                ],
                "label": {"show": True, "position": "top"},
            }
        ],
    }


def playbook_context(playbook: CategoryPlaybook, lang: str) -> dict[str, Any]:
    """What the playbook template shows, every number already in words."""
    ends = [c.end_period for s in playbook.steps for c in s.cases]
    period: date | None = max(ends) if ends else None
    category = name("category", playbook.category, lang)
    return {
        "kind": "playbook",
        "playbook": playbook,
        "period": period,
        "title": t("cases.playbook_title", lang, category=category),
        "charts": {s.step: step_chart(s, lang) for s in playbook.steps},
        "band_text": lambda c: band_text(c, lang),
        "months_text": lambda m, censored=False: months_text(m, censored, lang),
        "points_text": lambda v: points_text(v, lang),
        "brand_text": lambda c: brand_text(c, lang),
        "action_title": lambda a: action_title(a.action_id, a.title_en, a.title_zh, lang),
        "capabilities": CAPABILITIES,
    }


def render_playbook(playbook: CategoryPlaybook, lang: str = "zh-CN") -> str:
    """The playbook as one self-contained HTML page in ``lang``."""
    return render_html(playbook_context(playbook, lang), lang)


def playbook_pdf(playbook: CategoryPlaybook, lang: str = "zh-CN") -> bytes:
    """The playbook printed to PDF (A4) by Chromium."""
    return pdf_bytes(render_playbook(playbook, lang))
