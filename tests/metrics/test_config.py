"""metrics.yaml: the shipped file is valid; bad weights and unknown metrics fail with the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from windmaker import contract
from windmaker.config import ConfigError
from windmaker.metrics.config import load_metrics_config


def test_shipped_config_covers_every_capability() -> None:
    cfg = load_metrics_config()
    assert set(cfg.capabilities) == set(contract.CAPABILITIES)
    for items in cfg.capabilities.values():
        assert sum(it.weight for it in items) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("weight: 0.4, sign: 1}", "weights add to"),
        ("metric: self_share,", "unknown metric"),
    ],
)
def test_bad_file_names_file_and_reason(tmp_path: Path, change: str, reason: str) -> None:
    shipped = Path(__file__).parents[2] / "src/windmaker/config/defaults/metrics.yaml"
    text = shipped.read_text(encoding="utf-8")
    if change.startswith("weight"):
        text = text.replace(change, "weight: 0.9, sign: 1}", 1)
    else:
        text = text.replace(change, "metric: self_sharez,", 1)
    (tmp_path / "metrics.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_metrics_config(tmp_path)
    assert "metrics.yaml" in str(err.value) and reason in str(err.value)
