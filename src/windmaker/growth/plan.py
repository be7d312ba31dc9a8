"""Action plans: the playbook (``playbook.yaml``) turned into 3–5 evidence-backed actions per brand.

A brand's plan takes the playbook entries of its stage for its bottleneck capability first, then
for the capabilities with the next largest gaps. Each action carries the metric it moves, the
brand's current value, the target (by default the median of that metric among the category's
brands that made the same step, in the last period before they did) and evidence: the peer
brands of the same category that made the step and were nearest in size (``net_gmv_t90d``), what
their metric moved from (first period at the stage) and to (the period they left it), and how many
months that took.

Which capability an action serves, and so which lever a stage gets (influencer testing for a
zero-breaking brand, self-operation and traffic for a climbing one, private domain for KA,
special supply for SKA candidates), comes from the data (the gaps) and the playbook, not code.
"""

from __future__ import annotations

from pathlib import Path
from string import Formatter
from typing import Annotated, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from windmaker import contract
from windmaker.config import load_yaml_model
from windmaker.growth.bottleneck import metric_long, reference_values_both
from windmaker.growth.config import PLAN_METRICS as PLAN_METRICS
from windmaker.growth.config import LadderConfig, PlanMetric
from windmaker.growth.ladder import SKA, STAGE_CODES, thresholds_by_category
from windmaker.growth.text import Text, num_text

PLAYBOOK_FILE = "playbook.yaml"

#: The ``next_stage_threshold`` rule: (stage, metric) → the threshold column of
#: :func:`windmaker.growth.ladder.thresholds_by_category` the target takes (category overrides
#: applied) — the next stage's criterion on that metric, in its own unit.
THRESHOLD_TARGETS = {
    ("zero_breaking", "net_gmv_t30d"): "zb_min_gmv_t30d",
    ("climbing", "self_share"): "ka_min_self_share",
    ("ka", "special_supply_share"): "ska_min_special_supply",
}


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: Literal["advancer_median", "next_stage_median", "next_stage_threshold", "absolute"]
    value: float | None = None
    floor: float | None = None
    ceiling: float | None = None

    @field_validator("value")
    @classmethod
    def _value_finite(cls, v: float | None) -> float | None:
        if v is not None and not np.isfinite(v):
            raise ValueError("must be a finite number")
        return v


class Action(BaseModel):
    """One playbook entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    title_en: Annotated[str, Field(min_length=1)]
    title_zh: Annotated[str, Field(min_length=1)]
    metric: PlanMetric
    direction: Literal["higher", "lower"] = "higher"
    target: Target

    @field_validator("target")
    @classmethod
    def _absolute_has_value(cls, t: Target) -> Target:
        if t.rule == "absolute" and t.value is None:
            raise ValueError("rule 'absolute' needs a value")
        return t


#: Placeholders each model-backed action's titles may use (filled per brand from the models).
MODEL_TEXT_FIELDS = {
    "private_domain": {"buyers", "value", "days"},
    "traffic_raise": {"current", "target", "gain", "lost", "saved"},
    "traffic_cut": {"current", "target", "gain", "lost", "saved"},
}


class ModelAction(BaseModel):
    """A model-backed action's id and its title templates (``{name}`` placeholders)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    title_en: Annotated[str, Field(min_length=1)]
    title_zh: Annotated[str, Field(min_length=1)]


