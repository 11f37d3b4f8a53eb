"""Neutrality server settings (environment variables with the DPM_ prefix)."""

from __future__ import annotations

from pydantic import Field

from dpm.platform.config import DEFAULT_PORTS, ServerSettings


class NeutralitySettings(ServerSettings):
    port: int = DEFAULT_PORTS["neutrality"]
    # Built ownership graphs kept in memory, keyed by (graph version, as_of).
    graph_cache_size: int = Field(default=4, ge=1)
    # Scorings kept in memory, keyed by (graph, policy, vendors, shape): clients that
    # share a policy are assessed once per graph.
    score_memo_size: int = Field(default=64, ge=1)
    # Longest read of the ownership graph from the catalog (a whole register of 10^6
    # organizations takes about a minute). A read runs on its own, not bounded by the
    # deadline of the call that started it: later calls find it done.
    graph_read_timeout_seconds: float = Field(default=900.0, gt=0)
