"""Settings: where data lives and what the linker aims for (`services.config`: --data, HUKOU_<FIELD>, the file)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
from pydantic import Field, PositiveInt, field_validator
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from flows.normalise import BATCH_ROWS
from reconcile.linker import LinkSettings
from schemas.codes import Evidence  # noqa: TC001  pydantic reads the annotation at runtime
from services.config import data_dir, file_settings, prefect_api_url

if TYPE_CHECKING:
    from collections.abc import Callable

_LINKER = LinkSettings()
"""The linker's own defaults: the settings below override them, never restate them."""


class Settings(BaseSettings):
    """Run settings: given, else HUKOU_<FIELD> in the environment, else the configuration file, else the default.

    The configuration file (`services.config`) holds the fields by name; `data_dir` is found as every command
    finds it (`services.config.data_dir`).
    """

    model_config = SettingsConfigDict(env_prefix="HUKOU_", env_ignore_empty=True)  # NAME= is unset, not "."

    data_dir: Path = Field(default_factory=lambda: data_dir().path)
    drop_dir: Path | None = None
    """Where the deliveries arrive, for a scheduled run: the police extract in `register/` (the newest file is
    read), the community rolls in `rolls/`."""
    notify_webhook: str | None = None
    """Told when a scheduled run fails or crashes (`flows.notify`) and by `hukou doctor --notify`: a WeCom or
    DingTalk group robot's URL, or any endpoint taking their JSON text message (read by `services.notify.webhook`,
    which does not need the other settings to be valid)."""
    trusted_proxies: str | list[str] = ""
    """The proxies in front of the review app whose X-Forwarded-For the login throttle believes: a comma list, or
    a list in the file (read by `review.deps.trusted_proxies`)."""
    dask_address: str | None = None
    """A Dask scheduler (tcp://HOST:8786) whose workers run the stages (`flows.nightly`); none: this machine runs
    them. Every worker must see the data directory and the deliveries at the same paths."""
    target_precision: float = _LINKER.target_precision
    target_recall: float = _LINKER.target_recall
    review_capacity: float = _LINKER.review_capacity
    link_partitions: int = _LINKER.partitions
    """Blocking joins in this many parts (by key hash): more parts, less memory per join, same result."""
    link_chunk_rows: int = _LINKER.chunk_rows
    """Candidate pairs compared and scored at a time: fewer, less memory per step, same result."""
    classify_units: PositiveInt | None = None
    """Statuses, queue and summary made in this many units of whole communities (`flows.classify`), with the same
    result: on a cluster a task each (none: `flows.nightly.CLASSIFY_UNITS`); on one machine one after another
    (none: one step over the whole city, the quickest)."""
    normalise_batch_rows: PositiveInt = BATCH_ROWS
    """Raw rows normalised at a time (`flows.normalise`): fewer, less memory and a little more time, same result."""
    publish_memory: str | None = "2GB"
    """Memory the publish's DuckDB may hold (its `memory_limit`: "2GB", "1500MB", "25%"); past it, it spills to a
    folder of its own beside the database it builds; none (null in the file): DuckDB's default, most of the
    machine. Less is slower: at scale 10, 1 GB took as long as no limit (which took 2.0 GiB), 256 MB 25 % longer."""
    keep_runs: int = 14
    """Published run directories kept under data/runs (older ones are removed)."""
    max_shrink: float = 0.2
    """Largest share by which the register or roll records may shrink since the last published run."""
    quiet_seconds: float = 60.0
    """Input files modified less than this long ago may still be being copied: skipped (0: read them all)."""
    verify_without_visit: list[Evidence] = []
    """The verification policy: evidence that verifies a lone record without a visit (default none), e.g.
    HUKOU_VERIFY_WITHOUT_VISIT='["others_at_flat"]'. Written in the run record and every export manifest."""

    @field_validator("verify_without_visit")
    @classmethod
    def _only_findings(cls, policy: list[Evidence]) -> list[Evidence]:
        refused = [e.value for e in policy if not e.may_verify]
        if refused:
            raise ValueError(
                f"{', '.join(refused)} cannot verify a record without a visit: a flat or building the roll may have "
                "missed, an address nobody could place or a namesake is no finding (Evidence.may_verify)"
            )
        return policy

    @field_validator("publish_memory")
    @classmethod
    def _a_duckdb_memory_limit(cls, memory: str | None) -> str | None:
        if memory is not None:
            try:  # refused now, not at the end of a night
                duckdb.connect(":memory:", config={"memory_limit": memory}).close()
            except duckdb.Error:
                raise ValueError(f"{memory!r} is no memory size DuckDB knows: say e.g. 2GB, 1500MB or 25%") from None
        return memory

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Given, then the environment, then the configuration file (its `data_dir` is read by `data_dir`)."""
        del dotenv_settings, file_secret_settings
        from_file = file_settings()
        return init_settings, env_settings, InitSettingsSource(settings_cls, init_kwargs=from_file)

    def deliveries(self, register_file: str | None, rolls_dir: str | None) -> tuple[Path, Path]:
        """The register and rolls to read: as given, else under `drop_dir` (a `ValueError` when neither says)."""
        if register_file and rolls_dir:
            return Path(register_file), Path(rolls_dir)
        if self.drop_dir is None:
            raise ValueError(
                "no register or rolls given and no drop directory configured: set HUKOU_DROP_DIR (or drop_dir in "
                "the configuration file) to the folder holding register/ and rolls/"
            )
        return (
            Path(register_file) if register_file else self.drop_dir / "register",
            Path(rolls_dir) if rolls_dir else self.drop_dir / "rolls",
        )

    def link_settings(self) -> LinkSettings:
        """What the linker aims for, from these settings."""
        return dataclasses.replace(
            _LINKER,
            target_precision=self.target_precision,
            target_recall=self.target_recall,
            review_capacity=self.review_capacity,
            partitions=self.link_partitions,
            chunk_rows=self.link_chunk_rows,
        )


def prefect_api_configured() -> bool:
    """Whether a Prefect server is configured (`services.config.prefect_api_url`).

    Read without importing Prefect (5 s here): an ad-hoc run without a server runs the stages directly
    rather than pay some 30 s for an ephemeral server that leaves nothing anyone looks at.
    """
    return prefect_api_url() is not None


@dataclasses.dataclass(frozen=True, slots=True)
class RunMode:
    """How `hukou run` runs: the stages directly (`local`), or as a Prefect flow, on a Dask cluster if `dask_address`."""

    local: bool
    dask_address: str | None = None


def run_mode(
    *, prefect: bool | None, dask_address: str | None, configured_dask: str | None, server: Callable[[], bool]
) -> RunMode:
    """`hukou run`'s choice: --prefect/--local (`prefect`), --dask-address, the configured cluster, a configured server.

    A cluster means a Prefect flow; --local runs here even when a cluster is configured, but refuses --dask-address.

    >>> run_mode(prefect=None, dask_address=None, configured_dask="tcp://h:8786", server=lambda: False)
    RunMode(local=False, dask_address='tcp://h:8786')
    >>> run_mode(prefect=False, dask_address=None, configured_dask="tcp://h:8786", server=lambda: True)
    RunMode(local=True, dask_address=None)
    """
    if prefect is False:
        if dask_address:
            raise ValueError("a run on a Dask cluster is a Prefect flow: drop --local")
        return RunMode(local=True)
    if address := dask_address or configured_dask:
        return RunMode(local=False, dask_address=address)
    return RunMode(local=not (server() if prefect is None else prefect))
