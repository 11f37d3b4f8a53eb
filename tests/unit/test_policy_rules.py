"""ScorePolicy's policy rules (``dpm.neutrality.policy_rules``) answer as the requirements
service's (``dpm.requirements.validation``) for every bad policy: same fields, same words."""

from __future__ import annotations

import pytest

from dpm.neutrality.policy_rules import check_policy
from dpm.platform.errors import InvalidArgument, Violations
from dpm.requirements.v1 import requirements_pb2 as pb
from dpm.requirements.validation import validate_client
from tests.unit.test_requirements_validation import BAD, Mutation, google_client

POLICY = "client.neutrality_policy"
POLICY_CASES = [b for b in BAD if b[2].startswith(POLICY)]


def by_requirements(policy: pb.NeutralityPolicy) -> list[tuple[str, str]]:
    client = pb.Client(display_name="x", neutrality_policy=policy)
    try:
        validate_client(client)
    except InvalidArgument as err:
        return [(v.field.removeprefix(POLICY), v.description) for v in err.violations]
    return []


def by_neutrality(policy: pb.NeutralityPolicy) -> list[tuple[str, str]]:
    v = Violations()
    check_policy(v, policy, "policy")
    return [(i.field.removeprefix("policy"), i.description) for i in v.items]


def test_there_are_policy_cases() -> None:
    assert len(POLICY_CASES) >= 10


@pytest.mark.parametrize("mutate", [b[1] for b in POLICY_CASES], ids=[b[0] for b in POLICY_CASES])
def test_same_answer_as_the_requirements_service(mutate: Mutation) -> None:
    client = google_client()
    client.organization = ""  # the one rule that needs a client
    mutate(client)
    expected = by_requirements(client.neutrality_policy)
    assert by_neutrality(client.neutrality_policy) == expected


def test_a_valid_policy_passes() -> None:
    assert by_neutrality(google_client().neutrality_policy) == []
    assert by_neutrality(pb.NeutralityPolicy()) == []
