"""The Pareto/NBD likelihood by quadrature, against three independent references.

- a 40-digit adaptive quadrature (mpmath) of the same integral, over a wide grid of parameters:
  the accuracy claim of ``pareto_nbd.QUADRATURE_NODES``;
- the ₂F₁ closed form (SciPy, the form of ``lifetimes``) and pymc-marketing's ``ParetoNBD``
  distribution, on CDNOW-like parameters: the same likelihood, not just a close one;
- central differences of the likelihood itself: the gradient the optimiser follows.

And where the closed form gives up (s → ∞ with s/β fixed: every buyer drops out at one rate, ₂F₁
overflows) the quadrature still equals the likelihood of that limit, computed in mpmath.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from scipy import optimize, special

from windmaker.models import clv
from windmaker.models.pareto_nbd import pareto_nbd_p_alive, quadrature_loglik, quadrature_nll

from .test_clv_cells import simulate_brand


def loglik_2f1(
    x: np.ndarray, t_x: np.ndarray, T: np.ndarray, r: float, alpha: float, s: float, beta: float
) -> np.ndarray:
    """Per-buyer Pareto/NBD log-likelihood with ₂F₁, term for term pymc-marketing's
    ``ParetoNBD.logp``: LL = A₁ + logaddexp(A₂, A₃), m = max(α, β), d = |α − β|,
    A₁ = ln Γ(r+x) − ln Γ(r) + r ln α + s ln β − (r+s+x) ln(m+t_x),
    A₂ = ln s − ln(r+s+x) + ln ₂F₁(r+s+x, c₁; r+s+x+1; d/(m+t_x)),
    A₃ = ln(r+x) − ln(r+s+x) + ln ₂F₁(r+s+x, c₂; r+s+x+1; d/(m+T)) − (r+s+x) ln((m+T)/(m+t_x)),
    (c₁, c₂) = (s+1, s) when α ≥ β, else (r+x, r+x+1)."""
    rsx, rx = r + s + x, r + x
    hi, diff = max(alpha, beta), abs(alpha - beta)
    c1, c2 = (s + 1 + 0 * x, s + 0 * x) if alpha >= beta else (rx, rx + 1)
    ref = rsx * np.log(hi + t_x)
    a1 = special.gammaln(rx) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta) - ref
    a2 = np.log(s) - np.log(rsx) + np.log(special.hyp2f1(rsx, c1, rsx + 1, diff / (hi + t_x)))
    a3 = (
        np.log(rx)
        - np.log(rsx)
        + np.log(special.hyp2f1(rsx, c2, rsx + 1, diff / (hi + T)))
        - rsx * np.log(hi + T)
        + ref
    )
    return np.asarray(a1 + np.logaddexp(a2, a3))


def loglik_mp(
    x: float, t_x: float, T: float, r: float, alpha: float, s: float | None, beta: float
) -> float:
    """The integral form in 40 digits: Γ(r+x)α^r/Γ(r) · [S(T)(α+T)^−(r+x) + ∫_{t_x}^T
    (α+τ)^−(r+x) f(τ) dτ], with the lifetime's survival S and density f: Gamma(s, β) mixed,
    S = (β/(β+τ))^s and f = s β^s (β+τ)^−(s+1); or, with ``s=None``, one rate μ = ``beta``:
    S = e^−μτ, f = μ e^−μτ (the limit s → ∞ with s/β = μ)."""
    mp.mp.dps = 40
    r_, a_, x_, tx, tt = (mp.mpf(v) for v in (r, alpha, x, t_x, T))
    if s is None:
        mu = mp.mpf(beta)

        def survival(t: mp.mpf) -> mp.mpf:
            return mp.exp(-mu * t)

        def density(t: mp.mpf) -> mp.mpf:
            return mu * mp.exp(-mu * t)
    else:
        s_, b_ = mp.mpf(s), mp.mpf(beta)

        def survival(t: mp.mpf) -> mp.mpf:
            return (b_ / (b_ + t)) ** s_

        def density(t: mp.mpf) -> mp.mpf:
            return s_ / b_ * (b_ / (b_ + t)) ** (s_ + 1)

    def integrand(h: mp.mpf) -> mp.mpf:
        return (a_ + tx + h) ** (-(r_ + x_)) * density(tx + h)

    # In units of the integrand at t_x (a tiny number when s is large), with breakpoints at
    # multiples of its initial decay length; without either, mpmath's default tolerance left
    # the result 1e-7 off.
    span = tt - tx
    at_tx = integrand(mp.mpf(0))
    rate = (r_ + x_) / (a_ + tx) - mp.diff(lambda t: mp.log(density(t)), tx)
    points = [mp.mpf(0), *sorted({min(span, mp.mpf(10) ** e / rate) for e in range(-3, 7)})]
    head = mp.loggamma(r_ + x_) - mp.loggamma(r_) + r_ * mp.log(a_)
    alive = mp.log(survival(tt)) - (r_ + x_) * mp.log(a_ + tt)
    if span <= 0:
        return float(head + alive)
    dead = mp.log(at_tx) + mp.log(mp.quad(lambda h: integrand(h) / at_tx, points))
    return float(head + mp.log(mp.exp(alive) + mp.exp(dead)))


def test_quadrature_equals_a_40_digit_integral_over_a_wide_grid() -> None:
    """Random draws over r ∈ [0.05, 20], s ∈ [0.05, 500], α ∈ [0.1, 500], β ∈ [0.1, 10⁵],
    x ≤ 100, T ≤ 104 (the grid of ``QUADRATURE_NODES``): every buyer's LL within 1e-10."""
    rng = np.random.default_rng(11)
    worst = 0.0
    for _ in range(60):
        r, s = np.exp(rng.uniform(np.log([0.05, 0.05]), np.log([20, 500])))
        alpha, beta = np.exp(rng.uniform(np.log([0.1, 0.1]), np.log([500, 1e5])))
        x = float(rng.choice([0, 1, 2, 5, 10, 30, 100]))
        T = float(rng.uniform(0.5, 104))
        t_x = 0.0 if x == 0 else float(rng.uniform(0, T))
        got = quadrature_loglik(r, alpha, s, beta, np.array([x]), np.array([t_x]), np.array([T]))
        worst = max(worst, abs(float(got[0]) - loglik_mp(x, t_x, T, r, alpha, s, beta)))
    assert worst < 1e-10


