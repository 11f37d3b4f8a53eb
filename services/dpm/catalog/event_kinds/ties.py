"""Ties that are not holdings: leadership_move and contract_tie."""

from __future__ import annotations

from dpm.catalog.event_kinds.base import Change, Checks, EventKind, Writes
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.errors import InvalidArgument, Violations
from dpm.platform.names import OrganizationName


class LeadershipMove(EventKind[ownership_pb2.LeadershipMove]):
    """A person moves from one organization to another (exposure goes to the destination)."""

    def validate(self, message: ownership_pb2.LeadershipMove, checks: Checks) -> Change:
        v = Violations()
        v.check(bool(message.person.strip()), checks.field("person"), "is required")
        v.raise_if_any()
        source = checks.organization(message.from_organization, "from_organization")
        dest = checks.organization(message.to_organization, "to_organization")
        if source == dest:
            raise InvalidArgument.one(
                checks.field("to_organization"), "must differ from from_organization"
            )
        change = checks.change()
        change.roots.add(dest)
        change.touched |= {source, dest}
        return change

    def apply(self, message: ownership_pb2.LeadershipMove, writes: Writes, change: Change) -> None:
        writes.tie(
            ownership_pb2.TIE_KIND_LEADERSHIP_MOVE,
            OrganizationName.trusted(message.from_organization),
            OrganizationName.trusted(message.to_organization),
            person=message.person.strip(),
            role=message.role.strip(),
        )


class ContractTie(EventKind[ownership_pb2.ContractTie]):
    """A contract between an organization and a counterparty (exposure goes to the counterparty)."""

    def validate(self, message: ownership_pb2.ContractTie, checks: Checks) -> Change:
        v = Violations()
        v.check(
            message.kind != ownership_pb2.TIE_KIND_UNSPECIFIED,
            checks.field("kind"),
            "must not be TIE_KIND_UNSPECIFIED",
        )
        v.raise_if_any()
        org = checks.organization(message.organization, "organization")
        other = checks.organization(message.counterparty, "counterparty")
        if org == other:
            raise InvalidArgument.one(checks.field("counterparty"), "must differ from organization")
        change = checks.change()
        change.roots.add(other)
        change.touched |= {org, other}
        return change

    def apply(self, message: ownership_pb2.ContractTie, writes: Writes, change: Change) -> None:
        writes.tie(
            message.kind,
            OrganizationName.trusted(message.organization),
            OrganizationName.trusted(message.counterparty),
        )
