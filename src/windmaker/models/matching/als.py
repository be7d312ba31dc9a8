"""Collaborative filtering over the brand × influencer cooperation history (implicit-feedback ALS)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from windmaker.models.matching.config import AlsConfig


def fit_als(
    coops: pd.DataFrame,
    brand_ids: pd.Index,
    infl_ids: pd.Index,
    config: AlsConfig,
    *,
    seed: int = 7,
) -> tuple[np.ndarray, np.ndarray]:
    """Brand and influencer factors of implicit-feedback ALS (Hu, Koren & Volinsky 2008).

    Minimises Σ c_bi (p_bi − x_b·y_i)² + λ(‖x‖² + ‖y‖²) with preference p_bi = 1 when brand b
    sold through influencer i and confidence c_bi = 1 + alpha·log1p(GMV_bi / 100).
    BLAS is held to one thread during the fit: ALS parallelises itself, and a threaded BLAS
    underneath it oversubscribes the cores.
    """
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    k = config.factors
    user = np.zeros((len(brand_ids), k), dtype=np.float32)
    item = np.zeros((len(infl_ids), k), dtype=np.float32)
    pair = coops.groupby(["brand_id", "account_id"], as_index=False)["gmv"].sum()
    pair = pair[pair.gmv > 0]
    rows = brand_ids.get_indexer(pair["brand_id"].astype(str))
    cols = infl_ids.get_indexer(pair["account_id"].astype(str))
    ok = (rows >= 0) & (cols >= 0)
    if ok.sum() < 2:
        return user, item
    conf = config.alpha * np.log1p(pair["gmv"].to_numpy()[ok] / 100.0)
    mat = sp.csr_matrix(
        (conf.astype(np.float32), (rows[ok], cols[ok])), shape=(len(brand_ids), len(infl_ids))
    )
    # ``implicit`` adds the 1 of c = 1 + alpha·r itself (its own alpha is applied to the data).
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=k,
            regularization=config.regularization,
            alpha=1.0,
            iterations=config.iterations,
            num_threads=config.threads,
            random_state=seed,
            use_gpu=False,
        )
        model.fit(mat, show_progress=False)
    return np.asarray(model.user_factors), np.asarray(model.item_factors)
