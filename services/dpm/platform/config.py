"""Settings from environment variables (prefix DPM_), one object per process.

Every field has a safe local default except the token secret, which must be
set (``dpmatch up`` generates one); a missing or bad value stops start-up with
one clear line instead of a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from dpm.platform.files import private_dir

DEFAULT_PORTS = {"catalog": 50051, "requirements": 50052, "neutrality": 50053, "matching": 50054}


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DPM_", extra="ignore")

    # Shared HMAC secret that signs bearer tokens and page tokens.
    token_secret: str = Field(min_length=32)
    data_dir: Path = Path(".dpmatch")
    log_level: str = "INFO"
    # Deadline for every outgoing gRPC call, in seconds.
    rpc_timeout_seconds: float = 10.0
    # Redis: cache, pub/sub, and the default Celery broker.
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Celery broker; empty means redis_url. amqp://guest:guest@127.0.0.1:5672// works too.
    broker_url: str = ""
    catalog_addr: str = f"127.0.0.1:{DEFAULT_PORTS['catalog']}"
    requirements_addr: str = f"127.0.0.1:{DEFAULT_PORTS['requirements']}"
    neutrality_addr: str = f"127.0.0.1:{DEFAULT_PORTS['neutrality']}"
    matching_addr: str = f"127.0.0.1:{DEFAULT_PORTS['matching']}"

    @property
    def celery_broker_url(self) -> str:
        return self.broker_url or self.redis_url


class ServerSettings(CommonSettings):
    host: str = "0.0.0.0"
    # 0 lets the OS pick (tests); each server's settings class sets its default.
    port: int = 0
    max_workers: int = 16
    # Seconds in-flight RPCs get to finish after SIGTERM.
    shutdown_grace_seconds: float = 5.0


class DatabaseSettings(ServerSettings):
    # SQLAlchemy URL; empty means a SQLite file under data_dir.
    database_url: str = ""
    # Seconds between outbox relay polls.
    outbox_poll_seconds: float = 0.2
    # Run Alembic migrations when the server starts (off where a job runs them, e.g. Kubernetes).
    migrate_on_start: bool = True

    def resolved_database_url(self, service: str) -> str:
        if self.database_url:
            return self.database_url
        private_dir(self.data_dir)
        return f"sqlite:///{(self.data_dir / f'{service}.db').resolve()}"


S = TypeVar("S", bound=BaseSettings)


def load(cls: type[S], **overrides: object) -> S:
    """Build settings from the environment, or exit with one line naming the bad variable."""
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        prefix = cls.model_config.get("env_prefix", "")
        lines = [
            f"{prefix}{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        ]
        sys.exit("dpmatch: bad configuration: " + "; ".join(lines))
