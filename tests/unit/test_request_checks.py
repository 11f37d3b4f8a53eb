"""The NUL-byte screen: the asyncio guard walks a request only when its bytes hold a
0x00, so a NUL anywhere in a string must always show on the wire."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dpm.platform.errors import DomainError
from dpm.platform.request_checks import may_hold_nul, refuse_nul_bytes
from dpm.requirements.v1 import requirements_pb2

texts = st.text(st.characters(blacklist_categories=("Cs",)))


@given(name=texts, competitors=st.lists(texts, max_size=3), display=texts)
def test_a_nul_in_any_string_shows_on_the_wire_and_is_refused(
    name: str, competitors: list[str], display: str
) -> None:
    request = requirements_pb2.CreateClientRequest(client_id=name)
    request.client.display_name = display
    request.client.neutrality_policy.competitors.extend(competitors)
    holds_nul = any("\x00" in t for t in (name, display, *competitors))
    data = request.SerializeToString()
    if holds_nul:
        assert may_hold_nul(data)
        with pytest.raises(DomainError, match="NUL byte"):
            refuse_nul_bytes(requirements_pb2.CreateClientRequest.FromString(data))
