from __future__ import annotations

from dpm.platform.config import CommonSettings


class WorkerSettings(CommonSettings):
    cache_prefix: str = "dpm:"
    # Clients per re-match task when a change fans out.
    rematch_chunk_size: int = 50
    # Seconds between full reconciliations (run by the beat scheduler).
    reconcile_interval_seconds: float = 600.0
