"""Maximum-likelihood fits of BG/NBD, Pareto/NBD and Gamma-Gamma from compiled log-likelihoods.

Each likelihood is pymc-marketing's expression with its exact gradient, compiled once (numba,
cached on disk) and optimised with SciPy's L-BFGS-B for each brand.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numba
import numpy as np
from scipy import optimize, special

from windmaker.models.parallel import one_blas_thread
from windmaker.models.pareto_nbd import coarse_nll, quadrature_nll


@dataclass(frozen=True)
class RepeatFit:
    """A fitted repeat-purchase model: ``bg_nbd`` (r, alpha, a, b) or ``pareto_nbd`` (r, alpha, s, beta)."""

    model: Literal["bg_nbd", "pareto_nbd"]
    params: dict[str, float]
    loglik: float
    buyers: int
    converged: bool
    loglik_bg_nbd: float | None = None
    loglik_pareto_nbd: float | None = None


@dataclass(frozen=True)
class SpendFit:
    """A fitted Gamma-Gamma spend model: shape p, q and scale gamma (the library's ``v``)."""

    p: float
    q: float
    gamma: float
    loglik: float
    buyers: int
    converged: bool

    @property
    def population_mean(self) -> float:
        """E[spend per occasion] = gamma p / (q − 1), finite only for q > 1."""
        return self.gamma * self.p / (self.q - 1) if self.q > 1 else math.inf


def warm_up() -> None:
    """Load the compiled likelihoods now (a worker process does this once, before its first
    brand): from numba's on-disk cache, a few milliseconds after the first run on a machine."""
    one = np.ones(1)
    _bg_nbd_nll(np.zeros(4), one, one, one * 2, one)
    _gamma_gamma_nll(np.zeros(3), one, one, one)
    quadrature_nll(np.zeros(4), one, one, one * 2, one)


# Why hand-written likelihoods rather than pymc-marketing's, compiled by PyTensor: a compiled
# PyTensor function costs about 230 µs a call on a brand's 1,600 cells against 60 µs here, and
# building it costs 3.5 s of imports and graph rewriting in every worker process, one worker at
# a time; the market fit calls these tens of thousands of times. The expressions are the
# library's (BG/NBD: ``BetaGeoNBD.logp``; Gamma-Gamma: ``GammaGammaModel``'s potential) and the
# tests hold them to it, value and gradient, over a grid of parameters.


@numba.njit(cache=True, nogil=True)
def _bg_nbd_kernel(  # pragma: no cover - compiled; checked through _bg_nbd_nll
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    w: np.ndarray,
    grad: np.ndarray,
) -> float:
    """Σ w · LL of BG/NBD and its derivatives in (r, α, a, b), written into ``grad``.

    With x repeat purchases, D₁ = ((α+t_x)/(α+T))^(r+x) and D₂ = 1{x>0} a/(b+x−1):
    LL = ln Γ(r+x) − ln Γ(r) + ln Γ(a+b) + ln Γ(b+x) − ln Γ(b) − ln Γ(a+b+x)
    + r ln α − (r+x) ln(α+t_x) + ln(D₁ + D₂). x is a whole count, so each difference of
    digammas in the derivatives is a finite sum: ψ(z+x) − ψ(z) = Σ_{k<x} 1/(z+k).
    """
    log_alpha = math.log(alpha)
    lg_r, lg_b, lg_ab = math.lgamma(r), math.lgamma(b), math.lgamma(a + b)
    total = 0.0
    g_r = g_alpha = g_a = g_b = 0.0
    for i in range(x.shape[0]):
        xi, wi = x[i], w[i]
        p = r + xi
        ln_at, ln_aT = math.log(alpha + t_x[i]), math.log(alpha + T[i])
        c1 = p * (ln_at - ln_aT)
        n = int(xi)
        if n > 0:
            c2 = math.log(a) - math.log(b + xi - 1.0)
            hi = max(c1, c2)
            tail = hi + math.log(math.exp(c1 - hi) + math.exp(c2 - hi))
            w1 = math.exp(c1 - tail)
        else:
            tail, w1 = c1, 1.0
        w2 = 1.0 - w1
        total += wi * (
            math.lgamma(p) - lg_r + lg_ab + math.lgamma(b + xi) - lg_b - math.lgamma(a + b + xi)
            + r * log_alpha - p * ln_at + tail
        )  # fmt: skip
        s_r = s_b = s_ab = 0.0
        for k in range(n):
            s_r += 1.0 / (r + k)
            s_b += 1.0 / (b + k)
            s_ab += 1.0 / (a + b + k)
        g_r += wi * (s_r + log_alpha - ln_at + w1 * (ln_at - ln_aT))
        g_alpha += wi * (
            r / alpha
            - p / (alpha + t_x[i])
            + w1 * p * (1.0 / (alpha + t_x[i]) - 1.0 / (alpha + T[i]))
        )
        if n > 0:
            g_a += wi * (w2 / a - s_ab)
            g_b += wi * (s_b - s_ab - w2 / (b + xi - 1.0))
    grad[0], grad[1], grad[2], grad[3] = g_r, g_alpha, g_a, g_b
    return total


def _bg_nbd_nll(
    theta: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """Weighted BG/NBD negative log-likelihood and its gradient in θ = ln(r, α, a, b)."""
    params = np.exp(theta)
    grad = np.empty(4)
    total = _bg_nbd_kernel(*(float(v) for v in params), x, t_x, T, w, grad)
    return -total, -grad * params


def _gamma_gamma_nll(
    theta: np.ndarray, x: np.ndarray, zbar: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """Weighted Gamma-Gamma negative log-likelihood and its gradient in θ = ln(p, q, γ).

    Fader & Hardie (2013) eq. 1a: LL = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln z̄
    + px ln x − (px+q) ln(x z̄+γ). Vectorised with SciPy's special functions (px is not whole,
    so its digammas have no finite sum).
    """
    p, q, gamma = (float(v) for v in np.exp(theta))
    px = p * x
    ln_xz = np.log(x * zbar + gamma)
    psi_pxq = special.digamma(px + q)
    ll = (
        special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * math.log(gamma)
        + (px - 1) * np.log(zbar) + px * np.log(x) - (px + q) * ln_xz
    )  # fmt: skip
    d_p = x * (psi_pxq - special.digamma(px) + np.log(zbar) + np.log(x) - ln_xz)
    d_q = psi_pxq - special.digamma(q) + math.log(gamma) - ln_xz
    d_gamma = q / gamma - (px + q) / (x * zbar + gamma)
    grad = np.array([w @ d_p, w @ d_q, w @ d_gamma]) * np.array([p, q, gamma])
    return -float(w @ ll), -grad


#: L-BFGS-B stopping rule: relative decrease of the mean log-likelihood below 1e-13, or every
#: gradient component below 1e-9. SciPy's defaults (2.2e-9, 1e-5) stop where the flat ridge
#: of (r, α) still moves a few 1e-5; this costs a few iterations more and makes the estimate
#: reproducible to 1e-6 whichever order or grouping of the buyers it is given.
_LBFGSB_OPTIONS = {"ftol": 1e-13, "gtol": 1e-9, "maxiter": 1000}


def _minimise(
    fn: Callable[..., Any], start: np.ndarray, data: Sequence[np.ndarray], *, polish: bool = True
) -> Any:
    """L-BFGS-B on the mean negative log-likelihood per buyer; ``fun`` is returned as the total.

    Per-buyer scaling keeps the first step of the line search sane on large brands, whose
    total gradient would otherwise throw the parameters to their bounds. ``polish`` continues
    with the tight stopping rule (see ``_LBFGSB_OPTIONS``).
    """
    n = max(float(np.sum(data[-1])), 1.0)

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        val, grad = fn(theta, *data)
        # PyTensor reuses its output buffers between calls: copy before SciPy keeps a reference.
        grad = np.array(grad, dtype=float, copy=True) / n
        if not np.isfinite(val) or not np.isfinite(grad).all():
            return 1e10, np.zeros_like(theta)
        return float(val) / n, grad

    bounds = [(-15.0, 15.0)] * len(start)
    with np.errstate(all="ignore"), one_blas_thread():
        res = optimize.minimize(f, start, jac=True, method="L-BFGS-B", bounds=bounds)
        if not polish:
            res.fun = float(res.fun) * n
            return res
        # Polish from there with the tight rule. Convergence is judged by SciPy's default
        # rule (either run): the tight one can end in a line search that cannot improve at
        # machine precision, e.g. Gamma-Gamma's q and γ drifting together towards their
        # bounds when spend is homogeneous.
        tight = optimize.minimize(
            f, res.x, jac=True, method="L-BFGS-B", bounds=bounds, options=_LBFGSB_OPTIONS
        )
    if tight.fun <= res.fun:
        res.x, res.fun, res.success = tight.x, tight.fun, bool(res.success or tight.success)
    res.fun = float(res.fun) * n
    return res


def float_array(a: Iterable[float] | np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.float64))


def fit_bg_nbd(
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray | None = None,
) -> RepeatFit:
    """BG/NBD (Fader, Hardie & Lee 2005) maximum likelihood = MAP with flat priors.

    LL(r, α, a, b | x, t_x, T) = ln Γ(r+x) − ln Γ(r) + ln Γ(a+b) + ln Γ(b+x) − ln Γ(b)
    − ln Γ(a+b+x) + r ln α − (r+x) ln(α+t_x)
    + ln[((α+t_x)/(α+T))^(r+x) + 1{x>0} a/(b+x−1)], summed over buyers with their weights.
    """
    x, tx, tt = float_array(frequency), float_array(recency), float_array(T)
    w = np.ones_like(x) if weights is None else float_array(weights)
    # b = 1 is a removable singularity of a/(b+x−1) at x = 0 (NaN gradient): start away from it.
    start = np.log([1.0, max(float(np.average(tt, weights=w)) / 4, 1e-3), 0.8, 2.5])
    res = _minimise(_bg_nbd_nll, start, (x, tx, tt, w))
    r, alpha, a, b = np.exp(res.x)
    return RepeatFit(
        "bg_nbd",
        {"r": r, "alpha": alpha, "a": a, "b": b},
        -float(res.fun),
        int(w.sum()),
        bool(res.success),
        loglik_bg_nbd=-float(res.fun),
    )


def fit_pareto_nbd(
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray | None = None,
    start_from: RepeatFit | None = None,
) -> RepeatFit:
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987) maximum likelihood.

    Purchases are Poisson(λ) while alive, λ ~ Gamma(r, α); lifetimes are Exponential(μ),
    μ ~ Gamma(s, β). Optimised like BG/NBD (L-BFGS-B with the exact gradient of a compiled
    likelihood) on the integral form of the likelihood; the log-likelihood reported, which
    decides between the models, is the ₂F₁ form at the optimum (:mod:`.pareto_nbd`).
    Differencing SciPy's ₂F₁ instead cost five likelihoods per step and 20 times more per
    likelihood where s is large: 0.9 CPU-second per brand of the demo market against
    0.02 for BG/NBD.

    s and β lie on a flat ridge of the likelihood when the buyers' dropout rates hardly
    differ (s → ∞ with s/β fixed): the optimiser's stopping point along it moves with the
    start, while the log-likelihood and the predictions do not.

    ``start_from``, a BG/NBD fit of the same buyers, gives the optimiser a warm start: r and α
    mean the same purchase-rate Gamma in both models, and the dropout rate per unit of time
    is about the BG/NBD dropout per purchase times the purchase rate, E[μ] = s/β ≈
    a/(a+b) · r/α (started with s = 1).
    """
    x, tx, tt = float_array(frequency), float_array(recency), float_array(T)
    w = np.ones_like(x) if weights is None else float_array(weights)
    mean_t = max(float(np.average(tt, weights=w)), 1e-3)
    start = np.log([0.5, mean_t / 4, 0.5, mean_t])
    if start_from is not None and start_from.model == "bg_nbd" and start_from.converged:
        q = start_from.params
        dropout = q["a"] / (q["a"] + q["b"]) * q["r"] / q["alpha"]
        warm = np.log([q["r"], q["alpha"], 1.0, 1.0 / max(dropout, 1e-6)])
        if np.all(np.isfinite(warm)) and np.all(np.abs(warm) < 15):
            start = warm
    # First near the optimum on the coarse quadrature, then on to it on the full one: the
    # two stages took 59% of the time of the full quadrature alone (200 brands of the
    # 21M-order benchmark market), where Pareto/NBD was two thirds of the lifetime-value fits.
    # No tight polish: along the ridge it would walk s towards infinity for a gain below 1e-9.
    near = _minimise(coarse_nll, start, (x, tx, tt, w), polish=False)
    res = _minimise(quadrature_nll, near.x, (x, tx, tt, w), polish=False)
    r, alpha, s, beta = np.exp(res.x)
    loglik = -float(res.fun)
    return RepeatFit(
        "pareto_nbd",
        {"r": r, "alpha": alpha, "s": s, "beta": beta},
        loglik,
        int(w.sum()),
        bool(res.success),
        loglik_pareto_nbd=loglik,
    )


def fit_gamma_gamma(
    frequency: np.ndarray, monetary_value: np.ndarray, weights: np.ndarray | None = None
) -> SpendFit:
    """Gamma-Gamma spend model (Fader & Hardie 2013) on repeat buyers, flat priors.

    The mean of x repeat transactions, zbar, given ν is Gamma(p x, ν x); ν ~ Gamma(q, γ):
    LL = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln zbar + px ln x − (px+q) ln(x zbar+γ).
    """
    x, z = float_array(frequency), float_array(monetary_value)
    w = np.ones_like(x) if weights is None else float_array(weights)
    start = np.log([1.0, 2.0, max(float(np.average(z, weights=w)), 1e-3)])
    res = _minimise(_gamma_gamma_nll, start, (x, z, w))
    p, q, gamma = np.exp(res.x)
    return SpendFit(p, q, gamma, -float(res.fun), int(w.sum()), bool(res.success))


def fit_repeat(
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    try_pareto: bool = True,
    min_gain: float = 2.0,
) -> RepeatFit:
    """BG/NBD, replaced by Pareto/NBD when its log-likelihood is higher by at least ``min_gain``.

    Both have four parameters, so the likelihood comparison is the AIC/BIC comparison; the
    margin keeps the simpler, closed-form BG/NBD unless Pareto/NBD is clearly better.
    """
    bg = fit_bg_nbd(frequency, recency, T, weights)
    if not try_pareto:
        return bg
    pn = fit_pareto_nbd(frequency, recency, T, weights, start_from=bg)
    if pn.converged and (not bg.converged or pn.loglik > bg.loglik + min_gain):
        return _replace(pn, loglik_bg_nbd=bg.loglik)
    return _replace(bg, loglik_pareto_nbd=pn.loglik)


def _replace(fit: RepeatFit, **changes: Any) -> RepeatFit:
    from dataclasses import replace

    return replace(fit, **changes)
