"""Simulate a whole market and write it: the nine contract tables, ``truth/`` and ``ecosystem/``.

Global, small things (brands, the latent ladder, providers, SKUs, accounts, demand) are drawn
first; orders and everything tied to them are then generated and written block by block of
``block_brands`` brands, each block with its own random stream, so memory is bounded by one
block and the output depends only on the configuration and the seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from windmaker import contract
from windmaker.contract import CAPABILITIES, STAGES
from windmaker.simulator import writer as wr
from windmaker.simulator.blocks import block_tables
from windmaker.simulator.catalog import REGIONS
from windmaker.simulator.config import (
    MarketConfig,
)
from windmaker.simulator.market import Market, build_market, market_ids

Progress = Callable[[int, int, int], None]
"""Called after each block with (brands done, brands total, orders written so far)."""


@dataclass
class Summary:
    """What a simulation wrote: rows per table and the time it took."""

    out_dir: Path
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def orders(self) -> int:
        return self.rows.get("orders", 0)


def simulate(
    config: MarketConfig,
    out_dir: Path | str,
    fmt: wr.Format = "parquet",
    progress: Progress | None = None,
) -> Summary:
    """Simulate the market of ``config`` and write it to ``out_dir`` (see docs/simulator.md)."""
    if fmt not in wr.FORMATS:
        raise ValueError(f"format must be one of {wr.FORMATS}, not {fmt!r}")
    t_start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mk = build_market(config)
    summary = Summary(out)
    _write_static(mk, out, fmt, summary)
    _write_stream(mk, out, fmt, summary, progress)
    summary.seconds = time.perf_counter() - t_start
    return summary


def _sink(out: Path, name: str, fmt: wr.Format, compression: str = "snappy") -> wr.Sink:
    return wr.Sink(out / name, wr.contract_schema(contract.table(name)), fmt, compression)


def _write_table(
    out: Path, name: str, fmt: wr.Format, columns: dict[str, pa.Array], summary: Summary
) -> None:
    sink = _sink(out, name, fmt)
    sink.write(pa.table(columns))
    sink.close()
    summary.rows[name] = sink.rows


def _write_static(mk: Market, out: Path, fmt: wr.Format, summary: Summary) -> None:
    b, cat, acc, w, pl = mk.brands, mk.catalog, mk.accounts, mk.window, mk.plan
    cats = np.asarray(b.categories, dtype=object)
    n = b.n
    _write_table(
        out,
        "brands",
        fmt,
        {
            "brand_id": market_ids("B", np.arange(n)),
            "name": wr.strings(b.names),
            "category": wr.strings(cats[b.category]),
            "origin": wr.codes(contract.ORIGINS, b.factory_upgraded.astype(int)),
            "joined_at": wr.timestamps(b.joined_s),
        },
        summary,
    )
    nf = len(cat.factory_category)
    _write_table(
        out,
        "factories",
        fmt,
        {
            "factory_id": market_ids("F", np.arange(nf)),
            "name": wr.strings(
                [
                    f"{REGIONS[r][-2:]}工厂{i + 1:05d}"
                    for i, r in enumerate(cat.factory_region.tolist())
                ]
            ),
            "region": wr.strings(np.asarray(REGIONS, dtype=object)[cat.factory_region]),
            "category": wr.strings(cats[cat.factory_category]),
        },
        summary,
    )
    _write_table(
        out,
        "skus",
        fmt,
        {
            "sku_id": market_ids("K", np.arange(cat.n)),
            "brand_id": market_ids("B", cat.sku_brand),
            "factory_id": market_ids("F", np.maximum(cat.sku_factory, 0), cat.sku_factory < 0),
            "category": wr.strings(cats[b.category[cat.sku_brand]]),
            "list_price": wr.money(np.round(cat.sku_price * 100).astype(np.int64)),
            "special_supply": pa.array(cat.sku_special),
            "launched_at": wr.timestamps(cat.sku_launch_s),
        },
        summary,
    )
    is_infl = acc.brand < 0
    _write_table(
        out,
        "accounts",
        fmt,
        {
            "account_id": market_ids("A", np.arange(acc.n)),
            "kind": wr.codes(contract.ACCOUNT_KINDS, acc.kind),
            "brand_id": market_ids("B", np.maximum(acc.brand, 0), is_infl),
            "name": wr.strings(acc.names),
            "category": wr.strings(cats[acc.category]),
            "fans": pa.array(acc.fans.astype(np.int64)),
            "created_at": wr.timestamps(acc.created_s),
        },
        summary,
    )
    # truth
    truth = out / "truth"
    bm_b, bm_m = np.nonzero(pl.active)
    stage = pl.stage[bm_b, bm_m]
    sk = pl.skills[bm_b, bm_m]
    wr.write_parquet(
        truth / "brand_month.parquet",
        pa.table(
            {
                "brand_id": market_ids("B", bm_b),
                "category": wr.strings(cats[b.category[bm_b]]),
                "month": wr.dates(w.month_starts[bm_m]),
                "stage": wr.codes(STAGES, stage),
                "bottleneck": wr.codes(CAPABILITIES, pl.bottleneck[bm_b, bm_m]),
                **{
                    f"skill_{c}": pa.array(np.round(sk[:, i], 6))
                    for i, c in enumerate(CAPABILITIES)
                },
                "gmv_target": pa.array(np.round(pl.gmv[bm_b, bm_m], 2)),
                "gated": pa.array(pl.gated[bm_b, bm_m]),
                "provider_id": market_ids(
                    "P", np.maximum(pl.provider[bm_b, bm_m], 0), pl.provider[bm_b, bm_m] < 0
                ),
            }
        ),
    )
    rt = mk.demand.repeat
    wr.write_parquet(
        truth / "repeat_params.parquet",
        pa.table(
            {
                "brand_id": market_ids("B", np.arange(n)),
                "r": pa.array(rt.r),
                "alpha": pa.array(rt.alpha),
                "a": pa.array(rt.a),
                "b": pa.array(rt.b),
                "p": pa.array(rt.p),
                "q": pa.array(rt.q),
                "gamma": pa.array(rt.gamma),
                "follow_probability": pa.array(mk.demand.follow),
            }
        ),
    )
    wr.write_parquet(
        truth / "hit_skus.parquet",
        pa.table(
            {
                "sku_id": market_ids("K", np.arange(cat.n)),
                "brand_id": market_ids("B", cat.sku_brand),
                "is_hit": pa.array(cat.sku_hit > mk.params.catalog.hit_threshold),
                "hit_propensity": pa.array(np.round(cat.sku_hit, 6)),
                "special_supply": pa.array(cat.sku_special),
            }
        ),
    )
    wr.write_parquet(
        truth / "factories.parquet",
        pa.table(
            {
                "factory_id": market_ids("F", np.arange(len(cat.factory_quality))),
                "true_quality": pa.array(np.round(cat.factory_quality, 6)),
                "size": pa.array(np.round(cat.factory_size, 6)),
            }
        ),
    )
    nba = acc.n_brand_accounts
    wr.write_parquet(
        truth / "accounts.parquet",
        pa.table(
            {
                "account_id": market_ids("A", np.arange(acc.n)),
                "brand_id": market_ids("B", np.maximum(acc.brand, 0), is_infl),
                "kind": wr.codes(contract.ACCOUNT_KINDS, acc.kind),
                "true_quality": pa.array(np.round(acc.quality, 6)),
                "true_trust": pa.array(np.round(acc.trust, 6)),
                "is_best": pa.array(acc.is_best),
            }
        ),
    )
    second = acc.second_category
    infl_cats = [
        c if s < 0 else f"{c},{cats[s]}"
        for c, s in zip(cats[acc.category[nba:]].tolist(), second.tolist(), strict=True)
    ]
    wr.write_parquet(
        truth / "influencers.parquet",
        pa.table(
            {
                "account_id": market_ids("A", np.arange(nba, acc.n)),
                "true_conversion": pa.array(np.round(acc.quality[nba:], 6)),
                "true_trust": pa.array(np.round(acc.trust[nba:], 6)),
                "price_band_low": wr.money(np.round(acc.price_low * 100).astype(np.int64)),
                "price_band_high": wr.money(np.round(acc.price_high * 100).astype(np.int64)),
                "categories": wr.strings(infl_cats),
                "commission_rate": pa.array(np.round(acc.commission, 4)),
                "fans": pa.array(acc.fans[nba:].astype(np.int64)),
            }
        ),
    )
    wr.write_parquet(
        truth / "brands.parquet",
        pa.table(
            {
                "brand_id": market_ids("B", np.arange(n)),
                "true_trust": pa.array(np.round(b.trust, 6)),
                "aov": pa.array(np.round(b.aov, 2)),
                "potential": pa.array(np.round(b.potential, 6)),
                "has_brushing_ring": pa.array(np.isin(np.arange(n), mk.rings.shops())),
            }
        ),
    )
    _write_providers(mk, out, summary)


def _write_providers(mk: Market, out: Path, summary: Summary) -> None:
    pv, pl, w = mk.providers, mk.plan, mk.window
    cap_text = [
        ",".join(c for c, on in zip(CAPABILITIES, row, strict=True) if on)
        for row in pv.capabilities.tolist()
    ]
    # GMV served: the planned GMV of client brands over the window's last 12 months
    last = max(w.months - 12, 0)
    served = np.zeros(pv.n)
    gm = np.where(pl.provider[:, last:] >= 0, pl.gmv[:, last:], 0.0)
    np.add.at(
        served, pl.provider[:, last:][pl.provider[:, last:] >= 0], gm[pl.provider[:, last:] >= 0]
    )
    served *= 12 / max(w.months - last, 1)
    eco = out / "ecosystem"
    wr.write_parquet(
        eco / "providers.parquet",
        pa.table(
            {
                "provider_id": market_ids("P", np.arange(pv.n)),
                "name": wr.strings(pv.names),
                "kind": wr.strings(pv.kind.tolist()),
                "capabilities": wr.strings(cap_text),
                "categories": wr.strings([",".join(c) for c in pv.categories]),
                "capacity": pa.array(pv.capacity.astype(np.int64)),
                "team_size": pa.array(pv.team_size.astype(np.int64)),
                "gmv_served_12m": wr.money(np.round(served * 100).astype(np.int64)),
                "founded_at": wr.dates(pv.founded_day),
            }
        ),
    )
    wr.write_parquet(
        eco / "assignments.parquet",
        pa.table(
            {
                "provider_id": market_ids("P", pv.a_provider),
                "brand_id": market_ids("B", pv.a_brand),
                "started_at": wr.dates(pv.a_started),
                "ended_at": wr.dates(pv.a_ended),
            }
        ),
    )
    wr.write_parquet(
        out / "truth" / "providers.parquet",
        pa.table(
            {
                "provider_id": market_ids("P", np.arange(pv.n)),
                "true_skill": pa.array(np.round(pv.skill, 6)),
            }
        ),
    )
    summary.rows["providers"] = pv.n
    summary.rows["assignments"] = len(pv.a_provider)


#: The time column of each streamed table: rows after an export's last day are not in it.
EXPORT_TIME = {
    "live_sessions": "started_at",
    "orders": "paid_at",
    "ad_spend": "date",
    "reviews": "created_at",
    "follows": "followed_at",
}


def cut_export(name: str, tbl: pa.Table, last_day: np.datetime64) -> pa.Table:
    """``tbl`` as an export ending on ``last_day`` would hold it.

    Rows after the day are left out; an order paid by then but shipped, refunded or completed
    later is exported as it stood: not yet shipped (``paid``), not yet refunded.
    """
    end = pa.scalar((last_day + 1).astype("datetime64[s]").astype(object), pa.timestamp("s"))
    stamp = tbl[EXPORT_TIME[name]].cast(pa.timestamp("s"))
    tbl = tbl.filter(pc.less(stamp, end))
    if name != "orders":
        return tbl
    shipped_late = pc.fill_null(
        pc.greater_equal(tbl["shipped_at"].cast(pa.timestamp("s")), end), False
    )
    refunded_late = pc.fill_null(
        pc.greater_equal(tbl["refunded_at"].cast(pa.timestamp("s")), end), False
    )
    status = tbl["status"]
    shipped = pc.if_else(shipped_late, pa.scalar(None, tbl["shipped_at"].type), tbl["shipped_at"])
    undone = pc.or_(shipped_late, refunded_late)
    still = pc.if_else(pc.is_null(shipped), "paid", "shipped")
    status = pc.if_else(pc.and_(undone, pc.not_equal(status, "cancelled")), still, status)
    refund = tbl["refund_amount"]
    zero = pa.scalar(0, refund.type)
    cols = {
        "shipped_at": shipped,
        "refunded_at": pc.if_else(
            refunded_late, pa.scalar(None, tbl["refunded_at"].type), tbl["refunded_at"]
        ),
        "refund_amount": pc.if_else(refunded_late, zero, refund),
        "status": status.cast(tbl["status"].type),
    }
    for c, v in cols.items():
        tbl = tbl.set_column(tbl.column_names.index(c), c, v)
    return tbl


def _write_stream(
    mk: Market, out: Path, fmt: wr.Format, summary: Summary, progress: Progress | None
) -> None:
    names = ("live_sessions", "orders", "ad_spend", "reviews", "follows")
    sinks = {name: _sink(out, name, fmt, mk.config.compression) for name in names}
    truth = out / "truth"
    t_schemas = {
        "cooperations": pa.schema(
            [
                ("brand_id", pa.string()),
                ("account_id", pa.string()),
                ("month", pa.date32()),
                ("fit", pa.float64()),
                ("dedicated", pa.bool_()),
                ("share", pa.float64()),
                ("orders", pa.int64()),
                ("gmv", pa.decimal128(18, 2)),
            ]
        ),
        "brushing_rings": pa.schema(
            [
                ("ring_id", pa.string()),
                ("brand_id", pa.string()),
                ("buyer_id", pa.string()),
                ("order_id", pa.string()),
                ("kind", pa.string()),
            ]
        ),
        "ad_response": pa.schema(
            [
                ("brand_id", pa.string()),
                ("adstock_alpha", pa.float64()),
                ("saturation_k", pa.float64()),
                ("hill_shape", pa.float64()),
                ("beta", pa.float64()),
                ("roas0", pa.float64()),
                ("aov", pa.float64()),
            ]
        ),
    }
    t_sinks = {name: wr.Sink(truth / name, schema, "parquet") for name, schema in t_schemas.items()}
    counters = {"order": 0, "buyer": 0, "session": 0, "review": 0}
    n, bs = mk.brands.n, mk.config.block_brands

    cut = mk.config.cut_day

    def write(build: Callable[[], dict[str, pa.Table]]) -> None:
        for name, tbl in build().items():
            if cut is not None and name in sinks:
                tbl = cut_export(name, tbl, cut)
            (sinks[name] if name in sinks else t_sinks[name]).write(tbl)

    # Building the Arrow tables of block i and writing them (Arrow and Parquet release the GIL)
    # overlaps generating block i + 1; one writer thread keeps the files in block order, so the
    # bytes do not depend on timing.
    pending: Future[None] | None = None
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            for i, lo in enumerate(range(0, n, bs)):
                block = np.arange(lo, min(lo + bs, n))
                rng = np.random.default_rng([mk.config.seed, 100, i])
                build = block_tables(mk, block, rng, counters)
                if pending is not None:
                    pending.result()
                pending = pool.submit(write, build)
                if progress is not None:
                    progress(int(block[-1]) + 1, n, counters["order"])
            if pending is not None:
                pending.result()
    finally:
        for s in (*sinks.values(), *t_sinks.values()):
            s.close()
    for name, s in sinks.items():
        summary.rows[name] = s.rows
