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


@pytest.mark.parametrize(
    ("command", "file", "bad"),
    [
        (["models", "fit"], "models.yaml", "clv:\n  history_months: 6\n"),
        (["refresh"], "metrics.yaml", "standardise:\n  clip: -1\n"),
    ],
)
def test_a_relative_config_dir_is_read_from_the_workspace(
    workspace: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    file: str,
    bad: str,
) -> None:
    """``config_dir = "cfg"`` means the workspace's cfg folder, whatever the current folder: a
    bad override there stops the command with its file named (before, `models fit` read the
    folder relative to where it was run, found nothing and silently used the defaults)."""
    from typer.testing import CliRunner

    from windmaker.cli.main import app

    (workspace.workspace / "cfg").mkdir()
    (workspace.workspace / "cfg" / file).write_text(f"version: 1\n{bad}", encoding="utf-8")
    monkeypatch.setenv("WINDMAKER_CONFIG_DIR", "cfg")
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(
        app, [*command, "-w", str(workspace.workspace)], env={"COLUMNS": "400"}
    )
    assert out.exit_code != 0
    assert file in out.output
    assert load_settings(workspace.workspace).config_path == workspace.workspace / "cfg"