def test_quadrature_is_the_closed_form_and_pymc_marketings_likelihood() -> None:
    """On simulated buyers and parameters on both branches of the closed form (α ≥ β, α < β).

    To 1e-7 (relative, or absolute in nats per buyer): SciPy's ₂F₁ and PyTensor's series are
    accurate to a few 1e-8 here (on a case checked in 40 digits the quadrature was right to 1e-15
    and SciPy's ₂F₁ off by 1.4e-8; PyTensor stops its series at a tolerance near 1e-8).
    """
    import pymc as pm
    from pymc_marketing.clv.distributions import ParetoNBD

    brand = simulate_brand(600, seed=5)
    x, tx, tt = (brand[k].to_numpy(dtype=float) for k in ("frequency", "recency", "T"))
    for r, alpha, s, beta in [
        (0.55, 10.6, 0.61, 11.7),
        (0.8, 6.0, 1.5, 3.0),
        (1.2, 2.0, 0.4, 25.0),
    ]:
        ours = quadrature_loglik(r, alpha, s, beta, x, tx, tt)
        np.testing.assert_allclose(ours, loglik_2f1(x, tx, tt, r, alpha, s, beta), rtol=1e-7)
        dist = ParetoNBD.dist(r=r, alpha=alpha, s=s, beta=beta, T=tt)
        library = pm.logp(dist, np.stack([tx, x], axis=1)).eval()
        np.testing.assert_allclose(ours, library, rtol=1e-7, atol=1e-7)


def test_gradient_is_the_likelihoods_own() -> None:
    """The quadrature of the differentiated integrand against central differences of the
    weighted negative log-likelihood, in log-parameters."""
    brand = simulate_brand(800, seed=6)
    c = brand.groupby(["frequency", "recency", "T"], as_index=False).size()
    data = tuple(c[k].to_numpy(dtype=float) for k in ("frequency", "recency", "T", "size"))
    for theta in (np.log([0.7, 9.0, 2.0, 40.0]), np.log([1.5, 30.0, 300.0, 9000.0])):
        _, grad = quadrature_nll(theta, *data)
        h = 1e-6
        central = [
            (quadrature_nll(theta + e, *data)[0] - quadrature_nll(theta - e, *data)[0]) / (2 * h)
            for e in np.eye(4) * h
        ]
        np.testing.assert_allclose(grad, central, rtol=1e-6)


