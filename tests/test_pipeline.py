"""The main job end to end on a simulated market: every result table the interfaces read exists
and agrees with the others."""

from __future__ import annotations

import pandas as pd
import pytest

from windmaker import contract
from windmaker.config import Settings
from windmaker.i18n import reason_text
from windmaker.workspace import open_warehouse

RESULT_TABLES = (
    "m_brand_month",
    "m_capability",
    "m_gmv_drivers",
    "g_stage",
    "g_unjudged",
    "g_bottleneck",
    "g_plan",
    "g_portfolio",
    "mdl_brushing_orders",
    "mdl_trust_scores",
    "mdl_trust_alerts",
)


@pytest.fixture(scope="module")
def frames(diagnosed_market: Settings) -> dict[str, object]:
    with open_warehouse(diagnosed_market) as wh:
        return {name: wh.execute(wh.table(name)) for name in RESULT_TABLES if wh.has_table(name)}


def test_every_result_table_is_written(frames: dict[str, object]) -> None:
    assert set(frames) == set(RESULT_TABLES)


def test_every_joined_brand_has_one_stage_per_month(frames: dict) -> None:  # type: ignore[type-arg]
    """Every brand-month the metrics benchmark (brands that had joined) gets exactly one stage,
    or is listed unjudged: a brand that sold before the data, in the months before 90 days of
    data fill its windows (the market's data starts on a month's first day: its first two)."""
    stage, month, unjudged = frames["g_stage"], frames["m_capability"], frames["g_unjudged"]
    assert not stage.duplicated(["brand_id", "period"]).any()

    def keys(df):  # type: ignore[no-untyped-def]
        return set(zip(df["brand_id"], pd.to_datetime(df["period"]), strict=True))

    assert not keys(stage) & keys(unjudged)
    assert keys(stage) | keys(unjudged) == keys(month)
    assert set(stage["stage"]) <= set(contract.STAGES)
    first = pd.to_datetime(month["period"]).min()
    months = set(pd.to_datetime(unjudged["period"]))
    assert months == {first, first + pd.DateOffset(months=1)}
    assert set(unjudged["status"]) == {"insufficient_history"}
    assert all(
        reason_text(c, p, "zh-CN").startswith("历史数据不足")
        for c, p in zip(unjudged["reason_code"], unjudged["reason_params"], strict=True)
    )


def test_scorecard_of_an_unjudged_month_says_why(diagnosed_market: Settings) -> None:
    from windmaker.views import ReadModel

    rm = ReadModel(lambda: open_warehouse(diagnosed_market))
    rm.reload()
    with open_warehouse(diagnosed_market) as wh:
        u = wh.execute(wh.table("g_unjudged").limit(1)).iloc[0]
    card = rm.scorecard(u["brand_id"], pd.Timestamp(u["period"]).date())
    assert card.stage is None
    assert card.unjudged is not None
    assert card.unjudged.reason_en is not None
    assert card.unjudged.reason_en.startswith("Insufficient history")


def test_bottleneck_ranks_all_five_capabilities(frames: dict) -> None:  # type: ignore[type-arg]
    b = frames["g_bottleneck"]
    per = b.groupby(["brand_id", "period"])["capability"].agg(lambda s: tuple(sorted(s)))
    assert (per == tuple(sorted(contract.CAPABILITIES))).all()


def test_plans_have_up_to_five_actions_that_each_improve(frames: dict) -> None:  # type: ignore[type-arg]
    """At most 5 actions, 3 for nearly every brand; an action whose target is not better than
    the brand's current value is dropped, so a brand ahead of its peers may get fewer."""
    plan = frames["g_plan"]
    sizes = plan.groupby(["brand_id", "period"]).size()
    assert sizes.between(1, 5).all()
    assert (sizes >= 3).mean() >= 0.9
    t = plan.dropna(subset=["target", "current"])
    up = t["direction"] == "higher"
    assert ((t["target"] > t["current"])[up]).all()
    assert ((t["target"] < t["current"])[~up]).all()


