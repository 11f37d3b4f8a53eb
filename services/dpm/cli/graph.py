"""`dpmatch graph VENDOR [--lab LAB] [-o FILE]`: a picture of who owns a vendor (running stack).

    dpmatch graph scale-ai --lab google -o scale-ai.svg
    dpmatch graph labelbox -o labelbox.dot

The neighbourhood is the vendor's holders up to ``--depth`` levels (from the
catalog's graph on the date: the whole graph is read, so a register takes a
while). With ``--lab``, the chains from the lab's competitors to the vendor and
the ties neutrality found are drawn over it in red, labelled with their figures,
and the verdict is the title. ``.dot`` writes Graphviz's language (render it with
``dot -Tsvg``); ``.svg`` and ``.png`` are drawn here (matplotlib, networkx: the
``graph`` extra).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from dpm.cli.stackfile import Stack
from dpm.neutrality.v1 import neutrality_pb2
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.names import OrganizationName

FORMATS = (".dot", ".svg", ".png")
VERDICTS = {
    neutrality_pb2.VERDICT_NEUTRAL: "NEUTRAL",
    neutrality_pb2.VERDICT_CAUTION: "CAUTION",
    neutrality_pb2.VERDICT_CONFLICTED: "CONFLICTED",
}


@dataclass(frozen=True)
class Edge:
    holder: str
    held: str
    label: str
    # "stake", "chain" (on a competitor's chain to the vendor) or "tie".
    kind: str


@dataclass
class Drawing:
    vendor: str
    title: str
    # Organization id -> "vendor", "competitor", "owner" (ultimate owner) or "holder".
    nodes: dict[str, str] = field(default_factory=dict)
    edges: dict[tuple[str, str, str], Edge] = field(default_factory=dict)

    def add(self, edge: Edge) -> None:
        for node in (edge.holder, edge.held):
            self.nodes.setdefault(node, "holder")
        key = (edge.holder, edge.held, "tie" if edge.kind == "tie" else "stake")
        self.edges[key] = edge  # a chain's edge replaces the plain stake it is


def _id(name: str) -> str:
    return OrganizationName.trusted(name).id if OrganizationName.matches(name) else name


def _percent(value: float | None) -> str:
    return "?" if value is None else f"{value:.0%}"


def _stake_label(h: ownership_pb2.Holding) -> str:
    equity = h.equity_fraction if h.HasField("equity_fraction") else None
    votes = h.voting_fraction if h.HasField("voting_fraction") else None
    if equity is None and h.HasField("equity_range"):
        return f"{h.equity_range.minimum:.0%}-{h.equity_range.maximum:.0%}"
    if equity is None and votes is None:
        return "undisclosed"
    if votes is None or votes == equity:
        return _percent(equity)
    return f"{_percent(equity)} eq, {_percent(votes)} votes"


def neighbourhood(graph: ownership_pb2.OwnershipGraph, vendor: str, depth: int) -> Drawing:
    """The vendor's holders, their holders, ... up to ``depth`` levels."""
    holders: dict[str, list[ownership_pb2.Holding]] = {}
    for h in graph.holdings:
        holders.setdefault(_id(h.held), []).append(h)
    drawing = Drawing(vendor, f"who owns {vendor} (as of {graph.as_of})")
    drawing.nodes[vendor] = "vendor"
    queue = deque([(vendor, 0)])
    seen = {vendor}
    while queue:
        node, level = queue.popleft()
        if level == depth:
            continue
        for h in holders.get(node, []):
            holder = _id(h.holder)
            drawing.add(Edge(holder, node, _stake_label(h), "stake"))
            if holder not in seen:
                seen.add(holder)
                queue.append((holder, level + 1))
    return drawing


