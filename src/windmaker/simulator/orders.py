"""Orders of one block of brands: new buyers, their repeat purchases, channels, SKUs, amounts.

Per block (all vectorised, no loop over orders):

1. new buyers per brand-day: paid ones ~ Poisson(expected paid orders of the day, ``traffic``),
   organic self-sold ones ~ Poisson(σ·A − paid, spread over the month's days), and influencer
   ones ~ Poisson((1 − σ)·A·share of the cooperation) placed in the cooperation's sessions;
2. each buyer draws BG/NBD λ, p and Gamma-Gamma ν from the brand's truth, follows the main
   account with the probability of the month it first buys, and repeats at λ × the month's
   rate factor (``buyers.sample_repeats`` on the brand's operational clock); a follower's
   repeat comes through the follow page with probability ``follow_repeat``, other repeats are
   self-sold with probability σ or sold by one of the month's cooperating influencers;
3. self-sold orders land in a live session of the brand in the same week of the month with
   probability ``live_share`` (∝ duration × account quality), else off-live on the main
   account;
4. SKU: special-supply SKUs with the month's special share, else by hit weight (new SKUs are
   tested through influencers in their launch month); amount ~ Gamma-Gamma, quantity =
   round(amount / list price) ≥ 1; commission = influencer's rate × amount;
5. outcome (status, refunds, shipping, reviews) from true trust (``trust.fulfil``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from windmaker.simulator.accounts import Accounts
from windmaker.simulator.brands import Brands
from windmaker.simulator.buyers import RepeatClock, sample_repeats
from windmaker.simulator.catalog import Catalog
from windmaker.simulator.config import SECONDS_PER_DAY, SimulatorParams, Window
from windmaker.simulator.demand import Demand
from windmaker.simulator.distribution import Cooperations
from windmaker.simulator.live import Sessions
from windmaker.simulator.sampling import GroupedChoice, sample_hours
from windmaker.simulator.traffic import AdBlock
from windmaker.simulator.trust import BrushingOrders, Fulfilment, fulfil, goods_refund_factor

# traffic source codes, in contract.TRAFFIC_SOURCES order
RECOMMEND, PAID, FOLLOW, SEARCH, OTHER = range(5)


@dataclass(frozen=True)
class BlockOrders:
    """Orders of a block, sorted by payment time, plus buyers' follows."""

    paid_at: np.ndarray
    brand_local: np.ndarray
    sku: np.ndarray
    account: np.ndarray
    session: np.ndarray  # index into the block's sessions, −1 off-live
    buyer: np.ndarray  # buyer number within the block
    source: np.ndarray
    quantity: np.ndarray
    amount_cents: np.ndarray
    commission_cents: np.ndarray
    coop: np.ndarray  # cooperation index, −1
    ring: np.ndarray  # brushing ring id, −1
    fulfilment: Fulfilment
    n_buyers: int
    follow_buyer: np.ndarray
    follow_account: np.ndarray
    follow_at: np.ndarray


@dataclass(frozen=True)
class BlockContext:
    """What the order generator needs about a block."""

    window: Window
    params: SimulatorParams
    brands: Brands
    accounts: Accounts
    catalog: Catalog
    demand: Demand
    block: np.ndarray  # global brand indices (contiguous)
    first_day: np.ndarray  # first active day offset per block brand
    sessions: Sessions
    coops: Cooperations
    ads: AdBlock


def _source(rng: np.random.Generator, rec: np.ndarray, search_share: float) -> np.ndarray:
    u = rng.random(len(rec), dtype=np.float32)
    other = (u - rec) / np.maximum(1.0 - rec, 1e-9)
    return np.where(u < rec, RECOMMEND, np.where(other < search_share, SEARCH, OTHER))


