"""The README's grpcurl block, replayed the way grpcurl runs it, against `dpmatch up`.

Each ``NAME=$(...)`` line runs in a shell (the token commands), then each grpcurl
command's JSON becomes the method's request through server reflection alone (no
generated code), sent with the command's headers to the port it names. grpcurl is
a Go binary in no registry this project reaches (PyPI, npm, Debian bookworm), so
it is its behaviour that is replayed here: what could go stale in the README
(method and field names, the JSON, the token commands, the ports) is checked.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from dpm.platform.config import DEFAULT_PORTS
from tests.e2e.stacks import dpmatch_up

ROOT = Path(__file__).resolve().parents[2]
SERVICE_BY_PORT = {port: name for name, port in DEFAULT_PORTS.items()}


@dataclass
class Call:
    service: str  # catalog, requirements, neutrality, matching (by the port it names)
    method: str  # package.Service/Method
    headers: list[tuple[str, str]]
    data: str


def readme_block() -> list[str]:
    """The commands of the README's shell block that uses grpcurl: continuation lines
    joined, a quoted argument over several lines kept whole, comments dropped."""
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    (block,) = [b for b in blocks if "grpcurl " in b]
    commands: list[str] = []
    for line in block.replace("\\\n", " ").splitlines():
        if commands and not _complete(commands[-1]):
            commands[-1] += "\n" + line  # inside a quoted argument
        elif line.strip() and not line.lstrip().startswith("#"):
            commands.append(line.strip())
    return commands


def _complete(command: str) -> bool:
    try:
        shlex.split(command)
    except ValueError:  # "No closing quotation"
        return False
    return True


def grpcurl_call(command: str, variables: dict[str, str]) -> Call:
    words = shlex.split(re.sub(r"\$(\w+)", lambda m: variables[m.group(1)], command))
    assert words[0] == "grpcurl", command
    headers: list[tuple[str, str]] = []
    data = "{}"
    positional: list[str] = []
    rest = iter(words[1:])
    for word in rest:
        if word == "-plaintext":
            continue
        if word == "-H":
            key, _, value = next(rest).partition(":")
            headers.append((key.strip().lower(), value.strip()))
        elif word == "-d":
            data = next(rest)
        elif word.startswith("-"):
            raise AssertionError(f"a grpcurl flag this replay does not know: {word}")
        else:
            positional.append(word)
    address, method = positional
    return Call(SERVICE_BY_PORT[int(address.rpartition(":")[2])], method, headers, data)


def invoke(channel: grpc.Channel, call: Call) -> dict[str, object]:
    """What grpcurl does: descriptors over reflection, JSON in, the reply as JSON."""
    pool = DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    service, _, name = call.method.rpartition("/")
    method = pool.FindServiceByName(service).FindMethodByName(name)
    request_type = message_factory.GetMessageClass(method.input_type)
    reply_type = message_factory.GetMessageClass(method.output_type)
    request = json_format.Parse(call.data, request_type())
    path = f"/{call.method}"
    if method.server_streaming:
        stream = channel.unary_stream(path, request_type.SerializeToString, reply_type.FromString)
        replies = stream(request, metadata=call.headers, timeout=30)
        reply = next(replies)  # a watch: its first message, then hang up
        replies.cancel()
    else:
        unary = channel.unary_unary(path, request_type.SerializeToString, reply_type.FromString)
        reply = unary(request, metadata=call.headers, timeout=30)
    return json_format.MessageToDict(reply)


def test_the_readme_grpcurl_examples_work_against_dpmatch_up(tmp_path: Path) -> None:
    commands = readme_block()
    data_dir = tmp_path / "stack"
    replies: dict[str, dict[str, object]] = {}
    with dpmatch_up(data_dir) as (stack, _process, _output):
        variables: dict[str, str] = {}
        shell_env = {"DPM_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}
        for command in commands:
            assignment = re.fullmatch(r"(\w+)=\$\((.*)\)", command)
            if assignment:
                # The README's .venv/bin/dpmatch is this interpreter's.
                script = assignment.group(2).replace(
                    ".venv/bin/", f"{Path(sys.executable).parent}/"
                )
                run = subprocess.run(
                    ["sh", "-c", script],
                    cwd=ROOT,
                    env=shell_env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert run.returncode == 0, f"{command}:\n{run.stderr}"
                variables[assignment.group(1)] = run.stdout.strip()
                continue
            call = grpcurl_call(command, variables)
            with grpc.insecure_channel(stack.addresses[call.service]) as channel:
                try:
                    replies[call.method] = invoke(channel, call)
                except grpc.RpcError as exc:
                    raise AssertionError(f"{command}\n-> {exc.code()}: {exc.details()}") from None
    assert set(variables) == {"ADMIN", "GOOGLE"}, variables
    assert all(token.count(".") == 2 for token in variables.values())  # one JWT each
    methods = {method.rpartition("/")[2] for method in replies}
    assert methods == {
        "GetRecommendations",
        "RecordOwnershipEvent",
        "WatchRecommendations",
        "ScorePolicy",
        "PlanPortfolio",
    }
    plan = replies["dpm.matching.v1.MatchingService/PlanPortfolio"]
    assert plan["feasible"] and plan["vendors"], plan
    assert all(v["verdict"] == "VERDICT_NEUTRAL" for v in plan["vendors"]), plan
    recommendations = replies["dpm.matching.v1.MatchingService/GetRecommendations"]
    assert recommendations["ranked"], recommendations
    recorded = replies["dpm.catalog.v1.CatalogService/RecordOwnershipEvent"]
    assert recorded["name"] == "ownershipEvents/2025-06-12-meta-scale-ai-49", recorded
