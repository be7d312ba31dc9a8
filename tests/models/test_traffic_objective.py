"""The compiled MAP objective of the response curves is pymc-marketing's model.

The fit's objective (:mod:`windmaker.models.traffic.objective`) is written out as loops; these
tests hold it to the library: the negative log posterior built from pymc-marketing's own
``geometric_adstock``, ``logistic_saturation`` and ``hill_function`` and compiled by PyTensor,
value and symbolic gradient, over a grid of parameters on a bursty spend series. The gradient
is also checked against central differences of the loops' own value.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest

from tests.models.isolation import model_libraries_imported
from tests.models.traffic_library import library_objective
from windmaker.models.traffic import objective

L_MAX = 14
#: (logit α, log λ or log K, log β, log σ[, log S]): slow and fast decay, weak and strong
#: saturation, S below and above 1, an α near each bound.
GRID = [
    (0.0, 0.0, 1.0, 0.0, 0.3),
    (-2.0, 1.2, -0.5, -1.0, -0.5),
    (2.5, -1.5, 2.0, 0.5, 1.0),
    (-7.0, 0.4, 0.2, -3.0, 0.05),
    (7.0, -0.3, 3.0, 1.5, -0.6),
]
PRIOR = np.array([1.5, 3.0, 2.0, 1.0, 10.0, 1.0])


def _series(seed: int = 1, days: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    spend = np.repeat(rng.choice([0.0, 0.4, 1.0, 2.5], days // 7 + 1), 7)[:days]
    spend = spend * rng.lognormal(0, 0.3, days)
    gmv = np.abs(rng.normal(1.0, 0.5, days))
    mask = np.ones(days)
    mask[: L_MAX - 1] = 0.0
    return spend / spend.mean(), gmv, mask


@pytest.mark.parametrize("saturation", ["logistic", "hill"])
def test_objective_is_pymc_marketings(saturation: Literal["logistic", "hill"]) -> None:
    """Value (1e-10 relative), gradient (1e-7) and the predicted curve (1e-10 relative, 1e-12
    absolute on a scale of 1) equal those of the library's transformers compiled by PyTensor,
    at every point of the grid."""
    library, library_mu = library_objective(saturation, L_MAX)
    hill = saturation == "hill"
    s, y, mask = _series()
    for point in GRID:
        th = np.array(point if hill else point[:4])
        want, want_grad = library(th, s, y, mask, PRIOR)
        got, got_grad = objective.nlp(th, s, y, mask, PRIOR, l_max=L_MAX, hill=hill)
        assert got == pytest.approx(float(want), rel=1e-10), point
        np.testing.assert_allclose(got_grad, want_grad, rtol=1e-7, atol=1e-7, err_msg=str(point))
        np.testing.assert_allclose(
            objective.predict(th, s, l_max=L_MAX, hill=hill),
            library_mu(th, s),
            rtol=1e-10,
            atol=1e-12,  # days without adstock: the library's 1 − e^{−λx} cancels near 0
        )


@pytest.mark.parametrize("hill", [False, True])
def test_objective_gradient_is_its_own(hill: bool) -> None:
    """The gradient is the central difference of the objective's own value (1e-6 relative)."""
    s, y, mask = _series(seed=2)
    for point in GRID:
        th = np.array(point if hill else point[:4])
        _, grad = objective.nlp(th, s, y, mask, PRIOR, l_max=L_MAX, hill=hill)
        step = 1e-6
        central = [
            (
                objective.nlp(th + step * e, s, y, mask, PRIOR, l_max=L_MAX, hill=hill)[0]
                - objective.nlp(th - step * e, s, y, mask, PRIOR, l_max=L_MAX, hill=hill)[0]
            )
            / (2 * step)
            for e in np.eye(len(th))
        ]
        np.testing.assert_allclose(grad, central, rtol=1e-6, atol=1e-6, err_msg=str(point))


def test_a_curve_fit_needs_no_pytensor() -> None:
    """A worker process fits curves of both kinds without importing PyMC or PyTensor (their
    imports and graph compilation cost seconds in every worker)."""
    code = (
        "import numpy as np\n"
        "from windmaker.models.traffic import objective, fitting, TrafficConfig\n"
        "objective.warm_up()\n"
        "rng = np.random.default_rng(0)\n"
        "s = rng.gamma(2.0, 500.0, 90); y = 2.0 * s + rng.normal(0, 50, 90)\n"
        "for sat in ('hill', 'logistic'):\n"
        "    fitting.fit_curve(s, np.abs(y), TrafficConfig(saturation=sat))\n"
    )
    assert model_libraries_imported(code) == []