class ModelActions(BaseModel):
    """``playbook.yaml`` → ``model_actions``: texts of the actions backed by the fitted models.

    ``private_domain``: re-engage at-risk buyers (``mdl_clv_buyers``); ``traffic_raise`` /
    ``traffic_cut``: move paid spend towards the curve's break-even spend
    (``mdl_traffic_curves``). Figures come from :mod:`windmaker.growth.model_feed`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    private_domain: ModelAction
    traffic_raise: ModelAction
    traffic_cut: ModelAction

    @model_validator(mode="after")
    def _known_placeholders(self) -> ModelActions:
        for kind, allowed in MODEL_TEXT_FIELDS.items():
            action: ModelAction = getattr(self, kind)
            for lang in ("title_en", "title_zh"):
                try:
                    names = {f for _, f, _, _ in Formatter().parse(getattr(action, lang)) if f}
                except ValueError as exc:
                    raise ValueError(f"{kind}.{lang}: {exc}") from None
                unknown = names - allowed
                if unknown:
                    raise ValueError(
                        f"{kind}.{lang}: unknown placeholders {sorted(unknown)} "
                        f"(allowed: {sorted(allowed)})"
                    )
        return self


Capability = Literal[contract.CAPABILITIES]  # type: ignore[valid-type]
Stage = Literal[contract.STAGES]  # type: ignore[valid-type]


class Playbook(BaseModel):
    """The whole ``playbook.yaml``: actions per stage × capability."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    stages: dict[Stage, dict[Capability, list[Action]]]
    #: Without it the plan holds playbook actions only, whatever models are fitted.
    model_actions: ModelActions | None = None

    @field_validator("stages")
    @classmethod
    def _every_stage_and_unique_ids(
        cls, stages: dict[str, dict[str, list[Action]]]
    ) -> dict[str, dict[str, list[Action]]]:
        missing = set(contract.STAGES) - set(stages)
        if missing:
            raise ValueError(f"missing stages {sorted(missing)}")
        seen: set[str] = set()
        for stage, caps in stages.items():
            if not caps:
                raise ValueError(f"{stage}: no actions")
            for actions in caps.values():
                for a in actions:
                    if a.id in seen:
                        raise ValueError(f"action id {a.id!r} is used twice")
                    seen.add(a.id)
                    if a.target.rule == "next_stage_threshold" and (
                        (stage, a.metric) not in THRESHOLD_TARGETS
                    ):
                        allowed = [f"{s}: {m}" for s, m in THRESHOLD_TARGETS]
                        raise ValueError(
                            f"{a.id}: rule 'next_stage_threshold' has no criterion on "
                            f"{a.metric} at {stage} (one of {allowed})"
                        )
        return stages

    @model_validator(mode="after")
    def _model_ids_unique(self) -> Playbook:
        if self.model_actions is None:
            return self
        ids = [a.id for caps in self.stages.values() for acts in caps.values() for a in acts]
        m = self.model_actions
        for a in (m.private_domain, m.traffic_raise, m.traffic_cut):
            if a.id in ids:
                raise ValueError(f"action id {a.id!r} is used twice")
            ids.append(a.id)
        return self

    def frame(self) -> pd.DataFrame:
        """One row per action: stage (ordinal), capability, order within it, and its fields."""
        rows = []
        for stage, caps in self.stages.items():
            for capability, actions in caps.items():
                for order, a in enumerate(actions):
                    rows.append(
                        {
                            "stage": STAGE_CODES.index(stage),
                            "capability": capability,
                            "order": order,
                            "action_id": a.id,
                            "title_en": a.title_en,
                            "title_zh": a.title_zh,
                            "metric": a.metric,
                            "direction": a.direction,
                            "rule": a.target.rule,
                            "value": a.target.value,
                            "floor": a.target.floor,
                            "ceiling": a.target.ceiling,
                        }
                    )
        df = pd.DataFrame(rows)
        for col in ("value", "floor", "ceiling"):
            df[col] = pd.to_numeric(df[col].astype(object).where(df[col].notna()), errors="raise")
            df[col] = df[col].astype("float64")
        return df


def load_playbook(config_dir: Path | None = None) -> Playbook:
    """``playbook.yaml`` from ``config_dir`` when it holds one, else the shipped default."""
    return load_yaml_model(Playbook, PLAYBOOK_FILE, config_dir)


