"""Recommendation sets in Redis: versioned compare-and-set, change notices, single flight.

Layout, per client id (the slug, "google"):

- ``{prefix}recs:{id}``: hash with ``g``, ``c``, ``r`` (graph version, catalog
  version, requirements revision the set was computed from) and ``data`` (the
  serialized ``RecommendationSet``).
- ``{prefix}recs:changed:{id}``: pub/sub channel; a JSON notice is published
  on every write and delete (not when the reconciliation only stores newer
  versions of an equal set: watchers have nothing new to see).
- ``{prefix}lock:recs:{id}``: lock held while one process computes a missing set.
- In the same hash, ``p``: the newest graph version a re-match of this client
  was queued for (cleared by the write that reaches it), and ``err``: why the
  last re-match failed. Together they tell a reader the set is stale, and why.
- ``{prefix}graph:latest`` / channel ``{prefix}graph:changed``: the newest
  graph version the workers were told about (waiters for a minimum version
  listen there).
- channel ``{prefix}recs:invalidated``: the id of every client whose hash
  changed in any way (set, pending mark, failure, deletion), for the copies
  the matching servers keep in memory (``near_cache``).

A write happens only when its versions are >= the stored ones in every
component and differ in at least one, checked and applied (with the notice)
in one Lua script: an older computation never overwrites a newer one. Only
the reconciliation replaces a set otherwise (``repair``: a drifted set, or one
ahead of a restored database), still as a compare-and-swap on the versions it
read.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import redis
from opentelemetry import propagate
from redis.client import PubSub
from redis.lock import Lock
from redis.typing import EncodableT

from dpm.matching.v1 import matching_pb2
from dpm.platform.names import RecommendationsName

# KEYS = hashes; ARGV = invalidation channel, then for each key: g, c, r, data, channel,
# notice, client id. Each key on its own: returns, per key, 1 written, 0 stale, -1
# conflict (incomparable versions). The ids written go out in one invalidation notice.
_PUT_SCRIPT = """
local written = {}
local results = {}
for i, key in ipairs(KEYS) do
  local a = 1 + (i - 1) * 7
  local g, c, r = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local cur = redis.call('HMGET', key, 'g', 'c', 'r')
  local outcome = 1
  if cur[1] then
    local sg, sc, sr = tonumber(cur[1]), tonumber(cur[2]), tonumber(cur[3])
    if sg >= g and sc >= c and sr >= r then
      outcome = 0
    elseif g < sg or c < sc or r < sr then
      outcome = -1
    end
  end
  if outcome == 1 then
    redis.call('HSET', key, 'g', ARGV[a + 1], 'c', ARGV[a + 2], 'r', ARGV[a + 3],
      'data', ARGV[a + 4])
    redis.call('HDEL', key, 'err')
    local pending = tonumber(redis.call('HGET', key, 'p') or '0')
    if pending <= g then
      redis.call('HDEL', key, 'p')
    end
    redis.call('PUBLISH', ARGV[a + 5], ARGV[a + 6])
    written[#written + 1] = ARGV[a + 7]
  end
  results[i] = outcome
end
if #written > 0 then
  redis.call('PUBLISH', ARGV[1], table.concat(written, '\\n'))
end
return results
"""

# KEYS[1] = hash; ARGV = g, c, r, data, channel, notice ('' for none), expected g, c, r,
# invalidation channel, client id.
# Replaces the set whatever its versions, provided they are still the expected
# ones (compare-and-swap: a write that came in between wins). Returns 1 written, 0 stale.
_REPAIR_SCRIPT = """
local cur = redis.call('HMGET', KEYS[1], 'g', 'c', 'r')
if tonumber(cur[1]) ~= tonumber(ARGV[7]) or tonumber(cur[2]) ~= tonumber(ARGV[8])
    or tonumber(cur[3]) ~= tonumber(ARGV[9]) then
  return 0
end
local g = tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 'g', ARGV[1], 'c', ARGV[2], 'r', ARGV[3], 'data', ARGV[4])
redis.call('HDEL', KEYS[1], 'err')
local pending = tonumber(redis.call('HGET', KEYS[1], 'p') or '0')
if pending <= g then
  redis.call('HDEL', KEYS[1], 'p')
end
if ARGV[6] ~= '' then
  redis.call('PUBLISH', ARGV[5], ARGV[6])
