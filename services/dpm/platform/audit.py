"""The audit log: every call of a method that writes, accepted or refused.

A server that owns data declares which of its methods write and what resource
each call names (``ServiceSpec.audit``); the server interceptor records each such
call once it has ended — who (role, subject, token id), what (method, resource,
status code), when (arrival time) and from where (the peer address) — in the
service's own database: in the transaction of the change the call commits
(``JoinedAudit``: one commit per write, and no change without its row), or, for
a call that commits nothing (refused, failed, a replay), in a transaction of its
own once the call has ended: a refused write's transaction is rolled back, its
audit row stays. Request bodies, tokens and
error details are never recorded (they may carry secrets or a lab's data).

``AuditServicer`` answers ``dpm.audit.v1.AuditService`` from that table for the
admin and auditors; it is proto-agnostic here (platform imports no contract of
ours): the service passes the generated response class.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from sqlalchemy import DateTime, Integer, String, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from dpm.platform import auth
from dpm.platform.db import Database
from dpm.platform.errors import InvalidArgument
from dpm.platform.names import AuditEntryName, TokenName
from dpm.platform.pagination import PageTokens, page_size

log = logging.getLogger(__name__)

# Longest values stored (a caller chooses the resource ids and the subjects it sends).
MAX_RESOURCE = 300
MAX_SUBJECT = 200
MAX_PEER = 200

# The resource a call of an audited method names, from its request (None for a
# client-streaming call) and its response (None when the call failed).
Resource = Callable[[Any, Any], str]


def full_method(service: ServiceDescriptor, method: str) -> str:
    """ "/{package}.{Service}/{Method}", as the interceptor sees it; fails on a typo."""
    return f"/{service.full_name}/{service.methods_by_name[method].name}"


def no_resource(_request: Any, _response: Any) -> str:
    """For methods that name no single resource (a BODS import)."""
    return ""


class AuditMixin:
    """Columns of the audit table; each service declares ``class AuditRow(AuditMixin, Base)``."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    method: Mapped[str] = mapped_column(String(200), index=True)
    resource: Mapped[str] = mapped_column(String(MAX_RESOURCE))
    code: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(MAX_SUBJECT), index=True)
    token_id: Mapped[str] = mapped_column(String(64))
    peer: Mapped[str] = mapped_column(String(MAX_PEER))
    trace_id: Mapped[str] = mapped_column(String(32))


@dataclass(frozen=True)
class AuditSpec:
    """What a server audits: its table model, and its writing methods (full name -> resource)."""

    model: type[AuditMixin]
    methods: Mapping[str, Resource]


@dataclass(frozen=True)
class AuditRecord:
    """One ended call of an audited method."""

    time: dt.datetime
    method: str
    resource: str
    code: grpc.StatusCode
    principal: auth.Principal | None
    peer: str
    trace_id: str


