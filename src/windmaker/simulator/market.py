"""The market drawn before the order stream: brands, the latent ladder, providers, SKUs,
accounts, demand and brushing rings, and the ids their rows are written with.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from windmaker.simulator import writer as wr
from windmaker.simulator.accounts import Accounts, make_accounts
from windmaker.simulator.brands import Brands, make_brands
from windmaker.simulator.catalog import Catalog, make_catalog
from windmaker.simulator.config import MarketConfig, SimulatorParams, Window, load_params
from windmaker.simulator.demand import Demand, plan_demand
from windmaker.simulator.distribution import row_mean
from windmaker.simulator.ecosystem import Providers, joined_day, make_providers
from windmaker.simulator.ladder import CLIMBING, ZB, LadderPlan, initial_stage, plan_ladder
from windmaker.simulator.trust import RingPlan, plant_rings

_ID_WIDTH = {"B": 6, "A": 7, "K": 8, "F": 6, "O": 10, "U": 9, "S": 9, "R": 10, "C": 8, "P": 5}


@dataclass(frozen=True)
class Market:
    """Everything drawn before the order stream."""

    config: MarketConfig
    params: SimulatorParams
    window: Window
    brands: Brands
    providers: Providers
    plan: LadderPlan
    catalog: Catalog
    accounts: Accounts
    demand: Demand
    ring_brands: np.ndarray
    rings: RingPlan


def market_ids(prefix: str, index: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """Ids of the rows ``index`` of one kind (``B`` brands, ``A`` accounts, ...), zero-padded."""
    return wr.ids(prefix, index, _ID_WIDTH[prefix], null)


def build_market(config: MarketConfig) -> Market:
    """Draw the market's brands, ladder, providers, catalog, accounts and demand."""
    params = load_params(config.config_dir)
    if not config.small_category_leaders:
        # every category holds floor(share × n) of its KA and SKA brands
        none = params.brands.small_category.model_copy(update={"ka": 1, "ska": 1})
        params = params.model_copy(
            update={"brands": params.brands.model_copy(update={"small_category": none})}
        )
    if config.loyalty:
        params = params.model_copy(
            update={"repeat": params.repeat.model_copy(update=params.loyalty.model_dump())}
        )
    categories = list(config.categories or params.categories)
    unknown = set(categories) - set(params.categories)
    if unknown:
        raise ValueError(
            f"unknown categories {sorted(unknown)}; known: {sorted(params.categories)}"
        )
    window = Window.ending(config.end_month, config.months)

    def rng(stream: int) -> np.random.Generator:
        return np.random.default_rng([config.seed, stream])

    brands = make_brands(
        rng(1), config.brands, window, params, categories, dict(config.category_brands)
    )
    start = initial_stage(brands, params)
    providers = make_providers(
        rng(2),
        window,
        params,
        categories,
        brands.category,
        brands.join_month,
        joined_day(brands.joined_s),
        start,
    )
    plan = plan_ladder(rng(3), brands, providers, window, params, start)
    # order-brushing rings in small shops; their owners' trust is low
    r = rng(4)
    small = np.flatnonzero((plan.stage <= CLIMBING).all(axis=1) & (plan.stage[:, -1] >= ZB))
    rings = plant_rings(
        r, params, small, config.brands, config.ring_kinds, config.block_brands, rng(41)
    )
    ring_brands = rings.brands
    trust = brands.trust.copy()
    trust[ring_brands] = np.minimum(trust[ring_brands], r.uniform(0.25, 0.5, len(ring_brands)))
    extra = rings.extra_brand
    trust[extra] = np.minimum(trust[extra], rng(42).uniform(0.25, 0.5, len(extra)))
    brands = replace(brands, trust=trust)
    catalog = make_catalog(rng(5), brands, window, params, plan.stage, rng(51))
    self_mean = row_mean(np.where(plan.active, plan.skills[..., 0], np.nan), default=0.3)
    mean_gmv = plan.gmv.sum(axis=1) / np.maximum(plan.active.sum(axis=1), 1)
    accounts = make_accounts(rng(6), brands, window, params, self_mean, mean_gmv, categories)
    demand = plan_demand(params, brands, plan, catalog)
    return Market(
        config,
        params,
        window,
        brands,
        providers,
        plan,
        catalog,
        accounts,
        demand,
        ring_brands,
        rings,
    )
