"""`dpmatch graph`'s drawing: the neighbourhood, the lab's chains over it, DOT, SVG and PNG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from dpm.cli.graph import _levels, neighbourhood, overlay, render, to_dot
from dpm.neutrality.v1 import neutrality_pb2
from dpm.ownership.v1 import ownership_pb2


def holding(
    holder: str, held: str, equity: float, votes: float | None = None
) -> ownership_pb2.Holding:
    h = ownership_pb2.Holding(
        holder=f"organizations/{holder}", held=f"organizations/{held}", equity_fraction=equity
    )
    if votes is not None:
        h.voting_fraction = votes
    return h


GRAPH = ownership_pb2.OwnershipGraph(
    as_of="2025-06-30",
    holdings=[
        holding("meta", "scale-ai", 0.49, 0.0),
        holding("founders", "scale-ai", 0.3),
        holding("fund", "founders", 0.1),
        holding("lp", "fund", 0.5),
        holding("other", "unrelated", 0.9),
    ],
)


def scored() -> neutrality_pb2.VendorNeutrality:
    answer = neutrality_pb2.VendorNeutrality(
        vendor="organizations/scale-ai",
        score=51,
        verdict=neutrality_pb2.VERDICT_CONFLICTED,
        ultimate_owner="organizations/scale-ai",
    )
    exposure = answer.exposures.add(competitor="organizations/meta")
    chain = exposure.top_chains.add(organizations=["organizations/meta", "organizations/scale-ai"])
    link = chain.links.add(holder="organizations/meta", held="organizations/scale-ai")
    link.equity.value, link.votes.value = 0.49, 0.0
    answer.ties.add(kind="leadership move", competitor="organizations/google")
    return answer


def test_the_neighbourhood_stops_at_its_depth() -> None:
    drawing = neighbourhood(GRAPH, "scale-ai", depth=2)
    assert set(drawing.nodes) == {"scale-ai", "meta", "founders", "fund"}
    assert drawing.nodes["scale-ai"] == "vendor"
    assert _levels(drawing) == {"scale-ai": 0, "meta": 1, "founders": 1, "fund": 2}
    assert {e.label for e in drawing.edges.values()} == {"49% eq, 0% votes", "30%", "10%"}


def test_the_labs_chains_and_ties_are_drawn_in_red() -> None:
    drawing = neighbourhood(GRAPH, "scale-ai", depth=1)
    overlay(drawing, scored(), "google")
    assert drawing.title == "scale-ai for google: CONFLICTED, neutrality 51/100"
    assert drawing.nodes["meta"] == "competitor" and drawing.nodes["google"] == "competitor"
    kinds = {(e.holder, e.held): e.kind for e in drawing.edges.values()}
    assert kinds == {
        ("meta", "scale-ai"): "chain",
        ("founders", "scale-ai"): "stake",
        ("google", "scale-ai"): "tie",
    }
    dot = to_dot(drawing)
    assert dot.startswith("digraph ownership {") and dot.rstrip().endswith("}")
    assert '"meta" -> "scale-ai" [label="49%, 0% votes", color="#b02a37"' in dot
    assert '"google" -> "scale-ai" [label="leadership move"' in dot and "style=dashed" in dot


def test_svg_and_png_are_written(tmp_path: Path) -> None:
    drawing = neighbourhood(GRAPH, "scale-ai", depth=3)
    overlay(drawing, scored(), "google")
    render(drawing, tmp_path / "scale-ai.svg")
    svg = ET.parse(tmp_path / "scale-ai.svg").getroot()
    assert svg.tag.endswith("svg")
    text = (tmp_path / "scale-ai.svg").read_text()
    assert "scale-ai for google: CONFLICTED, neutrality 51/100" in text
    assert "49%, 0% votes" in text and "leadership move" in text
    render(drawing, tmp_path / "scale-ai.png")
    assert (tmp_path / "scale-ai.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
