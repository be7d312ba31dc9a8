"""Fixtures of the growth tests: the shipped configuration and a small hand-made market."""

from __future__ import annotations

import pytest

from windmaker.growth.config import LadderConfig, load_ladder_config
from windmaker.growth.plan import Playbook, load_playbook


@pytest.fixture(scope="session")
def ladder() -> LadderConfig:
    return load_ladder_config()


@pytest.fixture(scope="session")
def playbook() -> Playbook:
    return load_playbook()
