from __future__ import annotations

from dpm.platform.config import DEFAULT_PORTS, ServerSettings


class MatchingSettings(ServerSettings):
    port: int = DEFAULT_PORTS["matching"]
    # Prefix of every Redis key and channel this service uses.
    cache_prefix: str = "dpm:"
    # Longest a GetRecommendations call waits for a minimum graph version when
    # the caller set no deadline.
    min_version_wait_seconds: float = 10.0
