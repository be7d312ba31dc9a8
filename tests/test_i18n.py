"""The catalogues, the names of codes and the rendering of domain reasons."""

from __future__ import annotations

import json
import re
from string import Formatter

import pytest
from babel.messages.pofile import read_po

from windmaker import codes, contract
from windmaker.i18n import (
    CATALOGUE,
    LOCALE_DIR,
    LOCALES,
    money_text,
    name,
    pct_text,
    reason_text,
    t,
)
from windmaker.store import models as store_models


def _po(lang: str) -> dict[str, str]:
    path = LOCALE_DIR / LOCALES[lang] / "LC_MESSAGES" / "windmaker.po"  # type: ignore[index]
    with path.open("rb") as f:
        return {str(m.id): str(m.string) for m in read_po(f) if m.id}


def _fields(text: str) -> set[str]:
    return {f.split(":")[0].split("!")[0] for _, f, _, _ in Formatter().parse(text) if f}


def test_both_catalogues_hold_the_same_ids_placeholders_and_no_empty_text() -> None:
    """Read straight from the .po files: a message missing in one language, a placeholder of
    the English the Chinese drops, or an untranslated entry would show as a key on screen."""
    zh, en = _po("zh-CN"), _po("en")
    assert set(zh) == set(en)
    assert len(zh) > 200
    assert [k for k, v in {**zh, **en}.items() if not v.strip()] == []
    missing = {k: _fields(en[k]) - _fields(zh[k]) for k in en if _fields(en[k]) - _fields(zh[k])}
    assert missing == {}


def test_t_reads_the_catalogue_and_formats_values() -> None:
    assert t("stage.ka", "zh-CN") == "行业KA品牌"
    assert t("stage.ka", "en") == "Category KA"
    assert t("label.to_date_days", "zh-CN", days=16) == "（至今16天）"
    assert t("error.conflict", "en-GB", reason="x") == "Conflict: x"
    assert t("no.such.key", "en") == "no.such.key"
    assert CATALOGUE["capability.traffic"] == ("公域流量加持", "Traffic")


def test_the_method_names_its_stages_and_capabilities() -> None:
    """DESIGN's names of the ladder and of STEPS, the same on every surface."""
    assert [name("stage", s, "zh-CN") for s in codes.Stage] == [
        "新店破零",
        "店铺爬坡",
        "行业KA品牌",
        "SKA品牌",
    ]
    assert [name("capability", c, "zh-CN") for c in codes.Capability] == [
        "品牌自播",
        "公域流量加持",
        "达人分销合作",
        "私域经营复购",
        "品牌渠道特供",
    ]


@pytest.mark.parametrize(
    ("kind", "enum"),
    [
        ("stage", codes.Stage),
        ("capability", codes.Capability),
        ("attention", codes.Attention),
        ("provider_kind", codes.ProviderKind),
        ("provider_status", codes.ProviderStatus),
        ("outcome", codes.AdmissionOutcome),
        ("application_status", codes.ApplicationStatus),
        ("decision_kind", codes.DecisionKind),
        ("decision_status", codes.DecisionStatus),
        ("action_status", codes.ActionStatus),
    ],
)
def test_every_code_has_a_name_in_both_languages(kind: str, enum: type[codes.StrEnum]) -> None:
    for code in enum:
        key = f"{kind}.{code}"
        assert key in CATALOGUE, key
        zh, en = CATALOGUE[key]
        assert zh != en or zh.isupper(), key  # only acronyms (KA, SKA) read alike


def test_unknown_code_reads_humanised_never_raw() -> None:
    assert name("category", "beauty", "zh-CN") == "美妆"
    assert name("category", "pet_supplies", "en") == "Pet supplies"
    assert "_" not in name("provider_status", "under_review", "zh-CN")
    assert name("stage", None, "en") == "–"


def test_enums_agree_with_the_code_lists_they_replace() -> None:
    assert contract.STAGES == ("zero_breaking", "climbing", "ka", "ska")
    assert tuple(codes.Capability) == contract.CAPABILITIES
    assert tuple(codes.ProviderKind) == store_models.PROVIDER_KINDS
    assert tuple(codes.ProviderStatus) == store_models.PROVIDER_STATUSES
    assert tuple(codes.AdmissionOutcome) == store_models.ADMISSION_OUTCOMES
    assert tuple(codes.DecisionKind) == store_models.DECISION_KINDS
    assert tuple(codes.DecisionStatus) == store_models.DECISION_STATUSES
    assert tuple(codes.ActionStatus) == store_models.ACTION_STATUSES
    assert codes.Stage.KA == "ka" and f"{codes.Stage.KA}" == "ka"


def test_numbers_in_the_reader_units() -> None:
    assert money_text(9e6, "en") == "¥9M" and money_text(9e6, "zh-CN") == "¥900万"
    assert money_text(1.234e8, "zh-CN") == "¥1.23亿" and money_text(450_000, "en") == "¥450K"
    assert pct_text(1 / 30, "en") == "3.3%" and pct_text(0.3, "en") == "30%"
    assert pct_text(None, "en") == "n/a"