def overlay(drawing: Drawing, scored: neutrality_pb2.VendorNeutrality, lab: str) -> None:
    """The chains and ties that bear on the lab's verdict, in red, with their figures."""
    verdict = VERDICTS.get(scored.verdict, "?")
    drawing.title = f"{drawing.vendor} for {lab}: {verdict}, neutrality {scored.score}/100"
    owner = _id(scored.ultimate_owner) if scored.ultimate_owner else ""
    if owner and owner != drawing.vendor:
        drawing.nodes[owner] = "owner"  # competitors are marked below, over it
    for exposure in scored.exposures:
        competitor = _id(exposure.competitor)
        for chain in exposure.top_chains:
            for link in chain.links:
                label = "undisclosed" if link.undisclosed else f"{link.equity.value:.0%}"
                if not link.undisclosed and link.votes.value != link.equity.value:
                    label += f", {link.votes.value:.0%} votes"
                drawing.add(Edge(_id(link.holder), _id(link.held), label, "chain"))
        if competitor != drawing.vendor:
            drawing.nodes[competitor] = "competitor"
    for tie in scored.ties:
        competitor = _id(tie.competitor)
        drawing.nodes[competitor] = "competitor"
        drawing.add(Edge(competitor, drawing.vendor, tie.kind, "tie"))
    drawing.nodes[drawing.vendor] = "vendor"


