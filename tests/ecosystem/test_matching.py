"""Matching: optimal against a MILP reference, better than greedy, and every constraint held."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from windmaker.contract import CAPABILITIES
from windmaker.ecosystem import matching as M
from windmaker.ecosystem.config import EcosystemConfig, MatchingConfig
from windmaker.i18n import name, reason_text

CATS = ["beauty", "food", "apparel", "home"]


def instance(n_brands: int, n_providers: int, seed: int) -> tuple[pd.DataFrame, ...]:
    rng = np.random.default_rng(seed)
    needs = pd.DataFrame(
        {
            "brand_id": [f"B{i}" for i in range(n_brands)],
            "category": rng.choice(CATS, n_brands),
            "bottleneck": rng.choice(CAPABILITIES, n_brands),
            "monthly_gmv": np.exp(rng.normal(12, 1.5, n_brands)).round(2),
        }
    )
    providers = pd.DataFrame(
        {
            "provider_id": [f"P{i}" for i in range(n_providers)],
            "capabilities": [
                ",".join(rng.choice(CAPABILITIES, 3, replace=False)) for _ in range(n_providers)
            ],
            "categories": [
                ",".join(rng.choice(CATS, 2, replace=False)) for _ in range(n_providers)
            ],
            "capacity": rng.integers(1, max(2, 2 * n_brands // n_providers), n_providers),
        }
    )
    m = 3 * n_brands
    track = pd.DataFrame(
        {
            "provider_id": rng.choice(providers["provider_id"], m),
            "category": rng.choice(CATS, m),
            "base_gmv": np.exp(rng.normal(12, 1.5, m)),
            "uplift": rng.normal(0.05, 0.25, m),
        }
    )
    return needs, providers, track


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n_brands=st.integers(5, 60), n_providers=st.integers(2, 12))
def test_flow_matches_the_milp_optimum(seed: int, n_brands: int, n_providers: int) -> None:
    """Reference: scipy's MILP on the same benefits; the flow must be within 1% (it is exact)."""
    from windmaker.ecosystem.config import load_config

    cfg = load_config().matching
    needs, providers, track = instance(n_brands, n_providers, seed)
    arcs = M.build_arcs(needs, providers, cfg, track_record=track)
    flow = M.total_benefit(arcs, M.solve_min_cost_flow(arcs))
    best = M.total_benefit(arcs, M.solve_milp(arcs))
    assert flow >= 0.99 * best
    assert flow <= best


def test_exhaustive_reference_on_a_tiny_instance(config: EcosystemConfig) -> None:
    """Every assignment of 6 brands to 3 providers (or none) enumerated by brute force."""
    import itertools

    needs, providers, track = instance(6, 3, seed=7)
    providers["capabilities"] = ",".join(CAPABILITIES)
    providers["categories"] = ",".join(CATS)
    providers["capacity"] = [1, 2, 1]
    arcs = M.build_arcs(needs, providers, config.matching, track_record=track)
    benefit = {
        (int(b), int(p)): int(v)
        for b, p, v in zip(arcs.brand, arcs.provider, arcs.benefit, strict=True)
    }
    best = 0
    for choice in itertools.product([-1, 0, 1, 2], repeat=6):
        if any(choice.count(p) > int(providers["capacity"][p]) for p in range(3)):
            continue
        if any(p >= 0 and (b, p) not in benefit for b, p in enumerate(choice)):
            continue
        best = max(best, sum(benefit[(b, p)] for b, p in enumerate(choice) if p >= 0))
    assert M.total_benefit(arcs, M.solve_min_cost_flow(arcs)) == best


def test_beats_greedy_on_a_large_instance(config: EcosystemConfig) -> None:
    needs, providers, track = instance(3000, 120, seed=3)
    arcs = M.build_arcs(needs, providers, config.matching, track_record=track)
    flow = M.total_benefit(arcs, M.solve_min_cost_flow(arcs))
    greedy = M.total_benefit(arcs, M.solve_greedy(arcs))
    assert flow > greedy


def test_constraints_existing_assignments_and_exclusions(config: EcosystemConfig) -> None:
    needs, providers, track = instance(200, 10, seed=11)
    existing = pd.DataFrame({"provider_id": ["P0", "P0", "P1"], "brand_id": ["B0", "B1", "B2"]})
    exclusions = pd.DataFrame({"brand_id": ["B3", "B4"], "provider_id": ["P2", "P3"]})
    result = M.match_brands(
        needs,
        providers,
        config.matching,
        track_record=track,
        existing=existing,
        exclusions=exclusions,
    )
    m = result.matches
    assert m["brand_id"].is_unique
    assert not set(m["brand_id"]) & {"B0", "B1", "B2"}
    load = m.groupby("provider_id").size()
    cap = providers.set_index("provider_id")["capacity"]
    used = existing.groupby("provider_id").size().reindex(cap.index).fillna(0)
    assert (load <= (cap - used).clip(lower=0).reindex(load.index)).all()
    pairs = set(zip(m["brand_id"], m["provider_id"], strict=True))
    assert not pairs & {("B3", "P2"), ("B4", "P3")}
    offered = providers.set_index("provider_id")
    for row in m.itertuples():
        assert row.bottleneck in offered.loc[row.provider_id, "capabilities"].split(",")
        assert row.category in offered.loc[row.provider_id, "categories"].split(",")
        assert name("capability", row.bottleneck, "en") in reason_text(
            row.reason_code, row.reason_params, "en"
        )
        assert "短板" in reason_text(row.reason_code, row.reason_params, "zh-CN")
    assert result.total_benefit == pytest.approx(m["predicted_benefit"].sum())
    assert set(result.unmatched["brand_id"]) | set(m["brand_id"]) == set(needs["brand_id"])
    served = result.unmatched.set_index("brand_id").loc["B0"]
    assert reason_text(served["reason_code"], served["reason_params"], "en") == (
        "already served by a provider"
    )


def test_track_record_steers_the_match() -> None:
    """Two identical providers with one slot each; the one whose past clients in the category grew
    more gets the bigger brand."""
    cfg = MatchingConfig(
        prior_uplift=0.05,
        shrinkage_brands=5,
        similar_size_factor=4,
        min_predicted_uplift=0.0,
        category_must_match=True,
        off_category_factor=0.5,
        min_brand_value=0,
        benefit_unit=1,
    )
    needs = pd.DataFrame(
        {
            "brand_id": ["big", "small"],
            "category": ["food", "food"],
            "bottleneck": ["traffic", "traffic"],
            "monthly_gmv": [1_000_000.0, 1_000.0],
        }
    )
    providers = pd.DataFrame(
        {
            "provider_id": ["good", "poor"],
            "capabilities": ["traffic", "traffic"],
            "categories": ["food", "food"],
            "capacity": [1, 1],
        }
    )
    track = pd.DataFrame(
        {
            "provider_id": ["good"] * 10 + ["poor"] * 10,
            "category": ["food"] * 20,
            "base_gmv": [1_000_000.0] * 20,
            "uplift": [0.3] * 10 + [0.01] * 10,
        }
    )
    m = M.match_brands(needs, providers, cfg, track_record=track).matches.set_index("brand_id")
    assert m.loc["big", "provider_id"] == "good"
    # good: (10·0.3 + 5·u_p)/(10+5), u_p = (10·0.3 + 5·0.05)/15
    u_p = (10 * 0.3 + 5 * 0.05) / 15
    assert m.loc["big", "predicted_uplift"] == pytest.approx((10 * 0.3 + 5 * u_p) / 15)
