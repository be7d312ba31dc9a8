"""One bundle of the YAML configuration, resolved against the workspace once.

Every command and every request takes its thresholds and weights from a :class:`Configs`, never
by calling a loader with a folder of its own: a relative ``config_dir`` in ``windmaker.toml`` is
resolved once, in :attr:`Settings.config_path`, and every file is read from there.

Each file is read on first use and then kept (the models' files import their model modules,
which a request for the provider registry does not need). :meth:`Configs.check` reads the ones
a job will use before it computes anything, so a bad file stops the job before it writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from windmaker.config import Settings
    from windmaker.ecosystem.config import EcosystemConfig
    from windmaker.ecosystem.factories import FactoryConfig
    from windmaker.growth.config import LadderConfig
    from windmaker.growth.plan import Playbook
    from windmaker.metrics.config import MetricsConfig
    from windmaker.models.clv import ModelsConfig
    from windmaker.models.matching import DistributionConfig
    from windmaker.models.trust import TrustConfig

#: The files a bundle knows, by the attribute that holds each.
NAMES = (
    "metrics",
    "ladder",
    "playbook",
    "trust",
    "ecosystem",
    "models",
    "distribution",
    "factories",
)


@dataclass
class Configs:
    """The configuration files of one workspace folder (``None``: the shipped defaults)."""

    folder: Path | None = None
    _checked: set[str] = field(default_factory=set, repr=False)

    @classmethod
    def of(cls, settings: Settings) -> Configs:
        """The bundle of ``settings``' configuration folder, resolved against its workspace."""
        return cls(settings.config_path)

    def check(self, names: Iterable[str] = NAMES) -> Configs:
        """Read (and validate) ``names`` now; raises :class:`ConfigError` on a bad file."""
        for name in names:
            if name not in NAMES:
                raise ValueError(f"unknown configuration {name!r}; one of {', '.join(NAMES)}")
            getattr(self, name)
        return self

    @cached_property
    def metrics(self) -> MetricsConfig:
        from windmaker.metrics.config import load_metrics_config

        return load_metrics_config(self.folder)

    @cached_property
    def ladder(self) -> LadderConfig:
        from windmaker.growth.config import load_ladder_config

        return load_ladder_config(self.folder)

    @cached_property
    def playbook(self) -> Playbook:
        from windmaker.growth.plan import load_playbook

        return load_playbook(self.folder)

    @cached_property
    def trust(self) -> TrustConfig:
        from windmaker.models.trust import load_config

        return load_config(self.folder)

    @cached_property
    def ecosystem(self) -> EcosystemConfig:
        from windmaker.ecosystem.config import load_config

        return load_config(self.folder)

    @cached_property
    def models(self) -> ModelsConfig:
        from windmaker.models.clv import load_models_config

        return load_models_config(self.folder)

    @cached_property
    def distribution(self) -> DistributionConfig:
        from windmaker.models.matching import load_distribution_config

        return load_distribution_config(self.folder)

    @cached_property
    def factories(self) -> FactoryConfig:
        from windmaker.ecosystem.factories import load_factory_config

        return load_factory_config(self.folder)