_DOT_NODE = {
    "vendor": 'shape=box, style="filled,bold", fillcolor="#cfe2ff"',
    "competitor": 'style=filled, fillcolor="#f8d7da", color="#b02a37"',
    "owner": 'style="filled,bold", fillcolor="#e2e3e5"',
    "holder": "",
}
_DOT_EDGE = {
    "stake": 'color="#6c757d"',
    "chain": 'color="#b02a37", fontcolor="#b02a37", penwidth=2',
    "tie": 'color="#b02a37", fontcolor="#b02a37", style=dashed',
}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(drawing: Drawing) -> str:
    """Graphviz's language: holders above what they hold."""
    lines = [
        "digraph ownership {",
        f"  label={_quote(drawing.title)}; labelloc=t; rankdir=BT;",
        "  node [fontname=Helvetica]; edge [fontname=Helvetica, fontsize=10];",
    ]
    for node, role in sorted(drawing.nodes.items()):
        style = _DOT_NODE[role]
        lines.append(f"  {_quote(node)}" + (f" [{style}];" if style else ";"))
    for edge in drawing.edges.values():
        lines.append(
            f"  {_quote(edge.holder)} -> {_quote(edge.held)} "
            f"[label={_quote(edge.label)}, {_DOT_EDGE[edge.kind]}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


_COLOURS = {"vendor": "#cfe2ff", "competitor": "#f8d7da", "owner": "#e2e3e5", "holder": "#ffffff"}


def render(drawing: Drawing, path: Path) -> None:
    """SVG or PNG by the file's suffix, drawn with matplotlib (layers: the vendor at
    the bottom, each holder one row above the highest it holds)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: searchable, small
        import matplotlib.pyplot as plt
        import networkx as nx
    except ImportError:
        raise SystemExit(
            "dpmatch graph: drawing SVG or PNG needs the graph extra "
            "(pip install 'dpmatch[graph]'); .dot works without it"
        ) from None
    g = nx.MultiDiGraph()
    for node in drawing.nodes:
        g.add_node(node)
    for edge in drawing.edges.values():
        g.add_edge(edge.holder, edge.held)
    level = _levels(drawing)
    for node in g.nodes:
        g.nodes[node]["layer"] = level[node]
    positions = nx.multipartite_layout(g, subset_key="layer", align="horizontal")
    width = max(6.0, 1.6 * max(list(level.values()).count(v) for v in set(level.values())))
    fig, ax = plt.subplots(figsize=(width, 1.8 * (max(level.values()) + 1) + 1))
    ax.set_title(drawing.title)
    ax.axis("off")
    for edge in drawing.edges.values():
        red = edge.kind != "stake"
        nx.draw_networkx_edges(
            g,
            positions,
            edgelist=[(edge.holder, edge.held)],
            ax=ax,
            edge_color="#b02a37" if red else "#6c757d",
            width=2.0 if edge.kind == "chain" else 1.0,
            style="dashed" if edge.kind == "tie" else "solid",
            arrows=True,
            arrowsize=14,
            node_size=2400,
            connectionstyle="arc3,rad=0.15" if edge.kind == "tie" else "arc3",
        )
        (x1, y1), (x2, y2) = positions[edge.holder], positions[edge.held]
        at = (
            0.3 if edge.kind == "tie" else 0.55
        )  # from the holder: a tie's label clear of its stake's
        ax.text(
            x1 + at * (x2 - x1),
            y1 + at * (y2 - y1),
            edge.label,
            fontsize=8,
            color="#b02a37" if red else "#343a40",
            ha="center",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
    nx.draw_networkx_nodes(
        g,
        positions,
        ax=ax,
        node_size=2400,
        node_shape="s",
        node_color=[_COLOURS[drawing.nodes[n]] for n in g.nodes],
        edgecolors=["#b02a37" if drawing.nodes[n] == "competitor" else "#343a40" for n in g.nodes],
    )
    nx.draw_networkx_labels(g, positions, ax=ax, font_size=8)
    fig.tight_layout()
    fig.savefig(path, format=path.suffix.lstrip("."))
    plt.close(fig)


def _levels(drawing: Drawing) -> dict[str, int]:
    """The vendor 0; each holder one above the highest node it holds (by stakes and
    chains, at most as many rounds as there are nodes: rings stop there)."""
    level = dict.fromkeys(drawing.nodes, 0)
    for _ in range(len(drawing.nodes)):
        changed = False
        for edge in drawing.edges.values():
            if edge.kind != "tie" and edge.holder != drawing.vendor:
                want = level[edge.held] + 1
                if level[edge.holder] < want <= len(drawing.nodes):
                    level[edge.holder] = want
                    changed = True
        if not changed:
            break
    for edge in drawing.edges.values():  # a tie's competitor with no stake: one row up
        if edge.kind == "tie" and level[edge.holder] == 0 and edge.holder != drawing.vendor:
            level[edge.holder] = 1
    return level


def draw(stack: Stack, vendor: str, lab: str, as_of: str, depth: int, output: Path | None) -> str:
    """The drawing as DOT (returned when ``output`` is None), or written to ``output``."""
    from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
    from dpm.cli.inspect import evaluation_date
    from dpm.neutrality.v1 import neutrality_pb2_grpc
    from dpm.platform.dates import today
    from dpm.platform.names import ClientName

    if output is not None and output.suffix not in FORMATS:
        raise SystemExit(f"dpmatch graph: -o must end in one of {', '.join(FORMATS)}")
    date = as_of or (evaluation_date(stack, lab) if lab else today().isoformat())
    with stack.channel("catalog") as channel:
        graph = catalog_pb2_grpc.CatalogServiceStub(channel).ExportOwnershipGraph(
            catalog_pb2.ExportOwnershipGraphRequest(as_of=date)
        )
    vendor_id = OrganizationName(vendor).id
    drawing = neighbourhood(graph, vendor_id, depth)
    if lab:
        token = stack.client_tokens.get(lab) or None
        with stack.channel("neutrality", token) as channel:
            reply = neutrality_pb2_grpc.NeutralityServiceStub(channel).ScoreVendors(
                neutrality_pb2.ScoreVendorsRequest(
                    client=str(ClientName(lab)), vendors=[str(OrganizationName(vendor))], as_of=date
                )
            )
        overlay(drawing, reply.vendors[0], lab)
    text = to_dot(drawing)
    if output is None:
        return text
    if output.suffix == ".dot":
        output.write_text(text)
    else:
        render(drawing, output)
    return f"wrote {output} ({len(drawing.nodes)} organizations, {len(drawing.edges)} links)"
