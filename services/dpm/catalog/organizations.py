"""Organizations: companies and funds with a stable slug id."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from dpm.catalog.counters import bump_catalog_version
from dpm.catalog.store.models import Organization, OutboxRow
from dpm.catalog.v1 import catalog_pb2
from dpm.platform.errors import AlreadyExists, InvalidArgument, NotFound, Violations
from dpm.platform.names import check_slug, org_name
from dpm.platform.outbox import add_outbox_row
from dpm.worker.queues import Queue, Task

COUNTRY = re.compile(r"^[A-Z]{2}$")
UPDATABLE = ("display_name", "kind", "country", "source_urls")


def to_proto(row: Organization) -> catalog_pb2.Organization:
    org = catalog_pb2.Organization(
        name=org_name(row.id),
        display_name=row.display_name,
        kind=row.kind,  # type: ignore[arg-type]
        country=row.country,
        source_urls=list(row.source_urls or []),
    )
    org.create_time.FromDatetime(_aware(row.create_time))
    org.update_time.FromDatetime(_aware(row.update_time))
    return org


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _validate(org: catalog_pb2.Organization, paths: Sequence[str], prefix: str) -> None:
    v = Violations()
    if "display_name" in paths:
        v.check(bool(org.display_name.strip()), f"{prefix}.display_name", "is required")
        v.check(len(org.display_name) <= 300, f"{prefix}.display_name", "is longer than 300")
    if "kind" in paths:
        v.check(
            org.kind != catalog_pb2.ORGANIZATION_KIND_UNSPECIFIED
            and org.kind in catalog_pb2.OrganizationKind.values(),
            f"{prefix}.kind",
            "must be VENDOR, LAB, INVESTOR or PARENT",
        )
    if "country" in paths:
        v.check(
            not org.country or bool(COUNTRY.match(org.country)),
            f"{prefix}.country",
            f"{org.country!r} must be empty or an ISO 3166-1 alpha-2 code like 'US'",
        )
    if "source_urls" in paths:
        for i, url in enumerate(org.source_urls):
            v.check(
                url.startswith(("http://", "https://")),
                f"{prefix}.source_urls[{i}]",
                "must be an http or https URL",
            )
    v.raise_if_any()


def _announce(session: Session, org_id: str) -> int:
    version = bump_catalog_version(session)
    add_outbox_row(
        session,
        OutboxRow,
        Task.CATALOG_CHANGED,
        Queue.REMATCH,
        {"catalog_version": version, "vendor": org_name(org_id)},
    )
    return version


def create(
    session: Session, org_id: str, org: catalog_pb2.Organization
) -> catalog_pb2.Organization:
    check_slug(org_id, "organization_id")
    if org.name and org.name != org_name(org_id):
        raise InvalidArgument.one(
            "organization.name", f"must be empty or {org_name(org_id)!r} (from organization_id)"
        )
    _validate(org, UPDATABLE, "organization")
    _announce(session, org_id)  # locks the counters row: creates are serialized
    if session.get(Organization, org_id) is not None:
        raise AlreadyExists(f"{org_name(org_id)} already exists")
    now = dt.datetime.now(dt.UTC)
    row = Organization(
        id=org_id,
        display_name=org.display_name.strip(),
        kind=int(org.kind),
        country=org.country,
        source_urls=list(org.source_urls),
        create_time=now,
        update_time=now,
    )
    session.add(row)
    session.flush()
    return to_proto(row)


def get_row(session: Session, org_id: str) -> Organization:
    row = session.get(Organization, org_id)
    if row is None:
        raise NotFound(f"{org_name(org_id)} does not exist")
    return row


def get(session: Session, org_id: str) -> catalog_pb2.Organization:
    return to_proto(get_row(session, org_id))


def list_page(
    session: Session, kind: int, after: str | None, limit: int
) -> list[catalog_pb2.Organization]:
    query = select(Organization).order_by(Organization.id).limit(limit)
    if kind:
        query = query.where(Organization.kind == kind)
    if after is not None:
        query = query.where(Organization.id > after)
    return [to_proto(row) for row in session.scalars(query)]


def update(
    session: Session, org_id: str, org: catalog_pb2.Organization, paths: Sequence[str]
) -> catalog_pb2.Organization:
    paths = list(paths) or list(UPDATABLE)
    for path in paths:
        if path not in UPDATABLE:
            raise InvalidArgument.one(
                "update_mask.paths",
                f"{path!r} cannot be updated; use {', '.join(UPDATABLE)}",
            )
    _validate(org, paths, "organization")
    _announce(session, org_id)
    row = get_row(session, org_id)
    if "display_name" in paths:
        row.display_name = org.display_name.strip()
    if "kind" in paths:
        row.kind = int(org.kind)
    if "country" in paths:
        row.country = org.country
    if "source_urls" in paths:
        row.source_urls = list(org.source_urls)
    row.update_time = dt.datetime.now(dt.UTC)
    session.flush()
    return to_proto(row)


def all_names(session: Session) -> list[str]:
    return [org_name(i) for i in session.scalars(select(Organization.id).order_by(Organization.id))]