def candidate_actions(
    gap_table: pd.DataFrame,
    stages: pd.DataFrame,
    playbook: Playbook,
    config: LadderConfig,
    model_actions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every playbook entry of each brand-month's stage, with its capability's gap rank.

    ``order`` is the entry's place within its capability. ``model_actions`` (per brand × period
    × capability, :func:`windmaker.growth.model_feed.model_actions`) lead their capability's
    entries (rule ``model``) where the capability ranks within ``models.actions.max_gap_rank``
    of the gaps.
    """
    g = gap_table[["brand_id", "category", "period", "capability", "rank"]].merge(
        stages[["brand_id", "period", "stage"]], on=["brand_id", "period"]
    )
    df = g.merge(playbook.frame(), on=["stage", "capability"])
    if model_actions is not None and len(model_actions) and config.models is not None:
        extra = g.loc[g["rank"] <= config.models.actions.max_gap_rank].merge(
            model_actions, on=["brand_id", "period", "capability"]
        )
        if len(extra):
            extra = extra.assign(order=-1, rule="model", value=np.nan, floor=np.nan)
            extra["ceiling"] = np.nan
            df = pd.concat([df, extra], ignore_index=True)
            df["order"] = _order_within_capability(df)
    return df.reset_index(drop=True)


def _order_within_capability(df: pd.DataFrame) -> pd.Series:
    """0, 1, … per brand × period × capability in the current ``order``."""
    return (
        df.sort_values("order", kind="stable")
        .groupby(["brand_id", "period", "capability"], sort=False)
        .cumcount()
        .reindex(df.index)
    )


def limit_actions(candidates: pd.DataFrame, config: LadderConfig) -> pd.DataFrame:
    """The plan: candidates in plan order within the limits, ranked ``plan_rank`` 1, 2, …

    Capabilities are taken in gap order (rank 1 = bottleneck); the bottleneck contributes up to
    ``bottleneck_actions`` entries, every other capability up to ``other_actions``; the plan
    keeps the first ``max_actions``, and tops up to ``min_actions`` from the remaining entries
    (again in gap order) when the limits leave fewer. A model-backed action counts against its
    capability's limit like a playbook entry (so it displaces the capability's last entry).
    """
    rules = config.plan
    df = candidates.copy()
    if len(df):
        df["order"] = _order_within_capability(df)
    limit = np.where(df["rank"] == 1, rules.bottleneck_actions, rules.other_actions)
    df["_overflow"] = (df["order"] >= limit).astype("int8")
    df = df.sort_values(
        ["brand_id", "period", "_overflow", "rank", "order"], kind="stable"
    ).reset_index(drop=True)
    pos = df.groupby(["brand_id", "period"], sort=False).cumcount()
    keep = ((df["_overflow"] == 0) & (pos < rules.max_actions)) | (pos < rules.min_actions)
    df = df.loc[keep].drop(columns="_overflow")
    df["plan_rank"] = df.groupby(["brand_id", "period"], sort=False).cumcount() + 1
    return df.reset_index(drop=True)


def select_actions(
    gap_table: pd.DataFrame,
    stages: pd.DataFrame,
    playbook: Playbook,
    config: LadderConfig,
    model_actions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Actions per brand × period in plan order, before targets are known.

    :func:`candidate_actions` within :func:`limit_actions`; :func:`build_plans` applies the
    limits after dropping the actions whose target is not an improvement.
    """
    return limit_actions(
        candidate_actions(gap_table, stages, playbook, config, model_actions), config
    )


def improves(current: pd.Series, target: pd.Series, direction: pd.Series) -> pd.Series:
    """Whether ``target`` is strictly better than ``current`` in the action's ``direction``.

    ``target > current`` for ``higher``, ``target < current`` for ``lower``; false when either
    is missing: an action that would hold the brand where it is, or move it back, is no action.
    """
    cur, tgt = current.astype("float64"), target.astype("float64")
    lower = direction.to_numpy() == "lower"
    better = np.where(lower, tgt < cur, tgt > cur)
    return pd.Series(better & cur.notna().to_numpy() & tgt.notna().to_numpy(), index=cur.index)


