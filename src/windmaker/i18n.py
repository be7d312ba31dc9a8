"""Words of the interface in zh-CN and English: labels, names of codes, reasons and errors.

One gettext catalogue per language (``locale/<locale>/LC_MESSAGES/windmaker.po``, read with Babel
at first use) serves the CLI, the JSON API's error messages, the web pages and the reports, so a
stage is called the same everywhere. Domain code returns codes and parameters; this module turns
them into text: :func:`t` for a message, :func:`name` for a code, :func:`reason_text` for a
reason code with its numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from babel.messages.pofile import read_po

Lang = Literal["zh-CN", "en"]
LANGS: tuple[Lang, ...] = ("zh-CN", "en")
DEFAULT_LANG: Lang = "zh-CN"

#: The folder of the gettext catalogues, one ``<locale>/LC_MESSAGES/windmaker.po`` per language.
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "windmaker"
#: The gettext locale of each interface language.
LOCALES: Mapping[Lang, str] = MappingProxyType({"zh-CN": "zh_CN", "en": "en"})


def _lang(lang: str) -> Lang:
    """``zh-CN`` for any Chinese tag, English for everything else."""
    return "zh-CN" if lang.lower().startswith("zh") else "en"


@cache
def messages(lang: Lang) -> Mapping[str, str]:
    """Every message of ``lang``'s catalogue (id → text), read once with Babel on first use."""
    path = LOCALE_DIR / LOCALES[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as f:
        catalog = read_po(f, locale=LOCALES[lang], domain=DOMAIN)
    return MappingProxyType({str(m.id): str(m.string) for m in catalog if m.id and m.string})


class _Catalogue(Mapping[str, tuple[str, str]]):
    """Message id → (zh, en), over both catalogues (ids of the Chinese one)."""

    def __getitem__(self, key: str) -> tuple[str, str]:
        zh = messages("zh-CN")[key]
        return zh, messages("en").get(key, zh)

    def __iter__(self) -> Iterator[str]:
        return iter(messages("zh-CN"))

    def __len__(self) -> int:
        return len(messages("zh-CN"))


CATALOGUE: Mapping[str, tuple[str, str]] = _Catalogue()


def t(key: str, lang: str = DEFAULT_LANG, **values: object) -> str:
    """The text of ``key`` in ``lang`` (English for anything but zh), formatted with ``values``.

    A key missing from the language's catalogue falls back to English, then to the key itself.
    """
    text = messages(_lang(lang)).get(key) or messages("en").get(key) or key
    return text.format(**values) if values else text


def humanise(code: str) -> str:
    """A readable stand-in for a code no catalogue names: ``mother_baby`` → ``Mother baby``."""
    words = str(code).replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else "–"


def name(kind: str, code: object, lang: str = DEFAULT_LANG) -> str:
    """The name of ``code`` of ``kind`` (``stage``, ``category``, ``provider_status`` …) in ``lang``.

    A code the catalogue does not name reads humanised, never as raw snake_case; a missing code
    reads as a dash.
    """
    if code is None or (isinstance(code, float) and code != code) or code == "":
        return "–"
    key = f"{kind}.{code}"
    text = messages(_lang(lang)).get(key) or messages("en").get(key)
    return text if text else humanise(str(code))


def negotiate(accept_language: str | None, default: Lang = DEFAULT_LANG) -> Lang:
    """The interface language for an ``Accept-Language`` header (first supported tag by q-value)."""
    if not accept_language:
        return default
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return default


def _metric_value(metric: str, value: object) -> str:
    """A bottleneck metric in its own unit: shares as percentages, scores as whole points."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    if v != v:  # NaN
        return "–"
    if metric == "min_score":
        return f"{v:.0f}"
    return f"{v * 100:.1f}%"


#: Criterion keys of ``g_bottleneck`` → (the metric it compares, the stage that requires it).
_CRITERIA = {
    "ka_repurchase": ("repurchase_rate_90d", "ka"),
    "ka_self": ("self_share", "ka"),
    "ska_supply": ("special_supply_share", "ska"),
    "ska_score": ("min_score", "ska"),
}


def explain_bottleneck(row: dict[str, object], lang: str = DEFAULT_LANG) -> str:
    """One ``g_bottleneck`` row as a person reads it, in the metric's own unit.

    A capability ranked by a failed criterion of the next stage cites the criterion's numbers;
    a weakness cites its headline metric against the peers it was measured against; a
    capability at or above its reference says so and is never called a weakness.
    """
    criterion = _CRITERIA.get(str(row.get("criterion") or ""))
    if row.get("ranked_by") == "criterion" and criterion is not None:
        metric, stage = criterion
        return t(
            "bottleneck.criterion",
            lang,
            metric=t(f"metric.{metric}", lang),
            value=_metric_value(metric, row.get("criterion_value")),
            threshold=_metric_value(metric, row.get("criterion_threshold")),
            stage=t(f"stage.{stage}", lang),
        )
    if not row.get("weakness"):
        return t("label.at_reference", lang)
    metric = str(row.get("metric") or "")
    basis = str(row.get("metric_basis") or row.get("basis") or "advancers")
    key = f"bottleneck.vs_{basis}" if f"bottleneck.vs_{basis}" in CATALOGUE else ""
    if not metric or not key:
        return t("label.weakness", lang)
    return t(
        key,
        lang,
        metric=t(f"metric.{metric}", lang),
        value=_metric_value(metric, row.get("metric_value")),
        reference=_metric_value(metric, row.get("metric_reference")),
    )


def signals_text(signals: str, lang: str = DEFAULT_LANG) -> str:
    """The signals of a brushing flag (``"dense_block+co_shop"``) in words."""
    sep = "、" if lang.lower().startswith("zh") else "; "
    return sep.join(t(f"signal.{s}", lang) for s in signals.split("+") if s)


# -- reasons: a code and its parameters, rendered here -----------------------------------------
def _number(value: object, decimals: int) -> float | None:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if v != v else round(v, decimals)


def num_text(value: object, decimals: int, lang: str = DEFAULT_LANG) -> str:
    """A number rounded to ``decimals`` without trailing zeros (``3.3``, ``9``); missing: n/a."""
    v = _number(value, decimals)
    if v is None:
        return t("value.missing", lang)
    if decimals == 0:
        return str(int(v))
    text = repr(v)
    return text[:-2] if text.endswith(".0") else text


def pct_text(value: object, lang: str = DEFAULT_LANG) -> str:
    """A share as a percentage to one decimal without trailing zeros (0.033 → ``3.3%``)."""
    v = _number(value, 12)
    return t("value.missing", lang) if v is None else num_text(v * 100, 1, lang) + "%"


def money_text(value: object, lang: str = DEFAULT_LANG) -> str:
    """Yuan in the reader's units: ¥12.3M / ¥450K in English, ¥1.23亿 / ¥45.6万 in Chinese."""
    v = _number(value, 12) or 0.0
    if _lang(lang) == "zh-CN":
        if abs(v) >= 1e8:
            return "¥" + num_text(v / 1e8, 2, lang) + "亿"
        if abs(v) >= 1e4:
            return "¥" + num_text(v / 1e4, 1, lang) + "万"
        return "¥" + num_text(v, 0, lang)
    if abs(v) >= 1e6:
        return "¥" + num_text(v / 1e6, 1, lang) + "M"
    if abs(v) >= 1e3:
        return "¥" + num_text(v / 1e3, 1, lang) + "K"
    return "¥" + num_text(v, 0, lang)


def _params(params: object) -> dict[str, Any]:
    if params is None or (isinstance(params, float) and params != params):
        return {}
    if isinstance(params, str):
        return dict(json.loads(params)) if params.strip() else {}
    return dict(params)  # type: ignore[call-overload]


def _value(value: object, lang: str) -> object:
    """A parameter as the template receives it: nested reasons and named codes rendered."""
    if isinstance(value, Mapping):
        if "reason" in value:
            return reason_text(str(value["reason"]), value.get("params"), lang)
        if "name" in value:
            return name(str(value["name"]), value.get("code"), lang)
    if isinstance(value, list):
        return t("list.sep", lang).join(str(_value(v, lang)) for v in value)
    if value is None:
        return t("value.missing", lang)
    return value


def _cmp(ok: object) -> str:
    return "≥" if ok else "<"


def _ladder_clauses(p: Mapping[str, Any], lang: str) -> dict[str, str]:
    """Every criterion of the ladder that ``p`` carries, as a clause citing value and threshold."""
    out: dict[str, str] = {}
    if "zb_months_ok" in p:
        out["zb_months"] = t(
            "reason.ladder.zb_months",
            lang,
            months=num_text(p.get("months_with_sales") or 0, 0, lang),
            cmp=_cmp(p["zb_months_ok"]),
            need=num_text(p.get("zb_min_months"), 0, lang),
        )
        out["zb_gmv"] = t(
            "reason.ladder.zb_gmv",
            lang,
            gmv=money_text(p.get("net_gmv_t30d"), lang),
            cmp=_cmp(p.get("zb_gmv_ok")),
            need=money_text(p.get("zb_min_gmv_t30d"), lang),
        )
    for stage, label in (("ka", "KA"), ("ska", "SKA")):
        if f"{stage}_gmv_ok" not in p:
            continue
        values = {
            "gmv": money_text(p.get("net_gmv_t90d"), lang),
            "category": name("category", p.get("category"), lang),
            "label": label,
            "need": pct_text(p.get(f"{stage}_top_share"), lang),
            "cmp": _cmp(p.get(f"{stage}_gmv_ok")),
            "n": num_text(p.get("category_brands"), 0, lang),
            "floor": money_text(p.get(f"{stage}_gmv_floor"), lang),
            "top": pct_text(p.get("top_share"), lang),
        }
        key = "size_rank"
        if p.get(f"{stage}_small"):
            key = "size_floor" if p.get("size_fallback") == "gmv_floor" else "size_pooled"
            if key == "size_pooled":
                values["top"] = pct_text(p.get("top_share_all"), lang)
        out[f"{stage}_gmv"] = t(f"reason.ladder.{key}", lang, **values)
    if "ka_repurchase_ok" in p:
        factor = _number(p.get("ka_repurchase_factor"), 2)
        out["ka_repurchase"] = t(
            "reason.ladder.ka_repurchase",
            lang,
            value=pct_text(p.get("repurchase_rate_90d"), lang),
            cmp=_cmp(p["ka_repurchase_ok"]),
            factor="" if factor in (None, 1.0) else num_text(factor, 2, lang) + " × ",
            median=pct_text(p.get("repurchase_median"), lang),
        )
        out["ka_self"] = t(
            "reason.ladder.ka_self",
            lang,
            value=pct_text(p.get("self_share"), lang),
            cmp=_cmp(p.get("ka_self_ok")),
            need=pct_text(p.get("ka_min_self_share"), lang),
        )
    if "ska_supply_ok" in p:
        out["ska_supply"] = t(
            "reason.ladder.ska_supply",
            lang,
            value=pct_text(p.get("special_supply_share"), lang),
            cmp=_cmp(p["ska_supply_ok"]),
            need=pct_text(p.get("ska_min_special_supply"), lang),
        )
        out["ska_score"] = t(
            "reason.ladder.ska_score",
            lang,
            value=num_text(p.get("min_score"), 0, lang),
            cmp=_cmp(p.get("ska_score_ok")),
            need=num_text(p.get("ska_min_score"), 0, lang),
        )
    return out


def _ladder_text(code: str, p: Mapping[str, Any], lang: str) -> str:
    """A stage's reason (``ladder.<stage>``): its criteria, the next stage's, and hysteresis."""
    stage = code.removeprefix("ladder.")
    c = _ladder_clauses(p, lang)
    sep = t("list.sep", lang)
    groups = {
        "zb": ("zb_months", "zb_gmv"),
        "ka": ("ka_gmv", "ka_repurchase", "ka_self"),
        "ska": ("ska_gmv", "ska_supply", "ska_score"),
    }
    parts = {g: sep.join(c[k] for k in keys if k in c) for g, keys in groups.items()}
    text = t(f"reason.ladder.{stage}", lang, stage=name("stage", stage, lang), **parts)
    if p.get("to_date"):
        text = t(
            "reason.ladder.to_date",
            lang,
            days=num_text(p.get("days_covered"), 0, lang),
            as_of=p.get("as_of") or "",
            text=text,
        )
    stages = ("zero_breaking", "climbing", "ka", "ska")
    candidate = str(p.get("candidate") or stage)
    if stage in stages and candidate in stages and candidate != stage:
        higher = stages.index(candidate) > stages.index(stage)
        text = t(
            "reason.ladder.promoting" if higher else "reason.ladder.held",
            lang,
            text=text,
            candidate=name("stage", candidate, lang),
            run=num_text(p.get("promote_run" if higher else "demote_run"), 0, lang),
            needed=num_text(p.get("promote_after" if higher else "demote_after"), 0, lang),
        )
    return text


def _allocation_text(code: str, p: Mapping[str, Any], lang: str) -> str:
    """A line of the plan's allocation (``allocation.<code>``): its numbers in the reader's
    units (money, shares, impressions), its codes (status, tier, bindings) by name."""
    from windmaker import numbers  # numbers reads this module's catalogue: imported on use

    returns = ("marginal_per_yuan", "funds_margin", "marginal_per_1k_impressions")
    values: dict[str, object] = {k: _value(v, lang) for k, v in p.items()}
    for key in ("uplift", "uplift_measured"):
        values[key] = numbers.pct(p.get(key), lang)
    for key in ("monthly_gmv", "tier_line", "baseline_annual_gmv", "projected_annual_gmv"):
        values[key] = numbers.money(p.get(key), lang)
    for key in (*returns, "traffic_margin_per_1k"):
        v = _number(p.get(key), 300)  # unrounded
        # a return past saturation is tiny, not nothing
        values[key] = (
            "<¥0.01" if v is not None and 0 < v < 0.005 else "¥" + numbers.decimal(v, 2, lang)
        )
    for key in ("funds_binding", "traffic_binding"):
        values[key] = t(f"allocation.binding.{p.get(key)}", lang)
    for key, kind in (("status", "provider_status"), ("tier", "tier"), ("rule", "allocation.rule")):
        values[key] = name(kind, p.get(key), lang)
    resource = str(p.get("resource") or "funds")
    for key in ("budget", "minimums"):
        values[key] = (
            numbers.money(p.get(key), lang)
            if resource == "funds"
            else t("allocation.impressions", lang, value=numbers.count(p.get(key), lang))
        )
    values["resource"] = t(f"allocation.resource.{resource}", lang)
    values["clients"] = numbers.count(p.get("clients"), lang)
    values["period"] = numbers.month(p.get("period"), lang)
    return t(f"reason.{code}", lang, **values)


#: Reason families rendered by their own function: the code's first part → renderer.
_RENDERERS: Mapping[str, Callable[[str, Mapping[str, Any], str], str]] = MappingProxyType(
    {"ladder": _ladder_text, "allocation": _allocation_text}
)


def reason_text(code: object, params: object = None, lang: str = DEFAULT_LANG) -> str:
    """The text of a domain reason: its ``reason_code`` and ``reason_params`` (JSON) in ``lang``.

    Parameters are the numbers the domain decided on, passed to the catalogue's template
    ``reason.<code>`` (format specs included); a parameter ``{"reason": code, "params": …}`` is a
    nested reason and ``{"name": kind, "code": code}`` a named code. An empty code reads as empty.
    """
    if code is None or (isinstance(code, float) and code != code) or not str(code):
        return ""
    code = str(code)
    values = _params(params)
    renderer = _RENDERERS.get(code.split(".", 1)[0])
    if renderer is not None:
        return renderer(code, values, lang)
    try:
        return t(f"reason.{code}", lang, **{k: _value(v, lang) for k, v in values.items()})
    except (KeyError, ValueError, TypeError, IndexError):
        return humanise(code.rsplit(".", 1)[-1])
