"""Settings from environment variables (prefix DPM_), one object per process.

Every field has a safe local default except the token secret, which must be
set (``dpmatch up`` generates one); a missing or bad value stops start-up with
one clear line instead of a traceback. A token secret that is short, repetitive
or a placeholder ("change-me", "REPLACE-ME", ...) is refused, so a default
shipped in a deployment file can never sign tokens.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Self, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dpm.platform.auth import TokenKeys
from dpm.platform.files import private_dir
from dpm.platform.tls import TlsSettings

# The deployment name when DPM_DEPLOYMENT is not set (see CommonSettings.deployment).
DEFAULT_DEPLOYMENT = "dpm"
DEFAULT_PORTS = {"catalog": 50051, "requirements": 50052, "neutrality": 50053, "matching": 50054}

# What a token secret must have: length, variety, and no placeholder word.
MIN_SECRET_CHARS = 32
MIN_SECRET_DISTINCT_CHARS = 10
# Compared case-insensitively with '-', '_', '.' and spaces removed ("Change_Me" too).
PLACEHOLDER_MARKERS = ("changeme", "replaceme", "example", "secret", "password")
GENERATE_HINT = "generate one: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def secret_problem(value: str) -> str | None:
    """Why ``value`` may not sign tokens, or None when it may. Never quotes the value."""
    if len(value) < MIN_SECRET_CHARS:
        return f"must be at least {MIN_SECRET_CHARS} characters (it has {len(value)}); "
    if len(set(value)) < MIN_SECRET_DISTINCT_CHARS:
        return f"has fewer than {MIN_SECRET_DISTINCT_CHARS} distinct characters; "
    squeezed = "".join(c for c in value.lower() if c not in "-_. ")
    for marker in PLACEHOLDER_MARKERS:
        if marker in squeezed:
            return f"contains the placeholder word {marker!r}; "
    return None


class CommonSettings(TlsSettings):
    # TLS: DPM_TLS_CERT, DPM_TLS_KEY, DPM_TLS_CA, DPM_TLS_CLIENT_AUTH ... (dpm.platform.tls).
    model_config = SettingsConfigDict(env_prefix="DPM_", extra="ignore")

    # Shared HMAC secret that signs bearer tokens and page tokens (see secret_problem).
    token_secret: str
    # Secrets being rotated out, comma-separated: tokens they signed are still
    # accepted; new tokens are signed with token_secret. Empty once the overlap ends.
    previous_token_secrets: str = ""
    # This stack's name: the Redis key prefixes (revocation list, recommendation
    # cache) and the broker queues ("<deployment>.rematch") derive from it, so two
    # stacks sharing one Redis and one broker never see each other's keys or tasks.
    deployment: str = Field(default=DEFAULT_DEPLOYMENT, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
    # Prefix of the Redis key and channel of the token revocation list; empty: "<deployment>:".
    revocation_prefix: str = ""
    # Seconds between full re-reads of the revocation list (a notice triggers one at once).
    revocation_refresh_seconds: float = Field(default=30.0, gt=0)
    data_dir: Path = Path(".dpmatch")
    log_level: str = "INFO"
    # Serve the process's metrics for Prometheus on this port (GET /metrics); 0: off.
    # A Celery worker's metrics go by OTLP only (its tasks run in pool processes).
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
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

    @model_validator(mode="after")
    def _deployment_prefixes(self) -> Self:
        if not self.revocation_prefix:
            self.revocation_prefix = f"{self.deployment}:"
        return self

    @field_validator("token_secret")
    @classmethod
    def _strong_secret(cls, value: str) -> str:
        if problem := secret_problem(value):
            raise ValueError(problem + GENERATE_HINT)
        return value

    @field_validator("previous_token_secrets")
    @classmethod
    def _strong_previous_secrets(cls, value: str) -> str:
        for i, secret in enumerate(_split(value)):
            if problem := secret_problem(secret):
                raise ValueError(f"secret #{i + 1} {problem}only real, retired secrets belong here")
        return value

    def token_keys(self) -> TokenKeys:
        """The key that signs new tokens and every key still accepted."""
        return TokenKeys(self.token_secret, tuple(_split(self.previous_token_secrets)))

    @property
    def celery_broker_url(self) -> str:
        return self.broker_url or self.redis_url


def _split(secrets: str) -> list[str]:
    return [s.strip() for s in secrets.split(",") if s.strip()]


class ServerSettings(CommonSettings):
    host: str = "0.0.0.0"
    # 0 lets the OS pick (tests); each server's settings class sets its default.
    port: int = 0
    max_workers: int = 16
    # Calls one lab or auditor token may have in progress at once (0: half of max_workers).
    max_calls_per_caller: int = Field(default=0, ge=0)
    # Streams one lab or auditor token may hold open (platform/limits.py).
    max_streams_per_caller: int = Field(default=2, ge=1)
    # Streams the server holds open in total (0: half of max_workers on a threaded
    # server, where each stream holds a thread; 1,000 on an asyncio one).
    max_streams: int = Field(default=0, ge=0)
    # Seconds in-flight RPCs get to finish after SIGTERM.
    shutdown_grace_seconds: float = 5.0


class DatabaseSettings(ServerSettings):
    # SQLAlchemy URL; empty means a SQLite file under data_dir.
    database_url: str = ""
    # Seconds between outbox relay polls.
    outbox_poll_seconds: float = 0.2
    # Seconds a woken relay waits before it reads: a burst of writes goes out together
    # (one read, one merged message, one mark) for that much more latency.
    outbox_linger_seconds: float = Field(default=0.02, ge=0, le=1)
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
            f"{prefix}{'.'.join(str(p) for p in err['loc']).upper()}: "
            + err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        ]
        sys.exit("dpmatch: bad configuration: " + "; ".join(lines))