def action_targets(
    acts: pd.DataFrame,
    stages: pd.DataFrame,
    values: pd.DataFrame,
    advancers: pd.DataFrame,
    config: LadderConfig,
) -> pd.DataFrame:
    """Candidate actions with the brand's ``current`` value and the ``target`` of their rule.

    ``values``: long brand_id, period, metric, value (:func:`metric_long`). Targets:
    ``advancer_median`` / ``next_stage_median`` from :func:`reference_values` (with
    ``reference`` and ``n``, the brands behind it), ``next_stage_threshold`` the next stage's
    threshold on the metric for the brand's category (``THRESHOLD_TARGETS``), ``absolute`` the
    rule's value, then ``floor`` / ``ceiling``. Model-backed actions take the model's current
    and target.
    """
    current = values.rename(columns={"value": "current"})
    acts = acts.merge(current, on=["brand_id", "period", "metric"], how="left")

    mvalues = values.loc[values["metric"] != "net_gmv_t90d"]
    ref_adv, ref_next = reference_values_both(
        stages, mvalues, "metric", config, advancers=advancers
    )
    acts = acts.merge(
        ref_adv[["category", "stage", "metric", "target", "reference", "n"]],
        on=["category", "stage", "metric"],
        how="left",
    ).merge(
        ref_next[["category", "stage", "metric", "target", "reference"]].rename(
            columns={"target": "next_target", "reference": "next_reference"}
        ),
        on=["category", "stage", "metric"],
        how="left",
    )
    target = np.select(
        [
            acts["rule"] == "absolute",
            acts["rule"] == "next_stage_median",
            acts["rule"] == "next_stage_threshold",
        ],
        [acts["value"], acts["next_target"], _threshold_targets(acts, config)],
        default=acts["target"],
    ).astype("float64")
    target = np.where(acts["floor"].notna(), np.fmax(target, acts["floor"]), target)
    target = np.where(acts["ceiling"].notna(), np.fmin(target, acts["ceiling"]), target)
    acts["target"] = target
    acts["reference"] = np.where(
        acts["rule"] == "next_stage_median", acts["next_reference"], acts["reference"]
    )
    if "model_evidence" in acts.columns:
        model = (acts["rule"] == "model").to_numpy()
        acts["current"] = np.where(model, acts["model_current"], acts["current"])
        acts["target"] = np.where(model, acts["model_target"], acts["target"])
    return acts


def _threshold_targets(acts: pd.DataFrame, config: LadderConfig) -> np.ndarray:
    """Per action row the next stage's threshold on its metric (NaN where none applies)."""
    out = np.full(len(acts), np.nan)
    if not len(acts):
        return out
    thresholds = thresholds_by_category(config, pd.Index(acts["category"].unique()))
    stage = np.asarray(STAGE_CODES, dtype=object)[acts["stage"].to_numpy()]
    for (code, metric), column in THRESHOLD_TARGETS.items():
        rows = (stage == code) & (acts["metric"] == metric).to_numpy()
        if rows.any():
            out[rows] = thresholds[column].reindex(acts.loc[rows, "category"]).to_numpy()
    return out