def test_second_run_is_up_to_date(diagnosed_market: Settings) -> None:
    """Nothing new since the last run: the metrics are not recomputed. (The market is shared with
    tests that upload into it, so one run first takes in whatever they added.)"""
    from windmaker.services.run import run_pipeline

    run_pipeline(diagnosed_market)
    out = run_pipeline(diagnosed_market)
    assert out.metrics == "up_to_date"
    assert set(out.seconds) == {"brushing", "metrics", "trust", "diagnosis"}


# -- the main job with the models: lifetime value and traffic curves feed the diagnosis --------
MODEL_ACTIONS = ("reengage_at_risk_buyers", "raise_paid_spend", "cut_paid_spend")
# Cheaper fits than the shipped ones (the figures compared below do not depend on fit quality):
# one pooled lifetime-value fit for the market, BG/NBD only, one starting point per curve.
FAST_MODELS = """\
version: 1
clv:
  min_buyers: 100000000
  pareto_nbd: false
traffic:
  alpha_starts: [0.4]
  history_days: 90
"""


@pytest.fixture(scope="module")
def modelled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict, dict]:  # type: ignore[type-arg]
    """A small simulated market taken through ``run_pipeline(models=True)``."""
    from windmaker.ingest import ingest_files
    from windmaker.services.run import run_pipeline
    from windmaker.simulator import small_market
    from windmaker.workspace import init_workspace

    root = tmp_path_factory.mktemp("modelled")
    files = small_market(root / "files", seed=3, brands=20, months=6)
    config = root / "config"
    config.mkdir()
    (config / "models.yaml").write_text(FAST_MODELS, encoding="utf-8")
    settings = init_workspace(root / "ws").model_copy(update={"config_dir": config})
    assert ingest_files(settings, sorted(files.glob("*.parquet")), progress=False).rejected == 0
    out = run_pipeline(settings, models=True)
    names = ("g_plan", "g_bottleneck", "g_model_scores", "mdl_clv_buyers", "mdl_traffic_curves")
    with open_warehouse(settings) as wh:
        tables = {n: wh.execute(wh.table(n)) for n in names}
    return settings, out, tables


def _model_month(tables: dict) -> pd.DataFrame:  # type: ignore[type-arg]
    plan = tables["g_plan"]
    return plan.loc[plan["period"] == plan["period"].max()]


def test_run_with_models_fits_them_before_the_diagnosis(modelled) -> None:  # type: ignore[no-untyped-def]
    _, out, tables = modelled
    assert list(out.seconds) == ["brushing", "metrics", "trust", "models", "diagnosis"]
    assert out.models is not None
    assert out.models.clv_brands > 0 and out.models.traffic_curves > 0
    assert len(tables["g_model_scores"]) > 0


def test_p_bottleneck_plan_names_the_at_risk_count_of_the_buyer_table(modelled) -> None:  # type: ignore[no-untyped-def]
    _, _, tables = modelled
    plan, gaps, buyers = _model_month(tables), tables["g_bottleneck"], tables["mdl_clv_buyers"]
    at_risk = buyers.loc[buyers["segment"] == "at_risk"].groupby("brand_id").size()
    acts = plan.loc[plan["action_id"] == "reengage_at_risk_buyers"].set_index("brand_id")
    bottleneck = gaps.loc[(gaps["rank"] == 1) & (gaps["period"] == plan["period"].max())]
    p_brands = set(bottleneck.loc[bottleneck["capability"] == "private_domain", "brand_id"])
    with_action = p_brands & set(acts.index)
    assert with_action, "no private-domain bottleneck brand got the re-engagement action"
    for brand in acts.index:
        n = int(at_risk[brand])
        assert acts.loc[brand, "current"] == n
        assert f"{n:,} at-risk buyers" in acts.loc[brand, "title_en"]


def test_t_action_spend_figures_equal_the_traffic_curve(modelled) -> None:  # type: ignore[no-untyped-def]
    from windmaker.growth.config import load_ladder_config

    _, _, tables = modelled

    rules = load_ladder_config().models
    assert rules is not None
    days, lo, hi = (
        rules.actions.days_per_month,
        rules.actions.spend_min_ratio,
        rules.actions.spend_max_ratio,
    )
    plan = _model_month(tables)
    acts = plan.loc[plan["action_id"].isin(MODEL_ACTIONS[1:])].set_index("brand_id")
    assert len(acts) > 0
    curves = tables["mdl_traffic_curves"].set_index("brand_id")
    for brand, act in acts.iterrows():
        cur = float(curves.loc[brand, "current_spend"])
        be = float(curves.loc[brand, "break_even_spend"])
        assert act["current"] == pytest.approx(cur * days, abs=0.01)
        assert act["target"] == pytest.approx(min(max(be, lo * cur), hi * cur) * days, abs=0.01)
        assert (act["action_id"] == "raise_paid_spend") == (act["target"] > act["current"])


