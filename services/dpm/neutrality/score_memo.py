"""The last few scorings, so many clients sharing a policy are assessed once per graph.

A scoring depends only on the graph (its identity: etag or version, and date),
the policy, the vendors and the shape of the answer; the matching worker asks
for the same few policies over and over between two graph changes.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from dpm.neutrality.v1 import neutrality_pb2
from dpm.requirements.v1 import requirements_pb2


class Scored(NamedTuple):
    # Never changed once memoised: responses copy them.
    vendors: list[neutrality_pb2.VendorNeutrality]
    unresolved_parties: list[str]


# (graph identity, graph date, policy bytes, vendor ids, verdicts only)
MemoKey = tuple[tuple[str, str], str, bytes, tuple[str, ...], bool]


def answer_etag(graph: tuple[str, str], request: neutrality_pb2.ScorePolicyRequest) -> str:
    """The etag of the answer to ``request`` (its if_none_match aside) on ``graph``
    (``GraphCache.key``): what the answer depends on, hashed."""
    asked = neutrality_pb2.ScorePolicyRequest()
    asked.CopyFrom(request)
    asked.ClearField("if_none_match")
    digest = hashlib.blake2b(repr(graph).encode(), digest_size=16)
    digest.update(asked.SerializeToString(deterministic=True))
    return digest.hexdigest()


def policy_key(policy: requirements_pb2.NeutralityPolicy) -> bytes:
    """The policy as the math reads it, as bytes. Its as_of is left out: the request's
    date applies, so clients pinned to different dates share one scoring."""
    copy = requirements_pb2.NeutralityPolicy()
    copy.CopyFrom(policy)
    copy.ClearField("as_of")
    return copy.SerializeToString(deterministic=True)


class ScoreMemo:
    """A bounded LRU of scorings. Two concurrent misses on one key both compute (the
    same answer); the memo keeps one."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[MemoKey, Scored] = OrderedDict()
        self._lock = threading.Lock()
        self.computed = 0  # misses, for tests and telemetry

    def get(self, key: MemoKey, compute: Callable[[], Scored]) -> tuple[Scored, bool]:
        """The scoring for ``key`` and whether it was memoised; computed on a miss."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key], True
        scored = compute()
        with self._lock:
            self.computed += 1
            self._entries[key] = scored
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return scored, False