class AuditLog:
    """The audit table of one service's database."""

    def __init__(self, database: Database, model: type[AuditMixin]) -> None:
        self._database = database
        self._model = model
        self._table = model.__table__  # type: ignore[attr-defined]

    @property
    def database(self) -> Database:
        return self._database

    def add(self, session: Session, record: AuditRecord) -> None:
        """Write ``record``'s row in ``session``'s transaction: a plain INSERT (an ORM
        object would cost a flush of the unit of work, more than the statement)."""
        principal = record.principal
        values = {
            "time": record.time.astimezone(dt.UTC),
            "method": record.method[:200],
            "resource": record.resource[:MAX_RESOURCE],
            "code": record.code.name,
            "role": principal.role.value if principal else "",
            "subject": principal.subject[:MAX_SUBJECT] if principal else "",
            "token_id": principal.jti[:64] if principal else "",
            "peer": record.peer[:MAX_PEER],
            "trace_id": record.trace_id[:32],
        }
        session.execute(insert(self._table), values)

    def joining(self, record: AuditRecord) -> JoinedAudit:
        """``record`` (its code OK), to be written by the call's own write transaction."""
        return JoinedAudit(self, record)

    def record(self, record: AuditRecord) -> None:
        with self._database.write() as session:
            self.add(session, record)

    def entries(
        self,
        limit: int,
        after_id: int | None = None,
        subject: str = "",
        method: str = "",
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> list[AuditMixin]:
        """Newest first: at most ``limit`` rows older than ``after_id`` matching the filters."""
        model = self._model
        query = select(model).order_by(model.id.desc()).limit(limit)
        if after_id is not None:
            query = query.where(model.id < after_id)
        if subject:
            query = query.where(model.subject == subject)
        if method.startswith("/"):
            query = query.where(model.method == method)
        elif method:
            query = query.where(model.method.endswith(f"/{method}", autoescape=True))
        if start is not None:
            query = query.where(model.time >= start.astimezone(dt.UTC))
        if end is not None:
            query = query.where(model.time < end.astimezone(dt.UTC))
        with self._database.read() as session:
            return list(session.scalars(query).all())


class JoinedAudit:
    """The audit row of a call in progress, written with the first change the call
    commits to the log's database (``db.joining_writes``): one commit, not two, and
    the row exists exactly when the change does. A call that commits nothing there
    (refused, failed, or a replay) has its row written when it ends, as before.
    """

    def __init__(self, log_: AuditLog, record: AuditRecord) -> None:
        self._log = log_
        self._record = record
        self.written = False

    def __call__(self, database: Database, session: Session) -> Callable[[], None] | None:
        if database is not self._log.database or self.written:
            return None
        self._log.add(session, self._record)
        return self._committed

    def _committed(self) -> None:
        self.written = True


class Auditor:
    """What the server interceptor asks: is a method audited, and where its records go."""

    def __init__(self, spec: AuditSpec, log_: AuditLog) -> None:
        self._methods = dict(spec.methods)
        self._log = log_

    def audits(self, method: str) -> bool:
        return method in self._methods

    def resource(self, method: str, request: Any, response: Any) -> str:
        try:
            return self._methods[method](request, response)
        except Exception:  # a request too malformed to name its resource is still audited
            return ""

    def joining(self, record: AuditRecord) -> JoinedAudit | None:
        """The call's row to join its write transaction, when the request alone names
        the resource (a resource named by the response is known only at the end)."""
        return self._log.joining(record) if record.resource else None

    def record(self, record: AuditRecord) -> None:
        """Write ``record``; never fails the call it describes (which has already ended)."""
        try:
            self._log.record(record)
        except Exception:
            log.exception(
                "audit log write failed: %s %s by %s",
                record.method,
                record.code.name,
                record.principal.subject if record.principal else "(unauthenticated)",
            )


# -- reading: dpm.audit.v1.AuditService ------------------------------------------------------

METHOD_FILTER = re.compile(r"/?[A-Za-z0-9_.]+(/[A-Za-z0-9_]+)?")


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _time(request: Any, field: str) -> dt.datetime | None:
    """The request's timestamp ``field``, None when unset; INVALID_ARGUMENT when out of range."""
    if not request.HasField(field):
        return None
    try:
        return _utc(getattr(request, field).ToDatetime())
    except (ValueError, OverflowError, OSError):
        raise InvalidArgument.one(field, "must be a valid time (years 1 to 9999)") from None


class AuditServicer:
    """``AuditService.ListAuditEntries``: the admin, auditors and services; labs are refused."""

    def __init__(self, audit_log: AuditLog, response_type: type[Any], page_secret: str) -> None:
        self._log = audit_log
        self._response_type = response_type
        self._pages = PageTokens(page_secret, "audit")

    def ListAuditEntries(self, request: Any, context: grpc.ServicerContext) -> Any:
        auth.require_reader()
        size = page_size(request.page_size)
        if request.method and not (
            len(request.method) <= 200 and METHOD_FILTER.fullmatch(request.method)
        ):
            raise InvalidArgument.one("method", "must be a gRPC method name, e.g. 'CreateClient'")
        start = _time(request, "start_time")
        end = _time(request, "end_time")
        if start is not None and end is not None and end <= start:
            raise InvalidArgument.one("end_time", "must be after start_time")
        fingerprint = [
            request.subject,
            request.method,
            start.isoformat() if start else "",
            end.isoformat() if end else "",
        ]
        after = self._pages.read(request.page_token, fingerprint)
        rows = self._log.entries(
            size + 1, after, request.subject, request.method, start=start, end=end
        )
        reply = self._response_type()
        for row in rows[:size]:
            entry = reply.audit_entries.add(
                name=str(AuditEntryName(str(row.id))),
                method=row.method,
                resource=row.resource,
                code=row.code,
                role=row.role,
                subject=row.subject,
                token=str(TokenName(row.token_id)) if row.token_id else "",
                peer=row.peer,
                trace_id=row.trace_id,
            )
            entry.time.FromDatetime(_utc(row.time))
        if len(rows) > size:
            reply.next_page_token = self._pages.issue(rows[size - 1].id, fingerprint)
        return reply
