"""Settings of the matching server and of the re-match tasks (DPM_ environment variables)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from dpm.platform.config import DEFAULT_PORTS, CommonSettings, ServerSettings

# Ranked (and excluded) vendors a recommendation set holds unless configured otherwise.
DEFAULT_SET_SIZE = 25


class CacheSettings(CommonSettings):
    # Prefix of every Redis key and channel of the recommendation cache; empty: "<deployment>:".
    cache_prefix: str = ""
    # Ranked vendors a recommendation set holds (the best), and excluded ones
    # (neutrality first); the totals count the rest. Servers and workers of a
    # deployment must agree, or the reconciliation sees drift.
    recommendation_set_size: int = Field(default=DEFAULT_SET_SIZE, ge=1)

    @model_validator(mode="after")
    def _cache_prefix(self) -> Self:
        if not self.cache_prefix:
            self.cache_prefix = f"{self.deployment}:"
        return self


class MatchingSettings(CacheSettings, ServerSettings):
    port: int = DEFAULT_PORTS["matching"]
    # Longest a GetRecommendations call waits for a minimum graph version when
    # the caller set no deadline.
    min_version_wait_seconds: float = 10.0
    # Served sets each matching process keeps in memory (0: none), and for how long at
    # most: they are dropped at once when they change (matching/near_cache.py).
    near_cache_entries: int = Field(default=10_000, ge=0)
    near_cache_seconds: float = Field(default=5.0, ge=0)
    # Seconds the solver may take for one PlanPortfolio (past it, the best plan found,
    # marked not optimal, with its bound).
    plan_time_limit_seconds: float = Field(default=2.0, gt=0)


class RematchSettings(CacheSettings):
    """What the re-match tasks need in a worker process."""

    # Clients per re-match task when a change fans out. A task reads the catalog
    # once and scores each distinct policy once, so larger chunks amortise
    # those; each stays seconds long, well under the broker's visibility timeout.
    rematch_chunk_size: int = Field(default=500, ge=1)
