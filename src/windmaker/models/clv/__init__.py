"""Private-domain lifetime value (私域复购与客户终身价值): BG/NBD, Pareto/NBD and Gamma-Gamma per brand.

The P capability asks how many of a brand's buyers come back and what they are worth. For every
brand this module

1. builds the RFM summary of its buyers from the contract ``orders`` table as an Ibis expression
   (:func:`rfm_summary`: net of refunds, cancelled orders dropped, one purchase occasion per
   buyer × day, time counted in weeks by default at daily resolution), over every buyer's whole
   history: frequency, recency and age T run from the first purchase ever;
2. fits the repeat-purchase model of pymc-marketing's CLV module (BG/NBD, and Pareto/NBD where
   its likelihood is clearly better) and the Gamma-Gamma spend model by MAP with flat priors on
   the positive parameters (which is the maximum-likelihood estimate);
3. predicts, per buyer, expected repurchases and value over 90/180/365 days and the probability
   the buyer is still active, and segments buyers into active fans (活跃粉丝), new (新客), at risk
   (流失风险) and lapsed (已流失) for the action plan.

Why the fit goes below ``BetaGeoModel.fit``: the library builds a new PyMC model, with the data
baked in as constants, for every fit, and compiling it costs seconds. A market has thousands of
brands, so this module writes the library's BG/NBD and Gamma-Gamma log-likelihoods out once, with
their exact gradients, as compiled loops (tests hold them to the library's own log-density), and
optimises them with SciPy for each brand. Flat priors make the MAP the maximum of this
likelihood, so the estimates are the library's ``fit(method="map")`` estimates with ``HalfFlat``
priors. Buyers with identical (frequency, recency, T) are one weighted cell, which shrinks the
data several-fold (one-time buyers differ only by T).

The module's parts: settings in :mod:`.config`, the Ibis inputs in :mod:`.rfm`, the compiled
likelihoods and per-brand fits in :mod:`.fitting`, closed-form predictions and segments in
:mod:`.scoring`, and the whole market in :mod:`.market`.
"""

from windmaker.models.clv.config import (
    SEGMENTS,
    ClvConfig,
    ModelsConfig,
    SegmentConfig,
    load_models_config,
)
from windmaker.models.clv.fitting import (
    RepeatFit,
    SpendFit,
    fit_bg_nbd,
    fit_gamma_gamma,
    fit_pareto_nbd,
    fit_repeat,
)
from windmaker.models.clv.market import (
    PART_CELLS,
    PART_SPEND,
    FitTask,
    Pooled,
    brand_table,
    brand_table_of,
    buyer_columns,
    buyer_summary,
    fit_group,
    fit_item,
    fit_market,
    fit_pooled,
    own_tasks,
    score_buyers,
    summary_columns,
)
from windmaker.models.clv.plan import (
    FIT_ROW_COLUMNS,
    MARKET,
    BrandClv,
    Fits,
    Key,
    MarketPlan,
    assemble,
    brand_summary,
    fits_from_rows,
    plan_market,
)
from windmaker.models.clv.rfm import repeat_spend, rfm_cells, rfm_summary
from windmaker.models.clv.scoring import (
    bg_nbd_expected_purchases,
    bg_nbd_p_alive,
    expected_purchases,
    gamma_gamma_expected_spend,
    p_alive,
    segment_buyers,
)
from windmaker.models.pareto_nbd import pareto_nbd_expected_purchases, pareto_nbd_p_alive

__all__ = [
    "FIT_ROW_COLUMNS",
    "MARKET",
    "PART_CELLS",
    "PART_SPEND",
    "SEGMENTS",
    "BrandClv",
    "ClvConfig",
    "FitTask",
    "Fits",
    "Key",
    "MarketPlan",
    "ModelsConfig",
    "Pooled",
    "RepeatFit",
    "SegmentConfig",
    "SpendFit",
    "assemble",
    "bg_nbd_expected_purchases",
    "bg_nbd_p_alive",
    "brand_summary",
    "brand_table",
    "brand_table_of",
    "buyer_columns",
    "buyer_summary",
    "expected_purchases",
    "fit_bg_nbd",
    "fit_gamma_gamma",
    "fit_group",
    "fit_item",
    "fit_market",
    "fit_pareto_nbd",
    "fit_pooled",
    "fit_repeat",
    "fits_from_rows",
    "gamma_gamma_expected_spend",
    "load_models_config",
    "own_tasks",
    "p_alive",
    "pareto_nbd_expected_purchases",
    "pareto_nbd_p_alive",
    "plan_market",
    "repeat_spend",
    "rfm_cells",
    "rfm_summary",
    "score_buyers",
    "segment_buyers",
    "summary_columns",
]
