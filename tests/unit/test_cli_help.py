"""Every `dpmatch` command's --help shows an example, and each example parses."""

from __future__ import annotations

import argparse
import re
import shlex

import pytest

from dpm.cli.main import parser


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("name", sorted(_commands()))
def test_the_example_in_the_help_parses(name: str) -> None:
    command = _commands()[name]
    assert "example: " in command.format_help(), name
    example = (command.epilog or "").removeprefix("example: ")
    example = re.sub(r"\[[^]]*\]|\([^)]*\)|>.*$", "", example)  # options shown, notes, redirects
    words = [w for w in shlex.split(example) if "=" not in w or w.startswith("-") or w[0].islower()]
    words = [w for w in words if not re.fullmatch(r"[A-Z_]+=\S*", w)]  # an environment prefix
    assert words[0] == "dpmatch", example
    args = parser().parse_args(words[1:])
    assert args.func is not None
