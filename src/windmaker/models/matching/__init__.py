"""Influencer matching (达人匹配): which influencers a brand should work with next, and why.

For one brand (or one of its SKUs) the model ranks the influencers the brand has not worked with
yet by the GMV a cooperation is expected to bring. It combines

- **collaborative filtering** over the brand × influencer cooperation history (implicit-feedback
  ALS, the ``implicit`` library): brands that sold through the same influencers are alike, and
  an influencer that alike brands did well with scores high (:mod:`.als`);
- **content signals**: the influencer's share of GMV in the brand's category, its audience price
  band against the SKU's price, orders per 1,000 viewers, recent audience growth, commission rate
  (:mod:`.features`);
- a **learned ranker** (scikit-learn histogram gradient boosting, a hurdle model): one classifier
  for "a cooperation happens" and one regressor for log GMV given it happens, trained on a time
  split of the history so that it learns how the signals of one period predict the next
  (:mod:`.ranker`);
- a **trust gate** (信任电商): an influencer below the trust threshold is never recommended; the
  gate's reason is reported instead (:mod:`.gate`).

Data flows as elsewhere in windmaker: :func:`source_expressions` builds Ibis expressions over the
contract tables (monthly aggregates, :mod:`.sources`), the warehouse executes them, and
:func:`fit_matching` works on the resulting plain DataFrames. Settings live in :mod:`.config`,
the recommendations with their reasons in :mod:`.recommend`, the offline evaluation in
:mod:`.evaluation`.
"""

from windmaker.models.matching.als import fit_als
from windmaker.models.matching.config import (
    AlsConfig,
    DistributionConfig,
    MatchingConfig,
    RankerConfig,
    TrustGateConfig,
    load_distribution_config,
)
from windmaker.models.matching.evaluation import (
    RankingEvaluation,
    evaluate_ranking,
    ndcg_at_k,
    recall_at_k,
)
from windmaker.models.matching.features import (
    FEATURES,
    PAIR_FEATURES,
    MatchingState,
    build_state,
)
from windmaker.models.matching.gate import (
    ProxyTrustGate,
    ScoreTableTrustGate,
    TrustGate,
    TrustModuleGate,
)
from windmaker.models.matching.ranker import MatchingModel, Retrieval, fit_matching
from windmaker.models.matching.recommend import Recommendation, RecommendationList, recommend
from windmaker.models.matching.sources import MatchingFrames, source_expressions

__all__ = [
    "FEATURES",
    "PAIR_FEATURES",
    "AlsConfig",
    "DistributionConfig",
    "MatchingConfig",
    "MatchingFrames",
    "MatchingModel",
    "MatchingState",
    "ProxyTrustGate",
    "RankerConfig",
    "RankingEvaluation",
    "Recommendation",
    "RecommendationList",
    "Retrieval",
    "ScoreTableTrustGate",
    "TrustGate",
    "TrustGateConfig",
    "TrustModuleGate",
    "build_state",
    "evaluate_ranking",
    "fit_als",
    "fit_matching",
    "load_distribution_config",
    "ndcg_at_k",
    "recall_at_k",
    "recommend",
    "source_expressions",
]
