"""Admission scoring against the written standards of each provider kind."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from windmaker.config import ConfigError
from windmaker.ecosystem.admission import ProviderApplication, score_application
from windmaker.ecosystem.config import EcosystemConfig, load_config


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
    assert "25 ≥ admit standard 20" in criteria["team_size"].message


def test_one_weak_criterion_puts_on_probation(config: EcosystemConfig) -> None:
    result = score_application(_app(team_size=10), config.admission)
    assert result.outcome == "probation"
    weak = [c for c in result.criteria if c.outcome != "admitted"]
    assert [c.criterion for c in weak] == ["team_size"]
    assert "probation" in weak[0].message and "考察期" in weak[0].message_zh


def test_below_probation_or_missing_capability_rejects(config: EcosystemConfig) -> None:
    assert score_application(_app(cases=()), config.admission).outcome == "rejected"
    no_cap = score_application(_app(capabilities=("traffic",)), config.admission)
    assert no_cap.outcome == "rejected"
    assert no_cap.criteria[0].criterion == "required_capabilities"
    assert "self_operation" in no_cap.criteria[0].message


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
