"""The field behaviours (AIP-203) and resource annotations (AIP-123) in ``protos/`` are
binding: what they say is what the servers do.

- Every field annotated REQUIRED, on every request of every RPC the servers serve (at
  any depth: ``event.stake_acquired.holder``, ``client.requirements.needs[0].modality``),
  is left out of an otherwise valid request sent to the real server: the answer is
  INVALID_ARGUMENT with a ``google.rpc.BadRequest`` field violation naming it (a
  message-valued field may be named by one of its own fields, e.g. ``organization``
  by ``organization.display_name``). The valid requests are the table ``VALID`` below;
  a REQUIRED field that no entry reaches fails ``test_every_required_field_is_exercised``,
  and each valid request itself must be accepted.
- Every OUTPUT_ONLY field a write request can carry is sent filled with a value the
  server would never set: the write succeeds and the answer holds the server's value.
- Every resource's name, as the server returns it, matches its pattern.
- Statically: every field of every message a request reaches has a behaviour, REQUIRED
  is never on a oneof member, IDENTIFIER is exactly the resources' ``name``, and no
  comment under ``protos/dpm`` says "Required." or "Output only." any more.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis
from google.api import field_behavior_pb2, resource_pb2
from google.protobuf import timestamp_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from dpm.auth.v1 import tokens_pb2
from dpm.catalog.v1 import bods_pb2, catalog_pb2
from dpm.common.v1 import common_pb2
from dpm.matching.v1 import matching_pb2, matching_pb2_grpc
from dpm.neutrality.v1 import neutrality_pb2
from dpm.ownership.v1 import ownership_pb2
from dpm.requirements.v1 import requirements_pb2
from tests.access import AS_OF, RPCS, Rpc, SeededStack, bearer, minimal_client, seeded_stack
from tests.service.test_catalog_support import field_violations

PROTOS = Path(__file__).resolve().parents[2] / "protos"
LAB = "lab-1"

REQUIRED = field_behavior_pb2.REQUIRED
OPTIONAL = field_behavior_pb2.OPTIONAL
OUTPUT_ONLY = field_behavior_pb2.OUTPUT_ONLY
IDENTIFIER = field_behavior_pb2.IDENTIFIER

# Each RPC once (ListAuditEntries is served by two servers: the first will do).
UNIQUE_RPCS: dict[str, Rpc] = {}
for _rpc in RPCS:
    UNIQUE_RPCS.setdefault(_rpc.full_name, _rpc)


def behaviors(f: FieldDescriptor) -> list[int]:
    return list(f.GetOptions().Extensions[field_behavior_pb2.field_behavior])


def _ours(descriptor: Descriptor) -> bool:
    return not descriptor.full_name.startswith("google.")


def _child_prefix(f: FieldDescriptor, path: str) -> str:
    return f"{path}[0]." if f.is_repeated else f"{path}."


def static_paths(descriptor: Descriptor, behavior: int, prefix: str = "") -> set[str]:
    """Paths of every field annotated ``behavior`` that a message of this type can hold
    (a repeated message field's elements as ``[0]``; google.protobuf types not entered)."""
    found: set[str] = set()
    for f in descriptor.fields:
        path = f"{prefix}{f.name}"
        if behavior in behaviors(f):
            found.add(path)
        if f.message_type is not None and _ours(f.message_type):
            assert len(prefix) < 500, f"a recursive message at {path}"
            found |= static_paths(f.message_type, behavior, _child_prefix(f, path))
    return found


def present_paths(message: Message, behavior: int, prefix: str = "") -> set[str]:
    """Paths of the fields annotated ``behavior`` that ``message`` sets (following only
    the message fields it sets, and only the first element of a repeated one)."""
    found: set[str] = set()
    for f in message.DESCRIPTOR.fields:
        path = f"{prefix}{f.name}"
        value = getattr(message, f.name)
        present = len(value) > 0 if f.is_repeated else _has(message, f)
        if behavior in behaviors(f) and present:
            found.add(path)
        if present and f.message_type is not None and _ours(f.message_type):
            child = value[0] if f.is_repeated else value
            found |= present_paths(child, behavior, _child_prefix(f, path))
    return found


def _has(message: Message, f: FieldDescriptor) -> bool:
    if f.has_presence:
        return message.HasField(f.name)
    return getattr(message, f.name) != f.default_value


_STEP = re.compile(r"(\w+)(\[0\])?")


def _walk_to(message: Message, path: str) -> tuple[Message, str]:
    """The message holding the last field of ``path``, and that field's name."""
    *parents, last = path.split(".")
    for step in parents:
        matched = _STEP.fullmatch(step)
        assert matched, path
        name, indexed = matched.groups()
        message = getattr(message, name)[0] if indexed else getattr(message, name)
    return message, last


def without(message: Message, path: str) -> Message:
    """A copy of ``message`` with the field at ``path`` cleared."""
    copy = type(message)()
    copy.CopyFrom(message)
    holder, name = _walk_to(copy, path)
    holder.ClearField(name)
    return copy


# -- calling ---------------------------------------------------------------------------------


def call(stack: SeededStack, rpc: Rpc, request: Message, timeout: float = 20) -> Any:
    """The reply (a streaming RPC's first message), or the grpc.RpcError."""
    method = getattr(rpc.stub(stack.channels[rpc.server]), rpc.method)
    descriptor = rpc.service.methods_by_name[rpc.method]
    metadata = [("authorization", bearer(stack.admin))]
    try:
        if descriptor.client_streaming:
            return method(iter([request]), metadata=metadata, timeout=timeout)
        if descriptor.server_streaming:
            replies = method(request, metadata=metadata, timeout=timeout)
            try:
                return next(replies)
            finally:
                replies.cancel()
        return method(request, metadata=metadata, timeout=timeout)
    except grpc.RpcError as err:
        return err


def rpc_named(method: str) -> Rpc:
    (found,) = [r for r in UNIQUE_RPCS.values() if r.method == method]
    return found


def must(stack: SeededStack, method: str, request: Message) -> Any:
    reply = call(stack, rpc_named(method), request)
    assert not isinstance(reply, grpc.RpcError), f"{method}: {reply.code()} {reply.details()}"
    return reply


def organizations(stack: SeededStack, *slugs: str) -> None:
    """Create these organizations (vendors) unless they exist."""
    for slug in slugs:
        reply = call(
            stack,
            rpc_named("CreateOrganization"),
            catalog_pb2.CreateOrganizationRequest(
                organization_id=slug,
                organization=catalog_pb2.Organization(
                    display_name=slug, kind=catalog_pb2.ORGANIZATION_KIND_VENDOR
                ),
            ),
        )
        if isinstance(reply, grpc.RpcError):
            assert reply.code() is grpc.StatusCode.ALREADY_EXISTS, reply.details()


def record(stack: SeededStack, event: ownership_pb2.OwnershipEvent) -> ownership_pb2.OwnershipEvent:
    return must(stack, "RecordOwnershipEvent", catalog_pb2.RecordOwnershipEventRequest(event=event))


# -- valid requests --------------------------------------------------------------------------

Context = dict[str, str]


@dataclass(frozen=True)
class Valid:
    """An otherwise-valid request for ``method``: ``setup`` prepares what it refers to
    (and returns values the request is built from); the request must be accepted."""

    method: str
    tag: str
    request: Callable[[Context], Message]
    setup: Callable[[SeededStack], Context] = field(default=lambda _: {})

    @property
    def id(self) -> str:
        return f"{self.method}-{self.tag}"


def _org(slug: str) -> str:
    return f"organizations/{slug}"


def _pair(tag: str) -> tuple[str, str]:
    return f"fb-{tag}-a", f"fb-{tag}-b"


def _event(tag: str, member: str, **fields: Any) -> ownership_pb2.OwnershipEvent:
    event = ownership_pb2.OwnershipEvent(event_id=f"fb-{tag}", effective_date=AS_OF)
    change = getattr(event, member)
    change.SetInParent()
    for key, value in fields.items():
        setattr(change, key, value)
    return event


def _holding_event(
    tag: str, member: str, pair: str = "", **fields: Any
) -> ownership_pb2.OwnershipEvent:
    """Event ``fb-{tag}`` between the organizations of ``_pair(pair or tag)``."""
    a, b = _pair(pair or tag)
    return _event(tag, member, holder=_org(a), held=_org(b), **fields)


def _event_valid(
    tag: str,
    build: Callable[[], ownership_pb2.OwnershipEvent],
    before: Callable[[], ownership_pb2.OwnershipEvent] | None = None,
) -> Valid:
    """RecordOwnershipEvent of ``build()`` between two fresh organizations (after
    ``before()`` when given: a holding for a change to apply to)."""

    def setup(stack: SeededStack) -> Context:
        organizations(stack, *_pair(tag))
        if before is not None:
            record(stack, before())
        return {}

    return Valid(
        "RecordOwnershipEvent",
        tag,
        lambda _: catalog_pb2.RecordOwnershipEventRequest(event=build()),
        setup,
    )


def _profile(slug: str) -> catalog_pb2.VendorProfile:
    return catalog_pb2.VendorProfile(
        name=f"{_org(slug)}/vendorProfile",
        service_model=catalog_pb2.SERVICE_MODEL_HYBRID,
        capabilities=[
            catalog_pb2.Capability(
                modality=common_pb2.MODALITY_TEXT, monthly_capacity=10, quality=0.9
            )
        ],
    )


def _setup_organizations(*slugs: str) -> Callable[[SeededStack], Context]:
    def setup(stack: SeededStack) -> Context:
        organizations(stack, *slugs)
        return {}

    return setup


def _setup_profile(slug: str) -> Callable[[SeededStack], Context]:
    def setup(stack: SeededStack) -> Context:
        organizations(stack, slug)
        must(
            stack,
            "UpdateVendorProfile",
            catalog_pb2.UpdateVendorProfileRequest(
                vendor_profile=_profile(slug), allow_missing=True
            ),
        )
        return {}

    return setup


def _setup_client(client_id: str) -> Callable[[SeededStack], Context]:
    def setup(stack: SeededStack) -> Context:
        reply = call(
            stack,
            rpc_named("CreateClient"),
            requirements_pb2.CreateClientRequest(
                client_id=client_id, client=minimal_client(client_id)
            ),
        )
        if isinstance(reply, grpc.RpcError):
            assert reply.code() is grpc.StatusCode.ALREADY_EXISTS, reply.details()
        return {}

    return setup


def _client_update(client_id: str) -> requirements_pb2.UpdateClientRequest:
    client = minimal_client("Updated")
    client.name = f"clients/{client_id}"
    return requirements_pb2.UpdateClientRequest(client=client)  # empty mask: every field


def _setup_token(stack: SeededStack) -> Context:
    reply = must(
        stack,
        "IssueToken",
        tokens_pb2.IssueTokenRequest(role=tokens_pb2.ROLE_AUDITOR, subject="fb-revoked"),
    )
    return {"token": reply.token.name}


def _setup_event(stack: SeededStack) -> Context:
    organizations(stack, *_pair("get"))
    return {"event": record(stack, _holding_event("get", "board_seat_granted")).name}


VALID: tuple[Valid, ...] = (
    # catalog
    Valid(
        "CreateOrganization",
        "new",
        lambda _: catalog_pb2.CreateOrganizationRequest(
            organization_id="fb-new",
            organization=catalog_pb2.Organization(
                display_name="New", kind=catalog_pb2.ORGANIZATION_KIND_LAB
            ),
        ),
    ),
    Valid(
        "GetOrganization",
        "meta",
        lambda _: catalog_pb2.GetOrganizationRequest(name="organizations/meta"),
    ),
    Valid(
        "UpdateOrganization",
        "all-fields",
        lambda _: catalog_pb2.UpdateOrganizationRequest(
            organization=catalog_pb2.Organization(
                name=_org("fb-updated"),
                display_name="Updated",
                kind=catalog_pb2.ORGANIZATION_KIND_INVESTOR,
            )
        ),
        _setup_organizations("fb-updated"),
    ),
    Valid(
        "GetVendorProfile",
        "existing",
        lambda _: catalog_pb2.GetVendorProfileRequest(name=f"{_org('fb-profiled')}/vendorProfile"),
        _setup_profile("fb-profiled"),
    ),
    Valid(
        "UpdateVendorProfile",
        "create",
        lambda _: catalog_pb2.UpdateVendorProfileRequest(
            vendor_profile=_profile("fb-vendor"), allow_missing=True
        ),
        _setup_organizations("fb-vendor"),
    ),
    _event_valid(
        "acquired", lambda: _holding_event("acquired", "stake_acquired", equity_fraction=0.1)
    ),
    _event_valid(
        "changed",
        lambda: _holding_event("changed", "stake_changed", equity_fraction=0.2),
        lambda: _holding_event("changed-before", "stake_acquired", "changed", equity_fraction=0.1),
    ),
    _event_valid(
        "divested",
        lambda: _holding_event("divested", "stake_divested"),
        lambda: _holding_event(
            "divested-before", "stake_acquired", "divested", equity_fraction=0.1
        ),
    ),
    _event_valid(
        "acquisition",
        lambda: _event(
            "acquisition",
            "full_acquisition",
            acquirer=_org(_pair("acquisition")[0]),
            target=_org(_pair("acquisition")[1]),
        ),
    ),
    _event_valid(
        "move",
        lambda: _event(
            "move",
            "leadership_move",
            person="A. Person",
            role="CEO",
            from_organization=_org(_pair("move")[0]),
            to_organization=_org(_pair("move")[1]),
        ),
    ),
    _event_valid("granted", lambda: _holding_event("granted", "board_seat_granted", seats=1)),
    _event_valid(
        "removed",
        lambda: _holding_event("removed", "board_seat_removed", seats=1),
        lambda: _holding_event("removed-before", "board_seat_granted", "removed", seats=1),
    ),
    _event_valid(
        "tie",
        lambda: _event(
            "tie",
            "contract_tie",
            kind=ownership_pb2.TIE_KIND_EXCLUSIVE_CONTRACT,
            organization=_org(_pair("tie")[0]),
            counterparty=_org(_pair("tie")[1]),
        ),
    ),
    Valid(
        "GetOwnershipEvent",
        "recorded",
        lambda ctx: catalog_pb2.GetOwnershipEventRequest(
            name=ctx.get("event", "ownershipEvents/fb-get")
        ),
        _setup_event,
    ),
    Valid(
        "ExportOwnershipGraph",
        "as-of",
        lambda _: catalog_pb2.ExportOwnershipGraphRequest(as_of=AS_OF),
    ),
    Valid(
        "StreamOwnershipGraph",
        "as-of",
        lambda _: catalog_pb2.ExportOwnershipGraphRequest(as_of=AS_OF),
    ),
    Valid(
        "ExportBodsStatements",
        "as-of",
        lambda _: bods_pb2.ExportBodsStatementsRequest(as_of=AS_OF),
    ),
    # requirements
    Valid(
        "CreateClient",
        "new",
        lambda _: requirements_pb2.CreateClientRequest(
            client_id="fb-new", client=minimal_client("New")
        ),
    ),
    Valid("GetClient", "lab", lambda _: requirements_pb2.GetClientRequest(name=f"clients/{LAB}")),
    Valid(
        "UpdateClient",
        "all-fields",
        lambda _: _client_update("fb-updated"),
        _setup_client("fb-updated"),
    ),
    Valid(
        "DeleteClient",
        "existing",
        lambda _: requirements_pb2.DeleteClientRequest(name="clients/fb-deleted"),
        _setup_client("fb-deleted"),
    ),
    Valid(
        "IssueToken",
        "auditor",
        lambda _: tokens_pb2.IssueTokenRequest(role=tokens_pb2.ROLE_AUDITOR, subject="fb-auditor"),
    ),
    Valid(
        "RevokeToken",
        "issued",
        lambda ctx: tokens_pb2.RevokeTokenRequest(name=ctx.get("token", "tokens/0")),
        _setup_token,
    ),
    # neutrality
    Valid(
        "ScoreVendors",
        "lab",
        lambda _: neutrality_pb2.ScoreVendorsRequest(client=f"clients/{LAB}", as_of=AS_OF),
    ),
    Valid(
        "ScorePolicy",
        "policy",
        lambda _: neutrality_pb2.ScorePolicyRequest(
            policy=minimal_client("Any").neutrality_policy, as_of=AS_OF
        ),
    ),
    # matching
    Valid(
        "GetRecommendations",
        "lab",
        lambda _: matching_pb2.GetRecommendationsRequest(name=f"clients/{LAB}/recommendations"),
    ),
    Valid(
        "WatchRecommendations",
        "lab",
        lambda _: matching_pb2.WatchRecommendationsRequest(name=f"clients/{LAB}/recommendations"),
    ),
    Valid(
        "PlanPortfolio",
        "lab",
        lambda _: matching_pb2.PlanPortfolioRequest(client=f"clients/{LAB}", as_of=AS_OF),
    ),
    Valid(
        "AnalyzeConcentration",
        "lab",
        lambda _: matching_pb2.AnalyzeConcentrationRequest(
            client=f"clients/{LAB}",
            work=[matching_pb2.VendorWork(vendor="organizations/scale-ai", monthly_units=10)],
            as_of=AS_OF,
        ),
    ),
)


def _simulated(recorded: Valid) -> Valid:
    """The same event, simulated: the same checks, nothing written."""

    def request(context: Context) -> Message:
        event = recorded.request(context).event  # type: ignore[attr-defined]
        # An id of its own: the recorded entry may have stored its event by now, and
        # that id with other content is refused before any field is checked.
        event.event_id += "-sim"
        return catalog_pb2.SimulateOwnershipEventRequest(event=event, as_of=AS_OF, skip_graph=True)

    return Valid("SimulateOwnershipEvent", recorded.tag, request, recorded.setup)


def _scored_what_if(recorded: Valid) -> Valid:
    """The same event as a what-if of ScorePolicy: checked by the catalog, named under
    what_if."""

    def request(context: Context) -> Message:
        event = recorded.request(context).event  # type: ignore[attr-defined]
        event.event_id += "-whatif"
        return neutrality_pb2.ScorePolicyRequest(as_of=AS_OF, what_if=event, verdicts_only=True)

    return Valid("ScorePolicy", f"what-if-{recorded.tag}", request, recorded.setup)


# Every event kind simulated too (SimulateOwnershipEvent and ScorePolicy's what-if hold
# an OwnershipEvent), each before it is recorded: a divestment recorded leaves no stake
# for its simulation.
def _matched_what_if(recorded: Valid) -> Valid:
    """The same event as matching's SimulateEvent for one lab."""

    def request(context: Context) -> Message:
        event = recorded.request(context).event  # type: ignore[attr-defined]
        event.event_id += "-match"
        return matching_pb2.SimulateEventRequest(
            event=event, clients=[f"clients/{LAB}"], as_of=AS_OF
        )

    return Valid("SimulateEvent", f"what-if-{recorded.tag}", request, recorded.setup)


def _concentration_what_if(recorded: Valid) -> Valid:
    """The same event as AnalyzeConcentration's what-if for one lab."""

    def request(context: Context) -> Message:
        event = recorded.request(context).event  # type: ignore[attr-defined]
        event.event_id += "-share"
        return matching_pb2.AnalyzeConcentrationRequest(
            client=f"clients/{LAB}",
            work=[matching_pb2.VendorWork(vendor="organizations/scale-ai", monthly_units=10)],
            as_of=AS_OF,
            what_if=event,
        )

    return Valid("AnalyzeConcentration", f"what-if-{recorded.tag}", request, recorded.setup)


_RECORDED = [v for v in VALID if v.method == "RecordOwnershipEvent"]
VALID = (
    tuple(_simulated(v) for v in _RECORDED)
    + tuple(_scored_what_if(v) for v in _RECORDED)
    + tuple(_matched_what_if(v) for v in _RECORDED)
    + tuple(_concentration_what_if(v) for v in _RECORDED)
    + VALID
)


def _input_type(rpc: Rpc) -> Descriptor:
    return rpc.service.methods_by_name[rpc.method].input_type


# -- static: the table covers the annotations, the annotations cover the fields --------------


def test_every_required_field_is_exercised() -> None:
    """Each REQUIRED field any request can hold is left out of some valid request."""
    missing = {}
    for rpc in UNIQUE_RPCS.values():
        wanted = static_paths(_input_type(rpc), REQUIRED)
        exercised: set[str] = set()
        for valid in VALID:
            if valid.method == rpc.method:
                exercised |= present_paths(valid.request({}), REQUIRED)
        if wanted - exercised:
            missing[str(rpc)] = sorted(wanted - exercised)
    assert not missing, f"REQUIRED fields no entry of VALID reaches: {missing}"
    assert {v.method for v in VALID} <= {r.method for r in UNIQUE_RPCS.values()}
    assert all(present_paths(v.request({}), REQUIRED) for v in VALID), "an entry tests nothing"


def _request_messages() -> dict[str, Descriptor]:
    """Every message (of ours) a request of some RPC can hold, at any depth."""
    found: dict[str, Descriptor] = {}

    def walk(descriptor: Descriptor) -> None:
        if descriptor.full_name in found or not _ours(descriptor):
            return
        found[descriptor.full_name] = descriptor
        for f in descriptor.fields:
            if f.message_type is not None:
                walk(f.message_type)

    for rpc in UNIQUE_RPCS.values():
        walk(_input_type(rpc))
    return found


def _resources() -> dict[str, Descriptor]:
    found: dict[str, Descriptor] = {}
    for rpc in UNIQUE_RPCS.values():
        method = rpc.service.methods_by_name[rpc.method]
        for module in (method.input_type.file, method.output_type.file):
            for message in module.message_types_by_name.values():
                if message.GetOptions().HasExtension(resource_pb2.resource):
                    found[message.full_name] = message
    return found


def test_every_field_a_request_can_hold_has_a_behavior() -> None:
    """AIP-203: REQUIRED, OPTIONAL, OUTPUT_ONLY or IDENTIFIER on every such field."""
    main = {REQUIRED, OPTIONAL, OUTPUT_ONLY, IDENTIFIER}
    bare = [
        f.full_name
        for message in _request_messages().values()
        for f in message.fields
        if not main & set(behaviors(f))
    ]
    assert not bare, f"fields without a field behavior: {bare}"
    both = [
        f.full_name
        for message in _request_messages().values()
        for f in message.fields
        if {REQUIRED, OPTIONAL} <= set(behaviors(f))
        or (OUTPUT_ONLY in behaviors(f) and len(behaviors(f)) > 1)
    ]
    assert not both, f"contradictory field behaviors: {both}"


def test_no_oneof_member_is_required() -> None:
    """Which member of a oneof is set is the caller's choice: none can be REQUIRED."""
    required = [
        f.full_name
        for message in _request_messages().values()
        for f in message.fields
        if f.containing_oneof is not None and REQUIRED in behaviors(f)
    ]
    assert not required


def test_identifier_is_exactly_the_name_of_each_resource() -> None:
    resources = _resources()
    assert set(resources) >= {
        "dpm.catalog.v1.Organization",
        "dpm.catalog.v1.VendorProfile",
        "dpm.ownership.v1.OwnershipEvent",
        "dpm.requirements.v1.Client",
        "dpm.matching.v1.RecommendationSet",
        "dpm.auth.v1.Token",
    }
    identifiers = {
        f.full_name
        for message in [*_request_messages().values(), *resources.values()]
        for f in message.fields
        if IDENTIFIER in behaviors(f)
    }
    assert identifiers == {f"{name}.name" for name in resources}


# "Required." / "Output only," at the start of a comment: the annotation says it now.
COMMENT = re.compile(r"//\s*(required|output only)\s*[.,:;]", re.IGNORECASE)


def test_no_comment_says_what_the_annotation_says() -> None:
    said = [
        f"{path.relative_to(PROTOS)}:{number}: {line.strip()}"
        for path in sorted((PROTOS / "dpm").rglob("*.proto"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if COMMENT.search(line)
    ]
    assert not said, "say it with (google.api.field_behavior):\n" + "\n".join(said)


# -- against the servers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, token_secret: str, redis_url: str
) -> Iterator[SeededStack]:
    prefix = f"dpmtest:{uuid.uuid4().hex[:8]}:"
    data = tmp_path_factory.mktemp("field-behaviors")
    with seeded_stack(data, token_secret, redis_url, prefix) as running:
        yield running
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


# OPTIONAL fields some requests need, as their comments say (AIP-203: REQUIRED only
# when always required).
CONDITIONAL = {
    "dpm.ownership.v1.OwnershipEvent.effective_date": "every change but a retraction",
}


def _names(err: grpc.RpcError, path: str, message_valued: bool) -> bool:
    named = field_violations(err)
    return path in named or (message_valued and any(n.startswith(f"{path}.") for n in named))


def _message_valued(request: Message, path: str) -> bool:
    holder, name = _walk_to(request, path)
    return holder.DESCRIPTOR.fields_by_name[name].message_type is not None


@pytest.mark.parametrize("valid", VALID, ids=lambda v: v.id)
def test_a_request_without_a_required_field_is_invalid_argument_naming_it(
    stack: SeededStack, valid: Valid
) -> None:
    rpc = rpc_named(valid.method)
    request = valid.request(valid.setup(stack))
    wrong = []
    for path in sorted(present_paths(request, REQUIRED)):
        reply = call(stack, rpc, without(request, path))
        if not isinstance(reply, grpc.RpcError):
            wrong.append(f"{path}: left out, the call succeeded")
        elif reply.code() is not grpc.StatusCode.INVALID_ARGUMENT:
            wrong.append(f"{path}: left out, {reply.code().name} {reply.details()!r}")
        elif not _names(reply, path, _message_valued(request, path)):
            wrong.append(f"{path}: left out, the violations name {field_violations(reply)}")
    # The request itself is valid: what refused its variants was the missing field.
    reply = call(stack, rpc, request)
    if isinstance(reply, grpc.RpcError):
        wrong.append(f"the whole request was refused: {reply.code().name} {reply.details()!r}")
    # And OPTIONAL is no lie either: left out, it is not what a refusal names. (After the
    # request itself, so a create answers ALREADY_EXISTS, but only once its fields passed;
    # an event gets an event_id of its own, the ledger would not look further otherwise.)
    for i, path in enumerate(sorted(present_paths(request, OPTIONAL))):
        variant = without(request, path)
        if isinstance(variant, catalog_pb2.RecordOwnershipEventRequest):
            variant.event.event_id += f"-optional-{i}"
        reply = call(stack, rpc, variant)
        holder, name = _walk_to(request, path)
        f = holder.DESCRIPTOR.fields_by_name[name]
        if (
            isinstance(reply, grpc.RpcError)
            and reply.code() is grpc.StatusCode.INVALID_ARGUMENT
            and _names(reply, path, f.message_type is not None)
            and f.full_name not in CONDITIONAL
        ):
            wrong.append(f"{path} (OPTIONAL): left out, refused: {reply.details()!r}")
    assert not wrong, "\n".join(wrong)


# -- OUTPUT_ONLY: sent, ignored --------------------------------------------------------------


def _junk(f: FieldDescriptor) -> Any:
    """A value the server never sets for ``f``."""
    if f.message_type is not None:
        assert f.message_type.full_name == "google.protobuf.Timestamp", f.full_name
        return timestamp_pb2.Timestamp(seconds=86_400)  # 1970-01-02
    junk = {
        FieldDescriptor.TYPE_STRING: "ignored-output-only",
        FieldDescriptor.TYPE_INT64: 987_654_321,
        FieldDescriptor.TYPE_INT32: 987_654,
    }
    assert f.type in junk, f"no junk value for {f.full_name}"
    return junk[f.type]


def _fill(request: Message, path: str) -> Any:
    """Set the field at ``path`` (creating its parents) to its junk value; return it."""
    message = request
    *parents, last = path.split(".")
    for step in parents:
        matched = _STEP.fullmatch(step)
        assert matched and not matched.group(2), f"{path}: not under a repeated field"
        message = getattr(message, matched.group(1))
    f = message.DESCRIPTOR.fields_by_name[last]
    value = _junk(f)
    if isinstance(value, Message):
        getattr(message, last).CopyFrom(value)
    else:
        setattr(message, last, value)
    return value


@dataclass(frozen=True)
class Write:
    """A write whose request carries a resource (``resource``, a field of the request)
    and whose answer is that resource as stored (``stored(reply)``)."""

    valid: Valid
    resource: str
    stored: Callable[[Any], Message] = field(default=lambda reply: reply)


def _valid(method: str) -> Valid:
    return next(v for v in VALID if v.method == method)


def _renamed(valid: Valid, tag: str, request: Callable[[Context], Message]) -> Valid:
    return Valid(valid.method, tag, request, valid.setup)


WRITES: tuple[Write, ...] = (
    Write(
        _renamed(
            _valid("CreateOrganization"),
            "output-only",
            lambda _: catalog_pb2.CreateOrganizationRequest(
                organization_id="fb-oo-new",
                organization=catalog_pb2.Organization(
                    display_name="New", kind=catalog_pb2.ORGANIZATION_KIND_LAB
                ),
            ),
        ),
        "organization",
    ),
    Write(_valid("UpdateOrganization"), "organization"),
    Write(
        Valid(
            "UpdateVendorProfile",
            "output-only",
            lambda _: catalog_pb2.UpdateVendorProfileRequest(
                vendor_profile=_profile("fb-oo-vendor"), allow_missing=True
            ),
            _setup_organizations("fb-oo-vendor"),
        ),
        "vendor_profile",
    ),
    Write(
        _event_valid("oo", lambda: _holding_event("oo", "stake_acquired", equity_fraction=0.1)),
        "event",
    ),
    Write(
        _simulated(
            _event_valid(
                "oosim", lambda: _holding_event("oosim", "stake_acquired", equity_fraction=0.1)
            )
        ),
        "event",
        lambda reply: reply.event,
    ),
    Write(
        _renamed(
            _valid("CreateClient"),
            "output-only",
            lambda _: requirements_pb2.CreateClientRequest(
                client_id="fb-oo-new", client=minimal_client("New")
            ),
        ),
        "client",
        lambda reply: reply.client,
    ),
    Write(
        Valid(
            "UpdateClient",
            "output-only",
            lambda _: _client_update("fb-oo-updated"),
            _setup_client("fb-oo-updated"),
        ),
        "client",
    ),
)


def test_every_output_only_field_a_request_can_carry_is_sent() -> None:
    carried = {
        rpc.method for rpc in UNIQUE_RPCS.values() if static_paths(_input_type(rpc), OUTPUT_ONLY)
    }
    # ScorePolicy, SimulateEvent and AnalyzeConcentration carry an event but answer
    # scores, changes or shares, not the event: their own test below.
    assert carried == {w.valid.method for w in WRITES} | {
        "ScorePolicy",
        "SimulateEvent",
        "AnalyzeConcentration",
    }
    for write in WRITES:
        paths = static_paths(_input_type(rpc_named(write.valid.method)), OUTPUT_ONLY)
        assert paths and all(p.startswith(f"{write.resource}.") for p in paths), paths


@pytest.mark.parametrize("write", WRITES, ids=lambda w: w.valid.method)
def test_output_only_fields_in_a_request_are_ignored(stack: SeededStack, write: Write) -> None:
    rpc = rpc_named(write.valid.method)
    request = write.valid.request(write.valid.setup(stack))
    sent = {
        path: _fill(request, path) for path in sorted(static_paths(_input_type(rpc), OUTPUT_ONLY))
    }
    reply = call(stack, rpc, request)
    assert not isinstance(reply, grpc.RpcError), f"{reply.code().name}: {reply.details()}"
    stored = write.stored(reply)
    for path, junk in sent.items():
        holder, name = _walk_to(stored, path.removeprefix(f"{write.resource}."))
        assert getattr(holder, name) != junk, f"{path}: the server kept what the caller sent"


def test_an_event_sent_again_with_other_output_only_values_is_the_same_event(
    stack: SeededStack,
) -> None:
    """The ledger's idempotency ignores them too: not ALREADY_EXISTS, the same version."""
    organizations(stack, *_pair("again"))
    event = _holding_event("again", "board_seat_granted", seats=1)
    first = record(stack, event)
    event.graph_version = first.graph_version + 1000
    event.record_time.seconds = 86_400
    event.superseded_by = "fb-nothing"
    event.name = "ownershipEvents/fb-other"
    again = record(stack, event)
    assert (again.name, again.graph_version) == (first.name, first.graph_version)
    assert again.record_time == first.record_time and not again.superseded_by


# -- resource names --------------------------------------------------------------------------


def _sample_names(stack: SeededStack) -> dict[str, str]:
    """One name of each resource type, as the server returns it."""
    organizations(stack, *_pair("names"))
    _setup_profile("fb-names-vendor")(stack)
    issued = must(
        stack,
        "IssueToken",
        tokens_pb2.IssueTokenRequest(role=tokens_pb2.ROLE_AUDITOR, subject="fb-names"),
    )
    return {
        "dpm.catalog.v1.Organization": must(
            stack, "GetOrganization", catalog_pb2.GetOrganizationRequest(name=_org("fb-names-a"))
        ).name,
        "dpm.catalog.v1.VendorProfile": must(
            stack,
            "GetVendorProfile",
            catalog_pb2.GetVendorProfileRequest(name=f"{_org('fb-names-vendor')}/vendorProfile"),
        ).name,
        "dpm.ownership.v1.OwnershipEvent": record(
            stack, _holding_event("names", "board_seat_granted")
        ).name,
        "dpm.requirements.v1.Client": must(
            stack, "GetClient", requirements_pb2.GetClientRequest(name=f"clients/{LAB}")
        ).name,
        "dpm.auth.v1.Token": issued.token.name,
        "dpm.matching.v1.RecommendationSet": must(
            stack,
            "GetRecommendations",
            matching_pb2.GetRecommendationsRequest(name=f"clients/{LAB}/recommendations"),
        ).name,
    }


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)))


