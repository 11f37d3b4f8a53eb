"""`dpmatch replay`'s calendar and what counts as a change."""

from __future__ import annotations

import datetime as dt

import pytest

from dpm.cli import replay
from dpm.cli.replay import Standing, _moved, months


def test_months_end_on_their_last_day_and_never_after_today(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(replay, "today", lambda: dt.date(2026, 3, 10))
    assert months("2025-11", "2026-03") == [
        ("2025-11", "2025-11-30"),
        ("2025-12", "2025-12-31"),
        ("2026-01", "2026-01-31"),
        ("2026-02", "2026-02-28"),
        ("2026-03", "2026-03-10"),
    ]
    assert months("2024-02", "2024-02") == [("2024-02", "2024-02-29")]
    assert months("2025-05", "2025-04") == []


def test_a_verdict_change_or_a_large_move_is_a_change() -> None:
    was = Standing("CAUTION", 41, "")
    assert not _moved(was, Standing("CAUTION", 42, ""))  # a tie's weight decaying
    assert _moved(was, Standing("CAUTION", 41 + replay.MIN_SCORE_MOVE, ""))
    assert _moved(was, Standing("CONFLICTED", 41, ""))
