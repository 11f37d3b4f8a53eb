"""Random damage to real BODS statements: every statement is imported or refused with a reason,
nothing else ever escapes (no exception a caller would see as INTERNAL), and a refused
statement writes nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bods_support import (
    EXAMPLES_03,
    EXAMPLES_04,
    catalog_database,
    example_files,
    facts,
    graph_of,
    run_import,
    texts_of,
)

from dpm.catalog.bods.reading import Problem, read
from dpm.platform.db import Database

STATEMENTS = [
    json.loads(t) for d in (EXAMPLES_04, EXAMPLES_03) for p in example_files(d) for t in texts_of(p)
]

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**20), 10**20),
        st.floats(allow_nan=False),
        st.text(max_size=12),
        st.sampled_from(["", "2020-02-30", "1700-01-01", "x" * 10_001, "a\x00b", "-5", "100.5"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from paths(item, (*prefix, i))


@st.composite
def damaged(draw: st.DrawFn) -> str:
    """An example statement with one value replaced, or a key removed."""
    statement = copy.deepcopy(draw(st.sampled_from(STATEMENTS)))
    where = draw(st.sampled_from(list(paths(statement))[1:]))
    parent = statement
    for key in where[:-1]:
        parent = parent[key]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[where[-1]]
    else:
        parent[where[-1]] = draw(json_values)
    return json.dumps(statement)


@given(st.one_of(json_values.map(json.dumps), damaged(), st.text(max_size=40)))
@settings(max_examples=300, deadline=None)
def test_reading_anything_reads_or_says_why(text: str) -> None:
    try:
        read(text, 0)
    except Problem as problem:
        assert problem.reason


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    with catalog_database(tmp_path_factory.mktemp("bods-fuzz")) as db:
        yield db


@given(st.lists(damaged(), min_size=1, max_size=6), st.sampled_from(example_files(EXAMPLES_04)))
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_damaged_statements_are_refused_one_by_one(
    database: Database, damage: list[str], path: Path
) -> None:
    good = texts_of(path)
    result = run_import(database, [*damage, *good])
    assert result.received == len(damage) + len(good)
    assert result.imported + len(result.errors) == result.received
    assert all(e.reason for e in result.errors)
    # What was refused wrote nothing: importing only what was accepted gives the same graph.
    before = facts(graph_of(database))
    accepted = {i for i in range(result.received)} - {e.index for e in result.errors}
    texts = [*damage, *good]
    again = run_import(database, [texts[i] for i in sorted(accepted)])
    assert again.events_recorded == 0
    assert facts(graph_of(database)) == before
