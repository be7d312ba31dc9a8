"""Fitting on weighted cells is exact, and the fast paths keep pymc-marketing's likelihoods.

A market fit groups buyers with identical (frequency, recency, T) into one cell weighted by its
count and reuses one compiled BG/NBD likelihood for every brand (Pareto/NBD's likelihood has its
own tests in ``test_pareto_nbd.py``). Each test here checks that one of these shortcuts changes nothing:
the parameters of a simulated brand fitted one row per buyer and fitted on cells agree to 1e-6
(relative), and the hand-written pieces equal the library's own log-likelihood.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from windmaker.models import clv
from windmaker.models.clv import fitting as clv_fitting

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


def test_one_compiled_likelihood_serves_every_brand() -> None:
    """A market of several brands compiles nothing new once the two likelihoods exist."""
    brands = [simulate_brand(400, seed=20 + k).assign(brand_id=f"b{k}") for k in range(4)]
    rfm = pd.concat(brands, ignore_index=True).assign(category="c")
    cells = rfm.groupby(["brand_id", "category", "frequency", "recency", "T"], as_index=False)
    cells = cells.size().rename(columns={"size": "buyers"})
    spend = rfm[rfm["frequency"] > 0][["brand_id", "category", "frequency", "monetary_value"]]
    clv_fitting._compiled("bg_nbd")
    clv_fitting._compiled("gamma_gamma")
    before = clv_fitting._compiled.cache_info()
    fits = clv.fit_market(cells, spend, clv.ClvConfig(min_buyers=300, pareto_nbd=False))
    after = clv_fitting._compiled.cache_info()
    assert [f.repeat_level for f in fits] == ["brand"] * 4
    assert after.misses == before.misses
    # One BG/NBD and one Gamma-Gamma fit per brand, each through the cached function.
    assert after.hits - before.hits == 8


def test_fits_hold_blas_to_one_thread() -> None:
    """L-BFGS-B's per-iteration BLAS calls must not wake a thread pool (5 ms each when loaded)."""
    from threadpoolctl import threadpool_info

    with clv_fitting._one_blas_thread():
        blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
        assert blas and all(lib["num_threads"] == 1 for lib in blas)
