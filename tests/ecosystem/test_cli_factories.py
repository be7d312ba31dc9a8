"""``windmaker factories`` on the diagnosed simulated market: the same rows as the read model,
in words and formatted numbers, and a clear refusal for an unknown brand."""

from __future__ import annotations

from typer.testing import CliRunner

from windmaker.cli.main import app
from windmaker.config import Settings
from windmaker.services.configs import Configs
from windmaker.views import ReadModel
from windmaker.views import factories as view
from windmaker.workspace import open_warehouse


def _run(settings: Settings, *args: str) -> tuple[int, str]:
    # a wide console: the tables show whole names instead of cutting them to fit
    r = CliRunner().invoke(
        app, [*args, "--workspace", str(settings.workspace)], env={"COLUMNS": "240"}
    )
    return r.exit_code, r.output


def test_list_belts_and_rank_read_as_the_read_model(diagnosed_market: Settings) -> None:
    config = Configs.of(diagnosed_market).factories
    with open_warehouse(diagnosed_market) as wh:
        rm = ReadModel.of(wh)
        first = view.factory_rows(rm, config)[0]
        brand = sorted(rm.brand_ids())[0]
        picks = view.brand_factories(rm, config, brand, top=3).picks
    code, out = _run(diagnosed_market, "factories", "list", "--limit", "3", "--lang", "en")
    assert code == 0, out
    assert "Source factories" in out and str(first["name"]) in out
    code, out = _run(diagnosed_market, "factories", "belts", "--lang", "en")
    assert code == 0 and "Industrial belts" in out and "How factory-upgraded" in out, out
    code, out = _run(diagnosed_market, "factories", "rank", brand, "--top", "3")
    assert code == 0, out
    assert all(str(p["name"]) in out for p in picks)
    for raw in ("None", "nan", "factory."):
        assert raw not in out, raw
    code, out = _run(diagnosed_market, "factories", "rank", "NO-SUCH-BRAND")
    assert code == 3
