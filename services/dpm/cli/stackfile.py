"""What `dpmatch up` tells the other commands: addresses and tokens of the local stack.

The commands' channels use TLS when DPM_TLS_CA is set (and present DPM_TLS_CERT
under mutual TLS): ``dpm.platform.tls``.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import grpc

from dpm.platform.config import load
from dpm.platform.files import write_private
from dpm.platform.grpc_client import open_channel
from dpm.platform.tls import TlsSettings

STACK_FILE = "stack.json"
CLIENT_TOKENS_FILE = "client-tokens.json"


@functools.cache
def tls() -> TlsSettings:
    """The commands' TLS settings, from the DPM_TLS_* variables."""
    return load(TlsSettings)


def data_dir() -> Path:
    return Path(os.environ.get("DPM_DATA_DIR", ".dpmatch"))


@dataclass
class Stack:
    addresses: dict[str, str]
    admin_token: str
    redis_url: str
    client_tokens: dict[str, str] = field(default_factory=dict)

    def channel(
        self, service: str, token: str | None = None, timeout: float = 15.0
    ) -> grpc.Channel:
        return open_channel(self.addresses[service], token or self.admin_token, timeout, tls=tls())

    def save(self, directory: Path) -> None:
        write_private(directory / STACK_FILE, json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, directory: Path) -> Stack:
        path = directory / STACK_FILE
        if not path.exists():
            raise SystemExit(f"dpmatch: no running stack found ({path} missing): run `dpmatch up`")
        stack = cls(**json.loads(path.read_text()))
        tokens = directory / CLIENT_TOKENS_FILE
        if tokens.exists():
            stack.client_tokens = json.loads(tokens.read_text())
        return stack


def save_client_tokens(directory: Path, tokens: dict[str, str]) -> None:
    write_private(directory / CLIENT_TOKENS_FILE, json.dumps(tokens, indent=1))
