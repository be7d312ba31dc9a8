"""Live-stream sessions (直播场次) of brand accounts, and how self-sold orders land in them.

An account is live on a day with probability ``base + weight × s_self`` (main and matrix
accounts have their own base and weight); a session lasts ``hours`` (uniform range) and starts
between 09:00 and the hour that ends it by 23:00. Viewers UV = fans^0.5 × hours × (0.5 + quality)
× lognormal noise; watch seconds = UV × 60 × (1 + 3·quality) × lognormal noise. A self-sold order
placed in a live room picks a session of its brand in the same week of the month with
probability ∝ duration × quality, so an account's GMV per live hour is proportional to its true
quality.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from windmaker.simulator.accounts import Accounts
from windmaker.simulator.config import SECONDS_PER_DAY, SimulatorParams, Window


@dataclass(frozen=True)
class Sessions:
    """Sessions of one block (brand accounts or influencer cooperations)."""

    account: np.ndarray
    brand_local: (
        np.ndarray
    )  # brand of the session within the block (owner or dedicated/cooperating)
    day: np.ndarray
    start_s: np.ndarray
    duration_s: np.ndarray
    viewers: np.ndarray
    watch_seconds: np.ndarray
    dedicated: np.ndarray  # bool: 达人专场 for ``brand_local``
    weight: np.ndarray  # weight of the session in order assignment

    @property
    def n(self) -> int:
        return len(self.account)


def session_audience(
    rng: np.random.Generator, fans: np.ndarray, hours: np.ndarray, quality: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Viewers and total watch seconds of sessions (formula in the module docstring)."""
    n = len(fans)
    uv = np.sqrt(np.maximum(fans, 1.0)) * hours * (0.5 + quality) * np.exp(rng.normal(0, 0.3, n))
    uv = np.maximum(uv, 1.0).astype(np.int64)
    watch = uv * 60.0 * (1.0 + 3.0 * quality) * np.exp(rng.normal(0, 0.25, n))
    return uv, watch.astype(np.int64)


def brand_sessions(
    rng: np.random.Generator,
    accounts: Accounts,
    block_brands: np.ndarray,
    self_skill: np.ndarray,
    window: Window,
    params: SimulatorParams,
) -> Sessions:
    """Sessions of the main and matrix accounts of ``block_brands`` over the window.

    ``self_skill`` is [block brands, months]; NaN before a brand joins (no sessions).
    """
    lp = params.live
    first = accounts.brand_first
    acc = np.concatenate([np.arange(first[b], first[b + 1]) for b in block_brands])
    local = np.repeat(np.arange(len(block_brands)), first[block_brands + 1] - first[block_brands])
    days = window.days
    day_month = window.day_month
    is_main = accounts.kind[acc] == 0
    skill = np.nan_to_num(self_skill[local][:, day_month], nan=-1.0)  # [acc, days]
    p = np.where(
        is_main[:, None],
        lp.main_base + lp.main_weight * skill,
        lp.matrix_base + lp.matrix_weight * skill,
    )
    day_start = window.start_seconds + np.arange(days) * SECONDS_PER_DAY
    alive = (day_start[None, :] >= accounts.created_s[acc][:, None]) & (skill >= 0)
    live = (rng.random((len(acc), days)) < p) & alive
    a_idx, day = np.nonzero(live)
    n = len(a_idx)
    lo = np.where(is_main[a_idx], lp.main_hours[0], lp.matrix_hours[0])
    hi = np.where(is_main[a_idx], lp.main_hours[1], lp.matrix_hours[1])
    hours = lo + (hi - lo) * rng.random(n)
    latest = 23.0 - hours
    start_h = 9.0 + (latest - 9.0) * rng.random(n)
    start_s = day_start[day] + (start_h * 3600).astype(np.int64)
    duration = (hours * 3600).astype(np.int64)
    account = acc[a_idx]
    q = accounts.quality[account]
    uv, watch = session_audience(rng, accounts.fans[account].astype(float), hours, q)
    return Sessions(
        account=account,
        brand_local=local[a_idx],
        day=day,
        start_s=start_s,
        duration_s=duration,
        viewers=uv,
        watch_seconds=watch,
        dedicated=np.zeros(n, dtype=bool),
        weight=duration * q,
    )


def concat_sessions(parts: list[Sessions]) -> Sessions:
    return Sessions(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in Sessions.__dataclass_fields__)
    )
