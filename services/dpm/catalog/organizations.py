"""Organizations: companies and funds with a stable slug id.

Every create and update takes the next catalog version and announces it
(``CatalogChanged``) in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from sqlalchemy.orm import Session

from dpm.catalog import validation
from dpm.catalog.store.counters import CountersRepository
from dpm.catalog.store.models import OrganizationRow
from dpm.catalog.store.organizations import OrganizationRepository
from dpm.catalog.store.outbox import OutboxRepository
from dpm.catalog.v1 import catalog_pb2
from dpm.platform.errors import AlreadyExists, InvalidArgument, NotFound, Violations
from dpm.platform.events import CatalogChanged
from dpm.platform.names import OrganizationName, check_slug, quote

COUNTRY = re.compile(r"[A-Z]{2}")
SOURCE_URLS_MAX = 50
UPDATABLE = ("display_name", "kind", "country", "source_urls")


def to_proto(row: OrganizationRow) -> catalog_pb2.Organization:
    org = catalog_pb2.Organization(
        name=str(OrganizationName(row.id)),
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
        validation.text(
            v, org.display_name, f"{prefix}.display_name", validation.NAME_LIMIT, required=True
        )
    if "kind" in paths:
        v.check(
            org.kind != catalog_pb2.ORGANIZATION_KIND_UNSPECIFIED
            and org.kind in catalog_pb2.OrganizationKind.values(),
            f"{prefix}.kind",
            "must be VENDOR, LAB, INVESTOR, PARENT or PERSON",
        )
    if "country" in paths:
        v.check(
            not org.country or bool(COUNTRY.fullmatch(org.country)),
            f"{prefix}.country",
            f"{quote(org.country)} must be empty or an ISO 3166-1 alpha-2 code like 'US'",
        )
    if "source_urls" in paths:
        v.check(
            len(org.source_urls) <= SOURCE_URLS_MAX,
            f"{prefix}.source_urls",
            f"lists {len(org.source_urls)} URLs; at most {SOURCE_URLS_MAX} are allowed",
        )
        for i, url in enumerate(org.source_urls[:SOURCE_URLS_MAX]):
            field = f"{prefix}.source_urls[{i}]"
            if url:
                validation.url(v, url, field)
            else:
                v.add(field, "must be an http or https URL")
    v.raise_if_any()


def announce(session: Session, name: OrganizationName) -> int:
    """Take the next catalog version (locking the counters) and announce the change."""
    version = CountersRepository(session).next_catalog_version()
    OutboxRepository(session).add(CatalogChanged(catalog_version=version, organization=name))
    return version


def create(
    session: Session, org_id: str, org: catalog_pb2.Organization
) -> catalog_pb2.Organization:
    check_slug(org_id, "organization_id")
    name = OrganizationName(org_id)
    if org.name and org.name != str(name):
        raise InvalidArgument.one(
            "organization.name", f"must be empty or {str(name)!r} (from organization_id)"
        )
    _validate(org, UPDATABLE, "organization")
    announce(session, name)  # locks the counters row: creates are serialized
    organizations = OrganizationRepository(session)
    if organizations.exists(name.id):
        raise AlreadyExists(f"{name} already exists")
    now = dt.datetime.now(dt.UTC)
    row = OrganizationRow(
        id=name.id,
        display_name=org.display_name.strip(),
        kind=int(org.kind),
        country=org.country,
        source_urls=list(org.source_urls),
        create_time=now,
        update_time=now,
    )
    organizations.add(row)
    return to_proto(row)


def require(session: Session, name: OrganizationName) -> OrganizationRow:
    """The organization's row; NOT_FOUND when there is none."""
    row = OrganizationRepository(session).get(name.id)
    if row is None:
        raise NotFound(f"{name} does not exist")
    return row


def get(session: Session, name: OrganizationName) -> catalog_pb2.Organization:
    return to_proto(require(session, name))


def list_page(
    session: Session, kind: int, after: str | None, limit: int
) -> list[catalog_pb2.Organization]:
    """Organizations in id order after the id ``after``; only those of ``kind`` unless 0."""
    return [to_proto(row) for row in OrganizationRepository(session).page(kind, after, limit)]


def update(
    session: Session, name: OrganizationName, org: catalog_pb2.Organization, paths: Sequence[str]
) -> catalog_pb2.Organization:
    paths = list(paths) or list(UPDATABLE)
    for path in paths:
        if path not in UPDATABLE:
            raise InvalidArgument.one(
                "update_mask.paths",
                f"{path!r} cannot be updated; use {', '.join(UPDATABLE)}",
            )
    _validate(org, paths, "organization")
    announce(session, name)
    row = require(session, name)
    if "display_name" in paths:
        row.display_name = org.display_name.strip()
    if "kind" in paths:
        row.kind = int(org.kind)
    if "country" in paths:
        row.country = org.country
    if "source_urls" in paths:
        row.source_urls = list(org.source_urls)
    row.update_time = dt.datetime.now(dt.UTC)
    OrganizationRepository(session).save()
    return to_proto(row)


def all_names(session: Session, created_by: dt.datetime | None = None) -> list[OrganizationName]:
    """Every organization (only those created by ``created_by`` when given), in id order."""
    return [OrganizationName(i) for i in OrganizationRepository(session).ids(created_by)]
