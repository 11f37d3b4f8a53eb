"""Every RPC of every dpmatch server: who may call it, and a well-formed request for it.

Tests of "every RPC x every identity" iterate over ``RPCS``; a new RPC that is
not listed here fails ``test_every_rpc_is_in_the_table`` (test_tenant_isolation).
Requests are well-formed, so only the caller's identity decides whether a call
is refused; write requests are only ever sent with identities that must be
refused (they would change data otherwise).

``seeded_stack`` starts the four servers in this process with a small catalog and
labs whose ids are prefixes of each other (lab-1 / lab-10, google / google-deepmind).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import field_mask_pb2
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message

from dpm.audit.v1 import audit_pb2, audit_pb2_grpc
from dpm.auth.v1 import tokens_pb2, tokens_pb2_grpc
from dpm.catalog.v1 import bods_pb2, bods_pb2_grpc, catalog_pb2, catalog_pb2_grpc
from dpm.common.v1 import common_pb2
from dpm.matching.v1 import matching_pb2, matching_pb2_grpc
from dpm.neutrality.v1 import neutrality_pb2, neutrality_pb2_grpc
from dpm.ownership.v1 import ownership_pb2
from dpm.platform import auth
from dpm.platform.grpc_client import open_channel
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc
from tests.inprocess import inprocess_stack, wait_serving

AS_OF = "2025-06-01"
# Labs whose ids are prefixes of each other's.
LABS = ("lab-1", "lab-10", "google", "google-deepmind")
NO_SUCH_TOKEN = "tokens/" + "0" * 32


class Access(enum.Enum):
    AUTHENTICATED = "any valid token"  # the catalog is public to every caller
    CLIENT_READ = "admin, auditor, services, or the lab itself"
    CLIENT_WRITE = "admin, or the lab itself"
    READER = "admin, auditor, services"
    ADMIN = "admin only"

    @property
    def writes(self) -> bool:
        return self in (Access.CLIENT_WRITE, Access.ADMIN)


@dataclass(frozen=True)
class Outcome:
    code: grpc.StatusCode
    details: str

    @property
    def refused(self) -> bool:
        return self.code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


@dataclass(frozen=True)
class Rpc:
    server: str  # which process serves it: catalog, requirements, neutrality, matching
    service: ServiceDescriptor
    stub: type
    method: str
    access: Access
    # A well-formed request; per-client RPCs address the lab with this id.
    request: Callable[[str], Message]

    @property
    def full_name(self) -> str:
        return f"/{self.service.full_name}/{self.method}"

    def __str__(self) -> str:
        return f"{self.service.name}.{self.method}"

    def call(
        self, channel: grpc.Channel, authorization: str | None, lab: str, timeout: float = 10
    ) -> Outcome:
        """Call with this ``authorization`` metadata value (None: no metadata at all)."""
        metadata = [] if authorization is None else [("authorization", authorization)]
        method = getattr(self.stub(channel), self.method)
        descriptor = self.service.methods_by_name[self.method]
        request = self.request(lab)
        try:
            if descriptor.client_streaming:
                method(iter([request]), metadata=metadata, timeout=timeout)
            elif descriptor.server_streaming:
                replies = method(request, metadata=metadata, timeout=timeout)
                try:
                    next(replies, None)
                finally:
                    replies.cancel()
            else:
                method(request, metadata=metadata, timeout=timeout)
        except grpc.RpcError as exc:
            return Outcome(exc.code(), exc.details() or "")
        return Outcome(grpc.StatusCode.OK, "")


def bearer(token: str) -> str:
    return f"Bearer {token}"


def _client(lab: str) -> str:
    return f"clients/{lab}"


def minimal_client(display_name: str) -> requirements_pb2.Client:
    return requirements_pb2.Client(
        display_name=display_name,
        requirements=requirements_pb2.Requirements(
            needs=[requirements_pb2.Need(modality=common_pb2.MODALITY_RLHF, monthly_volume=1000)]
        ),
        neutrality_policy=requirements_pb2.NeutralityPolicy(
            competitors=["organizations/meta"],
            max_competitor_equity=0.25,
            max_competitor_voting=0.25,
        ),
    )


def _event(_: str) -> catalog_pb2.RecordOwnershipEventRequest:
    event = ownership_pb2.OwnershipEvent(event_id="access-test-seat", effective_date=AS_OF)
    event.board_seat_granted.holder = "organizations/meta"
    event.board_seat_granted.held = "organizations/scale-ai"
    return catalog_pb2.RecordOwnershipEventRequest(event=event)


CATALOG = catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"]
BODS = bods_pb2.DESCRIPTOR.services_by_name["BodsService"]
REQUIREMENTS = requirements_pb2.DESCRIPTOR.services_by_name["RequirementsService"]
TOKENS = tokens_pb2.DESCRIPTOR.services_by_name["TokenService"]
NEUTRALITY = neutrality_pb2.DESCRIPTOR.services_by_name["NeutralityService"]
MATCHING = matching_pb2.DESCRIPTOR.services_by_name["MatchingService"]
AUDIT = audit_pb2.DESCRIPTOR.services_by_name["AuditService"]
# The gRPC services each server serves (health and reflection aside).
SERVED = {
    "catalog": (CATALOG, BODS, AUDIT),
    "requirements": (REQUIREMENTS, TOKENS, AUDIT),
    "neutrality": (NEUTRALITY,),
    "matching": (MATCHING,),
}


def _rpc(
    server: str, service: ServiceDescriptor, stub: type, access: Access
) -> Callable[[str, Callable[[str], Message]], Rpc]:
    return lambda method, request: Rpc(server, service, stub, method, access, request)


_cat = catalog_pb2_grpc.CatalogServiceStub
_catalog_read = _rpc("catalog", CATALOG, _cat, Access.AUTHENTICATED)
_catalog_write = _rpc("catalog", CATALOG, _cat, Access.ADMIN)
_req = requirements_pb2_grpc.RequirementsServiceStub
_tok = tokens_pb2_grpc.TokenServiceStub

RPCS: tuple[Rpc, ...] = (
    _catalog_write(
        "CreateOrganization",
        lambda _: catalog_pb2.CreateOrganizationRequest(
            organization_id="access-new",
            organization=catalog_pb2.Organization(display_name="New", kind=1),
        ),
    ),
    _catalog_read(
        "GetOrganization", lambda _: catalog_pb2.GetOrganizationRequest(name="organizations/meta")
    ),
    _catalog_read("ListOrganizations", lambda _: catalog_pb2.ListOrganizationsRequest()),
    _catalog_write(
        "UpdateOrganization",
        lambda _: catalog_pb2.UpdateOrganizationRequest(
            organization=catalog_pb2.Organization(name="organizations/meta", display_name="M"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        ),
    ),
    _catalog_read(
        "GetVendorProfile",
        lambda _: catalog_pb2.GetVendorProfileRequest(name="organizations/scale-ai/vendorProfile"),
    ),
    _catalog_read("ListVendorProfiles", lambda _: catalog_pb2.ListVendorProfilesRequest()),
    _catalog_write(
        "UpdateVendorProfile",
        lambda _: catalog_pb2.UpdateVendorProfileRequest(
            vendor_profile=catalog_pb2.VendorProfile(name="organizations/scale-ai/vendorProfile"),
            allow_missing=True,
        ),
    ),
    _catalog_write("RecordOwnershipEvent", _event),
    _catalog_read(
        "SimulateOwnershipEvent",
        lambda who: catalog_pb2.SimulateOwnershipEventRequest(
            event=_event(who).event, as_of=AS_OF, skip_graph=True
        ),
    ),
    _catalog_read(
        "GetOwnershipEvent",
        lambda _: catalog_pb2.GetOwnershipEventRequest(name="ownershipEvents/access-none"),
    ),
    _catalog_read("ListOwnershipEvents", lambda _: catalog_pb2.ListOwnershipEventsRequest()),
    _catalog_read(
        "ExportOwnershipGraph", lambda _: catalog_pb2.ExportOwnershipGraphRequest(as_of=AS_OF)
    ),
    _catalog_read(
        "StreamOwnershipGraph", lambda _: catalog_pb2.ExportOwnershipGraphRequest(as_of=AS_OF)
    ),
    Rpc(
        "catalog",
        BODS,
        bods_pb2_grpc.BodsServiceStub,
        "ImportBodsStatements",
        Access.ADMIN,
        lambda _: bods_pb2.ImportBodsStatementsRequest(statements=[]),
    ),
    Rpc(
        "catalog",
        BODS,
        bods_pb2_grpc.BodsServiceStub,
        "ExportBodsStatements",
        Access.AUTHENTICATED,
        lambda _: bods_pb2.ExportBodsStatementsRequest(as_of=AS_OF),
    ),
    Rpc(
        "requirements",
        REQUIREMENTS,
        _req,
        "CreateClient",
        Access.ADMIN,
        lambda _: requirements_pb2.CreateClientRequest(
            client_id="access-new", client=minimal_client("New")
        ),
    ),
    Rpc(
        "requirements",
        REQUIREMENTS,
        _req,
        "GetClient",
        Access.CLIENT_READ,
        lambda lab: requirements_pb2.GetClientRequest(name=_client(lab)),
    ),
    Rpc(
        "requirements",
        REQUIREMENTS,
        _req,
        "ListClients",
        Access.READER,
        lambda _: requirements_pb2.ListClientsRequest(),
    ),
    Rpc(
        "requirements",
        REQUIREMENTS,
        _req,
        "BatchGetClients",
        Access.READER,
        lambda lab: requirements_pb2.BatchGetClientsRequest(names=[_client(lab)]),
    ),
    Rpc(
        "requirements",
        REQUIREMENTS,
        _req,
        "UpdateClient",
        Access.CLIENT_WRITE,
        lambda lab: requirements_pb2.UpdateClientRequest(
            client=requirements_pb2.Client(name=_client(lab), display_name="changed"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        ),
    ),
    Rpc(
        "requirements",
        REQUIREMENTS,
        _req,
        "DeleteClient",
        Access.ADMIN,
        lambda lab: requirements_pb2.DeleteClientRequest(name=_client(lab)),
    ),
    Rpc(
        "requirements",
        TOKENS,
        _tok,
        "IssueToken",
        Access.ADMIN,
        lambda lab: tokens_pb2.IssueTokenRequest(role=tokens_pb2.ROLE_LAB, subject=_client(lab)),
    ),
    Rpc(
        "requirements",
        TOKENS,
        _tok,
        "ListTokens",
        Access.ADMIN,
        lambda lab: tokens_pb2.ListTokensRequest(subject=_client(lab)),
    ),
    Rpc(
        "requirements",
        TOKENS,
        _tok,
        "RevokeToken",
        Access.ADMIN,
        lambda _: tokens_pb2.RevokeTokenRequest(name=NO_SUCH_TOKEN),
    ),
    *(
        Rpc(
            server,
            AUDIT,
            audit_pb2_grpc.AuditServiceStub,
            "ListAuditEntries",
            Access.READER,
            lambda _: audit_pb2.ListAuditEntriesRequest(),
        )
        for server in ("catalog", "requirements")
    ),
    Rpc(
        "neutrality",
        NEUTRALITY,
        neutrality_pb2_grpc.NeutralityServiceStub,
        "ScoreVendors",
        Access.CLIENT_READ,
        lambda lab: neutrality_pb2.ScoreVendorsRequest(client=_client(lab), as_of=AS_OF),
    ),
    Rpc(
        "neutrality",
        NEUTRALITY,
        neutrality_pb2_grpc.NeutralityServiceStub,
        "ScorePolicy",
        Access.AUTHENTICATED,
        lambda _: neutrality_pb2.ScorePolicyRequest(
            policy=minimal_client("Any").neutrality_policy, as_of=AS_OF
        ),
    ),
    Rpc(
        "matching",
        MATCHING,
        matching_pb2_grpc.MatchingServiceStub,
        "GetRecommendations",
        Access.CLIENT_READ,
        lambda lab: matching_pb2.GetRecommendationsRequest(name=f"{_client(lab)}/recommendations"),
    ),
    Rpc(
        "matching",
        MATCHING,
        matching_pb2_grpc.MatchingServiceStub,
        "WatchRecommendations",
        Access.CLIENT_READ,
        lambda lab: matching_pb2.WatchRecommendationsRequest(
            name=f"{_client(lab)}/recommendations"
        ),
    ),
    Rpc(
        "matching",
        MATCHING,
        matching_pb2_grpc.MatchingServiceStub,
        "SimulateEvent",
        Access.CLIENT_READ,
        lambda lab: matching_pb2.SimulateEventRequest(
            event=_event(lab).event, clients=[_client(lab)], as_of=AS_OF
        ),
    ),
    Rpc(
        "matching",
        MATCHING,
        matching_pb2_grpc.MatchingServiceStub,
        "PlanPortfolio",
        Access.CLIENT_READ,
        lambda lab: matching_pb2.PlanPortfolioRequest(client=_client(lab), as_of=AS_OF),
    ),
    Rpc(
        "matching",
        MATCHING,
        matching_pb2_grpc.MatchingServiceStub,
        "AnalyzeConcentration",
        Access.CLIENT_READ,
        lambda lab: matching_pb2.AnalyzeConcentrationRequest(
            client=_client(lab),
            work=[matching_pb2.VendorWork(vendor="organizations/scale-ai", monthly_units=1)],
            as_of=AS_OF,
        ),
    ),
)

# One cheap read per server that a lab token may make for its own lab: does this server
# accept the token?
PROBES = {
    "catalog": next(r for r in RPCS if r.method == "ListOrganizations"),
    "requirements": next(r for r in RPCS if r.method == "GetClient"),
    "neutrality": next(r for r in RPCS if r.method == "ScoreVendors"),
    "matching": next(r for r in RPCS if r.method == "GetRecommendations"),
}


@dataclass
class SeededStack:
    secret: str
    addresses: dict[str, str]
    channels: dict[str, grpc.Channel]  # bare channels: each call brings its own metadata
    admin: str
    # Each lab's token from CreateClient.
    lab_tokens: dict[str, str]

    def probe(self, server: str, token: str, lab: str) -> Outcome:
        return PROBES[server].call(self.channels[server], bearer(token), lab)

    def accepted_everywhere(self, token: str, lab: str) -> dict[str, Outcome]:
        return {s: self.probe(s, token, lab) for s in PROBES}

    def requirements(
        self, token: str | None = None
    ) -> requirements_pb2_grpc.RequirementsServiceStub:
        return requirements_pb2_grpc.RequirementsServiceStub(
            open_channel(self.addresses["requirements"], token or self.admin, 10)
        )

    def tokens(self, token: str | None = None) -> tokens_pb2_grpc.TokenServiceStub:
        return tokens_pb2_grpc.TokenServiceStub(
            open_channel(self.addresses["requirements"], token or self.admin, 10)
        )

    def wait_refused_everywhere(
        self, token: str, lab: str, within: float = 1.0
    ) -> dict[str, float]:
        """Seconds until each server refused ``token`` (UNAUTHENTICATED); fails past ``within``."""
        start = time.monotonic()
        pending = set(PROBES)
        seen: dict[str, float] = {}
        while pending:
            for server in sorted(pending):
                outcome = self.probe(server, token, lab)
                if outcome.code is grpc.StatusCode.UNAUTHENTICATED:
                    seen[server] = time.monotonic() - start
                    pending.discard(server)
            if pending and time.monotonic() - start > within:
                raise AssertionError(f"still accepted after {within}s by {sorted(pending)}")
            time.sleep(0.01)
        return seen


def seed(stack_admin: str, addresses: dict[str, str]) -> dict[str, str]:
    with open_channel(addresses["catalog"], stack_admin, 10) as channel:
        catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
        for slug, kind in [("meta", 2), ("google", 2), ("scale-ai", 1)]:
            catalog.CreateOrganization(
                catalog_pb2.CreateOrganizationRequest(
                    organization_id=slug,
                    organization=catalog_pb2.Organization(display_name=slug.title(), kind=kind),
                )
            )
    with open_channel(addresses["requirements"], stack_admin, 10) as channel:
        requirements = requirements_pb2_grpc.RequirementsServiceStub(channel)
        return {
            lab: requirements.CreateClient(
                requirements_pb2.CreateClientRequest(client_id=lab, client=minimal_client(lab))
            ).access_token
            for lab in LABS
        }


@contextmanager
def seeded_stack(
    data_dir: Path, secret: str, redis_url: str, cache_prefix: str, **matching: Any
) -> Iterator[SeededStack]:
    with inprocess_stack(data_dir, secret, redis_url, cache_prefix, **matching) as running:
        admin = auth.admin_token(secret)
        for address in running.addresses.values():
            wait_serving(address)
        lab_tokens = seed(admin, running.addresses)
        channels = {s: grpc.insecure_channel(a) for s, a in running.addresses.items()}
        try:
            yield SeededStack(secret, running.addresses, channels, admin, lab_tokens)
        finally:
            for channel in channels.values():
                channel.close()
