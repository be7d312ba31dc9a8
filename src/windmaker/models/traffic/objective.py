"""The MAP objective of a response curve, compiled: negative log posterior and its exact gradient.

Why hand-written rather than pymc-marketing's transformers compiled by PyTensor, as the fit
did before: a PyTensor call cost 80 µs on a brand's 180 days, and a brand's multi-start fit
makes about 900 of them; these loops cost a few µs. Every worker process also paid PyTensor's
imports and graph compilation before its first brand. The expressions are the library's
(``geometric_adstock`` with mode ``After``, ``logistic_saturation``, ``hill_function``) and the
tests hold them to it, value and gradient, over a grid of parameters.

Parameters are unconstrained: θ = (logit α, log λ, log β, log σ) for the logistic saturation
on the unnormalised adstock, θ = (logit α, log K, log β, log σ, log S) for Hill on the
normalised adstock. ``prior`` = (a_α, b_α, k, rate, sd_β, sd_σ): Beta(a_α, b_α) on α, Gamma(k,
rate) on λ or K, half-normal on β and σ, S flat within the optimiser's bounds; the priors are
evaluated in the original space without the Jacobian, so the optimum is the MAP of the
original parameters (as ``pm.find_MAP`` does).
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: Added to the Hill curve's adstock, as the fit always did: x^S at x = 0 has no gradient in S.
HILL_EPS = 1e-9


@numba.njit(cache=True, nogil=True)
def _adstock(
    s: np.ndarray, alpha: float, l_max: int, normalize: bool
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled; checked through nlp()
    """Geometric adstock x_t = Σ_{l<L} w_l s_{t−l} (zeros before the first day) and dx_t/dα;
    w_l = α^l, divided by Σ_l α^l when ``normalize``."""
    n = s.shape[0]
    w = np.empty(l_max)
    dw = np.empty(l_max)
    power = 1.0
    for lag in range(l_max):
        w[lag] = power
        dw[lag] = lag * power / alpha if lag > 0 else 0.0
        power *= alpha
    if normalize:
        z, dz = w.sum(), dw.sum()
        for lag in range(l_max):
            dw[lag] = (dw[lag] * z - w[lag] * dz) / (z * z)
            w[lag] = w[lag] / z
    x = np.zeros(n)
    dx = np.zeros(n)
    for t in range(n):
        acc = dacc = 0.0
        for lag in range(min(l_max, t + 1)):
            acc += w[lag] * s[t - lag]
            dacc += dw[lag] * s[t - lag]
        x[t] = acc
        dx[t] = dacc
    return x, dx


@numba.njit(cache=True, nogil=True, inline="always")
def _curve(
    x: float, sat: float, ln_k: float, shape: float, hill: bool
) -> tuple[float, float, float, float]:  # pragma: no cover - compiled; checked through nlp()
    """The saturation f at adstock ``x`` and its derivatives in x, in λ or K, and in S."""
    if hill:
        # f = x^S / (K^S + x^S) = 1 / (1 + e^{−z}), z = S (ln x − ln K)
        ln_ratio = math.log(x + HILL_EPS) - ln_k
        f = 1.0 / (1.0 + math.exp(-shape * ln_ratio))
        df = f * (1.0 - f)
        return f, df * shape / (x + HILL_EPS), -df * shape / sat, df * ln_ratio
    # f = (1 − e^{−λx}) / (1 + e^{−λx}) = tanh(λx/2)
    f = math.tanh(0.5 * sat * x)
    d = 0.5 * (1.0 - f * f)
    return f, d * sat, d * x, 0.0


@numba.njit(cache=True, nogil=True)
def _nlp(
    theta: np.ndarray,
    s: np.ndarray,
    y: np.ndarray,
    mask: np.ndarray,
    prior: np.ndarray,
    l_max: int,
    hill: bool,
    grad: np.ndarray,
) -> float:  # pragma: no cover - compiled; checked through nlp()
    """Negative log posterior; its gradient in θ is written into ``grad``."""
    alpha = 1.0 / (1.0 + math.exp(-theta[0]))
    sat, beta, sigma = math.exp(theta[1]), math.exp(theta[2]), math.exp(theta[3])
    shape = math.exp(theta[4]) if hill else 1.0
    x, dx = _adstock(s, alpha, l_max, hill)
    ln_k = math.log(sat)
    loglik = g_alpha = g_sat = g_beta = g_sigma = g_shape = 0.0
    for t in range(s.shape[0]):
        f, df_dx, df_dsat, df_dshape = _curve(x[t], sat, ln_k, shape, hill)
        if mask[t] == 0.0:
            continue
        r = (y[t] - beta * f) / sigma
        loglik += mask[t] * (-0.5 * r * r - math.log(sigma))
        dmu = mask[t] * r / sigma  # d loglik / d mu
        g_alpha += dmu * beta * df_dx * dx[t]
        g_sat += dmu * beta * df_dsat
        g_shape += dmu * beta * df_dshape
        g_beta += dmu * f
        g_sigma += mask[t] * (r * r - 1.0) / sigma
    logprior = (
        (prior[0] - 1.0) * math.log(alpha)
        + (prior[1] - 1.0) * math.log1p(-alpha)
        + (prior[2] - 1.0) * ln_k
        - prior[3] * sat
        - 0.5 * (beta / prior[4]) ** 2
        - 0.5 * (sigma / prior[5]) ** 2
    )
    g_alpha += (prior[0] - 1.0) / alpha - (prior[1] - 1.0) / (1.0 - alpha)
    g_sat += (prior[2] - 1.0) / sat - prior[3]
    g_beta += -beta / prior[4] ** 2
    g_sigma += -sigma / prior[5] ** 2
    # chain rule to θ, sign of the negative log posterior
    grad[0] = -g_alpha * alpha * (1.0 - alpha)
    grad[1] = -g_sat * sat
    grad[2] = -g_beta * beta
    grad[3] = -g_sigma * sigma
    if hill:
        grad[4] = -g_shape * shape
    return -(loglik + logprior)


@numba.njit(cache=True, nogil=True)
def _mu(
    theta: np.ndarray, s: np.ndarray, l_max: int, hill: bool
) -> np.ndarray:  # pragma: no cover - compiled; checked through predict()
    alpha = 1.0 / (1.0 + math.exp(-theta[0]))
    sat, beta = math.exp(theta[1]), math.exp(theta[2])
    shape = math.exp(theta[4]) if hill else 1.0
    x, _ = _adstock(s, alpha, l_max, hill)
    mu = np.empty(s.shape[0])
    for t in range(s.shape[0]):
        mu[t] = beta * _curve(x[t], sat, math.log(sat), shape, hill)[0]
    return mu


def nlp(
    theta: np.ndarray,
    s: np.ndarray,
    y: np.ndarray,
    mask: np.ndarray,
    prior: np.ndarray,
    *,
    l_max: int,
    hill: bool,
) -> tuple[float, np.ndarray]:
    """(negative log posterior, its gradient in θ) of the scaled series ``s``, ``y``."""
    grad = np.zeros(theta.shape[0])
    value = _nlp(np.asarray(theta, dtype=np.float64), s, y, mask, prior, l_max, hill, grad)
    return value, grad


def predict(theta: np.ndarray, s: np.ndarray, *, l_max: int, hill: bool) -> np.ndarray:
    """The curve's mean GMV per day (scaled) at θ."""
    return _mu(np.asarray(theta, dtype=np.float64), s, l_max, hill)


def warm_up() -> None:
    """Load the compiled loops now (from numba's on-disk cache after the first run)."""
    one = np.ones(3)
    for hill in (False, True):
        nlp(np.zeros(5 if hill else 4), one, one, one, one.repeat(2), l_max=2, hill=hill)
        predict(np.zeros(5 if hill else 4), one, l_max=2, hill=hill)
