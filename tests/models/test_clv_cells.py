"""Fitting on weighted cells is exact, and the fast paths keep pymc-marketing's likelihoods.

A market fit groups buyers with identical (frequency, recency, T) into one cell weighted by its
count and fits every brand with compiled copies of the library's BG/NBD and Gamma-Gamma likelihoods (Pareto/NBD's likelihood has its
own tests in ``test_pareto_nbd.py``). Each test here checks that one of these shortcuts changes nothing:
the parameters of a simulated brand fitted one row per buyer and fitted on cells agree to 1e-6
(relative), and the hand-written pieces equal the library's own log-likelihood.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.models.isolation import model_libraries_imported
from windmaker.models import clv
from windmaker.models.clv import fitting as clv_fitting
from windmaker.models.parallel import one_blas_thread

PLANTED = {"r": 0.5, "alpha": 20.0, "a": 0.7, "b": 2.5}  # BG/NBD, weeks: 1.3 a year


def simulate_brand(n: int, seed: int, weeks: float = 52.0) -> pd.DataFrame:
    """(frequency, recency, T) of ``n`` buyers of a planted BG/NBD process, at daily resolution
    in weeks (as :func:`clv.rfm_summary` counts time), with Gamma-Gamma spend (p=4, q=5, γ=60).

    First purchases are spread over the first half of the year, so one-time buyers share the
    same few hundred values of T: the duplication a real brand has.
    """
    rng = np.random.default_rng(seed)
    lam = rng.gamma(PLANTED["r"], 1 / PLANTED["alpha"], n)
    drop = rng.beta(PLANTED["a"], PLANTED["b"], n)
    nu = rng.gamma(5.0, 1 / 60.0, n)
    rows = []
    for i in range(n):
        first = rng.uniform(0, weeks / 2)
        days = {int(first * 7)}
        t = first + rng.exponential(1 / lam[i])
        while t <= weeks:
            days.add(int(t * 7))
            if rng.random() < drop[i]:
                break
            t += rng.exponential(1 / lam[i])
        d = sorted(days)
        x = len(d) - 1
        zbar = float(np.mean(rng.gamma(4.0, 1 / nu[i], x))) if x else np.nan
        rows.append((x, (d[-1] - d[0]) / 7, (weeks * 7 - d[0]) / 7, zbar))
    return pd.DataFrame(rows, columns=["frequency", "recency", "T", "monetary_value"])


@pytest.fixture(scope="module")
def brand() -> pd.DataFrame:
    return simulate_brand(6000, seed=5)


def _cells(df: pd.DataFrame) -> pd.DataFrame:
    return df.groupby(["frequency", "recency", "T"], as_index=False).size()


def _same_params(a: dict[str, float], b: dict[str, float], rel: float) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert b[name] == pytest.approx(a[name], rel=rel), (name, a[name], b[name])


def test_simulated_brand_is_heavily_duplicated(brand: pd.DataFrame) -> None:
    """The premise of the cells: far fewer distinct triples than buyers."""
    assert len(_cells(brand)) < len(brand) / 2


def test_bg_nbd_on_cells_equals_the_per_buyer_fit(brand: pd.DataFrame) -> None:
    """Same maximum of the same likelihood: parameters to 1e-6, log-likelihood to 1e-10."""
    per_buyer = clv.fit_bg_nbd(brand["frequency"], brand["recency"], brand["T"])
    c = _cells(brand)
    on_cells = clv.fit_bg_nbd(c["frequency"], c["recency"], c["T"], c["size"])
    assert per_buyer.converged and on_cells.converged
    assert on_cells.buyers == per_buyer.buyers == len(brand)
    _same_params(per_buyer.params, on_cells.params, rel=1e-6)
    assert on_cells.loglik == pytest.approx(per_buyer.loglik, rel=1e-10)
    # And it is the planted process (loose: one 6,000-buyer brand), so the fit is no artefact.
    assert on_cells.params["r"] / on_cells.params["alpha"] == pytest.approx(
        PLANTED["r"] / PLANTED["alpha"], rel=0.15
    )


def test_pareto_nbd_on_cells_reaches_the_per_buyer_maximum(brand: pd.DataFrame) -> None:
    """Same likelihood (a weighted sum of the same per-buyer terms), so the same maximum.

    s and β of Pareto/NBD lie on a flat ridge (see ``fit_pareto_nbd``): the optimiser's
    stopping point along it moves by about 1% with rounding or the start while the
    log-likelihood stays within 1e-9. So the check is on what is identified: log-likelihood to
    1e-9, the purchase rate r/α and the predicted purchases over a year to 1e-3, and s, β only
    to the ridge's 3%. (BG/NBD and Gamma-Gamma, polished with a tighter stopping rule, agree
    to 1e-6.)
    """
    c = _cells(brand)
    cx, ctx, ct, cw = (c[k].to_numpy(dtype=float) for k in ("frequency", "recency", "T", "size"))
    bx, btx, bt = (brand[k].to_numpy(dtype=float) for k in ("frequency", "recency", "T"))
    per_buyer = clv.fit_pareto_nbd(bx, btx, bt)
    on_cells = clv.fit_pareto_nbd(cx, ctx, ct, cw)
    # Started from the BG/NBD fit, as fit_repeat does: the same maximum from another side.
    warm = clv.fit_pareto_nbd(cx, ctx, ct, cw, start_from=clv.fit_bg_nbd(cx, ctx, ct, cw))
    for fit in (on_cells, warm):
        assert per_buyer.converged and fit.converged
        assert fit.loglik == pytest.approx(per_buyer.loglik, rel=1e-9)
        p, q = fit.params, per_buyer.params
        assert p["r"] / p["alpha"] == pytest.approx(q["r"] / q["alpha"], rel=1e-3)
        assert clv.expected_purchases(fit, 52.0, bx, btx, bt).mean() == pytest.approx(
            clv.expected_purchases(per_buyer, 52.0, bx, btx, bt).mean(), rel=1e-3
        )
        _same_params(q, p, rel=0.03)


def test_gamma_gamma_on_weighted_rows_equals_the_per_buyer_fit(brand: pd.DataFrame) -> None:
    """Spend rounded to the yuan, so repeat buyers share (x, zbar) and the weights matter."""
    rep = brand[brand["frequency"] > 0].assign(
        monetary_value=lambda d: d["monetary_value"].round(0).clip(lower=1.0)
    )
    per_buyer = clv.fit_gamma_gamma(rep["frequency"], rep["monetary_value"])
    c = rep.groupby(["frequency", "monetary_value"], as_index=False).size()
    assert len(c) < len(rep)
    on_cells = clv.fit_gamma_gamma(c["frequency"], c["monetary_value"], c["size"])
    for name in ("p", "q", "gamma"):
        assert getattr(on_cells, name) == pytest.approx(getattr(per_buyer, name), rel=1e-6)
    assert on_cells.population_mean == pytest.approx(60.0, rel=0.15)  # planted γp/(q−1)


def _bg_nbd_sample(n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 40, n).astype(float)
    big_t = rng.uniform(0.5, 104, n)
    t_x = np.where(x > 0, rng.uniform(0, 1, n) * big_t, 0.0)
    return x, t_x, big_t, rng.integers(1, 6, n).astype(float)


GRID_BG = [(1.0, 5.0, 0.8, 2.5), (0.2, 30.0, 0.1, 8.0), (3.0, 0.5, 2.0, 0.7), (0.05, 100, 5, 50)]


def test_bg_nbd_likelihood_is_pymc_marketings() -> None:
    """The compiled BG/NBD likelihood equals ``pm.logp`` of pymc-marketing's ``BetaGeoNBD``
    (weighted sum, 1e-10 relative) and its gradient that of PyTensor's symbolic one (1e-7)."""
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt
    from pymc_marketing.clv.distributions import BetaGeoNBD

    theta, x, t_x, big_t, w = (pt.vector(n) for n in ("theta", "x", "t_x", "T", "w"))
    r, alpha, a, b = (pt.exp(theta[i]) for i in range(4))
    dist = BetaGeoNBD.dist(r=r, alpha=alpha, a=a, b=b, T=big_t)
    nll = -(w * pm.logp(dist, pt.stack([t_x, x], axis=1))).sum()
    library = pytensor.function([theta, x, t_x, big_t, w], [nll, pt.grad(nll, theta)])
    data = _bg_nbd_sample(800, seed=3)
    for params in GRID_BG:
        th = np.log(params)
        want, want_grad = library(th, *data)
        got, got_grad = clv_fitting._bg_nbd_nll(th, *data)
        assert got == pytest.approx(float(want), rel=1e-10)
        np.testing.assert_allclose(got_grad, want_grad, rtol=1e-7, atol=1e-7)


