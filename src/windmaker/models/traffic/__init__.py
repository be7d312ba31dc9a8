"""Paid-traffic response curves (公域投流 ROI 曲线) and a budget recommendation.

For every brand, daily paid GMV (net GMV of orders whose traffic source is ``paid``) is modelled
as a saturating function of the geometric adstock of daily paid spend, with pymc-marketing's
MMM components. Two saturations, chosen by ``traffic.saturation`` in ``models.yaml``:

**Hill** (default, ``geometric_adstock(normalize=True)`` and ``hill_function``)::

    A_t = Σ_{l<L} α^l s_{t-l} / Σ_{l<L} α^l          (normalised: a constant spend s gives A = s)
    μ_t = β A_t^S / (A_t^S + K^S)                     (K: half-saturation spend per day, S: shape)

S-shaped for S > 1 (the first yuan barely pays, as when a campaign has not yet found its
audience), so the budget is allocated on the curve's concave envelope (:func:`allocate_budget`).

**Logistic** (``geometric_adstock``, ``logistic_saturation``), concave everywhere::

    A_t = Σ_{l=0}^{L-1} α^l s_{t-l}                 (adstock, s in units of the brand's mean spend)
    μ_t = β (1 − e^{−λ A_t}) / (1 + e^{−λ A_t}) = β tanh(λ A_t / 2)
    y_t ~ Normal(μ_t, σ)                             (y in units of the brand's mean paid GMV)

fitted by MAP with weak priors (``models.yaml``). The objective and its gradient are compiled
loops (:mod:`.objective`), held by the tests to the library's transformers, and optimised with
SciPy for each brand, for the same reason as the lifetime-value fits: one compilation serves the
whole market, and a call costs microseconds.

From the curve: the steady-state response to a constant daily spend s is
g(s) = β_y tanh(λ_y k s / 2) with k = Σ α^l, so ROAS(s) = g(s)/s, the marginal ROAS is
g'(s) = (β_y λ_y k / 2) sech²(λ_y k s / 2), and the break-even spend is where g'(s) falls to
1 / gross margin (a yuan of spend must bring back that much GMV to pay for itself). For the

The parts: settings in :mod:`.config`, the curves in :mod:`.curves`, the data and the fits in
:mod:`.fitting`, the budget in :mod:`.budget`.
"""

from windmaker.models.traffic.budget import (
    Allocation,
    allocate_budget,
    recommend_budgets,
    total_gmv,
)
from windmaker.models.traffic.config import BudgetConfig, TrafficConfig, TrafficPriors
from windmaker.models.traffic.curves import Curve, HillCurve, ResponseCurve, simulate_series
from windmaker.models.traffic.fitting import (
    daily_paid,
    dense_days,
    fit_curve,
    fit_hill_response,
    fit_market,
    fit_response,
)

__all__ = [
    "Allocation",
    "BudgetConfig",
    "Curve",
    "HillCurve",
    "ResponseCurve",
    "TrafficConfig",
    "TrafficPriors",
    "allocate_budget",
    "daily_paid",
    "dense_days",
    "fit_curve",
    "fit_hill_response",
    "fit_market",
    "fit_response",
    "recommend_budgets",
    "simulate_series",
    "total_gmv",
]