def build_plans(
    stages: pd.DataFrame,
    gap_table: pd.DataFrame,
    brand_month: pd.DataFrame,
    advancers: pd.DataFrame,
    playbook: Playbook,
    config: LadderConfig,
    model_actions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ``g_plan`` table for the latest ``plan.store_periods`` periods.

    Every candidate action's current value and target are computed first; an action whose
    target is not strictly better than the current value in its direction (:func:`improves`:
    a brand already above the advancers' median, 0 → 0) is dropped, and the limits of
    :func:`limit_actions` then take the next entries in its place, so the plan keeps
    ``min_actions`` whenever the playbook has enough improving actions. A model-backed action
    without a target (re-engage at-risk buyers: the action, not a level) is kept; one with a
    target is held to the same rule.

    Columns: brand_id, period, rank, action_id, capability, metric, current, target,
    evidence (JSON text), and beyond the shared interface category, stage, title_en, title_zh,
    direction. Model-backed actions carry the model's figures as current and target and the
    model's evidence JSON.
    """
    periods = np.sort(stages["period"].unique())[-config.plan.store_periods :]
    recent = stages.loc[stages["period"].isin(periods)]
    acts = candidate_actions(
        gap_table.loc[gap_table["period"].isin(periods)], recent, playbook, config, model_actions
    )
    metrics = sorted(acts["metric"].unique().tolist()) if len(acts) else []
    values = metric_long(brand_month, [*metrics, "net_gmv_t90d"])
    acts = action_targets(acts, stages, values, advancers, config)
    no_target = (acts["rule"] == "model").to_numpy() & acts["target"].isna().to_numpy()
    keep = improves(acts["current"], acts["target"], acts["direction"]).to_numpy() | no_target
    acts = limit_actions(acts.loc[keep], config)

    size = values.loc[values["metric"] == "net_gmv_t90d", ["brand_id", "period", "value"]]
    acts["evidence"] = _evidence(acts, advancers, size, values, config)
    if "model_evidence" in acts.columns:
        model = (acts["rule"] == "model").to_numpy()
        acts["evidence"] = np.where(model, acts["model_evidence"], acts["evidence"])
    acts = acts.drop(columns="rank").rename(columns={"plan_rank": "rank"})
    acts["stage"] = np.asarray(STAGE_CODES, dtype=object)[acts["stage"].to_numpy()]
    return acts[
        [
            "brand_id",
            "period",
            "rank",
            "action_id",
            "capability",
            "metric",
            "current",
            "target",
            "evidence",
            "category",
            "stage",
            "title_en",
            "title_zh",
            "direction",
        ]
    ].reset_index(drop=True)


def nearest_peers(
    queries: pd.DataFrame, advancers: pd.DataFrame, size: pd.DataFrame, k: int
) -> pd.DataFrame:
    """For each query (brand_id, period, category, stage) the ``k`` advancers nearest in size.

    Peers are brands of the same category that advanced out of the same stage (of any category
    when the category has fewer than ``k``); distance is
    ``|log1p(gmv_brand) − log1p(gmv_peer)|`` with the brand's current ``net_gmv_t90d`` and the
    peer's at the first period it held the stage. A brand is never its own peer. Returns
    brand_id, period, slot (0..k−1), peer_row (row of ``advancers``).
    """
    adv = advancers.reset_index(drop=True).copy()
    adv["peer_row"] = np.arange(len(adv))
    adv = adv.merge(
        size.rename(columns={"period": "entered_period", "value": "peer_gmv"}),
        on=["brand_id", "entered_period"],
        how="left",
    )
    adv["peer_log"] = np.log1p(adv["peer_gmv"].fillna(0).clip(lower=0))
    q = queries.merge(size, on=["brand_id", "period"], how="left")
    q["log"] = np.log1p(q["value"].fillna(0).clip(lower=0))
    out = []
    width = 2 * k + 1
    for (category, stage), qg in q.groupby(["category", "stage"], sort=False):
        pg = adv.loc[(adv["category"] == category) & (adv["from_stage"] == stage)]
        if len(pg) < k:
            # a thin category quotes peers of every category rather than none
            pg = adv.loc[adv["from_stage"] == stage]
        if pg.empty or k == 0:
            continue
        pg = pg.sort_values("peer_log", kind="stable")
        logs = pg["peer_log"].to_numpy()
        ids = pg["brand_id"].to_numpy()
        rows = pg["peer_row"].to_numpy()
        pos = np.searchsorted(logs, qg["log"].to_numpy())
        cand = pos[:, None] + np.arange(-k - 1, k)[None, :]
        valid = (cand >= 0) & (cand < len(logs))
        cand = np.clip(cand, 0, len(logs) - 1)
        dist = np.abs(logs[cand] - qg["log"].to_numpy()[:, None])
        dist[~valid] = np.inf
        dist[ids[cand] == qg["brand_id"].to_numpy()[:, None]] = np.inf
        # Candidate windows overlap at the edges: duplicates keep only their first occurrence.
        dup = np.zeros_like(valid)
        dup[:, 1:] = cand[:, 1:] == cand[:, :-1]
        dist[dup] = np.inf
        order = np.argsort(dist, axis=1, kind="stable")[:, : min(k, width)]
        chosen = np.take_along_axis(cand, order, axis=1)
        ok = np.isfinite(np.take_along_axis(dist, order, axis=1))
        n_q, n_k = chosen.shape
        frame = pd.DataFrame(
            {
                "brand_id": np.repeat(qg["brand_id"].to_numpy(), n_k),
                "period": np.repeat(qg["period"].to_numpy(), n_k),
                "slot": np.tile(np.arange(n_k), n_q),
                "peer_row": rows[chosen.ravel()],
                "_ok": ok.ravel(),
            }
        )
        out.append(frame.loc[frame["_ok"]].drop(columns="_ok"))
    if not out:
        return pd.DataFrame(columns=["brand_id", "period", "slot", "peer_row"])
    return pd.concat(out, ignore_index=True)


def _json_str(values: object) -> Text:
    """JSON string literals: backslashes and quotes escaped."""
    t = Text.of(np.asarray(values, dtype=object).astype(str))
    escaped = pc.replace_substring(pc.replace_substring(t.a, "\\", "\\\\"), '"', '\\"')
    return '"' + Text(escaped) + '"'


def _json_num(values: pd.Series) -> Text:
    """JSON numbers (6 decimals at most); ``null`` for missing or infinite."""
    v = values.astype("float64").round(6)
    ok = (v.notna() & np.isfinite(v)).to_numpy()
    return num_text(v, 6).where(ok, "null")


def _evidence(
    acts: pd.DataFrame,
    advancers: pd.DataFrame,
    size: pd.DataFrame,
    values: pd.DataFrame,
    config: LadderConfig,
) -> pd.Series:
    """Evidence JSON per plan row, assembled column-wise.

    ``{"step": "climbing→ka", "reference": "category", "advancers": n, "peers": [{"brand_id",
    "from", "to", "months", "censored"}]}``; SKA brands have no next step and no peers.
    """
    k = config.plan.evidence_peers
    queries = acts[["brand_id", "period", "category", "stage"]].drop_duplicates()
    queries = queries.loc[queries["stage"] < SKA]
    peers = nearest_peers(queries, advancers, size, k)
    adv = advancers.reset_index(drop=True)
    peers = peers.join(
        adv[
            ["brand_id", "entered_period", "measured_period", "months_in_stage", "censored"]
        ].rename(columns={"brand_id": "peer_id"}),
        on="peer_row",
    )
    rows = acts[["brand_id", "period", "metric"]].reset_index().rename(columns={"index": "row"})
    ev = rows.merge(peers, on=["brand_id", "period"])
    v = values.set_index(["brand_id", "period", "metric"])["value"]
    ev["from"] = v.reindex(
        pd.MultiIndex.from_arrays([ev["peer_id"], ev["entered_period"], ev["metric"]])
    ).to_numpy()
    ev["to"] = v.reindex(
        pd.MultiIndex.from_arrays([ev["peer_id"], ev["measured_period"], ev["metric"]])
    ).to_numpy()
    frag = (
        '{"brand_id":'
        + _json_str(ev["peer_id"].to_numpy())
        + ',"from":'
        + _json_num(ev["from"])
        + ',"to":'
        + _json_num(ev["to"])
        + ',"months":'
        + num_text(ev["months_in_stage"], 0)
        + ',"censored":'
        + Text.of(np.where(ev["censored"].astype(bool), "true", "false"))
        + "}"
    )
    # one column per peer slot, aligned on plan rows, joined with commas (missing slots skipped)
    ev["frag"] = frag.to_numpy()
    ev["slot_rank"] = ev.sort_values(["row", "slot"]).groupby("row").cumcount()
    columns = []
    for j in range(k):
        part = ev.loc[ev["slot_rank"] == j, ["row", "frag"]].set_index("row")["frag"]
        aligned = part.reindex(acts.index).to_numpy(dtype=object)
        columns.append(pa.array(aligned, pa.string(), from_pandas=True))
    # slots fill in order, so a missing slot ends the list; "," + null stays null, then ""
    joined = Text.of(np.full(len(acts), "", dtype=object))
    for j, col in enumerate(columns):
        piece = col if j == 0 else pc.binary_join_element_wise(",", col, "")
        joined = joined + Text(pc.fill_null(piece, ""))
    peer_list = "[" + joined + "]"

    stage = acts["stage"].to_numpy()
    codes = np.asarray(STAGE_CODES, dtype=object)
    step = np.where(stage < SKA, codes[stage] + "→" + codes[np.minimum(stage + 1, SKA)], "ska")
    text = (
        '{"step":'
        + _json_str(step)
        + ',"reference":'
        + _json_str(acts["reference"].fillna("none").to_numpy())
        + ',"advancers":'
        + num_text(acts["n"].fillna(0), 0)
        + ',"peers":'
        + peer_list
        + "}"
    )
    return pd.Series(text.to_numpy(), index=acts.index, dtype=object)