def generate_orders(
    rng: np.random.Generator, ctx: BlockContext, brushing: BrushingOrders
) -> BlockOrders:
    w, p, dm = ctx.window, ctx.params, ctx.demand
    blk = ctx.block
    nb, months, days = len(blk), w.months, w.days
    start, end = w.start_seconds, w.end_seconds
    day_month = w.day_month
    day_start = start + np.arange(days) * SECONDS_PER_DAY
    active_day = np.arange(days)[None, :] >= ctx.first_day[:, None]
    sigma = dm.self_share[blk]
    rec = dm.recommend[blk]
    main = ctx.accounts.brand_first[blk]
    sess = ctx.sessions
    # live rooms are chosen within the brand's week of the month (4 per month; the last one
    # takes the remaining days), so a session's orders scale with duration × quality rather than
    # with how many other sessions ran that day
    week = np.minimum((np.arange(days) - w.month_first_day[day_month]) // 7, 3) + 4 * day_month
    n_weeks = 4 * months
    live_choice = GroupedChoice.build(
        sess.brand_local * n_weeks + week[sess.day], sess.weight, nb * n_weeks
    )

    def place_self(
        b: np.ndarray, d: np.ndarray, at: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(b)
        g = b * n_weeks + week[d]
        u = rng.random(n, dtype=np.float32)
        live = np.flatnonzero(live_choice.has(g) & (u < p.channels.live_share))
        chosen = live_choice.pick(g[live], rng.random(len(live)))
        session = np.full(n, -1, dtype=np.int64)
        session[live] = chosen
        account = main[b]
        account[live] = sess.account[chosen]
        t = day_start[d] + sample_hours(rng, n) if at is None else at.copy()
        t[live] = sess.start_s[chosen] + (
            rng.random(len(live), dtype=np.float32) * sess.duration_s[chosen]
        ).astype(np.int64)
        return account, session, t

    # 1. new buyers: paid and organic self-sold per brand-day, influencer per cooperation
    acq = dm.acquisitions[blk]
    paid_day = ctx.ads.paid_orders
    paid_month = np.zeros((nb, months))
    np.add.at(paid_month.T, day_month, paid_day.T)
    active_days_m = np.zeros((nb, months))
    np.add.at(active_days_m.T, day_month, active_day.T.astype(float))
    org_month = np.maximum(sigma * acq - paid_month, 0.1 * sigma * acq)
    org_day = org_month[:, day_month] / np.maximum(active_days_m[:, day_month], 1.0) * active_day
    n_paid = rng.poisson(paid_day).ravel()
    n_org = rng.poisson(org_day).ravel()
    cells = np.concatenate(
        [np.repeat(np.arange(nb * days), n_paid), np.repeat(np.arange(nb * days), n_org)]
    )
    s_b, s_d = cells // days, cells % days
    s_src = np.concatenate(
        [
            np.full(int(n_paid.sum()), PAID),
            _source(
                rng,
                rec[s_b[int(n_paid.sum()) :], day_month[s_d[int(n_paid.sum()) :]]],
                p.channels.search_share,
            ),
        ]
    )
    s_acc, s_sess, s_at = place_self(s_b, s_d, None)
    co = ctx.coops
    infl_acq = (1.0 - sigma) * acq
    n_co = rng.poisson(infl_acq[co.brand_local, co.month] * co.share)
    i_coop = np.repeat(np.arange(co.n), n_co)
    i_b = co.brand_local[i_coop]
    coop_sessions = GroupedChoice.build(co.session_coop, co.sessions.weight, co.n)
    i_live = rng.random(len(i_coop)) < p.influencers.live_share
    i_s = np.where(i_live, coop_sessions.pick(i_coop, rng.random(len(i_coop))), -1)
    i_s0 = np.maximum(i_s, 0)
    m_first = w.month_first_day[co.month[i_coop]]
    lo = np.maximum(m_first, ctx.first_day[i_b])
    i_day = lo + (rng.random(len(i_coop)) * (m_first + w.month_days[co.month[i_coop]] - lo)).astype(
        np.int64
    )
    i_at = np.where(
        i_s >= 0,
        co.sessions.start_s[i_s0]
        + (rng.random(len(i_coop)) * co.sessions.duration_s[i_s0]).astype(np.int64),
        day_start[i_day] + sample_hours(rng, len(i_coop)),
    )
    i_src = _source(rng, rec[i_b, co.month[i_coop]], p.channels.search_share)
    i_sess = np.where(i_s >= 0, sess.n + i_s, -1)  # influencer sessions follow the brand sessions
    # buyers
    nbuy_self, nbuy_infl = len(s_b), len(i_coop)
    n_buyers = nbuy_self + nbuy_infl
    bb = np.concatenate([s_b, i_b])
    t0 = np.concatenate([s_at, i_at])
    gb = blk[bb]
    rt = dm.repeat
    lam = rng.gamma(p.repeat.r, size=n_buyers) / rt.alpha[gb]
    drop = rng.beta(rt.a[gb], rt.b[gb])
    nu = rng.gamma(p.repeat.gg_q, size=n_buyers) / rt.gamma[gb]
    t0_month = day_month[np.clip((t0 - start) // SECONDS_PER_DAY, 0, days - 1)]
    follows = rng.random(n_buyers) < dm.follow_month[gb, t0_month]
    follow_at = t0 + rng.integers(60, SECONDS_PER_DAY, n_buyers)
    # 2. repeats, at the brand's month-by-month rate (its operational clock)
    edges = np.append(start + w.month_first_day * SECONDS_PER_DAY, end).astype(np.int64)
    clock = RepeatClock.build(edges, dm.rate_factor[blk])
    reps = sample_repeats(rng, t0, end, lam, drop, clock, bb)
    r_buyer, r_at = reps.buyer, reps.at
    r_b = bb[r_buyer]
    r_d = (r_at - start) // SECONDS_PER_DAY
    r_m = day_month[r_d]
    coop_of_bm = GroupedChoice.build(co.brand_local * months + co.month, co.share, nb * months)
    has_coop = coop_of_bm.has(r_b * months + r_m)
    r_self = (rng.random(len(r_at), dtype=np.float32) < sigma[r_b, r_m]) | ~has_coop
    i_self, i_infl = np.flatnonzero(r_self), np.flatnonzero(~r_self)
    r_coop = np.full(len(r_at), -1, dtype=np.int64)
    r_coop[i_infl] = coop_of_bm.pick(r_b[i_infl] * months + r_m[i_infl], rng.random(len(i_infl)))
    r_acc = np.empty(len(r_at), dtype=np.int64)
    r_acc[i_infl] = co.account[r_coop[i_infl]]
    r_sess = np.full(len(r_at), -1, dtype=np.int64)
    r_at2 = r_at.copy()
    r_acc[i_self], r_sess[i_self], r_at2[i_self] = place_self(
        r_b[i_self], r_d[i_self], r_at[i_self]
    )
    # a follower's repeat (after following) comes through the follow page
    fol = (
        follows[r_buyer]
        & (r_at2 > follow_at[r_buyer])
        & (rng.random(len(r_at)) < p.repeat.follow_repeat)
    )
    r_src = np.where(fol, FOLLOW, _source(rng, rec[r_b, r_m], p.channels.search_share))
    # 3. brushing rings: buyers numbered after the organic ones
    k = len(brushing.paid_at)
    # assemble
    paid_at = np.concatenate([s_at, i_at, r_at2, brushing.paid_at])
    brand_local = np.concatenate([s_b, i_b, r_b, brushing.brand_local])
    account = np.concatenate([s_acc, co.account[i_coop], r_acc, main[brushing.brand_local]])
    session = np.concatenate([s_sess, i_sess, r_sess, np.full(k, -1)])
    buyer = np.concatenate([np.arange(n_buyers), r_buyer, n_buyers + brushing.buyer_local])
    source = np.concatenate([s_src, i_src, r_src, np.full(k, SEARCH)])
    coop = np.concatenate([np.full(nbuy_self, -1), i_coop, r_coop, np.full(k, -1)])
    ring = np.concatenate([np.full(n_buyers + len(r_at), -1), brushing.ring])
    is_brush = ring >= 0
    is_infl = coop >= 0
    paid_at = np.clip(paid_at, start, end - 1)
    month = day_month[(paid_at - start) // SECONDS_PER_DAY]
    # 4. SKU, amount, quantity, commission
    sku = _skus(rng, ctx, brand_local, month, is_infl, is_brush)
    price_cents = np.round(ctx.catalog.sku_price[sku] * 100).astype(np.int64)
    value = rng.gamma(p.repeat.gg_p, size=len(brand_local)) / np.concatenate(
        [nu, nu[r_buyer], np.ones(k)]
    )
    cents = np.where(is_brush, price_cents, np.maximum(np.round(value * 100), 100).astype(np.int64))
    quantity = np.where(
        is_brush, 1, np.maximum(np.round(cents / np.maximum(price_cents, 1)), 1)
    ).astype(np.int64)
    infl_idx = np.maximum(account - ctx.accounts.n_brand_accounts, 0)
    commission = np.where(is_infl, np.floor(cents * ctx.accounts.commission[infl_idx]), 0).astype(
        np.int64
    )
    # 5. outcome
    gblk = blk[brand_local]
    ful = fulfil(
        rng,
        p,
        paid_at,
        cents,
        ctx.brands.trust[gblk],
        ctx.accounts.trust[account],
        dm.refund_base[gblk],
        is_infl,
        is_brush,
        end,
        ctx.catalog.sku_quality_gap[sku],
        goods_refund_factor(p, ctx.catalog.sku_quality_gap[sku], brand_local * months + month),
    )
    # follows: the main account (and any brand account a follower bought from through the
    # follow page), and influencers of some of their buyers
    f_main = np.flatnonzero(follows)
    f_extra = np.flatnonzero(source == FOLLOW)
    infl_f = nbuy_self + np.flatnonzero(rng.random(nbuy_infl) < p.repeat.influencer_follow)
    fb = np.concatenate([f_main, buyer[f_extra], infl_f])
    fa = np.concatenate(
        [main[bb[f_main]], account[f_extra], co.account[i_coop[infl_f - nbuy_self]]]
    )
    ft = np.concatenate(
        [
            follow_at[f_main],
            follow_at[buyer[f_extra]],
            t0[infl_f] + rng.integers(60, 3600, len(infl_f)),
        ]
    )
    key = fb * (ctx.accounts.n + 1) + fa
    _, uniq = np.unique(key, return_index=True)
    fb, fa, ft = fb[uniq], fa[uniq], np.minimum(ft[uniq], end - 1)
    order = np.argsort(paid_at)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    ful = Fulfilment(
        status=ful.status[order],
        refund_cents=ful.refund_cents[order],
        refunded_at=ful.refunded_at[order],
        promised_ship_by=ful.promised_ship_by[order],
        shipped_at=ful.shipped_at[order],
        review_order=inverse[ful.review_order],
        review_at=ful.review_at,
        review_score=ful.review_score,
        review_complaint=ful.review_complaint,
    )
    return BlockOrders(
        paid_at=paid_at[order],
        brand_local=brand_local[order],
        sku=sku[order],
        account=account[order],
        session=session[order],
        buyer=buyer[order],
        source=source[order],
        quantity=quantity[order],
        amount_cents=cents[order],
        commission_cents=commission[order],
        coop=coop[order],
        ring=ring[order],
        fulfilment=ful,
        n_buyers=n_buyers + brushing.n_buyers,
        follow_buyer=fb,
        follow_account=fa,
        follow_at=ft,
    )


def _skus(
    rng: np.random.Generator,
    ctx: BlockContext,
    brand_local: np.ndarray,
    month: np.ndarray,
    is_infl: np.ndarray,
    is_brush: np.ndarray,
) -> np.ndarray:
    """SKU of each order: special supply by the month's special share, new SKUs tested by
    influencers in their launch month, brushing on the cheapest SKU, else by hit weight."""
    cat, cp = ctx.catalog, ctx.params.catalog
    blk = ctx.block
    months = ctx.window.months
    nb = len(blk)
    lo, hi = cat.brand_first[blk[0]], cat.brand_first[blk[-1] + 1]
    sku = np.arange(lo, hi)
    s_local = cat.sku_brand[sku] - blk[0]
    launch = cat.sku_launch_month[sku]
    m = np.arange(months)
    on_sale = m[None, :] >= np.maximum(launch, 0)[:, None]
    it_sku, it_m = np.nonzero(on_sale)
    special = cat.sku_special[sku][it_sku]
    weight = cp.weight_floor + cat.sku_hit[sku][it_sku] ** cp.hit_power
    groups = (s_local[it_sku] * months + it_m) * 2 + special
    chooser = GroupedChoice.build(groups, weight, nb * months * 2)
    fresh = (launch[it_sku] == it_m) & ~special
    fresh_idx = np.flatnonzero(fresh)
    new_choice = GroupedChoice.build(
        (s_local[it_sku] * months + it_m)[fresh], np.ones(len(fresh_idx)), nb * months
    )
    n = len(brand_local)
    bm = brand_local * months + month
    want_special = rng.random(n) < ctx.demand.special_share[blk[brand_local], month]
    g_special = bm * 2 + 1
    use_special = want_special & chooser.has(g_special)
    pick = chooser.pick(np.where(use_special, g_special, bm * 2), rng.random(n))
    if len(fresh_idx):
        test = np.flatnonzero(is_infl & (rng.random(n) < cp.test_share) & new_choice.has(bm))
        pick[test] = fresh_idx[new_choice.pick(bm[test], rng.random(len(test)))]
    out = it_sku[np.maximum(pick, 0)] + lo
    # brushing on the cheapest regular SKU of the shop
    if is_brush.any():
        # among the SKUs on sale all window long
        always = ~cat.sku_special[sku] & (launch < 0)
        price = np.where(always, cat.sku_price[sku], np.inf)
        cheapest = np.full(nb, -1, dtype=np.int64)
        order = np.lexsort((price, s_local))
        firsts = np.unique(s_local[order], return_index=True)
        cheapest[firsts[0]] = sku[order[firsts[1]]]
        out = np.where(is_brush, cheapest[brand_local], out)
    return out