def test_one_dropout_rate_is_the_limit_where_2f1_overflows() -> None:
    """s = 10⁶ with s/β = μ: every buyer drops out at rate μ. ₂F₁ gives NaN there; the
    quadrature equals the one-rate likelihood (to the O(1/s) the finite s leaves), and P(alive)
    stays a probability that falls with the time since the last purchase."""
    r, alpha, mu, s = 0.8, 9.0, 0.02, 1e6
    x = np.array([0.0, 2.0, 2.0, 8.0])
    tx = np.array([0.0, 30.0, 5.0, 40.0])
    tt = np.full(4, 50.0)
    with np.errstate(all="ignore"):
        assert np.isnan(loglik_2f1(x, tx, tt, r, alpha, s, s / mu)).any()
    got = quadrature_loglik(r, alpha, s, s / mu, x, tx, tt)
    limit = [
        loglik_mp(float(a), float(b), float(c), r, alpha, None, mu)
        for a, b, c in zip(x, tx, tt, strict=True)
    ]
    np.testing.assert_allclose(got, limit, atol=1e-5)
    alive = pareto_nbd_p_alive(x, tx, tt, r, alpha, s, s / mu)
    assert np.all((alive > 0) & (alive <= 1))
    assert alive[1] > alive[2]  # same purchases, the later last purchase is likelier alive


def test_fit_reaches_the_likelihoods_maximum_on_a_ridge() -> None:
    """A brand whose buyers drop out at one planted rate: Pareto/NBD's s runs off along the
    ridge s → ∞. The fit must still end at the likelihood's maximum (no other start finds a
    higher one) with a finite log-likelihood that is the quadrature's at the fitted values."""
    rng = np.random.default_rng(3)
    n = 3000
    lam = rng.gamma(0.9, 1 / 8.0, n)
    first = rng.uniform(0, 26, n)
    death = first + rng.exponential(1 / 0.03, n)
    rows = []
    for i in range(n):
        t, last, k = first[i], first[i], 0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > min(death[i], 52.0):
                break
            last, k = t, k + 1
        rows.append(
            (
                k,
                np.floor(last * 7) / 7 - np.floor(first[i] * 7) / 7,
                52 - np.floor(first[i] * 7) / 7,
            )
        )
    x, tx, tt = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    fit = clv.fit_pareto_nbd(x, tx, tt)
    p = fit.params
    assert math.isfinite(fit.loglik)
    assert fit.loglik == pytest.approx(
        float(quadrature_loglik(p["r"], p["alpha"], p["s"], p["beta"], x, tx, tt).sum()), abs=1e-6
    )
    assert p["s"] / p["beta"] == pytest.approx(0.03, rel=0.25)
    w = np.ones_like(x)
    for start in (np.log([0.5, 5.0, 0.5, 20.0]), np.log([2.0, 20.0, 50.0, 2000.0])):
        other = optimize.minimize(
            quadrature_nll, start, args=(x, tx, tt, w), jac=True, method="L-BFGS-B"
        )
        assert -other.fun <= fit.loglik + 1e-3


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_two_stage_fit_ends_where_the_full_quadrature_alone_would(seed: int) -> None:
    """The fit runs first on the coarse quadrature, then on the full one from where the first
    stage stopped. Against L-BFGS-B on the full quadrature alone, from the same warm start, on
    planted BG/NBD brands (the market's usual case, where Pareto/NBD loses): the same maximum,
    and a log-likelihood that is the full quadrature's at the fitted values, not the coarse
    one's."""
    from windmaker.models.clv.fitting import _minimise
    from windmaker.models.pareto_nbd import coarse_nll

    brand = simulate_brand(1500, seed=seed)
    c = brand.groupby(["frequency", "recency", "T"], as_index=False).size()
    x, tx, tt, w = (c[k].to_numpy(dtype=float) for k in ("frequency", "recency", "T", "size"))
    bg = clv.fit_bg_nbd(x, tx, tt, w)
    fit = clv.fit_pareto_nbd(x, tx, tt, w, start_from=bg)
    p = fit.params
    theta = np.log([p["r"], p["alpha"], p["s"], p["beta"]])
    assert fit.loglik == pytest.approx(-quadrature_nll(theta, x, tx, tt, w)[0], abs=1e-9)
    # the coarse quadrature is close, but not the likelihood the fit reports
    assert coarse_nll(theta, x, tx, tt, w)[0] != -fit.loglik
    q = bg.params
    dropout = q["a"] / (q["a"] + q["b"]) * q["r"] / q["alpha"]
    start = np.log([q["r"], q["alpha"], 1.0, 1.0 / dropout])
    alone = _minimise(quadrature_nll, start, (x, tx, tt, w), polish=False)
    assert fit.loglik == pytest.approx(-float(alone.fun), abs=1e-3)
