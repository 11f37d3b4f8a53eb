"""Client validation rules and field-mask updates (pure domain code, no server)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from google.protobuf import field_mask_pb2

from dpm.common.v1 import common_pb2
from dpm.platform.errors import InvalidArgument
from dpm.requirements import updates
from dpm.requirements.v1 import requirements_pb2 as pb
from dpm.requirements.validation import validate_client


def google_client() -> pb.Client:
    return pb.Client(
        display_name="Google DeepMind",
        organization="organizations/google",
        requirements=pb.Requirements(
            needs=[
                pb.Need(
                    modality=common_pb2.MODALITY_RLHF,
                    monthly_volume=200_000,
                    min_quality=0.9,
                    max_unit_price_usd=4.5,
                ),
                pb.Need(modality=common_pb2.MODALITY_TEXT, monthly_volume=1_000_000),
                pb.Need(modality=common_pb2.MODALITY_CODE, monthly_volume=50_000, min_quality=1),
            ],
            required_certifications=[common_pb2.CERTIFICATION_SOC2_TYPE_II],
            allowed_regions=["US", "EU", "GB"],
            monthly_budget_usd=2_500_000,
            weights=pb.RankingWeights(fit=0.4, quality=0.3, price=0.1, neutrality=0.2),
        ),
        neutrality_policy=pb.NeutralityPolicy(
            competitors=["organizations/meta", "organizations/openai", "organizations/microsoft"],
            max_competitor_equity=0.25,
            max_competitor_voting=0.25,
            board_seat_disqualifies=True,
            leadership_move_window_days=180,
            unknown_ownership=pb.UNKNOWN_OWNERSHIP_CAUTION,
            max_competitor_voting_power=0.3,
            decisive_bound=pb.RANGE_BOUND_UPPER,
            restricted_parties=["organizations/sanctioned-co", "organizations/blocked-person"],
            as_of="2025-06-30",
        ),
    )


def violations(client: pb.Client) -> list[str]:
    with pytest.raises(InvalidArgument) as err:
        validate_client(client)
    return [v.field for v in err.value.violations]


def test_realistic_client_is_valid() -> None:
    validate_client(google_client())


def test_minimal_client_is_valid() -> None:
    validate_client(pb.Client(display_name="x"))


Mutation = Callable[[pb.Client], object]

BAD: list[tuple[str, Mutation, str]] = [
    ("empty display name", lambda c: setattr(c, "display_name", ""), "client.display_name"),
    ("blank display name", lambda c: setattr(c, "display_name", "   "), "client.display_name"),
    ("long display name", lambda c: setattr(c, "display_name", "x" * 201), "client.display_name"),
    (
        "organization not a name",
        lambda c: setattr(c, "organization", "google"),
        "client.organization",
    ),
    (
        "organization bad slug",
        lambda c: setattr(c, "organization", "organizations/Google!"),
        "client.organization",
    ),
    (
        "unspecified modality",
        lambda c: setattr(c.requirements.needs[1], "modality", common_pb2.MODALITY_UNSPECIFIED),
        "client.requirements.needs[1].modality",
    ),
    (
        "unknown modality number",
        lambda c: setattr(c.requirements.needs[0], "modality", 99),
        "client.requirements.needs[0].modality",
    ),
    (
        "duplicate modality",
        lambda c: setattr(c.requirements.needs[2], "modality", common_pb2.MODALITY_RLHF),
        "client.requirements.needs[2].modality",
    ),
    (
        "zero volume",
        lambda c: setattr(c.requirements.needs[0], "monthly_volume", 0),
        "client.requirements.needs[0].monthly_volume",
    ),
    (
        "negative volume",
        lambda c: setattr(c.requirements.needs[1], "monthly_volume", -5),
        "client.requirements.needs[1].monthly_volume",
    ),
    (
        "quality above 1",
        lambda c: setattr(c.requirements.needs[0], "min_quality", 1.01),
        "client.requirements.needs[0].min_quality",
    ),
    (
        "quality below 0",
        lambda c: setattr(c.requirements.needs[0], "min_quality", -0.1),
        "client.requirements.needs[0].min_quality",
    ),
    (
        "quality NaN",
        lambda c: setattr(c.requirements.needs[0], "min_quality", math.nan),
        "client.requirements.needs[0].min_quality",
    ),
    (
        "negative price",
        lambda c: setattr(c.requirements.needs[0], "max_unit_price_usd", -1),
        "client.requirements.needs[0].max_unit_price_usd",
    ),
    (
        "infinite price",
        lambda c: setattr(c.requirements.needs[0], "max_unit_price_usd", math.inf),
        "client.requirements.needs[0].max_unit_price_usd",
    ),
    (
        "unspecified certification",
        lambda c: c.requirements.required_certifications.append(
            common_pb2.CERTIFICATION_UNSPECIFIED
        ),
        "client.requirements.required_certifications[1]",
    ),
    (
        "duplicate certification",
        lambda c: c.requirements.required_certifications.append(
            common_pb2.CERTIFICATION_SOC2_TYPE_II
        ),
        "client.requirements.required_certifications[1]",
    ),
    (
        "lower-case region",
        lambda c: c.requirements.allowed_regions.append("us"),
        "client.requirements.allowed_regions[3]",
    ),
    (
        "three-letter region",
        lambda c: c.requirements.allowed_regions.append("USA"),
        "client.requirements.allowed_regions[3]",
    ),
    (
        "duplicate region",
        lambda c: c.requirements.allowed_regions.append("EU"),
        "client.requirements.allowed_regions[3]",
    ),
    (
        "negative budget",
        lambda c: setattr(c.requirements, "monthly_budget_usd", -1),
        "client.requirements.monthly_budget_usd",
    ),
    (
        "NaN budget",
        lambda c: setattr(c.requirements, "monthly_budget_usd", math.nan),
        "client.requirements.monthly_budget_usd",
    ),
    (
        "negative weight",
        lambda c: setattr(c.requirements.weights, "price", -0.1),
        "client.requirements.weights.price",
    ),
    (
        "infinite weight",
        lambda c: setattr(c.requirements.weights, "neutrality", math.inf),
        "client.requirements.weights.neutrality",
    ),
    (
        "competitor not a name",
        lambda c: c.neutrality_policy.competitors.append("xai"),
        "client.neutrality_policy.competitors[3]",
    ),
    (
        "duplicate competitor",
        lambda c: c.neutrality_policy.competitors.append("organizations/meta"),
        "client.neutrality_policy.competitors[3]",
    ),
    (
        "own organization as competitor",
        lambda c: c.neutrality_policy.competitors.append("organizations/google"),
        "client.neutrality_policy.competitors[3]",
    ),
    (
        "equity above 1",
        lambda c: setattr(c.neutrality_policy, "max_competitor_equity", 1.5),
        "client.neutrality_policy.max_competitor_equity",
    ),
    (
        "equity NaN",
        lambda c: setattr(c.neutrality_policy, "max_competitor_equity", math.nan),
        "client.neutrality_policy.max_competitor_equity",
    ),
    (
        "voting below 0",
        lambda c: setattr(c.neutrality_policy, "max_competitor_voting", -0.01),
        "client.neutrality_policy.max_competitor_voting",
    ),
    (
        "voting infinite",
        lambda c: setattr(c.neutrality_policy, "max_competitor_voting", math.inf),
        "client.neutrality_policy.max_competitor_voting",
    ),
    (
        "negative window",
        lambda c: setattr(c.neutrality_policy, "leadership_move_window_days", -1),
        "client.neutrality_policy.leadership_move_window_days",
    ),
    (
        "unknown ownership value",
        lambda c: setattr(c.neutrality_policy, "unknown_ownership", 42),
        "client.neutrality_policy.unknown_ownership",
    ),
    (
        "voting power above 1",
        lambda c: setattr(c.neutrality_policy, "max_competitor_voting_power", 1.2),
        "client.neutrality_policy.max_competitor_voting_power",
    ),
    (
        "voting power NaN",
        lambda c: setattr(c.neutrality_policy, "max_competitor_voting_power", math.nan),
        "client.neutrality_policy.max_competitor_voting_power",
    ),
    (
        "unknown decisive bound",
        lambda c: setattr(c.neutrality_policy, "decisive_bound", 42),
        "client.neutrality_policy.decisive_bound",
    ),
    (
        "restricted party not a name",
        lambda c: c.neutrality_policy.restricted_parties.append("Sanctioned Co"),
        "client.neutrality_policy.restricted_parties[2]",
    ),
    (
        "as_of not a date",
        lambda c: setattr(c.neutrality_policy, "as_of", "2025-02-30"),
        "client.neutrality_policy.as_of",
    ),
    (
        "duplicate restricted party",
        lambda c: c.neutrality_policy.restricted_parties.append("organizations/sanctioned-co"),
        "client.neutrality_policy.restricted_parties[2]",
    ),
    (
        "too many restricted parties",
        lambda c: c.neutrality_policy.restricted_parties.extend(
            f"organizations/p{i}" for i in range(1000)
        ),
        "client.neutrality_policy.restricted_parties",
    ),
    (
        "as_of not YYYY-MM-DD",
        lambda c: setattr(c.neutrality_policy, "as_of", "20250630"),
        "client.neutrality_policy.as_of",
    ),
]


@pytest.mark.parametrize(("mutate", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_each_rule_names_its_field(mutate: Mutation, field: str) -> None:
    client = google_client()
    mutate(client)
    assert violations(client) == [field]


def test_every_violation_is_reported_at_once() -> None:
    client = google_client()
    for _, mutate, _ in BAD[::4]:
        mutate(client)
    assert violations(client) == [b[2] for b in BAD[::4]]


def test_edges_are_allowed() -> None:
    client = google_client()
    client.display_name = "x" * 200
    client.requirements.needs[0].min_quality = 0
    client.requirements.needs[1].min_quality = 1
    client.requirements.needs[0].max_unit_price_usd = 0
    client.neutrality_policy.max_competitor_equity = 0
    client.neutrality_policy.max_competitor_voting = 1
    client.neutrality_policy.leadership_move_window_days = 0
    client.neutrality_policy.max_competitor_voting_power = 0
    client.neutrality_policy.decisive_bound = pb.RANGE_BOUND_LOWER
    client.neutrality_policy.as_of = "2024-02-29"
    del client.neutrality_policy.restricted_parties[:]
    client.neutrality_policy.restricted_parties.extend(f"organizations/p{i}" for i in range(1000))
    client.organization = ""
    validate_client(client)
    client.neutrality_policy.ClearField("max_competitor_voting_power")  # no limit
    client.neutrality_policy.as_of = ""  # the date of each computation
    validate_client(client)


# -- update masks ----------------------------------------------------------------


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def test_empty_mask_means_every_mutable_field() -> None:
    assert updates.check_mask(mask()) == list(updates.MUTABLE_FIELDS)


@pytest.mark.parametrize(
    "path",
    [
        "display_name",
        "organization",
        "requirements",
        "requirements.needs",
        "requirements.weights",
        "requirements.weights.price",
        "neutrality_policy",
        "neutrality_policy.competitors",
        "neutrality_policy.max_competitor_equity",
    ],
)
def test_mutable_paths_are_accepted(path: str) -> None:
    assert updates.check_mask(mask(path)) == [path]


@pytest.mark.parametrize(
    "path",
    [
        "name",
        "revision",
        "create_time",
        "update_time",
        "colour",
        "requirements.colour",
        "requirements.needs.modality",
        "display_name.length",
        "neutrality_policy.competitors.x",
        "",
    ],
)
def test_other_paths_are_refused_naming_update_mask(path: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        updates.check_mask(mask("display_name", path))
    assert [v.field for v in err.value.violations] == ["update_mask"]


def test_sub_path_replaces_only_that_field() -> None:
    current = google_client()
    patch = pb.Client(
        display_name="ignored",
        requirements=pb.Requirements(needs=[pb.Need(modality=common_pb2.MODALITY_VIDEO)]),
        neutrality_policy=pb.NeutralityPolicy(competitors=["organizations/xai"]),
    )
    updated = updates.apply_update(
        current, patch, ["requirements.needs", "neutrality_policy.competitors"]
    )
    assert updated.display_name == "Google DeepMind"
    assert [n.modality for n in updated.requirements.needs] == [common_pb2.MODALITY_VIDEO]
    assert list(updated.requirements.allowed_regions) == ["US", "EU", "GB"]
    assert list(updated.neutrality_policy.competitors) == ["organizations/xai"]
    assert updated.neutrality_policy.max_competitor_equity == 0.25
    assert current == google_client()  # the input is not modified


def test_message_path_replaces_the_whole_message() -> None:
    updated = updates.apply_update(
        google_client(),
        pb.Client(neutrality_policy=pb.NeutralityPolicy(competitors=["organizations/xai"])),
        ["neutrality_policy"],
    )
    assert updated.neutrality_policy == pb.NeutralityPolicy(competitors=["organizations/xai"])
    assert updated.requirements == google_client().requirements