def test_reasons_read_as_the_domain_wrote_them() -> None:
    """The known answer is the wording the models wrote themselves before they returned codes
    (models/hits.py, models/horse_race.py, models/trust.py, ecosystem/matching.py)."""
    band = {"reason": "hits.band_viewers", "params": {"lo": 1.234, "hi": 2.5, "thr": 1.8}}
    hits = json.dumps({"p": 0.81, "band": band})
    assert reason_text("hits.push", hits, "en") == (
        "P(hit) 81%: sells 1.23–2.50 orders per 1,000 viewers (hit bar 1.80); push it next week"
    )
    assert reason_text("hits.keep_testing", hits, "zh-CN").endswith("; 继续测款")
    facts = {"shrunk": 1234.4, "raw": 2000.0, "weeks": 6, "p_best": 0.05}
    race = {"facts": {"reason": "horse_race.facts", "params": facts}, "p_below": 0.93}
    assert reason_text("horse_race.stop", race, "en") == (
        "¥1,234 per live hour after shrinkage (raw ¥2,000, 6 weeks), P(best) 5%; "
        "93% likely below the brand's mean: stop it"
    )
    assert reason_text("horse_race.stop", race, "zh-CN").endswith("建议停播")
    worst = {
        "reason": "trust.worst",
        "params": {
            "component": {"name": "metric", "code": "refund_rate"},
            "value": 0.2,
            "ref": 0.05,
        },
    }
    low = {"score": 41.26, "threshold": 60.0, "worst": worst}
    assert reason_text("trust.low_trust", low, "en") == (
        "trust 41.3 < 60; worst: Refund rate 0.2 vs category 0.05"
    )
    assert reason_text("trust.low_trust", low, "zh-CN") == (
        "信任分 41.3 低于 60；主要扣分：退款率 0.2，类目基准 0.05"
    )
    assert reason_text("matching.no_eligible", "{}", "zh-CN") == (
        "无合格服务商（能力、类目、容量或排除）"
    )
    assert reason_text(None, None, "en") == ""


def test_no_raw_code_left_in_rendered_reasons() -> None:
    """Named codes inside a reason are rendered by name, never as snake_case."""
    params = {
        "capability": {"name": "capability", "code": "private_domain"},
        "coverage": {
            "reason": "matching.serves",
            "params": {"category": {"name": "category", "code": "mother_baby"}},
        },
        "record": {"reason": "matching.no_record", "params": {"category": "x"}},
        "uplift": 0.123,
        "benefit": 45600.0,
        "left": 2,
    }
    for lang in ("zh-CN", "en"):
        text = reason_text("matching.match", params, lang)
        assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), text
    assert "+12.3%" in text and "+45,600 yuan/month" in text and "Mother & baby" in text


def test_every_refusal_code_has_a_text_in_both_languages() -> None:
    """Every ``ServiceError`` code a use case raises (read from the source) is a catalogue
    message in both languages, so no surface shows ``error.<code>`` as text."""
    from pathlib import Path

    import windmaker

    src = Path(windmaker.__file__).parent
    raised = {
        m
        for path in src.rglob("*.py")
        for m in re.findall(r'ServiceError\(\s*"([a-z_]+)"', path.read_text(encoding="utf-8"))
    }
    assert {"not_found", "forbidden", "conflict", "validation", "no_data"} <= raised
    zh, en = _po("zh-CN"), _po("en")
    assert sorted(c for c in raised if f"error.{c}" not in zh or f"error.{c}" not in en) == []


def test_the_cli_renders_a_refusal_in_its_language() -> None:
    """The one CLI refusal renderer: the catalogue's text in the workspace's language, the
    reason once, and each invalid field on its own line (known answer: the catalogue entries)."""
    from windmaker.cli.common import refusal_text
    from windmaker.services.errors import ServiceError, conflict, invalid

    taken = conflict("username olga is taken")
    assert refusal_text(taken, "en") == "Conflict: username olga is taken"
    assert refusal_text(taken, "zh-CN") == t(
        "error.conflict", "zh-CN", reason=taken.values["reason"]
    )
    assert "olga" in refusal_text(taken, "zh-CN") and "Conflict" not in refusal_text(taken, "zh-CN")
    bad = invalid("capacity", "must be ≥ 0")
    assert refusal_text(bad, "en") == "The request is invalid\n  capacity: must be ≥ 0"
    no_data = ServiceError("no_data", 409, reason="the warehouse has no orders yet")
    assert refusal_text(no_data, "zh-CN") == (
        t("error.no_data", "zh-CN") + ": the warehouse has no orders yet"
    )
    # a text whose value the refusal does not carry is shown unfilled, not a crash
    assert refusal_text(ServiceError("payload_too_large", 413), "en").startswith("The upload")
