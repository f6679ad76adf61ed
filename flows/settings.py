"""Settings: where data lives and what the linker aims for (env prefix HUKOU_)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from reconcile.linker import LinkSettings


class Settings(BaseSettings):
    """Run settings; every field can be set as HUKOU_<FIELD> in the environment."""

    model_config = SettingsConfigDict(env_prefix="HUKOU_")

    data_dir: Path = Path("data")
    target_precision: float = 0.999
    target_recall: float = 0.999
    review_capacity: float = 0.01
    keep_runs: int = 14
    """Published run directories kept under data/runs (older ones are removed)."""

    def link_settings(self) -> LinkSettings:
        return LinkSettings(
            target_precision=self.target_precision,
            target_recall=self.target_recall,
            review_capacity=self.review_capacity,
        )
