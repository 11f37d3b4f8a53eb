"""Per-caller limits: counted while a call runs, released when it ends, named when refused."""

from __future__ import annotations

import pytest

from dpm.platform.auth import Principal, Role
from dpm.platform.errors import ResourceExhausted
from dpm.platform.limits import CallLimiter, Limits


def lab(name: str) -> Principal:
    return Principal(Role.LAB, f"clients/{name}")


def refusal(limiter: CallLimiter, principal: Principal, *, stream: bool) -> str:
    """The message of the RESOURCE_EXHAUSTED one more call gets."""
    with pytest.raises(ResourceExhausted) as refused, limiter.hold(principal, stream=stream):
        pass
    return refused.value.message


def test_defaults_keep_half_the_pool_from_any_one_caller_and_from_streams() -> None:
    assert Limits.for_pool(16) == Limits(per_caller_calls=8, per_caller_streams=2, total_streams=8)


def test_a_callers_calls_and_streams_are_capped_and_released() -> None:
    limiter = CallLimiter(Limits(per_caller_calls=2, per_caller_streams=1, total_streams=10))
    with limiter.hold(lab("a"), stream=True):
        assert "open streams" in refusal(limiter, lab("a"), stream=True)
        with limiter.hold(lab("a"), stream=False):
            assert "calls in progress" in refusal(limiter, lab("a"), stream=False)
        with limiter.hold(lab("b"), stream=True):  # another lab is not affected
            pass
    with limiter.hold(lab("a"), stream=True), limiter.hold(lab("a"), stream=False):
        pass  # everything was released


def test_streams_in_total_are_capped_for_every_role() -> None:
    limiter = CallLimiter(Limits(per_caller_calls=5, per_caller_streams=5, total_streams=2))
    admin = Principal(Role.ADMIN, "admin")
    with limiter.hold(lab("a"), stream=True), limiter.hold(admin, stream=True):
        assert "streams, its limit" in refusal(limiter, lab("b"), stream=True)
        with limiter.hold(lab("b"), stream=False):  # unary calls still go through
            pass


def test_a_refused_call_is_not_counted() -> None:
    limiter = CallLimiter(Limits(per_caller_calls=1, per_caller_streams=1, total_streams=1))
    with limiter.hold(lab("a"), stream=False):
        for _ in range(3):
            refusal(limiter, lab("a"), stream=False)
    with limiter.hold(lab("a"), stream=False):
        pass
