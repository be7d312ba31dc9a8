"""Vectorised grouped sampling: pick one item per query, within the query's group, by weight.

Items are laid out sorted by group; a query of group g draws ``u`` and takes the item whose
cumulative weight (within g) first exceeds ``u × total(g)``, by one ``searchsorted`` over the
global cumulative sum. No Python loop over groups or queries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GroupedChoice:
    """Items (indices into the caller's arrays) grouped by an integer key, with weights."""

    order: np.ndarray  # item indices sorted by group
    cum: np.ndarray  # cumulative weight along ``order``
    start: np.ndarray  # per group: cumulative weight before its first item
    total: np.ndarray  # per group: total weight

    @classmethod
    def build(cls, group: np.ndarray, weight: np.ndarray, n_groups: int) -> GroupedChoice:
        order = np.argsort(group, kind="stable")
        w = np.asarray(weight, dtype=float)[order]
        cum = np.cumsum(w)
        total = np.bincount(group, weights=weight, minlength=n_groups).astype(float)
        start = np.cumsum(total) - total
        return cls(order, cum, start, total)

    def pick(self, group: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Item index for each query of ``group`` (−1 where the group has no weight)."""
        if len(self.order) == 0:
            return np.full(len(group), -1, dtype=np.int64)
        tot = self.total[group]
        target = self.start[group] + u * tot
        pos = np.searchsorted(self.cum, target, side="right")
        pos = np.minimum(pos, len(self.order) - 1)
        out = self.order[pos]
        return np.where(tot > 0, out, -1)

    def has(self, group: np.ndarray) -> np.ndarray:
        return self.total[group] > 0


def sample_hours(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after midnight of ``n`` orders outside live rooms, with the evening peak of
    live commerce (share by hour below), uniform within the hour."""
    return np.searchsorted(_HOUR_CUM, rng.random(n), side="right") * 3600 + rng.integers(0, 3600, n)


_HOUR_WEIGHTS = np.array(
    [
        2,
        1,
        0.6,
        0.4,
        0.3,
        0.4,
        0.8,
        1.5,
        2.5,
        3.5,
        4,
        4.2,
        4.5,
        4,
        3.8,
        3.8,
        4,
        4.5,
        5.5,
        7,
        8.5,
        9,
        7,
        4,
    ]
)
_HOUR_CUM = np.cumsum(_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum())
_HOUR_CUM[-1] = 1.0