def test_gamma_gamma_likelihood_is_pymc_marketings() -> None:
    """The Gamma-Gamma likelihood equals the log-density of pymc-marketing's
    ``GammaGammaModel`` with flat priors (1e-10 relative)."""
    from pymc_extras.prior import Prior
    from pymc_marketing.clv import GammaGammaModel

    rng = np.random.default_rng(4)
    n = 400
    x, z = rng.integers(1, 12, n).astype(float), rng.gamma(4.0, 15.0, n)
    data = pd.DataFrame({"customer_id": np.arange(n), "monetary_value": z, "frequency": x})
    model = GammaGammaModel(model_config={k: Prior("HalfFlat") for k in "pqv"})
    model.build_model(data)
    logp = model.model.compile_logp(jacobian=False)
    for p, q, v in [(2.0, 3.0, 50.0), (0.5, 8.0, 200.0), (10.0, 1.5, 5.0)]:
        want = logp({"p_log__": np.log(p), "q_log__": np.log(q), "v_log__": np.log(v)})
        got, _ = clv_fitting._gamma_gamma_nll(np.log([p, q, v]), x, z, np.ones(n))
        assert -got == pytest.approx(float(want), rel=1e-10)


@pytest.mark.parametrize("which", ["bg_nbd", "gamma_gamma"])
def test_likelihood_gradients_are_their_own(which: str) -> None:
    """Each gradient is the central difference of its own likelihood (1e-6 relative)."""
    if which == "bg_nbd":
        fn, data, grid = clv_fitting._bg_nbd_nll, _bg_nbd_sample(500, seed=5), GRID_BG
    else:
        rng = np.random.default_rng(6)
        x = rng.integers(1, 12, 300).astype(float)
        fn, data = clv_fitting._gamma_gamma_nll, (x, rng.gamma(4.0, 15.0, 300), np.ones(300))
        grid = [(2.0, 3.0, 50.0), (0.5, 8.0, 200.0)]
    for params in grid:
        th = np.log(params)
        _, grad = fn(th, *data)
        step = 1e-6
        central = [
            (fn(th + step * e, *data)[0] - fn(th - step * e, *data)[0]) / (2 * step)
            for e in np.eye(len(th))
        ]
        np.testing.assert_allclose(grad, central, rtol=1e-6, atol=1e-6)


