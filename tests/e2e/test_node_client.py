"""A Node.js client (@grpc/grpc-js, @grpc/proto-loader) written from ``protos/`` alone
plays the Scale AI scenario against ``dpmatch up``: a lab token issued over the API,
recommendations, a refusal's field violations decoded from the rich error details,
and a watch stream that brings the set without Scale AI after Meta's stake."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.e2e.stacks import dpmatch_up
from tests.npm_tools import node_modules

HERE = Path(__file__).resolve().parent / "node_client"
PROTOS = Path(__file__).resolve().parents[2] / "protos"


def test_a_node_client_built_from_the_protos_plays_the_scenario(tmp_path: Path) -> None:
    modules = node_modules(HERE / "package.json")
    with dpmatch_up(tmp_path / "stack") as (stack, _process, _output):
        env = {
            **os.environ,
            "NODE_PATH": str(modules),
            "PROTOS": str(PROTOS),
            "DPM_ADMIN_TOKEN": stack.admin_token,
            **{
                f"DPM_{n.upper()}_ADDR": stack.addresses[n]
                for n in ("catalog", "requirements", "matching")
            },
        }
        run = subprocess.run(
            ["node", str(HERE / "scenario.js")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 0, run.stdout + run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert (
        seen["after"]["graph_version"]
        >= seen["after"]["event_graph_version"]
        > seen["before"]["graph_version"]
    )
    assert any(v.startswith("event.stake_acquired.equity_fraction: ") for v in seen["invalid"])
    assert "meta" in seen["after"]["scale_ai"]
    assert seen["plan"]["vendors"] and "scale-ai" not in seen["plan"]["vendors"]
    assert abs(seen["plan"]["meta_share"] - 0.25 * 0.49) < 1e-6
