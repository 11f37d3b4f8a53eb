"""Ties that are not holdings: leadership_move and contract_tie."""

from __future__ import annotations

from dpm.catalog import validation
from dpm.catalog.event_kinds.base import Change, Checks, EventKind, TieFact
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.errors import InvalidArgument, Violations


class LeadershipMove(EventKind[ownership_pb2.LeadershipMove]):
    """A person moves from one organization to another (exposure goes to the destination)."""

    def validate(self, message: ownership_pb2.LeadershipMove, checks: Checks) -> Change:
        v = Violations()
        validation.text(
            v, message.person, checks.field("person"), validation.NAME_LIMIT, required=True
        )
        validation.text(v, message.role, checks.field("role"), validation.NAME_LIMIT)
        v.raise_if_any()
        source = checks.organization(message.from_organization, "from_organization")
        dest = checks.organization(message.to_organization, "to_organization")
        if source == dest:
            raise InvalidArgument.one(
                checks.field("to_organization"), "must differ from from_organization"
            )
        change = checks.change()
        change.ties.append(
            TieFact(
                ownership_pb2.TIE_KIND_LEADERSHIP_MOVE,
                source,
                dest,
                person=message.person.strip(),
                role=message.role.strip(),
            )
        )
        change.touched |= {source, dest}
        return change


class ContractTie(EventKind[ownership_pb2.ContractTie]):
    """A contract between an organization and a counterparty (exposure goes to the counterparty)."""

    def validate(self, message: ownership_pb2.ContractTie, checks: Checks) -> Change:
        v = Violations()
        if validation.enum(
            v, message.kind, ownership_pb2.TieKind, checks.field("kind"), unspecified=False
        ):
            v.check(
                message.kind != ownership_pb2.TIE_KIND_LEADERSHIP_MOVE,
                checks.field("kind"),
                "a person's move is recorded with leadership_move",
            )
        v.raise_if_any()
        org = checks.organization(message.organization, "organization")
        other = checks.organization(message.counterparty, "counterparty")
        if org == other:
            raise InvalidArgument.one(checks.field("counterparty"), "must differ from organization")
        change = checks.change()
        change.ties.append(TieFact(message.kind, org, other))
        change.touched |= {org, other}
        return change
