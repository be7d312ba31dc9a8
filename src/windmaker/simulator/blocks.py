"""One block of brands at a time: its orders, sessions, ads, reviews and follows generated with
the block's own random stream, and the Arrow tables of everything tied to them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from windmaker import contract
from windmaker.simulator import writer as wr
from windmaker.simulator.config import (
    RING_KINDS,
    SECONDS_PER_DAY,
)
from windmaker.simulator.distribution import Cooperations, cooperations
from windmaker.simulator.live import Sessions, brand_sessions, concat_sessions
from windmaker.simulator.market import Market, market_ids
from windmaker.simulator.orders import BlockContext, BlockOrders, generate_orders
from windmaker.simulator.traffic import AdBlock, ad_block
from windmaker.simulator.trust import brushing_orders


def block_tables(
    mk: Market, block: np.ndarray, rng: np.random.Generator, counters: dict[str, int]
) -> Callable[[], dict[str, pa.Table]]:
    """Generate one block (numpy, this thread) and return the builder of its Arrow tables
    (run by the writer thread)."""
    w, p, pl, dm, acc = mk.window, mk.params, mk.plan, mk.demand, mk.accounts
    start, end = w.start_seconds, w.end_seconds
    first_day = np.maximum((mk.brands.joined_s[block] - start) // SECONDS_PER_DAY + 1, 0)
    active_day = np.arange(w.days)[None, :] >= first_day[:, None]
    skills = pl.skills[block]
    sessions = brand_sessions(rng, acc, block, skills[..., 0], w, p)
    ads = ad_block(
        rng, w, p, dm.paid_orders[block], dm.traffic_skill[block], mk.brands.aov[block], active_day
    )
    infl_orders = (1.0 - dm.self_share[block]) * dm.acquisitions[block]
    coops = cooperations(
        rng,
        acc,
        w,
        p,
        mk.brands.category[block],
        mk.brands.aov[block],
        skills[..., 2],
        np.where(pl.active[block], infl_orders, 0.0),
        pl.gmv[block],
        first_day,
    )
    all_sessions = concat_sessions([sessions, coops.sessions])
    ring_in, ring_kinds, ring_shops = mk.rings.local(block)
    brushing = brushing_orders(
        rng,
        p,
        mk.ring_brands[ring_in] - block[0],
        ring_in,
        np.maximum(mk.brands.joined_s[block], start),
        end,
        ring_kinds,
        ring_shops,
        np.random.default_rng([mk.config.seed, 101, int(block[0])]),
    )
    ctx = BlockContext(w, p, mk.brands, acc, mk.catalog, dm, block, first_day, sessions, coops, ads)
    o = generate_orders(rng, ctx, brushing)
    f = o.fulfilment
    n_orders = len(o.paid_at)
    o_base, s_base, u_base, r_base = (
        counters["order"],
        counters["session"],
        counters["buyer"],
        counters["review"],
    )
    counters["order"] += n_orders
    counters["session"] += all_sessions.n
    counters["buyer"] += o.n_buyers
    counters["review"] += len(f.review_order)
    return lambda: _tables(mk, block, all_sessions, ads, coops, o, (o_base, s_base, u_base, r_base))


def _tables(
    mk: Market,
    block: np.ndarray,
    all_sessions: Sessions,
    ads: AdBlock,
    coops: Cooperations,
    o: BlockOrders,
    bases: tuple[int, int, int, int],
) -> dict[str, pa.Table]:
    """The Arrow tables of one generated block (contract tables and truth)."""
    w, acc = mk.window, mk.accounts
    f = o.fulfilment
    o_base, s_base, u_base, r_base = bases
    order_index = o_base + np.arange(len(o.paid_at))
    gb = block[o.brand_local]
    off_live = o.session < 0
    tables: dict[str, pa.Table] = {}
    tables["live_sessions"] = pa.table(
        {
            "session_id": market_ids("S", s_base + np.arange(all_sessions.n)),
            "account_id": market_ids("A", all_sessions.account),
            "started_at": wr.timestamps(all_sessions.start_s),
            "ended_at": wr.timestamps(all_sessions.start_s + all_sessions.duration_s),
            "viewers": pa.array(all_sessions.viewers.astype(np.int64)),
            "watch_seconds": pa.array(all_sessions.watch_seconds.astype(np.int64)),
            "dedicated_brand_id": market_ids(
                "B", block[all_sessions.brand_local], ~all_sessions.dedicated
            ),
        }
    )
    tables["orders"] = pa.table(
        {
            "order_id": market_ids("O", order_index),
            "paid_at": wr.timestamps(o.paid_at),
            "brand_id": market_ids("B", gb),
            "sku_id": market_ids("K", o.sku),
            "account_id": market_ids("A", o.account),
            "session_id": market_ids("S", s_base + np.maximum(o.session, 0), off_live),
            "buyer_id": market_ids("U", u_base + o.buyer),
            "traffic_source": wr.codes(contract.TRAFFIC_SOURCES, o.source),
            "quantity": pa.array(o.quantity),
            "amount": wr.money(o.amount_cents),
            "commission": wr.money(o.commission_cents),
            "status": wr.codes(contract.ORDER_STATUSES, f.status),
            "refund_amount": wr.money(f.refund_cents),
            "refunded_at": wr.timestamps(np.maximum(f.refunded_at, 0), f.refunded_at < 0),
            "promised_ship_by": wr.timestamps(f.promised_ship_by),
            "shipped_at": wr.timestamps(np.maximum(f.shipped_at, 0), f.shipped_at < 0),
        }
    )
    main = acc.brand_first[block]
    tables["ad_spend"] = pa.table(
        {
            "date": wr.dates(w.start_day + ads.day.astype("timedelta64[D]")),
            "brand_id": market_ids("B", block[ads.brand_local]),
            "campaign_id": market_ids("C", block[ads.brand_local] * 10 + ads.campaign - 1),
            "account_id": market_ids("A", main[ads.brand_local]),
            "spend": wr.money(ads.spend_cents),
            "impressions": pa.array(ads.impressions.astype(np.int64)),
            "clicks": pa.array(ads.clicks.astype(np.int64)),
        }
    )
    tables["reviews"] = pa.table(
        {
            "review_id": market_ids("R", r_base + np.arange(len(f.review_order))),
            "order_id": market_ids("O", o_base + f.review_order),
            "created_at": wr.timestamps(f.review_at),
            "score": pa.array(f.review_score),
            "complaint": wr.codes(contract.COMPLAINTS, f.review_complaint),
        }
    )
    tables["follows"] = pa.table(
        {
            "buyer_id": market_ids("U", u_base + o.follow_buyer),
            "account_id": market_ids("A", o.follow_account),
            "followed_at": wr.timestamps(o.follow_at),
        }
    )
    # truth: cooperations with their realised outcome, brushing orders, ad response
    counted = (o.coop >= 0) & (f.status != 4)
    net = np.where(counted, o.amount_cents - f.refund_cents, 0)
    c_orders = np.bincount(o.coop[counted], minlength=coops.n)
    c_gmv = np.bincount(np.maximum(o.coop, 0), weights=net, minlength=coops.n)
    tables["cooperations"] = pa.table(
        {
            "brand_id": market_ids("B", block[coops.brand_local]),
            "account_id": market_ids("A", coops.account),
            "month": wr.dates(w.month_starts[coops.month]),
            "fit": pa.array(np.round(coops.fit, 6)),
            "dedicated": pa.array(coops.dedicated),
            "share": pa.array(np.round(coops.share, 6)),
            "orders": pa.array(c_orders.astype(np.int64)),
            "gmv": wr.money(np.round(c_gmv).astype(np.int64)),
        }
    )
    br = np.flatnonzero(o.ring >= 0)
    tables["brushing_rings"] = pa.table(
        {
            "ring_id": wr.ids("G", o.ring[br], 4),
            "brand_id": market_ids("B", gb[br]),
            "buyer_id": market_ids("U", u_base + o.buyer[br]),
            "order_id": market_ids("O", order_index[br]),
            "kind": wr.codes(RING_KINDS, mk.rings.kinds[o.ring[br]]),
        }
    )
    tables["ad_response"] = pa.table(
        {
            "brand_id": market_ids("B", block),
            "adstock_alpha": pa.array(ads.alpha),
            "saturation_k": pa.array(ads.k),
            "hill_shape": pa.array(ads.shape),
            "beta": pa.array(ads.beta),
            "roas0": pa.array(ads.roas0),
            "aov": pa.array(mk.brands.aov[block]),
        }
    )
    return tables
