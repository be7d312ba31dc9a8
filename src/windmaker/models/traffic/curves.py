"""The fitted response curves in yuan (logistic and Hill): GMV, ROAS and marginal ROAS at a daily
spend, the break-even spend, and a simulated daily series.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class ResponseCurve:
    """A brand's fitted response, in yuan: g(s) = beta tanh(lam k s / 2), k = Σ_{l<L} alpha^l.

    ``lam`` is per yuan of adstock, ``beta`` is paid GMV per day at saturation.
    """

    alpha: float
    lam: float
    beta: float
    l_max: int
    sigma: float = 0.0
    r2: float = float("nan")
    converged: bool = True
    saturation: str = "logistic"
    concave: bool = True

    @property
    def half_saturation_spend(self) -> float:
        """Daily spend at half of β: tanh(λ k s / 2) = 1/2, s = ln 3 / (λ k)."""
        return math.log(3) / (self.lam * self.carryover)

    @property
    def carryover(self) -> float:
        """k = Σ_{l=0}^{L-1} α^l = (1 − α^L)/(1 − α): steady adstock per yuan of daily spend."""
        if abs(1 - self.alpha) < 1e-12:
            return float(self.l_max)
        return (1 - self.alpha**self.l_max) / (1 - self.alpha)

    def gmv(self, spend: np.ndarray | float) -> np.ndarray:
        """Steady-state daily paid GMV at a constant daily spend: β tanh(λ k s / 2)."""
        return self.beta * np.tanh(self.lam * self.carryover * np.asarray(spend, float) / 2)

    def roas(self, spend: np.ndarray | float) -> np.ndarray:
        """g(s)/s; the limit β λ k / 2 at s = 0."""
        s = np.asarray(spend, float)
        with np.errstate(all="ignore"):
            return np.where(s > 0, self.gmv(s) / s, self.max_marginal_roas)

    @property
    def max_marginal_roas(self) -> float:
        """g'(0) = β λ k / 2, the return on the first yuan."""
        return self.beta * self.lam * self.carryover / 2

    def marginal_roas(self, spend: np.ndarray | float) -> np.ndarray:
        """g'(s) = (β λ k / 2) sech²(λ k s / 2)."""
        u = self.lam * self.carryover * np.asarray(spend, float) / 2
        return self.max_marginal_roas / np.cosh(np.minimum(u, 350)) ** 2

    def spend_at_marginal_roas(self, target: float | np.ndarray) -> np.ndarray:
        """Inverse of g': s = 2 arccosh(√(g'(0)/m)) / (λ k) for m < g'(0), else 0."""
        m = np.asarray(target, float)
        with np.errstate(all="ignore"):
            ratio = np.where(m > 0, self.max_marginal_roas / m, np.inf)
            s = 2 * np.arccosh(np.sqrt(np.maximum(ratio, 1.0))) / (self.lam * self.carryover)
        return np.where(ratio > 1, s, 0.0)


@dataclass(frozen=True)
class HillCurve:
    """A brand's fitted Hill response, in yuan: g(s) = β s^S / (s^S + K^S).

    The adstock is normalised, so a constant daily spend s has steady adstock s and ``kappa``
    (K) is directly the daily spend at half saturation; ``shape`` (S) > 1 makes it S-shaped.
    """

    alpha: float
    kappa: float
    shape: float
    beta: float
    l_max: int
    sigma: float = 0.0
    r2: float = float("nan")
    converged: bool = True
    saturation: str = "hill"

    @property
    def concave(self) -> bool:
        """g is concave on s ≥ 0 iff S ≤ 1."""
        return self.shape <= 1.0

    @property
    def half_saturation_spend(self) -> float:
        """K: g(K) = β / 2."""
        return self.kappa

    @property
    def inflection(self) -> float:
        """Spend where g'' = 0: s* = K ((S − 1)/(S + 1))^{1/S} for S > 1 (0 otherwise).

        g is convex below s* and concave above it, so g' is largest at s*.
        """
        if self.shape <= 1:
            return 0.0
        return self.kappa * ((self.shape - 1) / (self.shape + 1)) ** (1 / self.shape)

    def gmv(self, spend: np.ndarray | float) -> np.ndarray:
        """Steady-state daily paid GMV at a constant daily spend: β s^S / (s^S + K^S)."""
        s = np.maximum(np.asarray(spend, float), 0.0)
        x = (s / self.kappa) ** self.shape
        return self.beta * x / (1 + x)

    def roas(self, spend: np.ndarray | float) -> np.ndarray:
        """g(s)/s; the limit at s = 0 is β/K for S = 1 and 0 for S > 1."""
        s = np.asarray(spend, float)
        lim = self.beta / self.kappa if self.shape == 1 else 0.0
        with np.errstate(all="ignore"):
            return np.where(s > 0, self.gmv(s) / s, lim)

    def marginal_roas(self, spend: np.ndarray | float) -> np.ndarray:
        """g'(s) = β S K^S s^{S−1} / (s^S + K^S)² = (β S / s) x / (1 + x)², x = (s/K)^S."""
        s = np.maximum(np.asarray(spend, float), 1e-300)
        x = (s / self.kappa) ** self.shape
        return self.beta * self.shape / s * x / (1 + x) ** 2

    @property
    def max_marginal_roas(self) -> float:
        """max g' = g'(s*) at the inflection (g'(0) = β/K when S = 1)."""
        if self.shape <= 1:
            return float(self.marginal_roas(1e-12 * self.kappa))
        return float(self.marginal_roas(self.inflection))

    def spend_at_marginal_roas(self, target: float | np.ndarray) -> np.ndarray:
        """The spend on the concave branch (s ≥ s*) where g'(s) = m; 0 when m ≥ max g'.

        g' decreases strictly on [s*, ∞), so a bisection in log s finds it (60 halvings).
        """
        m = np.atleast_1d(np.asarray(target, float))
        low = np.full(m.shape, max(self.inflection, 1e-9 * self.kappa))
        high = np.full(m.shape, self.kappa * 1e6)
        for _ in range(80):
            mid = np.sqrt(low * high)
            above = self.marginal_roas(mid) > m
            low = np.where(above, mid, low)
            high = np.where(above, high, mid)
        out = np.where(m < self.max_marginal_roas, np.sqrt(low * high), 0.0)
        return out.reshape(np.shape(target))


class Curve(Protocol):
    """What the budget and the tables need of a fitted response curve."""

    @property
    def concave(self) -> bool: ...
    @property
    def max_marginal_roas(self) -> float: ...
    def gmv(self, spend: np.ndarray | float) -> np.ndarray: ...
    def marginal_roas(self, spend: np.ndarray | float) -> np.ndarray: ...
    def spend_at_marginal_roas(self, target: float | np.ndarray) -> np.ndarray: ...


def simulate_series(
    curve: ResponseCurve, spend: Sequence[float], noise_sd: float = 0.0, seed: int = 0
) -> np.ndarray:
    """Daily paid GMV from ``curve`` for a spend series: β tanh(λ A_t / 2) + noise (tests, demos)."""
    s = np.asarray(spend, float)
    weights = curve.alpha ** np.arange(curve.l_max)
    adstock = np.convolve(s, weights)[: len(s)]
    mu = curve.beta * np.tanh(curve.lam * adstock / 2)
    rng = np.random.default_rng(seed)
    return np.asarray(np.maximum(mu + rng.normal(0, noise_sd, len(s)), 0.0))