end
redis.call('PUBLISH', ARGV[10], ARGV[11])
return 1
"""

# KEYS = hashes; ARGV = graph version, invalidation channel, the client ids (one per key).
# Raises each client's pending version to it.
_PENDING_SCRIPT = """
local v = tonumber(ARGV[1])
local marked = {}
for i, key in ipairs(KEYS) do
  local cur = tonumber(redis.call('HGET', key, 'p') or '0')
  local g = tonumber(redis.call('HGET', key, 'g') or '0')
  if v > cur and v > g then
    redis.call('HSET', key, 'p', ARGV[1])
    marked[#marked + 1] = ARGV[i + 2]
  end
end
if #marked > 0 then
  redis.call('PUBLISH', ARGV[2], table.concat(marked, '\\n'))
end
return #KEYS
"""

# KEYS[1] = latest key; ARGV = version, channel. Returns 1 when it moved forward.
_LATEST_SCRIPT = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('PUBLISH', ARGV[2], ARGV[1])
  return 1
end
return 0
"""

# KEYS[1] = key; ARGV = version. Raises the stored number to it; returns the one before.
_RAISE_SCRIPT = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then
  redis.call('SET', KEYS[1], ARGV[1])
end
return cur
"""

# KEYS[1] = hash; ARGV = channel, notice, invalidation channel, client id.
# Returns 1 when something was deleted.
_DELETE_SCRIPT = """
local n = redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return n
"""

# KEYS[1] = hash; ARGV = reason, invalidation channel, client id.
_FAILURE_SCRIPT = """
redis.call('HSET', KEYS[1], 'err', ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
"""


class Encoded(NamedTuple):
    """A set ready to store: its client, its versions and its serialized bytes."""

    client_id: str
    versions: matching_pb2.SourceVersions
    data: bytes

    @classmethod
    def of(cls, rec: matching_pb2.RecommendationSet) -> Encoded:
        client_id = RecommendationsName.parse(rec.name, "name").id
        return cls(client_id, rec.versions, rec.SerializeToString())

    def decode(self) -> matching_pb2.RecommendationSet:
        return matching_pb2.RecommendationSet.FromString(self.data)


class PutResult(enum.Enum):
    WRITTEN = "written"
    # What is stored was computed from inputs at least as new: nothing to do.
    STALE = "stale"
    # Stored and new versions are incomparable (each saw a newer part of the
    # inputs): recompute from fresh inputs and put again.
    CONFLICT = "conflict"


@dataclass(frozen=True)
class ChangeNotice:
    """A published change: the new versions, or ``deleted`` when the set is gone."""

    client: str
    graph_version: int = 0
    catalog_version: int = 0
    requirements_revision: int = 0
    deleted: bool = False
    # The trace context of the write (W3C headers): where a watcher's notice belongs.
    trace: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def parse(cls, data: bytes | str) -> ChangeNotice:
        raw = json.loads(data)
        trace = raw.get("trace")
        return cls(
            client=str(raw["client"]),
            graph_version=int(raw.get("graph_version", 0)),
            catalog_version=int(raw.get("catalog_version", 0)),
            requirements_revision=int(raw.get("requirements_revision", 0)),
            deleted=bool(raw.get("deleted", False)),
            trace={str(k): str(v) for k, v in trace.items()} if isinstance(trace, dict) else {},
        )


def dominates(a: matching_pb2.SourceVersions, b: matching_pb2.SourceVersions) -> bool:
    """True when ``a`` is at least as new as ``b`` in every component."""
    return (
        a.graph_version >= b.graph_version
        and a.catalog_version >= b.catalog_version
        and a.requirements_revision >= b.requirements_revision
    )


# Sets per put script: each script runs alone in Redis, so keep it to a few milliseconds.
PUT_BATCH = 100


class RecommendationCache:
    """Needs a client with ``decode_responses=False``: the sets are binary protobuf."""

    def __init__(self, redis_client: redis.Redis, prefix: str = "dpm:") -> None:
        if redis_client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("RecommendationCache needs a Redis client with decode_responses=False")
        self._redis = redis_client
        self._prefix = prefix
        self._put = redis_client.register_script(_PUT_SCRIPT)
        self._repair = redis_client.register_script(_REPAIR_SCRIPT)
        self._delete = redis_client.register_script(_DELETE_SCRIPT)
        self._pending = redis_client.register_script(_PENDING_SCRIPT)
        self._latest = redis_client.register_script(_LATEST_SCRIPT)
        self._failure = redis_client.register_script(_FAILURE_SCRIPT)
        self._raise = redis_client.register_script(_RAISE_SCRIPT)

    # Names -----------------------------------------------------------------

    def key(self, client_id: str) -> str:
        return f"{self._prefix}recs:{client_id}"

    def channel(self, client_id: str) -> str:
        return f"{self._prefix}recs:changed:{client_id}"

    def lock_name(self, client_id: str) -> str:
        return f"{self._prefix}lock:recs:{client_id}"

    @property
    def latest_key(self) -> str:
        return f"{self._prefix}graph:latest"

    @property
    def graph_channel(self) -> str:
        return f"{self._prefix}graph:changed"

    @property
    def invalidation_channel(self) -> str:
        """Every write of a client's hash publishes the client id here (ids joined by
        newlines when several): what copies of sets outside Redis must drop."""
        return f"{self._prefix}recs:invalidated"

    # Reads -----------------------------------------------------------------

    def get(self, client_id: str) -> matching_pb2.RecommendationSet | None:
        data = self._redis.hget(self.key(client_id), "data")
        if data is None:
            return None
        assert isinstance(data, bytes)  # decode_responses=False, checked in __init__
        return matching_pb2.RecommendationSet.FromString(data)

    def get_many(self, client_ids: Sequence[str]) -> list[matching_pb2.RecommendationSet | None]:
        """``get`` for each id, in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for client_id in client_ids:
            pipe.hget(self.key(client_id), "data")
        return [
            None if data is None else matching_pb2.RecommendationSet.FromString(data)
            for data in pipe.execute()
        ]

    def get_served(self, client_id: str) -> matching_pb2.RecommendationSet | None:
        """The set as a caller sees it: with its freshness (stale, and why), one round trip."""
        data = self.get_served_bytes(client_id)
        return None if data is None else matching_pb2.RecommendationSet.FromString(data)

    def get_served_bytes(self, client_id: str) -> bytes | None:
        """``get_served`` still serialized, as it goes on the wire."""
        return served_bytes(self._redis.hmget(self.key(client_id), SERVED_FIELDS))

    def latest_graph_version(self) -> int:
        return int(self._redis.get(self.latest_key) or 0)

    def versions(self, client_id: str) -> matching_pb2.SourceVersions | None:
        """The stored versions without reading the set itself."""
        g, c, r = self._redis.hmget(self.key(client_id), ["g", "c", "r"])
        if g is None:
            return None
        return matching_pb2.SourceVersions(
            graph_version=int(g), catalog_version=int(c or 0), requirements_revision=int(r or 0)
        )

    def graph_versions(self, client_ids: list[str]) -> list[int | None]:
        """The graph version of each client's stored set (None: none stored), one round trip."""
        return self._stored(client_ids, "g")

    def catalog_versions(self, client_ids: list[str]) -> list[int | None]:
        """The catalog version of each client's stored set (None: none stored), one round trip."""
        return self._stored(client_ids, "c")

    def _stored(self, client_ids: list[str], field: str) -> list[int | None]:
        pipe = self._redis.pipeline(transaction=False)
        for client_id in client_ids:
            pipe.hget(self.key(client_id), field)
        return [None if v is None else int(v) for v in pipe.execute()]

    # Writes ----------------------------------------------------------------

    def put(self, rec: matching_pb2.RecommendationSet) -> PutResult:
        """Store ``rec`` unless what is stored is as new or incomparable (see PutResult)."""
        return self.put_many([Encoded.of(rec)])[0]

    def put_many(self, sets: Sequence[Encoded]) -> list[PutResult]:
        """``put`` each set (each atomic on its own key), in one round trip: a pipeline
        of scripts over ``PUT_BATCH`` sets each, one invalidation notice per script."""
        pipe = self._redis.pipeline(transaction=False)
        trace = _trace_context()
        for start in range(0, len(sets), PUT_BATCH):
            batch = sets[start : start + PUT_BATCH]
            args: list[EncodableT] = [self.invalidation_channel]
            for encoded in batch:
                v = encoded.versions
                args += (
                    v.graph_version,
                    v.catalog_version,
                    v.requirements_revision,
                    encoded.data,
                    self.channel(encoded.client_id),
                    _notice(encoded.client_id, v, trace),
                    encoded.client_id,
                )
            self._put(keys=[self.key(e.client_id) for e in batch], args=args, client=pipe)
        return [_put_result(int(outcome)) for outcomes in pipe.execute() for outcome in outcomes]

    def repair(
        self,
        rec: matching_pb2.RecommendationSet,
        expected: matching_pb2.SourceVersions,
        *,
        notify: bool,
    ) -> PutResult:
        """Replace the stored set by ``rec`` if its versions are still ``expected``.

        Only the reconciliation uses it, for what ``put`` refuses: a set that
        drifted (same versions, other content), a set ahead of its inputs (a
        restored database: its versions go down), or newer versions of equal
        content (``notify=False``: watchers have nothing new to see). WRITTEN,
        or STALE when another write came in between (that one stands).
        """
        client_id = RecommendationsName.parse(rec.name, "name").id
        v = rec.versions
        outcome = self._repair(
            keys=[self.key(client_id)],
            args=[
                v.graph_version,
                v.catalog_version,
                v.requirements_revision,
                rec.SerializeToString(),
                self.channel(client_id),
                _notice(client_id, v, _trace_context()) if notify else "",
                expected.graph_version,
                expected.catalog_version,
                expected.requirements_revision,
                self.invalidation_channel,
                client_id,
            ],
        )
        return PutResult.WRITTEN if int(outcome) == 1 else PutResult.STALE

    def delete(self, client_id: str) -> bool:
        """Drop the client's set (the client is gone) and publish a notice; True if one existed."""
        notice = json.dumps({"client": client_id, "deleted": True})
        n = self._delete(
            keys=[self.key(client_id)],
            args=[self.channel(client_id), notice, self.invalidation_channel, client_id],
        )
        return int(n) > 0

    def announce_graph_version(self, version: int) -> bool:
        """Record that the ledger reached ``version`` (waiters are woken); True if it is new."""
        return bool(int(self._latest(keys=[self.latest_key], args=[version, self.graph_channel])))

    def start_catalog_fan_out(self, catalog_version: int) -> int:
        """Record that every client is being re-matched for ``catalog_version``; returns the
        newest catalog version a fan-out had started for before (0: none)."""
        key = f"{self._prefix}catalog:fanned-out"
        return int(self._raise(keys=[key], args=[catalog_version]))

    def mark_pending(self, client_ids: list[str], graph_version: int) -> None:
        """These clients' sets are to be recomputed for ``graph_version``: stale until then."""
        if client_ids:
            self._pending(
                keys=[self.key(c) for c in client_ids],
                args=[graph_version, self.invalidation_channel, *client_ids],
            )

    def record_failure(self, client_id: str, reason: str) -> None:
        """Why the last re-match of the client failed (cleared by the next write)."""
        self._failure(
            keys=[self.key(client_id)], args=[reason[:500], self.invalidation_channel, client_id]
        )

    # Coordination ----------------------------------------------------------

    def lock(self, client_id: str, timeout: float, blocking_timeout: float | None = None) -> Lock:
        """A lock for computing a missing set once: ``with cache.lock(id, 30): ...``.

        ``timeout`` bounds how long a crashed holder keeps it; ``blocking_timeout``
        bounds how long ``acquire`` waits (None: until acquired).
        """
        return self._redis.lock(
            self.lock_name(client_id), timeout=timeout, blocking_timeout=blocking_timeout
        )

    def subscribe(self, client_id: str) -> PubSub:
        """A PubSub subscribed to the client's change notices; the caller closes it.

        Messages' ``data`` parse with ``ChangeNotice.parse``.
        """
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.channel(client_id))
        return pubsub

    def subscribe_for_version(self, client_id: str) -> PubSub:
        """A PubSub on the client's notices and on new graph versions; the caller closes it."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.channel(client_id), self.graph_channel)
        return pubsub

    def subscribe_all(self) -> PubSub:
        """A PubSub receiving every client's change notices (e.g. for a near cache)."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        pubsub.psubscribe(self.channel("*"))
        return pubsub


