"""The response curves' MAP objective built from pymc-marketing's own transformers and compiled
by PyTensor: the reference the compiled loops (:mod:`windmaker.models.traffic.objective`) are
tested and benchmarked against, and the objective the fit used before them."""

from __future__ import annotations

import warnings
from typing import Any, Literal, cast

from windmaker.models.traffic import objective


def library_objective(saturation: Literal["logistic", "hill"], l_max: int) -> Any:
    """The objective as the fit built it before: the library's transformers, compiled."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*xtensor module is experimental.*")
        warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
        warnings.filterwarnings("ignore", message=r"\s*ArviZ is undergoing", category=FutureWarning)
        return _compile(saturation, l_max)


def _compile(saturation: Literal["logistic", "hill"], l_max: int) -> Any:
    import pytensor
    import pytensor.tensor as pt
    from pymc_marketing.mmm.transformers import (
        geometric_adstock,
        hill_function,
        logistic_saturation,
    )
    from pytensor.graph.rewriting.utils import rewrite_graph
    from pytensor.xtensor import as_xtensor

    theta, spend, gmv, mask, prior = (pt.vector(n) for n in ("th", "s", "y", "m", "p"))
    alpha = pt.sigmoid(theta[0])
    sat, beta, sigma = pt.exp(theta[1]), pt.exp(theta[2]), pt.exp(theta[3])
    x = as_xtensor(spend, dims=("date",))
    if saturation == "logistic":
        mu = beta * logistic_saturation(geometric_adstock(x, alpha, l_max, dim="date"), sat).values
    else:
        adstock = geometric_adstock(x, alpha, l_max, dim="date", normalize=True)
        mu = beta * hill_function(adstock + objective.HILL_EPS, pt.exp(theta[4]), sat).values
    mu = cast(Any, rewrite_graph(mu, include=("lower_xtensor",)))
    resid = (gmv - mu) / sigma
    loglik = (mask * (-0.5 * resid**2 - pt.log(sigma))).sum()
    logprior = (
        (prior[0] - 1) * pt.log(alpha)
        + (prior[1] - 1) * pt.log1p(-alpha)
        + (prior[2] - 1) * pt.log(sat)
        - prior[3] * sat
        - 0.5 * (beta / prior[4]) ** 2
        - 0.5 * (sigma / prior[5]) ** 2
    )
    nlp = -(loglik + logprior)
    return (
        pytensor.function([theta, spend, gmv, mask, prior], [nlp, cast(Any, pt.grad(nlp, theta))]),
        pytensor.function([theta, spend], mu),
    )
