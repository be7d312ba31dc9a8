"""Evaluation on planted markets: known provider effects, known retention, stages, violations."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from tests.ecosystem.conftest import month, planted_market
from windmaker.ecosystem.config import EcosystemConfig
from windmaker.ecosystem.evaluation import evaluate_providers

EFFECTS = {"PA": 0.04, "PB": 0.0, "PC": -0.03, "PD": 0.08}


def test_uplift_recovers_the_planted_effect(config: EcosystemConfig) -> None:
    """Planted: clients grow `effect` faster per month, so over a 3-month window the log-growth
    uplift over unserved peers is 3 × effect (the peers' own growth cancels)."""
    bm, asg = planted_market(provider_effects=EFFECTS)
    result = evaluate_providers(
        brand_month=bm, assignments=asg, period=month(11), config=config.evaluation
    )
    by_id = {e.provider_id: e for e in result.providers}
    for pid, effect in EFFECTS.items():
        assert by_id[pid].metrics["client_uplift"] == pytest.approx(3 * effect, abs=0.01)
    ranked = sorted(by_id, key=lambda p: by_id[p].score, reverse=True)
    assert ranked == sorted(EFFECTS, key=EFFECTS.__getitem__, reverse=True)
    assert not by_id["PC"].meets_standard  # -0.09 < -0.05
    assert by_id["PB"].meets_standard
    failing = [r for r in by_id["PC"].reasons if not r["ok"]]
    assert [r["criterion"] for r in failing] == ["client_uplift"]


def test_gmv_served_is_exact_to_the_cent(config: EcosystemConfig) -> None:
    bm, asg = planted_market(provider_effects={"PA": 0.0})
    bm["net_gmv"] = [Decimal(str(v)) for v in bm["net_gmv"]]
    result = evaluate_providers(
        brand_month=bm, assignments=asg, period=month(11), config=config.evaluation
    )
    clients = set(asg["brand_id"])
    expected_month = sum(
        bm[(bm["brand_id"].isin(clients)) & (bm["period"] == month(11))]["net_gmv"], Decimal(0)
    )
    expected_year = sum(bm[bm["brand_id"].isin(clients)]["net_gmv"], Decimal(0))
    pa = result.providers[0]
    assert pa.gmv_served == expected_month
    assert pa.annual_gmv_served == expected_year
    assert isinstance(pa.gmv_served, Decimal)


def test_retention_stage_advancement_actions_and_violations(config: EcosystemConfig) -> None:
    bm, asg = planted_market(provider_effects={"PA": 0.0, "PB": 0.0})
    # PA loses one of its four clients in the last month of the window.
    asg.loc[asg["brand_id"] == "PA-B0", "ended_at"] = month(11) + pd.Timedelta(days=3)
    stages = pd.DataFrame(
        [(b, month(8), "climbing") for b in asg["brand_id"]]
        + [
            (b, month(11), "ka" if b.endswith(("B1", "B2")) else "climbing")
            for b in asg["brand_id"]
        ],
        columns=["brand_id", "period", "stage"],
    )
    violations = pd.DataFrame(
        [("PB-B1", month(11), "fraud"), ("PA-B1", month(11), "misleading")],
        columns=["brand_id", "period", "kind"],
    )
    items = pd.DataFrame(
        [
            ("PA-B1", "done", month(10)),
            ("PA-B2", "open", month(10)),
            ("PA-B3", "dropped", month(10)),
            ("PA-B3", "open", month(11) + pd.Timedelta(days=40)),  # not yet due
        ],
        columns=["brand_id", "status", "due_date"],
    )
    result = evaluate_providers(
        brand_month=bm,
        assignments=asg,
        period=month(11),
        config=config.evaluation,
        stages=stages,
        violations=violations,
        action_items=items,
    )
    pa, pb = result.providers
    assert pa.metrics["client_retention"] == pytest.approx(3 / 4)
    assert pa.clients == 4  # PA-B0 was still served in the first days of the month
    # PA's uplift clients are those served throughout the window: B1, B2, B3 (two advanced).
    assert pa.metrics["stage_advancement_rate"] == pytest.approx(2 / 3)
    assert pb.metrics["stage_advancement_rate"] == pytest.approx(2 / 4)
    assert pa.metrics["action_completion"] == pytest.approx(1 / 2)
    assert pa.metrics["trust_violations_per_client"] == pytest.approx(1 / 4)
    assert not pa.severe_violation
    assert pb.severe_violation and not pb.meets_standard
    assert any("fraud" in r["message"] for r in pb.reasons)


def test_too_few_clients_are_not_judged(config: EcosystemConfig) -> None:
    bm, asg = planted_market(provider_effects={"PA": -0.2}, clients_per_provider=1)
    (pa,) = evaluate_providers(
        brand_month=bm, assignments=asg, period=month(11), config=config.evaluation
    ).providers
    assert pa.metrics["client_uplift"] is not None and pa.metrics["client_uplift"] < -0.5
    assert (pa.judged, pa.meets_standard) == (False, True)


def test_client_effects_match_a_plain_pandas_reference(config: EcosystemConfig) -> None:
    """Independent reference: growth and peer median recomputed here by hand for one client."""
    bm, asg = planted_market(provider_effects={"PA": 0.05}, unserved=12)
    result = evaluate_providers(
        brand_month=bm, assignments=asg, period=month(11), config=config.evaluation
    )
    eff = result.client_effects.set_index("brand_id")

    def window(b: str, lo: int, hi: int) -> float:
        s = bm[(bm["brand_id"] == b) & bm["period"].between(month(lo), month(hi))]
        return float(s["net_gmv"].sum())

    import math

    growth = {
        b: math.log((window(b, 9, 11) + 1) / (window(b, 6, 8) + 1)) for b in set(bm["brand_id"])
    }
    size = {b: math.log(window(b, 6, 8) / 3 + 1) for b in growth}
    client = "PA-B2"
    peers = sorted(
        (b for b in growth if b.startswith("U")), key=lambda b: abs(size[b] - size[client])
    )
    peer_median = float(pd.Series([growth[b] for b in peers[:10]]).median())
    assert eff.loc[client, "growth"] == pytest.approx(growth[client])
    assert eff.loc[client, "peer_growth"] == pytest.approx(peer_median)
