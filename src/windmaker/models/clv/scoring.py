"""Per-buyer predictions in closed form (P(alive), expected repurchases, expected spend) and the
buyer segments.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from windmaker.models.clv.config import SegmentConfig
from windmaker.models.clv.fitting import RepeatFit, float_array
from windmaker.models.pareto_nbd import pareto_nbd_expected_purchases, pareto_nbd_p_alive


def bg_nbd_p_alive(
    x: np.ndarray, t_x: np.ndarray, T: np.ndarray, r: float, alpha: float, a: float, b: float
) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + 1{x>0} a/(b+x−1) ((α+T)/(α+t_x))^(r+x)) (FHL 2008)."""
    x, t_x, T = float_array(x), float_array(t_x), float_array(T)
    with np.errstate(all="ignore"):
        log_ratio = (
            np.log(a) - np.log(b + x - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
        out = 1.0 / (1.0 + np.exp(np.minimum(log_ratio, 700)))
    return np.where(x > 0, out, 1.0)


def bg_nbd_expected_purchases(
    t: float,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    r: float,
    alpha: float,
    a: float,
    b: float,
) -> np.ndarray:
    """E[Y(t) | x, t_x, T], FHL (2005) eq. 10.

    ((a+b+x−1)/(a−1)) [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))]
    / (1 + 1{x>0} a/(b+x−1) ((α+T)/(α+t_x))^(r+x)).
    """
    x, t_x, T = float_array(x), float_array(t_x), float_array(T)
    with np.errstate(all="ignore"):
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        num = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        out = num * bg_nbd_p_alive(x, t_x, T, r, alpha, a, b)
    return np.clip(np.nan_to_num(out, nan=0.0, posinf=0.0), 0.0, None)


def gamma_gamma_expected_spend(
    x: np.ndarray, monetary_value: np.ndarray, p: float, q: float, gamma: float
) -> np.ndarray:
    """E[spend per occasion | x, zbar] = (q−1)/(px+q−1) · γp/(q−1) + px/(px+q−1) · zbar.

    For x = 0 (no repeat spend observed) this is the population mean γp/(q−1).
    """
    x = float_array(x)
    z = np.nan_to_num(float_array(monetary_value), nan=0.0)
    pop = gamma * p / (q - 1) if q > 1 else float(np.nan)
    weight = p * x / (p * x + q - 1)
    return (1 - weight) * pop + weight * z


def p_alive(fit: RepeatFit, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Probability each buyer is still active, under ``fit``'s model."""
    if fit.model == "bg_nbd":
        return bg_nbd_p_alive(x, t_x, T, **fit.params)
    return pareto_nbd_p_alive(x, t_x, T, **fit.params)


def expected_purchases(
    fit: RepeatFit, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Expected purchases of each buyer over the next ``t`` time units, under ``fit``'s model."""
    if fit.model == "bg_nbd":
        return bg_nbd_expected_purchases(t, x, t_x, T, **fit.params)
    return pareto_nbd_expected_purchases(t, x, t_x, T, **fit.params)


def segment_buyers(
    frequency: np.ndarray,
    alive: np.ndarray,
    days_since_first: np.ndarray,
    config: SegmentConfig,
) -> np.ndarray:
    """Segment per buyer (RFM): active_fan, new, at_risk or lapsed.

    Repeat buyers by P(alive): ≥ ``active_min`` active fan, ≥ ``at_risk_min`` at risk, else
    lapsed. One-time buyers (BG/NBD gives them P(alive) = 1, which says nothing) by recency:
    first purchase within ``new_within_days`` new, within ``lapse_after_days`` at risk, else lapsed.
    """
    x = np.asarray(frequency)
    # Chosen as codes, then named: choosing among the names themselves builds fixed-width
    # text arrays for every buyer.
    repeat = np.where(alive >= config.active_min, 0, np.where(alive >= config.at_risk_min, 1, 2))
    once = np.where(
        days_since_first <= config.new_within_days,
        3,
        np.where(days_since_first <= config.lapse_after_days, 1, 2),
    )
    return _SEGMENT_NAMES[np.where(x > 0, repeat, once)]


_SEGMENT_NAMES = np.array(["active_fan", "at_risk", "lapsed", "new"], dtype=object)
