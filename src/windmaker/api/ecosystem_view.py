"""The windmaker-plan board as JSON-ready rows: tiers against targets, who is closest to the
next tier, every standing (the service :func:`windmaker.services.providers.tier_board`)."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from windmaker.api.deps import AppState
from windmaker.services import providers
from windmaker.services.configs import Configs


def plain(obj: Any) -> dict[str, Any]:
    """A tier record's fields, money as float (JSON numbers)."""
    return {k: (float(v) if isinstance(v, Decimal) else v) for k, v in asdict(obj).items()}


def board_json(board: providers.TierBoard) -> dict[str, Any]:
    """``board`` as the API answers it."""
    return {
        "tiers": [plain(c) | {"progress": c.progress} for c in board.tiers],
        "closest": {k: [plain(s) for s in v] for k, v in board.closest.items()},
        "standings": [plain(s) for s in board.standings],
    }


def tier_view(state: AppState, session: Session, *, per_tier: int = 10) -> dict[str, Any]:
    """The whole board, for pages that checked the caller's role themselves."""
    board = providers.tier_board(session, Configs.of(state.settings), per_tier=per_tier)
    return board_json(board)