def test_resource_names_match_their_patterns(stack: SeededStack) -> None:
    resources = _resources()
    names = _sample_names(stack)
    assert set(names) == set(resources), "a resource without a sample name here"
    for full_name, message in resources.items():
        descriptor = message.GetOptions().Extensions[resource_pb2.resource]
        assert descriptor.type == f"dpmatch.dev/{message.name}"
        assert any(_pattern(p).fullmatch(names[full_name]) for p in descriptor.pattern), (
            full_name,
            names[full_name],
            list(descriptor.pattern),
        )


def test_output_only_fields_of_a_what_if_event_are_ignored(stack: SeededStack) -> None:
    """The version a what-if event would take is the catalog's, not what it carries."""
    organizations(stack, *_pair("oowhatif"))
    event = _holding_event("oowhatif", "stake_acquired", equity_fraction=0.1)
    plain = must(stack, "ScorePolicy", neutrality_pb2.ScorePolicyRequest(as_of=AS_OF))
    event.graph_version = 999_999
    event.record_time.seconds = 86_400
    event.superseded_by = "fb-nothing"
    what_if = must(
        stack, "ScorePolicy", neutrality_pb2.ScorePolicyRequest(as_of=AS_OF, what_if=event)
    )
    assert what_if.graph_version == plain.graph_version + 1
    simulated = must(
        stack,
        "SimulateEvent",
        matching_pb2.SimulateEventRequest(event=event, clients=[f"clients/{LAB}"], as_of=AS_OF),
    )
    assert simulated.graph_version == plain.graph_version + 1
    shares = must(
        stack,
        "AnalyzeConcentration",
        matching_pb2.AnalyzeConcentrationRequest(
            client=f"clients/{LAB}",
            work=[matching_pb2.VendorWork(vendor=_org(_pair("oowhatif")[1]), monthly_units=1)],
            as_of=AS_OF,
            what_if=event,
        ),
    )
    assert shares.graph_version == plain.graph_version and shares.HasField("after_event")


