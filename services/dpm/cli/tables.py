"""How the CLI prints tables, progress and refused calls: one look for every command.

Tables go to the command's output, plain when it is not a terminal (no colours, no
box drawing past one rule under the header), wide enough not to fold a row when
piped. Progress bars go to stderr and vanish when done, so the output stays data.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO, TypeVar

import grpc
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

T = TypeVar("T")

# Columns a table may take when the output is not a terminal (a file, a pipe).
PIPED_WIDTH = 200


def _console(out: TextIO) -> Console:
    terminal = out.isatty()
    return Console(
        file=out,
        width=None if terminal else PIPED_WIDTH,
        no_color=not terminal,
        highlight=False,
        soft_wrap=False,
    )


def print_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    out: TextIO = sys.stdout,
    right: Sequence[str] = (),
) -> None:
    """``rows`` under ``headers``; the columns named in ``right`` aligned right (figures)."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for header in headers:
        table.add_column(header, justify="right" if header in right else "left", no_wrap=True)
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    console = _console(out)
    if out.isatty():
        console.print(table)
        return
    with console.capture() as captured:
        console.print(table)
    out.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def progress(items: Sequence[T], what: str, err: TextIO = sys.stderr) -> Iterator[T]:
    """``items`` one by one, with a bar on ``err`` while there are more (none when ``err``
    is not a terminal: logs and tests get no control characters)."""
    if not err.isatty():
        yield from items
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(file=err), transient=True) as bar:
        task = bar.add_task(what, total=len(items))
        for item in items:
            yield item
            bar.advance(task)


def refused(what: str, exc: grpc.RpcError, err: TextIO = sys.stderr) -> int:
    """Print a refused call as one line naming its code; the command's exit status (2)."""
    print(f"dpmatch: {what} failed: {exc.code().name}: {exc.details()}", file=err)
    return 2
