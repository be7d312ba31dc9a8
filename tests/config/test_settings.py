from pathlib import Path

import pytest

from windmaker.config import ConfigError, Settings, load_settings


def test_environment_overrides_the_file(
    workspace: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings(workspace.workspace).threads == 2
    monkeypatch.setenv("WINDMAKER_THREADS", "1")
    monkeypatch.setenv("WINDMAKER_LANGUAGE", "en")
    s = load_settings(workspace.workspace)
    assert (s.threads, s.language) == (1, "en")


def test_bad_value_names_file_key_and_reason(workspace: Settings) -> None:
    toml = workspace.workspace / "windmaker.toml"
    toml.write_text(
        toml.read_text().replace('language = "zh-CN"', 'language = "fr"'), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as exc:
        load_settings(workspace.workspace)
    assert exc.value.key == "language"
    assert exc.value.file == str(toml)
    assert "zh-CN" in exc.value.reason


def test_unknown_key_is_refused(workspace: Settings) -> None:
    toml = workspace.workspace / "windmaker.toml"
    toml.write_text(toml.read_text() + "warehous = 'x'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="warehous"):
        load_settings(workspace.workspace)


def test_workspace_is_found_from_a_subfolder(
    workspace: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = workspace.workspace / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert load_settings().workspace == workspace.workspace


def test_no_workspace_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WINDMAKER_WORKSPACE", raising=False)
    with pytest.raises(ConfigError, match="windmaker init"):
        load_settings()


def test_relative_paths_resolve_in_the_workspace(workspace: Settings) -> None:
    assert workspace.warehouse_url == f"duckdb://{workspace.workspace / 'warehouse.duckdb'}"
    assert workspace.quarantine_path.is_dir()