# The hash fields a served set is made of: the set, its graph version, the pending mark.
SERVED_FIELDS = ("data", "g", "p", "err")


def served_bytes(fields: Sequence[bytes | str | None]) -> bytes | None:
    """The served set from its ``SERVED_FIELDS``, serialized: the stored bytes, with a
    ``Freshness`` appended when a re-match for a newer graph is pending (or failed).

    Appending an encoded field to a message's bytes sets that field when parsed,
    so a hit costs no decoding and no re-encoding. The stored sets never carry
    a freshness of their own.
    """
    data, graph, pending, error = fields
    if not isinstance(data, bytes):  # None: no set (decode_responses is off)
        return None
    behind = int(pending or 0)
    if behind <= int(graph or 0):
        return data
    reason = (
        error.decode(errors="replace")
        if isinstance(error, bytes)
        else f"re-matching for graph version {behind} is in progress"
    )
    freshness = matching_pb2.RecommendationSet(
        freshness=matching_pb2.Freshness(stale=True, latest_graph_version=behind, reason=reason)
    )
    return data + freshness.SerializeToString()


def _put_result(outcome: int) -> PutResult:
    return {1: PutResult.WRITTEN, 0: PutResult.STALE}.get(outcome, PutResult.CONFLICT)


def _notice(client_id: str, v: matching_pb2.SourceVersions, trace: dict[str, str]) -> str:
    notice: dict[str, object] = {
        "client": client_id,
        "graph_version": v.graph_version,
        "catalog_version": v.catalog_version,
        "requirements_revision": v.requirements_revision,
    }
    if trace:
        notice["trace"] = trace
    return json.dumps(notice)


def _trace_context() -> dict[str, str]:
    """The current trace context (W3C headers), for the notices of a write to carry: a
    watcher's notice then joins the trace of the change that caused it."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier
