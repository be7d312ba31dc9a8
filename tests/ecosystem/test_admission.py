"""Admission scoring against the written standards of each provider kind."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from windmaker.config import ConfigError
from windmaker.ecosystem.admission import ProviderApplication, score_application
from windmaker.ecosystem.config import EcosystemConfig, load_config
from windmaker.i18n import reason_text


def _app(**kw: object) -> ProviderApplication:
    base: dict[str, object] = {
        "provider_id": "P1",
        "name": "星火运营",
        "kind": "brand_operation",
        "capabilities": ("self_operation", "traffic"),
        "categories": ("beauty",),
        "team_size": 25,
        "gmv_served_12m": Decimal("80000000"),
        "capacity": 8,
        "cases": ("A", "B", "C"),
        "founded_at": date(2020, 1, 1),
        "applied_on": date(2026, 10, 1),
    }
    base.update(kw)
    return ProviderApplication(**base)  # type: ignore[arg-type]


def test_strong_application_is_admitted_with_a_reason_per_criterion(
    config: EcosystemConfig,
) -> None:
    result = score_application(_app(), config.admission)
    assert result.outcome == "admitted"
    criteria = {c.criterion: c for c in result.criteria}
    standard = config.admission.standards["brand_operation"]
    assert set(criteria) == {"required_capabilities", *standard.criteria}
    assert all(c.outcome == "admitted" for c in result.criteria)
    team = criteria["team_size"]
    assert (team.code, team.params["value"], team.params["admit"]) == ("admission.admit", 25, 20)
    assert reason_text(team.code, team.params, "en") == "Team size 25 ≥ admit standard 20"
    assert reason_text(team.code, team.params, "zh-CN") == "团队规模 25 ≥ 准入标准 20"


def test_one_weak_criterion_puts_on_probation(config: EcosystemConfig) -> None:
    result = score_application(_app(team_size=10), config.admission)
    assert result.outcome == "probation"
    weak = [c for c in result.criteria if c.outcome != "admitted"]
    assert [c.criterion for c in weak] == ["team_size"]
    assert weak[0].code == "admission.probation"
    assert "probation" in reason_text(weak[0].code, weak[0].params, "en")
    assert "考察期" in reason_text(weak[0].code, weak[0].params, "zh-CN")


def test_below_probation_or_missing_capability_rejects(config: EcosystemConfig) -> None:
    assert score_application(_app(cases=()), config.admission).outcome == "rejected"
    no_cap = score_application(_app(capabilities=("traffic",)), config.admission)
    assert no_cap.outcome == "rejected"
    assert no_cap.criteria[0].criterion == "required_capabilities"
    missing = no_cap.criteria[0]
    assert missing.code == "admission.capabilities_missing"
    assert missing.params["missing"] == [{"name": "capability", "code": "self_operation"}]
    # the missing capability reads by its name, never as its code
    zh = reason_text(missing.code, missing.params, "zh-CN")
    assert "品牌自播" in zh and "品牌代运营" in zh and "self_operation" not in zh
    assert "Self-operation" in reason_text(missing.code, missing.params, "en")


def test_years_operating_from_founding_date(config: EcosystemConfig) -> None:
    young = _app(founded_at=date(2026, 6, 1))
    assert 0.3 < young.value("years_operating") < 0.4
    assert score_application(young, config.admission).outcome == "rejected"


def test_from_dict_accepts_comma_lists_and_refuses_unknown_codes() -> None:
    app = ProviderApplication.from_dict(
        {
            "provider_id": "P2",
            "name": "x",
            "kind": "traffic_agency",
            "capabilities": "traffic, distribution",
            "categories": "food,beauty",
            "capacity": 5,
            "gmv_served_12m": "1234.50",
        }
    )
    assert app.capabilities == ("traffic", "distribution")
    assert app.gmv_served_12m == Decimal("1234.50")
    assert ProviderApplication.from_dict(app.to_dict()) == app
    with pytest.raises(ValueError, match="unknown capabilities"):
        ProviderApplication.from_dict({**app.to_dict(), "capabilities": ["magic"]})
    with pytest.raises(ValueError, match="kind"):
        ProviderApplication.from_dict({**app.to_dict(), "kind": "bank"})


def test_bad_standard_names_file_and_key(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "src/windmaker/config/defaults/ecosystem.yaml").read_text(
        encoding="utf-8"
    )
    (tmp_path / "ecosystem.yaml").write_text(
        text.replace(
            "team_size: {admit: 20, probation: 8}", "team_size: {admit: 20, probation: 80}"
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path)
    assert "brand_operation" in exc.value.key and "probation" in exc.value.reason