def test_simulate_event_names_what_is_wrong_and_keeps_labs_apart(stack: SeededStack) -> None:
    rpc = rpc_named("SimulateEvent")
    organizations(stack, *_pair("simbad"))
    good = _holding_event("simbad", "stake_acquired", equity_fraction=0.1)
    undated = ownership_pb2.OwnershipEvent()
    undated.CopyFrom(good)
    undated.effective_date = "June"
    cases = {
        # A bad effective date is named where the caller wrote it, not as as_of.
        "event.effective_date": matching_pb2.SimulateEventRequest(event=undated),
        "clients[0]": matching_pb2.SimulateEventRequest(event=good, clients=["clients/Not Ok"]),
        "clients": matching_pb2.SimulateEventRequest(
            event=good, clients=[f"clients/lab-{i}" for i in range(101)]
        ),
        "as_of": matching_pb2.SimulateEventRequest(event=good, as_of="July"),
    }
    for named, request in cases.items():
        reply = call(stack, rpc, request)
        assert isinstance(reply, grpc.RpcError), named
        assert reply.code() is grpc.StatusCode.INVALID_ARGUMENT, (named, reply.details())
        assert named in field_violations(reply), (named, field_violations(reply))
    # A lab simulates for itself, never for another lab.
    stub = matching_pb2_grpc.MatchingServiceStub(stack.channels["matching"])
    own = [("authorization", bearer(stack.lab_tokens["lab-1"]))]
    alone = stub.SimulateEvent(matching_pb2.SimulateEventRequest(event=good), metadata=own)
    assert alone.clients_considered == 1
    with pytest.raises(grpc.RpcError) as info:
        stub.SimulateEvent(
            matching_pb2.SimulateEventRequest(event=good, clients=["clients/google"]),
            metadata=own,
        )
    assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED
