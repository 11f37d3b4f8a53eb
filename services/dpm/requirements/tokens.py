"""The token registry: issue, list and revoke bearer tokens; revocations reach every server.

An issued token is recorded by its id (``jti``) with its role, subject,
label and times; the token itself is shown once and never stored. A
revocation is written to the shared list in Redis first (every server follows
it, ``dpm.platform.revocations``) and only then committed here: when Redis
does not answer, the revocation fails (UNAVAILABLE) and nothing changes,
rather than being recorded but not enforced. Deleting a lab revokes its
tokens in the same unit of work (``clients.delete``). ``republish`` puts this
database's unexpired revocations back into Redis (at start and periodically),
so a Redis that lost its data gets them again. Pure domain code: no gRPC.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Iterable

import redis
from sqlalchemy.orm import Session

from dpm.auth.v1 import tokens_pb2 as pb
from dpm.platform import auth
from dpm.platform.db import Database
from dpm.platform.errors import NotFound, Unavailable, Violations
from dpm.platform.names import ClientName, TokenName, quote
from dpm.platform.revocations import RevocationList, RevocationStore
from dpm.requirements.store.models import TokenRow
from dpm.requirements.store.repository import ClientRepository, TokenRepository, utc

log = logging.getLogger(__name__)

ROLES = {
    pb.ROLE_ADMIN: auth.Role.ADMIN,
    pb.ROLE_LAB: auth.Role.LAB,
    pb.ROLE_AUDITOR: auth.Role.AUDITOR,
    pb.ROLE_SERVICE: auth.Role.SERVICE,
}
ROLE_ENUMS = {role: value for value, role in ROLES.items()}
# Roles IssueToken hands out (services mint their own short-lived tokens).
ISSUABLE = frozenset({auth.Role.ADMIN, auth.Role.LAB, auth.Role.AUDITOR})
# Who holds an admin or auditor token: no '/', so it never looks like a client name.
HOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:+-]{0,99}")
HOLDER_RULE = "must be 1-100 characters of A-Z, a-z, 0-9, '.', '_', '@', ':', '+', '-'"
MAX_LABEL_CHARS = 200
# C0 controls and DEL: never in a label or a subject (PostgreSQL refuses NUL in text).
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Longest subject stored (lab names and holders are shorter).
MAX_SUBJECT_CHARS = 200
MIN_LIFETIME = dt.timedelta(seconds=1)
# The label of the token CreateClient returns.
CREATED_WITH_CLIENT = "issued by CreateClient"


def to_token(row: TokenRow) -> pb.Token:
    token = pb.Token(
        name=str(TokenName(row.jti)),
        role=ROLE_ENUMS.get(auth.Role(row.role), pb.ROLE_UNSPECIFIED),
        subject=row.subject,
        label=row.label,
    )
    token.issue_time.FromDatetime(utc(row.issue_time))
    token.expire_time.FromDatetime(utc(row.expire_time))
    if row.revoke_time is not None:
        token.revoke_time.FromDatetime(utc(row.revoke_time))
    return token


def check_request(
    role: pb.Role, subject: str, lifetime: dt.timedelta | None, label: str
) -> auth.Role:
    """The role to issue, or INVALID_ARGUMENT naming every bad field."""
    v = Violations()
    issued = ROLES.get(role)
    v.check(
        issued in ISSUABLE,
        "role",
        "must be ROLE_LAB, ROLE_AUDITOR or ROLE_ADMIN (services mint their own tokens)",
    )
    if not subject:
        v.add("subject", "is required")
    elif issued is auth.Role.LAB:
        v.check(
            ClientName.matches(subject),
            "subject",
            f"{quote(subject)} must look like {ClientName.template()!r} for a lab token",
        )
    elif issued in ISSUABLE:
        v.check(HOLDER.fullmatch(subject) is not None, "subject", f"{quote(subject)} {HOLDER_RULE}")
    if lifetime is not None:
        v.check(
            MIN_LIFETIME <= lifetime <= auth.MAX_LIFETIME,
            "ttl",
            f"must be between 1 second and {auth.MAX_LIFETIME.days} days",
        )
    v.check(len(label) <= MAX_LABEL_CHARS, "label", f"must be at most {MAX_LABEL_CHARS} characters")
    v.check(
        not CONTROL.search(label), "label", "must not contain control characters (NUL, newline...)"
    )
    v.raise_if_any()
    assert issued is not None
    return issued


class TokenRegistry:
    """Issued tokens in the requirements database; revocations pushed to Redis first."""

    def __init__(
        self,
        database: Database,
        keys: auth.TokenKeys,
        store: RevocationStore,
        local: RevocationList | None = None,
    ) -> None:
        self._database = database
        self._keys = keys
        self._store = store
        # This server's own list: a revocation is in force here at once.
        self._local = local

    # -- issuing

    def issue_in(
        self,
        session: Session,
        role: auth.Role,
        subject: str,
        lifetime: dt.timedelta | None = None,
        label: str = "",
    ) -> tuple[TokenRow, auth.IssuedToken]:
        """Mint a token and record it in the caller's unit of work."""
        issued = auth.mint(self._keys, role, subject, lifetime)
        row = TokenRow(
            jti=issued.jti,
            role=role.value,
            subject=subject,
            label=label,
            issue_time=issued.issued_at,
            expire_time=issued.expires_at,
            revoke_time=None,
        )
        TokenRepository(session).add(row)
        return row, issued

    def issue(
        self,
        role: pb.Role,
        subject: str,
        lifetime: dt.timedelta | None,
        label: str,
    ) -> tuple[pb.Token, str]:
        """A new token (its metadata and the token itself); a lab token needs its client."""
        issued_role = check_request(role, subject, lifetime, label)
        with self._database.write() as session:
            if issued_role is auth.Role.LAB:
                name = ClientName.trusted(subject)
                # Locked, so a concurrent DeleteClient cannot miss the new token.
                if ClientRepository(session).get_for_update(name) is None:
                    raise NotFound(f"{name} does not exist")
            row, issued = self.issue_in(session, issued_role, subject, lifetime, label)
            return to_token(row), issued.token

    # -- reading

    def page(self, subject: str, after: int | None, limit: int) -> tuple[list[pb.Token], int, bool]:
        """Tokens in issue order after ``after``, the page's last seq, True when more follow."""
        with self._database.read() as session:
            rows, more = TokenRepository(session).page(subject, after, limit)
            return [to_token(r) for r in rows], rows[-1].seq if rows else 0, more

    # -- revoking

    def revoke(self, name: TokenName) -> pb.Token:
        """Revoke one token (again: it is pushed to Redis anew, nothing else changes)."""
        now = dt.datetime.now(dt.UTC)
        with self._database.write() as session:
            tokens = TokenRepository(session)
            row = tokens.get_for_update(name.id)
            if row is None:
                raise NotFound(f"{name} does not exist")
            self._push([row], now)
            if row.revoke_time is None:
                tokens.mark_revoked([row], now)
            return to_token(row)

    def revoke_subject_in(self, session: Session, subject: str) -> int:
        """Revoke every live token of ``subject`` in the caller's unit of work (Redis first)."""
        now = dt.datetime.now(dt.UTC)
        tokens = TokenRepository(session)
        rows = tokens.live_of(subject, now)
        self._push(rows, now)
        tokens.mark_revoked(rows, now)
        return len(rows)

    def republish(self) -> int:
        """Put every unexpired revocation of this database into Redis; how many were missing."""
        now = dt.datetime.now(dt.UTC)
        with self._database.read() as session:
            rows = TokenRepository(session).revoked_unexpired(now)
            pairs = [(r.jti, utc(r.expire_time).timestamp()) for r in rows]
        return self._store.add(pairs, now.timestamp())

    def _push(self, rows: Iterable[TokenRow], now: dt.datetime) -> None:
        pairs = [(r.jti, utc(r.expire_time).timestamp()) for r in rows]
        if not pairs:
            return
        try:
            self._store.add(pairs, now.timestamp())
        except redis.RedisError as exc:
            raise Unavailable(
                f"the revocation list (Redis) does not answer ({type(exc).__name__}): "
                "nothing was revoked or changed; retry"
            ) from None
        if self._local is not None:
            self._local.add(pairs)


class Republisher:
    """Runs ``TokenRegistry.republish`` now and then every ``interval`` seconds."""

    def __init__(self, registry: TokenRegistry, interval: float) -> None:
        self._registry = registry
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="republish", daemon=True)
        self._failing = False

    def start(self) -> None:
        self._once()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _once(self) -> None:
        try:
            added = self._registry.republish()
        except Exception as exc:  # Redis or the database: both retried next round
            if not self._failing:
                log.warning("token revocations: cannot republish (%s); retrying", exc)
            self._failing = True
            return
        if added:
            log.warning("token revocations: Redis lacked %d revocation(s); put back", added)
        self._failing = False

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._once()
