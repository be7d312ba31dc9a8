"""Order brushing (刷单) detection: rings of buyers acting together, each flag with its evidence.

A brushing ring is several accounts acting in concert; one buyer returning to one shop on many
days, however often, is a loyal fan (the private domain working), not a ring. Every flagged
order carries the signals that fired (``signals``, e.g. ``"concentration+dense_block"``) and a
``confidence``: ``high`` when at least ``min_signals`` independent signals fired, one of them
showing several buyers acting together; ``review`` otherwise. Only high-confidence orders leave
GMV (``mdl_brushing_orders``); every flag is listed for review (``mdl_brushing_review``).

Signals:

* ``concentration`` (the definition used in public order-brushing competitions). For one shop,
  a *window* is a closed interval ``[s, s + H]`` (``H`` = one hour, ``s`` any instant). A window
  is a *brushing period* when it holds at least one order and

      orders(window) / distinct buyers(window) ≥ min_ratio   (3 by default).

  Its *suspicious buyers* are those with the most of its orders (ties: all); their orders in
  the period fire. Every window counts, overlapping ones included (one-second resolution).
* ``dense_block``: the buyer belongs to a ring, a group of at least ``min_ring_buyers`` buyers
  linked by pairs that share (shop, time-window) columns far more often than chance, and the
  order lies in a window it shares with another member. Chance is what the shop's own traffic
  gives: buyer ``b`` with ``n_b`` windows at a shop falls in column ``c`` with probability at
  most ``n_b · q_c``, ``q_c`` the column's share of the shop's buyer-windows, so a pair sharing
  ``C`` windows is expected to share ``E = Σ_shops max(n_b·Q_a, n_a·Q_b)`` (``Q_a`` = Σ ``q_c``
  over ``a``'s windows) and is linked when ``P(Poisson(E) ≥ C) ≤ max_chance``. Loyal fans of
  a popular shop meet in its busy live hours about as often as its traffic predicts, and
  windows with more than ``max_window_buyers`` buyers carry no evidence at all; a ring meets
  in windows that are otherwise quiet.
* ``co_shop``: the buyer acts together with its ring at two shops or more.
* ``fresh_account`` (rented or new accounts): the buyer's first order in the data lies within
  ``fresh_days`` before its first flagged order, and at least ``fresh_days`` after the data
  begins (before that, an account's age is unknown).
* ``low_value``: the order's amount is at or below the ``low_value_quantile`` of its shop's
  (and below the shop's median).
* ``unfulfilled``: refunded, cancelled, or past its promised shipping time and never shipped.
* ``no_review``: the order has no review (off by default: most real orders have none).

Everything here is plain numpy/pandas over arrays the warehouse returns; :func:`brushing_input`
is the Ibis expression that selects them (:mod:`.stream`). The rule is in :mod:`.rule`, the ring
detector in :mod:`.rings`, the evidence, confidence and the whole detection in :mod:`.detect`,
the accuracy against planted truth in :mod:`.evaluation`, codes and settings in :mod:`.config`.
:func:`detect_in_warehouse` (:mod:`.warehouse`) gives the same report with the passes over all
orders run by the warehouse engine (DuckDB or Spark) and only the suspicious part in memory.
"""

from windmaker.models.brushing.config import (
    CONFIDENCE_HIGH,
    CONFIDENCE_REVIEW,
    CORROBORATING,
    FLAGGED_COLUMNS,
    METHOD_BLOCK,
    METHOD_BOTH,
    METHOD_RULE,
    RING_SIGNALS,
    SIGNALS,
    BlockConfig,
    BrushingConfig,
    EvidenceConfig,
)
from windmaker.models.brushing.detect import BrushingReport, confidence, detect_brushing
from windmaker.models.brushing.evaluation import bar_figures, evaluate, precision_recall
from windmaker.models.brushing.rings import Block, RingResult, fraudar_peel, ring_blocks
from windmaker.models.brushing.rule import RuleResult, concentration_rule
from windmaker.models.brushing.stream import brushing_input, encode, order_keys, seconds
from windmaker.models.brushing.warehouse import detect_in_warehouse

__all__ = [
    "CONFIDENCE_HIGH",
    "CONFIDENCE_REVIEW",
    "CORROBORATING",
    "FLAGGED_COLUMNS",
    "METHOD_BLOCK",
    "METHOD_BOTH",
    "METHOD_RULE",
    "RING_SIGNALS",
    "SIGNALS",
    "Block",
    "BlockConfig",
    "BrushingConfig",
    "BrushingReport",
    "EvidenceConfig",
    "RingResult",
    "RuleResult",
    "bar_figures",
    "brushing_input",
    "concentration_rule",
    "confidence",
    "detect_brushing",
    "detect_in_warehouse",
    "encode",
    "evaluate",
    "fraudar_peel",
    "order_keys",
    "precision_recall",
    "ring_blocks",
    "seconds",
]