def test_status_lists_the_data_and_the_results(diagnosed_market: Settings) -> None:
    """`windmaker status` lists the ingested tables and the results; the tables the steps keep
    for their next run (``_mdl_brushing_*``, ``_m_refresh_state``…) only with ``--all``."""
    from typer.testing import CliRunner

    from windmaker.cli.main import app

    ws = ["-w", str(diagnosed_market.workspace)]
    env = {"COLUMNS": "200"}
    shown = CliRunner().invoke(app, ["status", *ws], env=env)
    assert shown.exit_code == 0, shown.output
    assert "orders" in shown.output and "g_stage" in shown.output
    assert "_mdl_brushing_shared" not in shown.output and "_m_refresh_state" not in shown.output
    every = CliRunner().invoke(app, ["status", "--all", *ws], env=env)
    assert every.exit_code == 0, every.output
    assert "_mdl_brushing_shared" in every.output and "_m_refresh_state" in every.output


def test_diagnose_shows_the_model_action_and_blended_score(modelled) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from windmaker.cli.main import app

    settings, _, tables = modelled
    plan = _model_month(tables)
    act = plan.loc[plan["action_id"] == "reengage_at_risk_buyers"].iloc[0]
    shown = CliRunner().invoke(
        app,
        ["diagnose", act["brand_id"], "--lang", "en", "-w", str(settings.workspace)],
        env={"COLUMNS": "250"},
    )
    assert shown.exit_code == 0, shown.output
    assert f"{int(act['current']):,} at-risk buyers" in shown.output
    assert "model: mdl_clv_buyers" in shown.output
    scores = tables["g_model_scores"]
    p = scores.loc[
        (scores["brand_id"] == act["brand_id"]) & (scores["capability"] == "private_domain")
    ].iloc[0]
    row = next(line for line in shown.output.splitlines() if "Private domain" in line)
    assert f"│ {p['score']:5.0f} │" in row


def test_a_run_out_of_memory_says_what_to_change(
    diagnosed_market: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB running out of memory mid-run (here at the trust step, after brushing and the
    metrics have written) reaches the user as the step and the setting to change, not the
    engine's message; the warehouse keeps what the last complete run stored."""
    import duckdb
    from typer.testing import CliRunner

    from windmaker.cli.main import app
    from windmaker.services import run
    from windmaker.services.errors import ServiceError

    def out_of_memory(*_args: object, **_kwargs: object) -> None:
        raise duckdb.OutOfMemoryException(
            "Out of Memory Error: failed to pin block of size 256.0 KiB (2.7 GiB/2.7 GiB used)"
        )

    def stored() -> list[tuple[object, ...]]:
        with open_warehouse(diagnosed_market) as wh:
            return wh.duckdb.execute(
                "SELECT (SELECT count(*) FROM mdl_brushing_orders), "
                "(SELECT sum(net_gmv) FROM m_brand_month), (SELECT count(*) FROM g_stage)"
            ).fetchall()

    before = stored()
    monkeypatch.setattr(run, "run_scores", out_of_memory)
    with pytest.raises(ServiceError) as refused:
        run.run_pipeline(diagnosed_market, full=True)
    assert refused.value.code == "out_of_memory"
    assert stored() == before

    for lang, words in (("en", "The run stopped at the trust step"), ("zh-CN", "仓库内存不足")):
        shown = CliRunner().invoke(
            app,
            ["run", "-w", str(diagnosed_market.workspace)],
            env={"COLUMNS": "250", "WINDMAKER_LANGUAGE": lang},
        )
        assert shown.exit_code == 3, shown.output
        assert words in shown.output and "memory_limit" in shown.output
        for engine in ("Out of Memory Error", "duckdb", "DuckDB", "Traceback", "pin block"):
            assert engine not in shown.output
    assert stored() == before
