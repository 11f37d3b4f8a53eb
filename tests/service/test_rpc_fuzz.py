"""Hostile variants of every RPC's request, on SQLite and PostgreSQL: never INTERNAL or
UNKNOWN, never a traceback, a small error trailer, and a refused write changes nothing.

The requests start from the well-formed ones of ``tests.access.RPCS`` and are mutated
by walking the message descriptor (so a new field is fuzzed without a change here):
strings become huge, carry NUL bytes, unicode oddities, a trailing newline after a
valid-looking name, or valid-looking names of other resources; numbers become NaN,
infinities, extremes and negatives; enums take values the proto does not define;
repeated fields become long lists; nested messages are mutated recursively down to a
depth budget. Admin RPCs are called with the admin token, per-lab RPCs with the admin
token and with the lab's own token. A request above gRPC's 4 MB default is refused with
RESOURCE_EXHAUSTED by every server.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, Verbosity, given, settings
from hypothesis import strategies as st

from dpm.auth.v1 import tokens_pb2
from dpm.catalog.server import create_server as create_catalog
from dpm.catalog.settings import CatalogSettings
from dpm.catalog.v1 import bods_pb2, catalog_pb2
from dpm.common.v1 import common_pb2
from dpm.matching.server import create_server as create_matching
from dpm.matching.settings import MatchingSettings
from dpm.matching.v1 import matching_pb2
from dpm.neutrality.server import create_server as create_neutrality
from dpm.neutrality.settings import NeutralitySettings
from dpm.neutrality.v1 import neutrality_pb2
from dpm.ownership.v1 import ownership_pb2
from dpm.platform import auth
from dpm.requirements.server import create_server as create_requirements
from dpm.requirements.settings import RequirementsSettings
from dpm.requirements.v1 import requirements_pb2
from tests.access import AS_OF, RPCS, Access, Rpc, SeededStack, bearer, minimal_client, seed
from tests.conftest import drop_postgres_database, postgres_database_url
from tests.inprocess import no_broker, wait_serving
from tests.service.test_catalog_support import field_violations

# Examples per RPC, per identity, per database: 23 RPCs x (1 or 2) x 2 databases.
EXAMPLES = 30
LAB = "lab-1"
# Never a deliberate answer to bad input.
UNDELIBERATE = {
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.DATA_LOSS,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.UNAVAILABLE,
}
TRAILER_LIMIT = 16 * 1024
OVER_4MB = 4 * 1024 * 1024 + 1024

# -- hostile values --------------------------------------------------------------------------

VALID_LOOKING = [
    "organizations/meta",
    "organizations/scale-ai",
    "organizations/nobody",
    "organizations/meta/vendorProfile",
    "clients/lab-10",
    "clients/google",
    "clients/nobody/recommendations",
    "clients/lab-1/recommendations",
    "ownershipEvents/access-none",
    "tokens/" + "0" * 32,
    "meta",
    "scale-ai",
    "2025-06-01",
    "https://example.com/a",
    "display_name",
    "update_mask",
    "*",
]
ODD = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "organizations/meta\x00",
    "\n",
    "\t\r",
    "\u202eevil",  # right-to-left override
    "\ufeffmeta",  # byte order mark
    "me\u200bta",  # zero-width space
    "e\u0301",  # combining accent
    "\U0001f600",
    "\ufb01",  # ligature that NFKC-folds to "fi"
    "\uff4d\uff45\uff54\uff41",  # fullwidth "meta"
    "İ",  # lower() grows it
    "../../etc/passwd",
    "'; DROP TABLE organizations; --",
    "%s%s%n",
    "{}",
    "NaN",
    "-1",
    "9" * 40,
    "2025-02-30",
    "0001-01-01",
    "9999-12-31",
    "+275760-09-13",
    "javascript:alert(1)",
    "https://x/" + "a" * 3000,
]
# Ids matched whole: a trailing newline (or a character too many) after a valid id.
NEWLINED = [f"{name}\n" for name in VALID_LOOKING[:11]] + [
    "a" * 63 + "\n",
    "a" * 64,
    "e" * 128 + "\n",
    "e" * 129,
    "organizations/" + "a" * 63 + "\n",
    "ownershipEvents/" + "e" * 128 + "\n",
]
JSONISH = [
    "[" * 100_000 + "]" * 100_000,  # nesting past the recursion limit
    '{"a":' * 50_000 + "1" + "}" * 50_000,
    '{"statementId": "x", "recordDetails": {"isComponent": false}, "x": 1e999999}',
    '{"statementId": NaN}',
    '{"statementId": "' + "s" * 100_000 + '"}',
    "\x00{}",
]
HUGE = ["x" * 301, "x" * 2001, "x" * 70_000, "y" * 1_000_000]

strings = st.one_of(
    st.sampled_from(VALID_LOOKING),
    st.sampled_from(ODD),
    st.sampled_from(NEWLINED),
    st.sampled_from(JSONISH),
    st.sampled_from(HUGE),
    st.text(max_size=30).filter(lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s)),
)
doubles = st.sampled_from(
    [math.nan, math.inf, -math.inf, 1e308, -1e308, -1.0, -0.0, 0.0, 2.0, 5e-324, 0.5, 1.0]
)
floats32 = st.sampled_from([math.nan, math.inf, -math.inf, 3.4e38, -1.0, 0.0, 2.0, 0.5])
INT32 = [-(2**31), 2**31 - 1, -1, 0, 1, 2**16, 1_000_000_000]
INT64 = [-(2**63), 2**63 - 1, -1, 0, 1, 2**31, 2**53 + 1]
SCALARS: dict[int, st.SearchStrategy[Any]] = {
    FieldDescriptor.TYPE_STRING: strings,
    FieldDescriptor.TYPE_BYTES: st.sampled_from([b"", b"\x00" * 10, b"\xff" * 100_000]),
    FieldDescriptor.TYPE_DOUBLE: doubles,
    FieldDescriptor.TYPE_FLOAT: floats32,
    FieldDescriptor.TYPE_BOOL: st.booleans(),
    FieldDescriptor.TYPE_INT32: st.sampled_from(INT32),
    FieldDescriptor.TYPE_SINT32: st.sampled_from(INT32),
    FieldDescriptor.TYPE_SFIXED32: st.sampled_from(INT32),
    FieldDescriptor.TYPE_INT64: st.sampled_from(INT64),
    FieldDescriptor.TYPE_SINT64: st.sampled_from(INT64),
    FieldDescriptor.TYPE_SFIXED64: st.sampled_from(INT64),
    FieldDescriptor.TYPE_UINT32: st.sampled_from([0, 1, 2**32 - 1]),
    FieldDescriptor.TYPE_FIXED32: st.sampled_from([0, 1, 2**32 - 1]),
    FieldDescriptor.TYPE_UINT64: st.sampled_from([0, 1, 2**64 - 1]),
    FieldDescriptor.TYPE_FIXED64: st.sampled_from([0, 1, 2**64 - 1]),
}
LIST_LENGTHS = st.sampled_from([0, 1, 2, 3, 25, 1000, 100_000])
MAX_MESSAGES_IN_A_LIST = 20_000
# A list stays under this many bytes (100,000 copies of a 1 MB string would not fit in memory).
MAX_LIST_BYTES = 6 * 1024 * 1024
DEPTH = 4


def _value(draw: st.DrawFn, field: FieldDescriptor) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        known = [v.number for v in field.enum_type.values]
        return draw(st.one_of(st.sampled_from(known), st.sampled_from([-1, 99, 2**31 - 1])))
    return draw(SCALARS[field.type])


def _mutate_field(draw: st.DrawFn, message: Message, field: FieldDescriptor, depth: int) -> None:
    is_message = field.type == FieldDescriptor.TYPE_MESSAGE
    if field.is_repeated:
        container = getattr(message, field.name)
        if is_message and field.message_type and field.message_type.GetOptions().map_entry:
            return  # no request has a map today
        del container[:]
        n = draw(LIST_LENGTHS)
        if is_message:
            added = container.add()
            element = type(added)()
            del container[:]
            if depth > 0:
                _mutate(draw, element, depth - 1)
            n = min(n, MAX_MESSAGES_IN_A_LIST, MAX_LIST_BYTES // max(element.ByteSize(), 1))
            for _ in range(n):
                container.add().CopyFrom(element)
        else:
            distinct = [_value(draw, field) for _ in range(min(n, 3))]
            if distinct and isinstance(distinct[-1], str | bytes):
                n = min(n, max(len(distinct), MAX_LIST_BYTES // max(len(distinct[-1]), 1)))
            container.extend(distinct + [distinct[-1]] * (n - len(distinct)) if n else [])
        return
    if is_message:
        child = getattr(message, field.name)
        child.SetInParent()
        if depth > 0:
            _mutate(draw, child, depth - 1)
        return
    setattr(message, field.name, _value(draw, field))


def _mutate(draw: st.DrawFn, message: Message, depth: int) -> None:
    fields: list[Any] = list(message.DESCRIPTOR.fields)
    if not fields:
        return
    chosen = [f for f in fields if draw(st.integers(0, 2)) == 0]
    if not chosen:
        chosen = [draw(st.sampled_from(fields))]
    for field in chosen:
        _mutate_field(draw, message, field, depth)


@st.composite
def hostile(draw: st.DrawFn, base: Message) -> Message:
    """``base`` with some of its fields (at any depth) set to hostile values."""
    message = type(base)()
    message.CopyFrom(base)
    _mutate(draw, message, DEPTH)
    return message


# -- one stack per database ------------------------------------------------------------------


@contextmanager
def fuzz_stack(
    data_dir: Path, secret: str, redis_url: str, prefix: str, databases: dict[str, str]
) -> Iterator[SeededStack]:
    """The four servers in this process, catalog and requirements on ``databases``."""
    common: dict[str, Any] = {
        "token_secret": secret,
        "data_dir": data_dir,
        "host": "127.0.0.1",
        "port": 0,
    }
    catalog = create_catalog(
        CatalogSettings(**common, database_url=databases.get("catalog", "")), publisher=no_broker
    )
    requirements = create_requirements(
        RequirementsSettings(**common, database_url=databases.get("requirements", "")),
        publisher=no_broker,
    )
    addresses: dict[str, Any] = {
        "catalog_addr": f"127.0.0.1:{catalog.port}",
        "requirements_addr": f"127.0.0.1:{requirements.port}",
    }
    neutrality = create_neutrality(NeutralitySettings(**common, **addresses))
    addresses["neutrality_addr"] = f"127.0.0.1:{neutrality.port}"
    matching = create_matching(
        MatchingSettings(
            **common,
            **addresses,
            redis_url=redis_url,
            cache_prefix=prefix,
            min_version_wait_seconds=0.5,
        )
    )
    addresses["matching_addr"] = f"127.0.0.1:{matching.port}"
    servers = [matching, neutrality, requirements, catalog]
    named = {k.removesuffix("_addr"): v for k, v in addresses.items()}
    channels = {s: grpc.insecure_channel(a) for s, a in named.items()}
    try:
        for address in named.values():
            wait_serving(address)
        admin = auth.admin_token(secret)
        lab_tokens = seed(admin, named)
        yield SeededStack(secret, named, channels, admin, lab_tokens)
    finally:
        for channel in channels.values():
            channel.close()
        for server in servers:
            server.stop(0)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    token_secret: str,
    redis_url: str,
) -> Iterator[SeededStack]:
    databases: dict[str, str] = {}
    if request.param == "postgresql":
        for service in ("catalog", "requirements"):
            url = postgres_database_url()
            if url is None:
                for made in databases.values():
                    drop_postgres_database(made)
                pytest.skip("no PostgreSQL at 127.0.0.1:5432 (CI runs this)")
            databases[service] = url
    prefix = f"dpmtest:{uuid.uuid4().hex[:8]}:"
    data = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    try:
        with fuzz_stack(data, token_secret, redis_url, prefix, databases) as running:
            yield running
    finally:
        for url in databases.values():
            drop_postgres_database(url)
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


def _all(list_call: Any, request: Message, field: str) -> list[Any]:
    items: list[Any] = []
    while True:
        reply = list_call(request, timeout=10)
        items.extend(getattr(reply, field))
        if not reply.next_page_token:
            return items
        request.page_token = reply.next_page_token  # type: ignore[attr-defined]


def fingerprint(stack: SeededStack) -> tuple[object, ...]:
    """What a write could change, read cheaply: the ledger's graph version and etag, the
    organizations, the vendor profiles' catalog version, the labs' revisions, the tokens."""
    from dpm.catalog.v1 import catalog_pb2_grpc
    from dpm.platform.grpc_client import open_channel

    with open_channel(stack.addresses["catalog"], stack.admin, 10) as channel:
        catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
        graph = catalog.ExportOwnershipGraph(
            catalog_pb2.ExportOwnershipGraphRequest(as_of=AS_OF), timeout=10
        )
        organizations = _all(
            catalog.ListOrganizations, catalog_pb2.ListOrganizationsRequest(), "organizations"
        )
        profiles = catalog.ListVendorProfiles(catalog_pb2.ListVendorProfilesRequest(), timeout=10)
        events = _all(
            catalog.ListOwnershipEvents, catalog_pb2.ListOwnershipEventsRequest(), "events"
        )
    clients = _all(
        stack.requirements().ListClients, requirements_pb2.ListClientsRequest(), "clients"
    )
    tokens = _all(stack.tokens().ListTokens, tokens_pb2.ListTokensRequest(), "tokens")
    return (
        graph.version,
        graph.etag,
        sorted(o.SerializeToString(deterministic=True) for o in organizations),
        profiles.catalog_version,
        len(events),
        sorted((c.name, c.revision) for c in clients),
        sorted((t.name, t.HasField("revoke_time")) for t in tokens),
    )


# -- calling ---------------------------------------------------------------------------------


def _call(
    stack: SeededStack, rpc: Rpc, token: str, requests: list[Message]
) -> grpc.RpcError | None:
    channel = stack.channels[rpc.server]
    method = getattr(rpc.stub(channel), rpc.method)
    descriptor = rpc.service.methods_by_name[rpc.method]
    metadata = [("authorization", bearer(token))]
    try:
        if descriptor.client_streaming:
            method(iter(requests), metadata=metadata, timeout=20)
        elif descriptor.server_streaming:
            replies = method(requests[0], metadata=metadata, timeout=5)
            try:
                next(replies, None)
            finally:
                replies.cancel()
        else:
            method(requests[0], metadata=metadata, timeout=20)
    except grpc.RpcError as err:
        if err.code() is grpc.StatusCode.CANCELLED:
            return None  # our own cancel of a stream that answered
        return err
    return None


def _problems(rpc: Rpc, err: grpc.RpcError | None) -> list[str]:
    if err is None:
        return []
    problems = []
    details = err.details() or ""
    if err.code() in UNDELIBERATE:
        problems.append(f"{rpc}: {err.code().name} {details[:300]!r}")
    if "Traceback" in details or 'File "' in details:
        problems.append(f"{rpc}: a traceback in the details")
    metadata: Any = err.trailing_metadata() or ()
    trailer = sum(len(str(k)) + len(v) for k, v in metadata)
    if trailer + len(details) >= TRAILER_LIMIT:
        problems.append(f"{rpc}: {trailer + len(details)} bytes of error trailer")
    return problems


def _describe(requests: list[Message]) -> str:
    text = " | ".join(str(r).replace("\n", " ") for r in requests)
    return text if len(text) < 600 else text[:600] + f"... ({len(text)} characters)"


def _identities(rpc: Rpc) -> list[str]:
    if rpc.access in (Access.CLIENT_READ, Access.CLIENT_WRITE):
        return ["admin", "lab"]
    return ["admin"]


# Bugs found by this fuzz in files owned elsewhere, reported, to be fixed there.
KNOWN_BUGS: dict[str, str] = {}


def _case(rpc: Rpc, who: str) -> Any:
    marks = []
    if rpc.method in KNOWN_BUGS:
        marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[rpc.method]))
    return pytest.param(rpc, who, marks=marks, id=f"{rpc.server}-{rpc}-{who}")


CASES = [_case(rpc, who) for rpc in RPCS for who in _identities(rpc)]


@pytest.mark.parametrize(("rpc", "who"), CASES)
def test_hostile_requests_get_deliberate_answers_and_refused_writes_change_nothing(
    stack: SeededStack, rpc: Rpc, who: str
) -> None:
    token = stack.admin if who == "admin" else stack.lab_tokens[LAB]
    base = rpc.request(LAB)
    streaming_in = rpc.service.methods_by_name[rpc.method].client_streaming
    requests = st.lists(hostile(base), min_size=1, max_size=3 if streaming_in else 1)
    seen: dict[str, int] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        verbosity=Verbosity.quiet,  # _describe reports the request, cut short
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(requests=requests)
    def check(requests: list[Message]) -> None:
        before = fingerprint(stack) if rpc.access.writes else None
        err = _call(stack, rpc, token, requests)
        code = "OK" if err is None else err.code().name
        seen[code] = seen.get(code, 0) + 1
        assert _problems(rpc, err) == [], _describe(requests)
        if rpc.access.writes:
            after = fingerprint(stack)  # every read still answers after whatever was written
            if err is not None:
                assert after == before, (
                    f"{rpc} refused with {code} but wrote: {_describe(requests)}"
                )

    check()
    assert sum(seen.values()) >= EXAMPLES, seen


# -- oversized messages ----------------------------------------------------------------------

OVERSIZED: dict[str, Message] = {
    "catalog": catalog_pb2.CreateOrganizationRequest(
        organization_id="huge",
        organization=catalog_pb2.Organization(
            display_name="x" * OVER_4MB, kind=catalog_pb2.ORGANIZATION_KIND_VENDOR
        ),
    ),
    "requirements": requirements_pb2.GetClientRequest(name="clients/" + "x" * OVER_4MB),
    "neutrality": neutrality_pb2.ScoreVendorsRequest(client="clients/" + "x" * OVER_4MB),
    "matching": matching_pb2.GetRecommendationsRequest(name="clients/" + "x" * OVER_4MB),
}
OVERSIZED_RPC = {
    "catalog": "CreateOrganization",
    "requirements": "GetClient",
    "neutrality": "ScoreVendors",
    "matching": "GetRecommendations",
}


@pytest.mark.parametrize("server", sorted(OVERSIZED))
def test_a_message_above_4mb_is_resource_exhausted(stack: SeededStack, server: str) -> None:
    rpc = next(r for r in RPCS if r.server == server and r.method == OVERSIZED_RPC[server])
    before = fingerprint(stack)
    err = _call(stack, rpc, stack.admin, [OVERSIZED[server]])
    assert err is not None and err.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, err
    assert fingerprint(stack) == before


# Not a protobuf message: a field tag whose varint never ends.
UNDECODABLE = b"\xff\xff\xff\xff"


@pytest.mark.parametrize("rpc", RPCS, ids=lambda r: f"{r.server}.{r.method}")
def test_bytes_that_are_not_the_request_message_are_invalid_argument(
    stack: SeededStack, rpc: Rpc
) -> None:
    """What a client in another language with a stale or wrong schema sends: refused as
    INVALID_ARGUMENT naming the request, never INTERNAL or UNKNOWN, nothing written."""
    channel = stack.channels[rpc.server]
    path = f"/{rpc.service.full_name}/{rpc.method}"
    descriptor = rpc.service.methods_by_name[rpc.method]
    metadata = [("authorization", bearer(stack.admin))]
    before = fingerprint(stack)
    with pytest.raises(grpc.RpcError) as err:
        if descriptor.client_streaming:
            channel.stream_unary(path)(iter([UNDECODABLE]), metadata=metadata, timeout=20)
        elif descriptor.server_streaming:
            next(channel.unary_stream(path)(UNDECODABLE, metadata=metadata, timeout=20))
        else:
            channel.unary_unary(path)(UNDECODABLE, metadata=metadata, timeout=20)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT, err.value
    assert field_violations(err.value) == ["request"]
    assert fingerprint(stack) == before


def test_a_bods_stream_above_4mb_per_message_is_resource_exhausted(stack: SeededStack) -> None:
    rpc = next(r for r in RPCS if r.method == "ImportBodsStatements")
    before = fingerprint(stack)
    big = bods_pb2.ImportBodsStatementsRequest(statements=["{}" + " " * OVER_4MB])
    err = _call(stack, rpc, stack.admin, [bods_pb2.ImportBodsStatementsRequest(), big])
    assert err is not None and err.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, err
    assert fingerprint(stack) == before


# -- the inputs of the trust issue, exactly ------------------------------------------------


def _event_request(**fields: Any) -> catalog_pb2.RecordOwnershipEventRequest:
    event = ownership_pb2.OwnershipEvent(event_id="issue-input", effective_date=AS_OF)
    change = fields.pop("change", "board_seat_granted")
    values = fields.pop(
        "values", {"holder": "organizations/meta", "held": "organizations/scale-ai"}
    )
    for key, value in values.items():
        setattr(getattr(event, change), key, value)
    for key, value in fields.items():
        if isinstance(value, list):
            getattr(event, key).extend(value)
        else:
            setattr(event, key, value)
    return catalog_pb2.RecordOwnershipEventRequest(event=event)


def _move(person: str, role: str) -> catalog_pb2.RecordOwnershipEventRequest:
    return _event_request(
        change="leadership_move",
        values={
            "person": person,
            "role": role,
            "from_organization": "organizations/scale-ai",
            "to_organization": "organizations/meta",
        },
    )


def _org(organization_id: str = "issue-org", **fields: Any) -> Message:
    return catalog_pb2.CreateOrganizationRequest(
        organization_id=organization_id,
        organization=catalog_pb2.Organization(
            **{"display_name": "Issue", "kind": catalog_pb2.ORGANIZATION_KIND_VENDOR, **fields}
        ),
    )


def _profile(**fields: Any) -> Message:
    return catalog_pb2.UpdateVendorProfileRequest(
        vendor_profile=catalog_pb2.VendorProfile(
            name="organizations/scale-ai/vendorProfile",
            service_model=catalog_pb2.SERVICE_MODEL_HYBRID,
            **fields,
        ),
        allow_missing=True,
    )


def _client(**fields: Any) -> Message:
    client = minimal_client("Issue")
    for key, value in fields.items():
        if key == "allowed_regions":
            client.requirements.allowed_regions.extend(value)
        elif key == "competitors":
            del client.neutrality_policy.competitors[:]
            client.neutrality_policy.competitors.extend(value)
        else:
            setattr(client.neutrality_policy, key, value)
    return requirements_pb2.CreateClientRequest(client_id="issue-lab", client=client)


ISSUE_INPUTS: dict[str, tuple[str, Callable[[], Message]]] = {
    "person over 300 characters": ("RecordOwnershipEvent", lambda: _move("p" * 301, "CEO")),
    "role over 300 characters": ("RecordOwnershipEvent", lambda: _move("Alexandr Wang", "r" * 301)),
    "person of 1 MB": ("RecordOwnershipEvent", lambda: _move("p" * 1_000_000, "CEO")),
    "NUL byte in a person": ("RecordOwnershipEvent", lambda: _move("Alexandr\x00Wang", "CEO")),
    "NUL byte in a display name": ("CreateOrganization", lambda: _org(display_name="a\x00b")),
    "event id of 128 characters plus a newline": (
        "RecordOwnershipEvent",
        lambda: _event_request(event_id="e" * 128 + "\n"),
    ),
    "org id of 63 characters plus a newline": (
        "CreateOrganization",
        lambda: _org("a" * 63 + "\n"),
    ),
    "org name with a trailing newline": (
        "RecordOwnershipEvent",
        lambda: _event_request(
            values={"holder": "organizations/meta\n", "held": "organizations/scale-ai"}
        ),
    ),
    "board seats past 2^31-1": (
        "RecordOwnershipEvent",
        lambda: _event_request(
            values={
                "holder": "organizations/meta",
                "held": "organizations/scale-ai",
                "seats": 2**31 - 1,
            }
        ),
    ),
    "unknown organization kind": ("CreateOrganization", lambda: _org(kind=99)),
    "unknown contract tie kind": (
        "RecordOwnershipEvent",
        lambda: _event_request(
            change="contract_tie",
            values={
                "kind": 99,
                "organization": "organizations/scale-ai",
                "counterparty": "organizations/meta",
            },
        ),
    ),
    "summary of 1 MB": ("RecordOwnershipEvent", lambda: _event_request(summary="s" * 1_000_000)),
    "source_url of 1 MB": (
        "RecordOwnershipEvent",
        lambda: _event_request(source_url="https://x/" + "u" * 1_000_000),
    ),
    "100,000 source URLs": (
        "CreateOrganization",
        lambda: _org(source_urls=["https://example.com/a"] * 100_000),
    ),
    "effective date 9999-12-31": (
        "RecordOwnershipEvent",
        lambda: _event_request(effective_date="9999-12-31"),
    ),
    "client name with a trailing newline": (
        "GetClient",
        lambda: requirements_pb2.GetClientRequest(name=f"clients/{LAB}\n"),
    ),
    "recommendations name with a trailing newline": (
        "GetRecommendations",
        lambda: matching_pb2.GetRecommendationsRequest(name=f"clients/{LAB}/recommendations\n"),
    ),
    "scored client with a trailing newline": (
        "ScoreVendors",
        lambda: neutrality_pb2.ScoreVendorsRequest(client=f"clients/{LAB}\n", as_of=AS_OF),
    ),
    "event name with a trailing newline": (
        "GetOwnershipEvent",
        lambda: catalog_pb2.GetOwnershipEventRequest(name="ownershipEvents/access-none\n"),
    ),
    "100,000 workforce regions": (
        "UpdateVendorProfile",
        lambda: _profile(workforce_regions=["US"] * 100_000),
    ),
    "100,000 certifications": (
        "UpdateVendorProfile",
        lambda: _profile(certifications=[common_pb2.CERTIFICATION_SOC2] * 100_000),
    ),
    "region with a trailing newline": (
        "UpdateVendorProfile",
        lambda: _profile(data_residency_regions=["US\n"]),
    ),
    "100,000 competitors": (
        "CreateClient",
        lambda: _client(competitors=[f"organizations/o{i}" for i in range(100_000)]),
    ),
    "allowed region with a trailing newline": (
        "CreateClient",
        lambda: _client(allowed_regions=["US\n"]),
    ),
    "pinned policy date with a trailing newline": (
        "CreateClient",
        lambda: _client(as_of="2025-06-01\n"),
    ),
    "NUL byte in a token label": (
        "IssueToken",
        lambda: tokens_pb2.IssueTokenRequest(
            role=tokens_pb2.ROLE_AUDITOR, subject="auditor", label="a\x00b"
        ),
    ),
    "NUL byte in a token subject filter": (
        "ListTokens",
        lambda: tokens_pb2.ListTokensRequest(subject="clients/lab-1\x00"),
    ),
    "token ttl of -2^63 seconds": (
        "IssueToken",
        lambda: tokens_pb2.IssueTokenRequest(
            role=tokens_pb2.ROLE_AUDITOR, subject="auditor", ttl={"seconds": -(2**63)}
        ),
    ),
    "client id with a trailing newline": (
        "CreateClient",
        lambda: requirements_pb2.CreateClientRequest(
            client_id="issue-lab\n", client=minimal_client("Issue")
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(ISSUE_INPUTS))
def test_the_issues_inputs_are_invalid_arguments_and_write_nothing(
    stack: SeededStack, case: str
) -> None:
    method, request = ISSUE_INPUTS[case]
    rpc = next(r for r in RPCS if r.method == method)
    before = fingerprint(stack)
    err = _call(stack, rpc, stack.admin, [request()])
    assert err is not None, f"{case}: accepted"
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT, (case, err.code(), err.details())
    assert len(err.details() or "") < 1000
    assert fingerprint(stack) == before


def test_board_seats_summed_past_2_31_are_refused(stack: SeededStack) -> None:
    """Two grants that each fit an int32 but whose total does not."""
    rpc = next(r for r in RPCS if r.method == "RecordOwnershipEvent")
    codes = []
    for i, seats in enumerate([2**31 - 2, 5]):
        request = _event_request(
            event_id=f"issue-seats-{i}",
            values={"holder": "organizations/google", "held": "organizations/scale-ai"},
        )
        request.event.board_seat_granted.seats = seats
        before = fingerprint(stack)
        err = _call(stack, rpc, stack.admin, [request])
        codes.append("OK" if err is None else err.code().name)
        assert _problems(rpc, err) == []
        if err is not None:
            assert fingerprint(stack) == before
    assert codes != ["OK", "OK"], "a board-seat total past 2^31-1 was stored"
