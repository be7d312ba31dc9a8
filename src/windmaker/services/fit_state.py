"""Which inputs and settings each stored model fit was made from, so an unchanged fit is skipped.

A fit's key is a digest of everything its result depends on: the model, the fitting code's
version (:data:`FIT_VERSION`), its settings from ``models.yaml`` (without ``workers``, which
changes how fast a fit runs, never what it finds), the last day observed, and each input
table's row count with an order-independent digest of its rows (the sums of two parts of every
row's hash, computed in the warehouse through Ibis, so on Spark as on DuckDB). An ingest that adds,
replaces or removes a row changes the digest; a second ``windmaker run --models`` or a server
restarted with ``--fit-models`` on the same data finds the key it stored and keeps the fit.

The keys are rows of ``_mdl_fit_state`` (model, key, fitted_at), written with the fit's tables
(in the same transaction when the caller holds one), so a fit killed before it commits leaves
the previous key with the previous tables.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import ibis
import pandas as pd
from pydantic import BaseModel

from windmaker import results
from windmaker.warehouse import Warehouse

#: The bookkeeping table of the fits' keys.
FIT_STATE = results.FIT_STATE
#: Raised when a change to the fitting code changes what a fit finds, so stored fits are redone.
FIT_VERSION = 1
#: Settings that change how a fit runs, not what it finds.
RUN_ONLY_SETTINGS = frozenset({"workers"})


#: A prime below 2³¹: each row's hash is summed in two parts below it, so the sums cannot
#: overflow 64 bits under four billion rows.
_P = 2_147_483_647


def _digest(wh: Warehouse, name: str) -> tuple[int, int, int]:
    """Row count and an order-independent digest of table ``name``'s rows: the sums of two
    parts of every row's hash. Written with the arithmetic every engine compiles (Ibis has no
    bitwise XOR aggregate on Spark)."""
    t = wh.table(name)
    h = ibis.struct({c: t[c] for c in t.columns}).hash()
    got = wh.execute(t.aggregate(rows=t.count(), low=(h % _P).sum(), high=((h // _P) % _P).sum()))
    first = got.iloc[0]
    return int(first["rows"]), _int(first["low"]), _int(first["high"])


def _int(value: object) -> int:
    return 0 if value is None or pd.isna(value) else int(value)  # type: ignore[call-overload]


def fit_key(
    wh: Warehouse, model: str, config: BaseModel, end: date | None, inputs: Sequence[str]
) -> str:
    """The key of fitting ``model`` with ``config`` on ``inputs`` (tables) as they are now."""
    settings = config.model_dump(mode="json", exclude=set(RUN_ONLY_SETTINGS))
    payload: dict[str, Any] = {
        "model": model,
        "version": FIT_VERSION,
        "settings": settings,
        "end": end.isoformat() if end else None,
        "inputs": {name: _digest(wh, name) for name in inputs},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _state(wh: Warehouse) -> pd.DataFrame:
    if not wh.has_table(FIT_STATE):
        return pd.DataFrame(columns=["model", "key", "fitted_at"])
    return wh.execute(wh.table(FIT_STATE))


def current_fit(wh: Warehouse, model: str, key: str, outputs: Sequence[str]) -> datetime | None:
    """When the stored fit of ``model`` was made, if it was made with ``key`` and its
    ``outputs`` are all still stored; otherwise None (the fit is to be made)."""
    if not all(wh.has_table(name) for name in outputs):
        return None
    state = _state(wh)
    hit = state[(state["model"] == model) & (state["key"] == key)]
    if hit.empty:
        return None
    return pd.Timestamp(hit["fitted_at"].iloc[0]).to_pydatetime()


def remember_fit(wh: Warehouse, model: str, key: str) -> None:
    """Record that ``model``'s stored tables were fitted under ``key`` (replacing its last)."""
    state = _state(wh)
    kept = state[state["model"] != model]
    row = pd.DataFrame(
        {"model": [model], "key": [key], "fitted_at": [datetime.now(UTC).replace(tzinfo=None)]}
    )
    out = pd.concat([kept, row], ignore_index=True) if not kept.empty else row
    out["fitted_at"] = pd.to_datetime(out["fitted_at"])
    wh.write(FIT_STATE, out.astype({"model": "string", "key": "string"}))
