"""Catalog server settings (environment variables with the DPM_ prefix)."""

from __future__ import annotations

from dpm.platform.config import DEFAULT_PORTS, DatabaseSettings


class CatalogSettings(DatabaseSettings):
    port: int = DEFAULT_PORTS["catalog"]
