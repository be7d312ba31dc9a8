"""ladder.yaml and playbook.yaml: changes take effect without code, bad files fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.growth.factories import filler, market
from windmaker.config import ConfigError
from windmaker.config.files import default_path
from windmaker.growth.config import load_ladder_config
from windmaker.growth.diagnosis import diagnose
from windmaker.growth.ladder import classify
from windmaker.growth.plan import load_playbook


def _write(folder: Path, name: str, edit: dict) -> Path:
    data = yaml.safe_load(default_path(name).read_text(encoding="utf-8"))
    for dotted, value in edit.items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_workspace_file_changes_criteria(tmp_path: Path) -> None:
    bm, cap = market([("K", "beauty", [2] * 3, "traffic"), *filler("beauty", 29, 3)])
    default = classify(bm, cap, load_ladder_config())
    assert default.loc[default.brand_id == "K", "candidate"].iloc[-1] == 2
    _write(tmp_path, "ladder.yaml", {"criteria.ka.min_self_share": 0.6})
    stricter = classify(bm, cap, load_ladder_config(tmp_path))
    assert stricter.loc[stricter.brand_id == "K", "candidate"].iloc[-1] == 1
    _write(
        tmp_path,
        "ladder.yaml",
        {"category_overrides": {"beauty": {"ka": {"net_gmv_t90d_top_share": 0.02}}}},
    )
    by_category = classify(bm, cap, load_ladder_config(tmp_path))
    # 1/30 = 3.3% is outside beauty's top 2%
    assert by_category.loc[by_category.brand_id == "K", "candidate"].iloc[-1] == 1


def test_hysteresis_setting_changes_stages(tmp_path: Path) -> None:
    bm, cap = market([("K", "beauty", [1, 2, 2], "traffic"), *filler("beauty", 29, 3)])
    _write(tmp_path, "ladder.yaml", {"hysteresis.promote_after_periods": 1})
    df = classify(bm, cap, load_ladder_config(tmp_path))
    assert df.loc[df.brand_id == "K", "stage"].tolist() == [1, 2, 2]


def test_playbook_file_changes_plan(tmp_path: Path) -> None:
    bm, cap = market([("C", "food", [1] * 3, "traffic"), *filler("food", 9, 3)])
    ladder = load_ladder_config()
    before = diagnose(bm, cap, ladder, load_playbook()).plans
    assert "cl_paid_traffic" in set(before.loc[before.brand_id == "C", "action_id"])
    playbook = yaml.safe_load(default_path("playbook.yaml").read_text(encoding="utf-8"))
    playbook["stages"]["climbing"]["traffic"][0]["id"] = "cl_live_ads"
    (tmp_path / "playbook.yaml").write_text(yaml.safe_dump(playbook, allow_unicode=True))
    after = diagnose(bm, cap, ladder, load_playbook(tmp_path)).plans
    ids = after.loc[after.brand_id == "C", "action_id"]
    assert "cl_live_ads" in set(ids) and "cl_paid_traffic" not in set(ids)


@pytest.mark.parametrize(
    ("edit", "key", "why"),
    [
        (
            {"hysteresis.promote_after_periods": 0},
            "hysteresis.promote_after_periods",
            "greater than or equal to 1",
        ),
        (
            {"criteria.ka.min_self_share": 1.5},
            "criteria.ka.min_self_share",
            "less than or equal to 1",
        ),
        ({"criteria.ska.net_gmv_t90d_top_share": 0.2}, "criteria.ska", "must not exceed"),
        (
            {"category_overrides": {"food": {"kaa": {}}}},
            "category_overrides.food.kaa",
            "Extra inputs",
        ),
        ({"portfolio.attention_order": ["falling"]}, "portfolio.attention_order", "exactly once"),
        ({"plan.max_actions": 2}, "plan.max_actions", "below min_actions"),
    ],
)
def test_bad_ladder_names_file_key_reason(tmp_path: Path, edit: dict, key: str, why: str) -> None:
    path = _write(tmp_path, "ladder.yaml", edit)
    with pytest.raises(ConfigError) as exc:
        load_ladder_config(tmp_path)
    assert exc.value.file == str(path)
    assert exc.value.key == key
    assert why in exc.value.reason


def test_bad_playbook_names_file_key_reason(tmp_path: Path) -> None:
    data = yaml.safe_load(default_path("playbook.yaml").read_text(encoding="utf-8"))
    data["stages"]["ka"]["private_domain"][0]["metric"] = "vibes"
    path = tmp_path / "playbook.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_playbook(tmp_path)
    assert (exc.value.file, exc.value.key) == (str(path), "stages.ka.private_domain.0.metric")
    assert "repurchase_rate_90d" in exc.value.reason


def test_duplicate_action_id_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(default_path("playbook.yaml").read_text(encoding="utf-8"))
    data["stages"]["ka"]["traffic"][0]["id"] = "ka_repurchase"
    (tmp_path / "playbook.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(ConfigError) as exc:
        load_playbook(tmp_path)
    assert exc.value.key == "stages" and "ka_repurchase" in exc.value.reason


def test_unreadable_yaml(tmp_path: Path) -> None:
    (tmp_path / "ladder.yaml").write_text("criteria: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_ladder_config(tmp_path)


def test_model_action_template_with_unknown_placeholder_fails(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "playbook.yaml",
        {"model_actions.private_domain.title_en": "Re-engage {buyers} buyers worth {gmv}"},
    )
    with pytest.raises(ConfigError) as err:
        load_playbook(tmp_path)
    assert "model_actions" in str(err.value) and "'gmv'" in str(err.value)


def test_model_weights_are_fractions(tmp_path: Path) -> None:
    _write(tmp_path, "ladder.yaml", {"models.traffic.weight": 1.5})
    with pytest.raises(ConfigError) as err:
        load_ladder_config(tmp_path)
    assert "models.traffic.weight" in str(err.value)