def test_a_fit_needs_no_pymc() -> None:
    """A worker process fits brands without importing PyMC or PyTensor (their imports and
    graph compilation cost seconds in every worker)."""
    code = (
        "import numpy as np\n"
        "from windmaker.models.clv import fitting\n"
        "fitting.warm_up()\n"
        "x = np.array([0., 1, 2, 5]); tx = np.array([0., 3, 10, 30]); T = np.full(4, 40.)\n"
        "fitting.fit_repeat(x, tx, T, np.array([50., 20, 10, 5]))\n"
        "fitting.fit_gamma_gamma(x[1:], np.array([30., 50, 80]))\n"
    )
    assert model_libraries_imported(code) == []


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_fits_hold_blas_to_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """L-BFGS-B's per-iteration BLAS calls must not wake a thread pool (5 ms each when loaded;
    with one fit process per core, the threads of both fight over the cores): the lifetime-value
    fits and every traffic curve fit run with one BLAS thread, and the setting is given back."""
    from windmaker.models.traffic import TrafficConfig
    from windmaker.models.traffic import fitting as traffic_fitting

    before = _blas_threads()
    with one_blas_thread():
        assert before and _blas_threads() == [1] * len(before)
    assert _blas_threads() == before
    seen: list[list[int]] = []
    for saturation in ("hill", "logistic"):
        name = "fit_hill_response" if saturation == "hill" else "fit_response"
        monkeypatch.setattr(traffic_fitting, name, lambda *_: seen.append(_blas_threads()))
        config = TrafficConfig().model_copy(update={"saturation": saturation})
        traffic_fitting.fit_curve(np.ones(60), np.ones(60), config)
    assert seen == [[1] * len(before)] * 2
