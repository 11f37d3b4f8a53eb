"""The last few built ownership graphs, so an unchanged graph is fetched and built once."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict

from dpm.neutrality.convert import GraphFacts, facts_from_proto
from dpm.neutrality.graph import OwnershipGraph
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.telemetry import tracer

log = logging.getLogger(__name__)


class GraphCache:
    """The last few built graphs, keyed by (etag, as_of); each built once.

    The catalog sends the whole graph only when the etag we hold for that
    as_of is no longer current, so an unchanged graph costs one small call.
    A graph with parts the math cannot use (a closed ownership cycle, an
    impossible holding) still builds: the parts are recorded on the graph and
    only the vendors that depend on them are affected.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._graphs: OrderedDict[tuple[str, str], OwnershipGraph] = OrderedDict()
        # The newest graph per as_of as converted facts, with its etag: what a delta
        # from the catalog changes (nothing is converted again but the delta).
        self._facts: dict[str, tuple[str, int, GraphFacts]] = {}
        self._lock = threading.Lock()
        self.builds = 0
        self.deltas = 0  # builds from a held copy and a delta

    @staticmethod
    def key(msg: ownership_pb2.OwnershipGraph) -> tuple[str, str]:
        """The identity of the graph ``msg`` carries (or, not modified, refers to)."""
        return (msg.etag or f"v{msg.version}", msg.as_of)

    def etag_for(self, as_of: str) -> str:
        """The etag of the newest graph held for as_of, or "" when none is."""
        with self._lock:
            held = self._facts.get(as_of)
            if held is not None:
                return held[0]  # the newest: a delta can be sent from it
            for etag, date in reversed(self._graphs):
                if date == as_of:
                    return etag
        return ""

    def what_if(self, msg: ownership_pb2.OwnershipGraph) -> OwnershipGraph | None:
        """The graph a simulated event's ``msg`` describes (a delta from the graph held
        for its date, or whole), built and not kept: it is no graph of the catalog's.
        None when the copy the delta changes is gone (ask again in full)."""
        if msg.not_modified:  # the event changes nothing: the graph held
            return self.get(msg)
        if msg.delta_from:
            with self._lock:
                base = self._facts.get(msg.as_of)
            if base is None or base[0] != msg.delta_from:
                return None
            facts = base[2].changed_by(msg)
        else:
            facts = facts_from_proto(msg)
        with tracer.start_as_current_span("dpm.neutrality.build_graph") as span:
            span.set_attribute("dpm.graph_version", msg.version)
            span.set_attribute("dpm.graph_what_if", True)
            return facts.build()

    def get(self, msg: ownership_pb2.OwnershipGraph) -> OwnershipGraph | None:
        """The graph for msg, built on first sight; None for a not-modified
        answer whose graph has meanwhile been evicted (ask again in full)."""
        key = self.key(msg)
        with self._lock:
            if key in self._graphs:
                self._graphs.move_to_end(key)
                return self._graphs[key]
        if msg.not_modified:
            return None
        with tracer.start_as_current_span("dpm.neutrality.build_graph") as span:
            span.set_attribute("dpm.graph_version", msg.version)
            span.set_attribute("dpm.graph_delta", bool(msg.delta_from))
            if msg.delta_from:
                with self._lock:
                    base = self._facts.get(msg.as_of)
                if base is None or base[0] != msg.delta_from:
                    return None  # the copy it changes is gone: ask again in full
                facts = base[2].changed_by(msg)
                self.deltas += 1
            else:
                facts = facts_from_proto(msg)
            if not msg.HasField("as_known_at"):
                with self._lock:
                    held = self._facts.get(msg.as_of)
                    if held is None or held[1] <= msg.version:
                        self._facts[msg.as_of] = (msg.etag, msg.version, facts)
            started = time.perf_counter()
            graph = facts.build()
            log.info(
                "ownership graph v%s as of %s built from %s in %.2f s",
                msg.version,
                msg.as_of,
                "a delta" if msg.delta_from else "the whole graph",
                time.perf_counter() - started,
            )
            span.set_attribute("dpm.graph_problems", len(graph.problems))
            for problem in graph.problems:
                log.warning(
                    "ownership graph v%s as of %s: %s", msg.version, msg.as_of, problem.description
                )
        with self._lock:
            self.builds += 1
            self._graphs[key] = graph
            while len(self._graphs) > self._size:
                self._graphs.popitem(last=False)
            dates = {date for _, date in self._graphs}
            for date in [d for d in self._facts if d not in dates]:
                del self._facts[date]
        return graph
