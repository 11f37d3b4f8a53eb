"""Recommendation sets in Redis: versioned compare-and-set, change notices, single flight.

Layout, per client id (the slug, "google"):

- ``{prefix}recs:{id}``: hash with ``g``, ``c``, ``r`` (graph version, catalog
  version, requirements revision the set was computed from) and ``data`` (the
  serialized ``RecommendationSet``).
- ``{prefix}recs:changed:{id}``: pub/sub channel; a JSON notice is published
  on every write and delete.
- ``{prefix}lock:recs:{id}``: lock held while one process computes a missing set.

A write happens only when its versions are >= the stored ones in every
component and differ in at least one, checked and applied (with the notice)
in one Lua script: an older computation never overwrites a newer one.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

import redis
from redis.client import PubSub
from redis.lock import Lock

from dpm.matching.v1 import matching_pb2
from dpm.platform.names import RecommendationsName

# KEYS[1] = hash; ARGV = g, c, r, data, channel, notice, replace_equal ('1' or '0').
# Returns 1 written, 0 stale, -1 conflict (incomparable versions).
_PUT_SCRIPT = """
local cur = redis.call('HMGET', KEYS[1], 'g', 'c', 'r')
local g, c, r = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if cur[1] then
  local sg, sc, sr = tonumber(cur[1]), tonumber(cur[2]), tonumber(cur[3])
  local equal = sg == g and sc == c and sr == r
  if sg >= g and sc >= c and sr >= r and not (equal and ARGV[7] == '1') then
    return 0
  end
  if g < sg or c < sc or r < sr then
    return -1
  end
end
redis.call('HSET', KEYS[1], 'g', ARGV[1], 'c', ARGV[2], 'r', ARGV[3], 'data', ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
"""

# KEYS[1] = hash; ARGV = channel, notice. Returns 1 when something was deleted.
_DELETE_SCRIPT = """
local n = redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return n
"""


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

    @classmethod
    def parse(cls, data: bytes | str) -> ChangeNotice:
        raw = json.loads(data)
        return cls(
            client=str(raw["client"]),
            graph_version=int(raw.get("graph_version", 0)),
            catalog_version=int(raw.get("catalog_version", 0)),
            requirements_revision=int(raw.get("requirements_revision", 0)),
            deleted=bool(raw.get("deleted", False)),
        )


def dominates(a: matching_pb2.SourceVersions, b: matching_pb2.SourceVersions) -> bool:
    """True when ``a`` is at least as new as ``b`` in every component."""
    return (
        a.graph_version >= b.graph_version
        and a.catalog_version >= b.catalog_version
        and a.requirements_revision >= b.requirements_revision
    )


class RecommendationCache:
    """Needs a client with ``decode_responses=False``: the sets are binary protobuf."""

    def __init__(self, redis_client: redis.Redis, prefix: str = "dpm:") -> None:
        if redis_client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("RecommendationCache needs a Redis client with decode_responses=False")
        self._redis = redis_client
        self._prefix = prefix
        self._put = redis_client.register_script(_PUT_SCRIPT)
        self._delete = redis_client.register_script(_DELETE_SCRIPT)

    # Names -----------------------------------------------------------------

    def key(self, client_id: str) -> str:
        return f"{self._prefix}recs:{client_id}"

    def channel(self, client_id: str) -> str:
        return f"{self._prefix}recs:changed:{client_id}"

    def lock_name(self, client_id: str) -> str:
        return f"{self._prefix}lock:recs:{client_id}"

    # Reads -----------------------------------------------------------------

    def get(self, client_id: str) -> matching_pb2.RecommendationSet | None:
        data = self._redis.hget(self.key(client_id), "data")
        if data is None:
            return None
        assert isinstance(data, bytes)  # decode_responses=False, checked in __init__
        return matching_pb2.RecommendationSet.FromString(data)

    def versions(self, client_id: str) -> matching_pb2.SourceVersions | None:
        """The stored versions without reading the set itself."""
        g, c, r = self._redis.hmget(self.key(client_id), ["g", "c", "r"])
        if g is None:
            return None
        return matching_pb2.SourceVersions(
            graph_version=int(g), catalog_version=int(c or 0), requirements_revision=int(r or 0)
        )

    # Writes ----------------------------------------------------------------

    def put(self, rec: matching_pb2.RecommendationSet, *, replace_equal: bool = False) -> PutResult:
        """Store ``rec`` unless what is stored is as new or incomparable (see PutResult).

        ``replace_equal`` also replaces a set computed from the very same versions:
        only the reconciliation uses it, to repair a set that drifted.
        """
        client_id = RecommendationsName.parse(rec.name, "name").id
        v = rec.versions
        notice = json.dumps(
            {
                "client": client_id,
                "graph_version": v.graph_version,
                "catalog_version": v.catalog_version,
                "requirements_revision": v.requirements_revision,
            }
        )
        outcome = self._put(
            keys=[self.key(client_id)],
            args=[
                v.graph_version,
                v.catalog_version,
                v.requirements_revision,
                rec.SerializeToString(),
                self.channel(client_id),
                notice,
                "1" if replace_equal else "0",
            ],
        )
        return {1: PutResult.WRITTEN, 0: PutResult.STALE}.get(int(outcome), PutResult.CONFLICT)

    def delete(self, client_id: str) -> bool:
        """Drop the client's set (the client is gone) and publish a notice; True if one existed."""
        notice = json.dumps({"client": client_id, "deleted": True})
        n = self._delete(keys=[self.key(client_id)], args=[self.channel(client_id), notice])
        return int(n) > 0

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

    def subscribe_all(self) -> PubSub:
        """A PubSub receiving every client's change notices (e.g. for a near cache)."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        pubsub.psubscribe(self.channel("*"))
        return pubsub
